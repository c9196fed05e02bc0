/**
 * Test support: a real KBS (`startKbs`: SQLite in a temporary data directory, a generated TLS
 * identity, real HTTPS on loopback) that trusts a real TEE simulator, with a clock the test moves,
 * an admin key, and simulated guests that attest with the real protocol client.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringToUtf8 } from '@initguard/core'
import { HttpClient, httpErrors } from '@initguard/http'
import { parseInitdata } from '@initguard/initdata'
import { KbsClient, type KbsTee } from '@initguard/kbs-protocol'
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
  initSimulator,
  simulateSnpEvidence,
  simulateTdxEvidence,
  type SimulatorRevocable,
  type TeeSimulator,
} from '@initguard/tee-simulator'
import type { SnpTrustAnchors } from '@initguard/snp'
import {
  testAdminKey,
  testAdminToken,
  type TestAdminKey,
} from '../server/admin-auth-test-support.ts'
import { resolveKbsServerConfig, type KbsServerConfig } from '../server/config.ts'
import { startKbs, type RunningKbs } from './start-kbs.ts'

/** An init-data document as an operator writes it; `tag` makes distinct, self-consistent ones. */
export function initdataToml(tag: string, algorithm = 'sha384'): string {
  return `version = "0.1.0"\nalgorithm = "${algorithm}"\n\n[data]\n"cdh.toml" = '''\n[kbc]\nname = "cc_kbc"\nurl = "https://kbs.example:8443"\n# ${tag}\n'''\n`
}

/** A workload for the simulator's launch values. */
export function simulatorWorkload(
  accepted: readonly string[],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    tees: ['snp', 'tdx'],
    initdata: accepted,
    resources: ['default/app/*'],
    snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX] },
    tdx: {
      mrtd: [SIMULATOR_TDX_MRTD_HEX],
      rtmr1: [SIMULATOR_TDX_RTMR_HEX],
      rtmr2: [SIMULATOR_TDX_RTMR_HEX],
    },
    ...overrides,
  }
}

/** A running test KBS and what talks to it. */
export interface TestKbs {
  readonly kbs: RunningKbs
  /** Its configuration (data directory, admin key file, simulator trust). */
  readonly config: KbsServerConfig
  readonly simulator: TeeSimulator
  readonly admin: TestAdminKey
  /** Moves the KBS's clock. */
  advance(ms: number): void
  now(): Date
  /** An HTTPS client that trusts exactly the KBS's certificate. */
  readonly http: HttpClient
  /** An admin call; the response's status and JSON body. */
  adminCall(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }>
  /** A protocol client pinned to the KBS's certificate. */
  client(): KbsClient
  /** The evidence callback of a simulated guest launched with `launchedWith`. */
  guest(
    tee: Exclude<KbsTee, 'sgx'>,
    launchedWith: string,
    options?: { readonly debug?: boolean },
  ): (reportData: Uint8Array) => Promise<unknown>
  stop(): Promise<void>
}

/** The audit log of `kbs` (its first 1000 entries), each without its id and time. */
export async function auditEntriesOf(kbs: TestKbs): Promise<Record<string, unknown>[]> {
  const { entries } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')).json as {
    entries: Record<string, unknown>[]
  }
  return entries.map(({ id: _id, at: _at, ...entry }) => entry)
}

/** Upload a secret as Trustee's admin clients do: raw bytes, no content type; the status. */
export async function uploadResource(kbs: TestKbs, path: string, value: string): Promise<number> {
  const token = await testAdminToken(kbs.admin, kbs.now())
  return kbs.http.request(
    {
      method: 'POST',
      url: `${kbs.kbs.url}/kbs/v0/resource/${path}`,
      what: 'upload',
      headers: { authorization: `Bearer ${token}` },
      body: stringToUtf8(value),
    },
    (response) => Promise.resolve(response.status),
  )
}

/**
 * Start a KBS that trusts a fresh simulator (`--trust-sim`); `insecureHttp` serves plain http;
 * `database` a `postgres://` URL (with a random master key) instead of SQLite; `config` more of
 * the config file; `kdsBaseUrl` an AMD KDS stand-in to fetch VCEKs and CRLs from (online; else
 * offline); `snpAnchors` AMD roots of a test PKI to trust instead of AMD's (the stand-in's CRLs
 * must be signed by its ARK); `simulatorRevoked` what the simulator's own CRL revokes; `admin`
 * the admin key pair (default a fresh one; give one to several KBSes that share it); `masterKey`
 * the base64 master key on PostgreSQL and `simulator` the simulator to trust (default fresh ones:
 * give both to KBSes that are replicas on one database; the first one's `stop` removes the
 * simulator, so stop it last); `stoppedAt` a time its clock stands at, moved by `advance` only
 * (default: the real time, plus what `advance` added), for a test of an exact lifetime that the
 * real time a step takes on a busy machine must not shorten.
 */
