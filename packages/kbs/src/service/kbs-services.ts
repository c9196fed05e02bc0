/**
 * The KBS's parts wired together from its configuration: the store in the data directory (with
 * its master key), the evidence verifier with the trust the operator configured, the appraiser,
 * the token service and the protocol functions. `initguard kbs serve`, the end-to-end tests and the
 * benchmark all start the KBS through here, so they run exactly what operators run.
 *
 * @module
 */
import { join } from 'node:path'
import { AmdKdsClient, IntelPcsClient } from '@initguard/collateral'
import { UsageError, isInitguardError } from '@initguard/core'
import { readInput } from '@initguard/files'
import { parseKbsAttestation, parseKbsRequest, sealResource } from '@initguard/kbs-protocol'
import {
  AMD_PRODUCTION_ANCHORS,
  trustedArk,
  verifyAmdRevocationList,
  type EndorsementKind,
  type SnpProduct,
  type SnpTrustAnchors,
} from '@initguard/snp'
import { simulatorTrust } from '@initguard/tee-simulator'
import { parseCollateralJson } from '@initguard/tdx'
import { createAppraiser } from '../appraisal/appraiser.ts'
import { createEvidenceVerifier } from '../appraisal/evidence-verifier.ts'
import { MAX_CRL_FILE_BYTES, type AmdCrlKey } from '../appraisal/snp-revocation.ts'
import type { EvidenceTrust } from '../appraisal/verified-evidence.ts'
import type { KbsStore, Appraiser, TokenService } from '../ports.ts'
import type { KbsServerConfig } from '../server/config.ts'
import type { KbsProtocolFunctions } from '../server/route-context.ts'
import { loadMasterKey, type MasterKey } from '../storage/master-key.ts'
import type { AppliedMigrations } from '../storage/migrate.ts'
import { openKbsStore } from '../storage/open-store.ts'
import { createTokenService } from '../tokens/token-service.ts'
import { guardStoreAvailability } from '../server/store-availability.ts'
import { parseWorkloadDefinition } from '../workloads/workload-definition.ts'

/** The environment variable that may hold the master key (base64 or hex of 32 bytes). */
export const KBS_MASTER_KEY_ENV = 'INITGUARD_KBS_MASTER_KEY'

/** The issuer (`iss`) of the KBS's attestation tokens. */
export const KBS_TOKEN_ISSUER = 'initguard-kbs'

/** Largest collateral file `--collateral` reads. */
const MAX_COLLATERAL_BYTES = 16 * 1024 * 1024

/** The services `buildKbsApp` needs besides the configuration. */
export interface KbsServices {
  readonly store: KbsStore
  readonly appraiser: Appraiser
  readonly tokens: TokenService
  readonly protocol: KbsProtocolFunctions
  readonly validateWorkload: (json: unknown) => unknown
  /** True when `--trust-sim` made the simulator's roots acceptable. */
  readonly simulatedTrust: boolean
  /** Where the master key came from (never the key). */
  readonly masterKeySource: MasterKey['source']
  /**
   * Where the data is (the SQLite file, or the URL without its password) and the migrations this
   * start applied (empty when the database was current): for the startup log, so an upgrade
   * records which replica migrated the database, when, and to what.
   */
  readonly database: {
    readonly location: string
    readonly appliedMigrations: AppliedMigrations
  }
}

/** Options for {@link createKbsServices}. */
export interface KbsServicesOptions {
  /** The master key as an environment value (`INITGUARD_KBS_MASTER_KEY`), if the operator set one. */
  readonly masterKeyEnv?: string
  /** Fetch collateral (AMD KDS, Intel PCS) when evidence does not carry it; default true. */
  readonly online?: boolean
  /** Where VCEKs and CA chains are fetched: a KDS mirror (or a test's server); default AMD KDS. */
  readonly kdsBaseUrl?: string
  /** The PCS or PCCS DCAP collateral is fetched from; default Intel PCS. */
  readonly pcsBaseUrl?: string
  /**
   * AMD roots SEV-SNP chains and AMD CRLs are verified against instead of AMD's pinned production
   * ones: for tests with a test PKI and a KDS stand-in. Deliberately not a flag or config key.
   */
  readonly snpAnchors?: SnpTrustAnchors
}

/**
 * Read and verify the configured AMD CRL files against the trusted ARKs, so a file that is not a
 * CRL, or not the product's (another product's ARK, a forgery), stops the KBS at start rather than
 * refusing every guest of that product later. One that is no longer current is accepted here:
 * guests are then refused `ERR_SNP_CRL_STALE` until the file is replaced (it is read again when
 * the one in memory expires).
 *
 * @throws {@link UsageError} `ERR_KBS_AMD_CRL_INVALID` (exit 2); the file reader's errors.
 */
