/**
 * What the KBS server's configuration resolves to (`config.ts` reads it from flags and a file),
 * and the defaults of everything that has one.
 *
 * @module
 */
import { DEFAULT_ADMIN_AUDIENCE } from '@initguard/kbs-protocol'
import type { AmdCrlKey } from '../appraisal/snp-revocation.ts'
import { DEFAULT_WORKLOAD_CACHE_MS } from '../appraisal/workload-snapshot.ts'
import type { KbsDatabaseConfig } from '../storage/dialect.ts'
import { COLLATERAL_CONFIG_DEFAULTS, type KbsCollateralSettings } from './config-collateral.ts'
import type { ListenAddress } from './config-values.ts'

/** How the server speaks TLS. */
export type KbsTlsSetting =
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  /** A self-signed certificate generated on first run in the data directory, then reused. */
  | { readonly mode: 'generate' }
  /** Plain HTTP: only with an explicit `--insecure-http`; logged as a warning. */
  | { readonly mode: 'insecure-http' }

/** Pino's levels. */
export type KbsLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
/** The log levels `[log] level` takes. */
export const LOG_LEVELS: readonly KbsLogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
]

/** The whole, validated server configuration (times in ms, sizes in bytes). */
export interface KbsServerConfig extends KbsCollateralSettings {
  readonly dataDir: string
  readonly listen: ListenAddress
  readonly tls: KbsTlsSetting
  readonly adminPublicKeyFiles: readonly string[]
  /**
   * The audience (`aud`) every admin token must contain. Trustee's fixed `KBS` by default, which
   * binds a token to no KBS in particular; a KBS that shares an admin key with another (staging
   * and production) needs its own, or a token minted for one works on the other.
   */
  readonly adminAudience: string
  readonly trustSimDir?: string
  readonly collateralFile?: string
  /**
   * AMD CRL files by hierarchy and product (`--amd-crl vcek/Milan=FILE`), read instead of fetching
   * CRLs from AMD KDS; absent: fetched from KDS (cached).
   */
  readonly amdCrlFiles?: Readonly<Partial<Record<AmdCrlKey, string>>>
  /** The master key's file (32 bytes raw, hex or base64; 0600) instead of DATA-DIR/master.key. */
  readonly masterKeyFile?: string
  /** SQLite in the data directory (the default) or a PostgreSQL database shared by replicas. */
  readonly database: KbsDatabaseConfig
  readonly nonceTtlMs: number
  readonly tokenLifetimeMs: number
  /**
   * How long one read of the workloads may serve handshakes (0 to 60 s): a workload changed through
   * another replica on the same database is used here within this bound; this process's own
   * changes at once.
   */
  readonly workloadCacheMs: number
  readonly bodyLimitBytes: number
  /** The deepest nesting of objects and arrays a JSON body may have. */
  readonly jsonMaxDepth: number
  /** The request line and headers together at most (Node's `maxHeaderSize`); over it: 431. */
  readonly maxHeaderBytes: number
  /** Open connections at most: in all, and from one client address (IPv4, or IPv6 /64). */
  readonly connections: { readonly max: number; readonly perClient: number }
  readonly timeouts: {
    readonly connectionMs: number
    readonly requestMs: number
    readonly headersMs: number
    readonly keepAliveMs: number
  }
  readonly rateLimit: { readonly max: number; readonly windowMs: number }
  readonly underPressure: {
    readonly maxEventLoopDelayMs: number
    /** 0: not checked. */
    readonly maxHeapUsedBytes: number
    /** 0: not checked. */
    readonly maxRssBytes: number
  }
  /**
   * `[audit] min-retention`: an audit prune never removes an entry younger than this (ms; at
   * least 1, never "none").
   */
  readonly auditMinRetentionMs: number
  readonly logLevel: KbsLogLevel
}

/** The `initguard kbs serve` flags, as given (already checked as non-empty text by the CLI). */
export interface KbsServeFlags {
  readonly dataDir?: string
  readonly listen?: string
  readonly tlsCert?: string
  readonly tlsKey?: string
  readonly adminPublicKey?: readonly string[]
  /** `--admin-audience`: the `aud` admin tokens must contain (checked by the configuration). */
  readonly adminAudience?: string
  readonly trustSim?: string
  readonly collateral?: string
  /** `--amd-crl KIND/PRODUCT=FILE`, each as given (checked by the configuration). */
  readonly amdCrl?: readonly string[]
  readonly masterKeyFile?: string
  /** `--database`: `sqlite` or a `postgres://` URL. */
  readonly database?: string
  /** The value of `INITGUARD_KBS_DATABASE`, used when `--database` is not given. */
  readonly databaseEnv?: string
  /** `--database-insecure-transport`: allow a remote PostgreSQL without verified TLS. */
  readonly databaseInsecureTransport?: boolean
  readonly config?: string
  readonly insecureHttp?: boolean
}

const MIB = 1024 * 1024

/** The defaults of everything that has one. */
export const KBS_CONFIG_DEFAULTS: Omit<
  KbsServerConfig,
  'dataDir' | 'listen' | 'tls' | 'adminPublicKeyFiles' | 'database'
> = {
  adminAudience: DEFAULT_ADMIN_AUDIENCE,
  nonceTtlMs: 5 * 60_000,
  tokenLifetimeMs: 5 * 60_000,
  workloadCacheMs: DEFAULT_WORKLOAD_CACHE_MS,
  ...COLLATERAL_CONFIG_DEFAULTS,
  bodyLimitBytes: 2 * MIB,
  jsonMaxDepth: 64,
  maxHeaderBytes: 16 * 1024,
  connections: { max: 4096, perClient: 256 },
  timeouts: { connectionMs: 60_000, requestMs: 30_000, headersMs: 10_000, keepAliveMs: 5_000 },
  rateLimit: { max: 20, windowMs: 1000 },
  underPressure: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0, maxRssBytes: 0 },
  auditMinRetentionMs: 7 * 86_400_000,
  logLevel: 'info',
}