export async function startTestKbs(
  options: {
    readonly insecureHttp?: boolean
    readonly closeGraceMs?: number
    readonly database?: string
    readonly config?: Readonly<Record<string, unknown>>
    readonly kdsBaseUrl?: string
    readonly snpAnchors?: SnpTrustAnchors
    readonly simulatorRevoked?: readonly SimulatorRevocable[]
    readonly admin?: TestAdminKey
    readonly masterKey?: string
    readonly simulator?: TeeSimulator
    readonly stoppedAt?: Date
  } = {},
): Promise<TestKbs> {
  const root = await mkdtemp(join(tmpdir(), 'kbs-e2e-'))
  const simulator =
    options.simulator ??
    (
      await initSimulator(
        join(root, 'sim'),
        options.simulatorRevoked === undefined ? {} : { revoked: options.simulatorRevoked },
      )
    ).simulator
  const admin = options.admin ?? testAdminKey('EdDSA')
  const adminPub = join(root, 'admin.pub')
  await writeFile(adminPub, admin.publicPem)
  let offset = 0
  const now = (): Date => new Date((options.stoppedAt?.getTime() ?? Date.now()) + offset)
  const config = resolveKbsServerConfig(
    {
      dataDir: join(root, 'data'),
      listen: '127.0.0.1:0',
      adminPublicKey: [adminPub],
      trustSim: simulator.dir,
      ...(options.insecureHttp === true ? { insecureHttp: true } : {}),
      ...(options.database === undefined ? {} : { database: options.database }),
    },
    // The tests run handshakes back to back from one address; the limit has its own test.
    {
      document: { 'rate-limit': { max: 100_000 }, ...options.config },
      path: 'kbs-test.toml',
    },
  )
  const kbs = await startKbs(config, {
    ...(options.kdsBaseUrl === undefined
      ? { online: false }
      : { online: true, kdsBaseUrl: options.kdsBaseUrl }),
    logger: { level: 'silent' },
    clock: now,
    ...(options.snpAnchors === undefined ? {} : { snpAnchors: options.snpAnchors }),
    ...(options.database === undefined
      ? {}
      : { masterKeyEnv: options.masterKey ?? randomBytes(32).toString('base64') }),
    ...(options.closeGraceMs === undefined ? {} : { closeGraceMs: options.closeGraceMs }),
  }).catch(async (error: unknown) => {
    // A KBS that refuses to start (a test of exactly that) leaves no temporary directory behind.
    await rm(root, { recursive: true, force: true })
    throw error
  })
  const certPem = kbs.tls?.certPem
  const tls = certPem === undefined ? undefined : { pinnedCertificatePem: certPem }
  const http = new HttpClient({
    attempts: 1,
    errors: httpErrors({ area: 'KBS' }),
    ...(tls === undefined ? {} : { tls }),
  })
  const adminCall: TestKbs['adminCall'] = async (method, path, body) => {
    // For this KBS's admin audience, whatever it is configured to.
    const token = await testAdminToken(admin, now(), { aud: [config.adminAudience] })
    return http.request(
      {
        method,
        url: `${kbs.url}${path}`,
        what: `admin ${path}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: stringToUtf8(JSON.stringify(body)) }),
      },
      async (response) => {
        const text = await response.text({ maxBytes: 1 << 20 })
        return {
          status: response.status,
          json: text === '' ? undefined : (JSON.parse(text) as unknown),
        }
      },
    )
  }
  return {
    kbs,
    config,
    simulator,
    admin,
    advance: (ms) => {
      offset += ms
    },
    now,
    http,
    adminCall,
    client: () => new KbsClient({ url: kbs.url, ...(tls === undefined ? {} : { tls }) }),
    guest:
      (tee, launchedWith, options = {}) =>
      (reportData) => {
        const request = {
          initdata: parseInitdata(stringToUtf8(launchedWith)),
          reportData,
          ...(options.debug === undefined ? {} : { debug: options.debug }),
        }
        const evidence =
          tee === 'snp'
            ? simulateSnpEvidence(simulator.material.snp, request)
            : simulateTdxEvidence(simulator.material.tdx, request)
        return Promise.resolve(JSON.parse(JSON.stringify(evidence)) as unknown)
      },
    stop: async () => {
      await kbs.close()
      await rm(root, { recursive: true, force: true })
    },
  }
}