async function checkAmdCrlFiles(
  files: Readonly<Partial<Record<AmdCrlKey, string>>>,
  anchors: SnpTrustAnchors,
): Promise<void> {
  for (const [key, file] of Object.entries(files) as [AmdCrlKey, string][]) {
    const [kind, product] = key.split('/') as [EndorsementKind, SnpProduct]
    const der = await readInput(file, { what: `AMD CRL (${key})`, maxSize: MAX_CRL_FILE_BYTES })
    try {
      verifyAmdRevocationList(der, trustedArk(anchors, product), product, kind)
    } catch (error) {
      if (!isInitguardError(error)) throw error
      throw new UsageError(
        'ERR_KBS_AMD_CRL_INVALID',
        `--amd-crl ${key}=${file}: ${error.message} (${error.code})`,
        {
          cause: error,
          details: { crl: key, file, reason: error.code },
          hint: `give the current CRL from AMD KDS /${kind}/v1/${product}/crl (DER)`,
        },
      )
    }
  }
}

/** The trust the configuration names: vendor roots always, the simulator only when asked. */
async function evidenceTrust(
  config: KbsServerConfig,
  options: KbsServicesOptions,
): Promise<EvidenceTrust> {
  const cacheDir = join(config.dataDir, 'collateral-cache')
  const online = options.online ?? true
  const limits = config.collateralDownloads
  // One downloader per vendor in this process, so the bounds hold per vendor and per replica.
  const downloads = {
    cacheDir,
    cacheBound: config.collateralCache,
    offline: !online,
    maxConcurrentDownloads: limits.maxConcurrent,
    maxQueuedDownloads: limits.maxQueued,
    notFoundTtlMs: limits.notFoundTtlMs,
  }
  const collateral =
    config.collateralFile === undefined
      ? undefined
      : [
          parseCollateralJson(
            await readInput(config.collateralFile, {
              what: 'DCAP collateral',
              maxSize: MAX_COLLATERAL_BYTES,
            }),
          ),
        ]
  const anchors = options.snpAnchors
  const crlFiles = config.amdCrlFiles
  if (crlFiles !== undefined) await checkAmdCrlFiles(crlFiles, anchors ?? AMD_PRODUCTION_ANCHORS)
  return {
    snp: {
      // VCEKs and CRLs are checked against the anchors reports are verified with before caching.
      kds: new AmdKdsClient({
        ...downloads,
        ...(options.kdsBaseUrl === undefined ? {} : { baseUrl: options.kdsBaseUrl }),
        ...(anchors === undefined ? {} : { anchors }),
      }),
      ...(anchors === undefined ? {} : { anchors }),
      ...(crlFiles === undefined ? {} : { crlFiles }),
    },
    dcap: {
      ...(collateral === undefined ? {} : { collateral }),
      pcs: new IntelPcsClient({
        ...downloads,
        ...(options.pcsBaseUrl === undefined ? {} : { baseUrl: options.pcsBaseUrl }),
      }),
    },
    ...(config.trustSimDir === undefined
      ? {}
      : { simulator: await simulatorTrust(config.trustSimDir) }),
  }
}

/** Opens the store in the data directory and builds the appraiser and token service. */
export async function createKbsServices(
  config: KbsServerConfig,
  options: KbsServicesOptions = {},
): Promise<KbsServices> {
  // Replicas sharing PostgreSQL must share one key: one generated per replica's data directory
  // would make every replica but the first refuse the database (or, worse, race to seal with it).
  if (
    config.database.kind === 'postgres' &&
    config.masterKeyFile === undefined &&
    options.masterKeyEnv === undefined
  ) {
    throw new UsageError(
      'ERR_KBS_MASTER_KEY_REQUIRED',
      'with a PostgreSQL database the master key must be given, not generated per data directory',
      {
        hint: `give the same key to every replica: --master-key-file FILE (master-key-file in --config) or ${KBS_MASTER_KEY_ENV} (openssl rand -base64 32)`,
      },
    )
  }
  const masterKey = await loadMasterKey({
    dataDir: config.dataDir,
    ...(config.masterKeyFile === undefined ? {} : { file: config.masterKeyFile }),
    ...(options.masterKeyEnv === undefined
      ? {}
      : { env: options.masterKeyEnv, envName: KBS_MASTER_KEY_ENV }),
  })
  const trust = await evidenceTrust(config, options)
  // Every route reaches the database through the guard: unreachable is 503, never a hang or 500.
  const opened = await openKbsStore({
    dataDir: config.dataDir,
    masterKey: masterKey.key,
    database: config.database,
  })
  const store = guardStoreAvailability(opened)
  const tokens = createTokenService({
    store: store.signingKeys,
    issuer: KBS_TOKEN_ISSUER,
    // Whole seconds: the config refuses any other lifetime.
    lifetimeSeconds: config.tokenLifetimeMs / 1000,
  })
  const appraiser = createAppraiser({
    verifier: createEvidenceVerifier({ trust }),
    workloads: store.workloads,
    workloadCacheMs: config.workloadCacheMs,
  })
  return {
    store,
    appraiser,
    tokens,
    protocol: { parseKbsRequest, parseKbsAttestation, sealResource },
    validateWorkload: parseWorkloadDefinition,
    simulatedTrust: config.trustSimDir !== undefined,
    masterKeySource: masterKey.source,
    database: { location: opened.location, appliedMigrations: opened.appliedMigrations },
  }
}
