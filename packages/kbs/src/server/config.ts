/**
 * The KBS server's configuration: `initguard kbs serve` flags and a config file (JSON or TOML)
 * that can hold everything the flags do, plus the limits. Strict: an unknown key, a value of the
 * wrong type, or a duration/size that does not parse is refused with its key; flags win over the
 * file; relative paths in the file are relative to the file.
 *
 * ```toml
 * data-dir = "/var/lib/initguard-kbs"
 * listen = "0.0.0.0:8443"
 * admin-public-key = ["admin.pub"]      # or one string
 * # admin-audience = "https://kbs.prod.example:8443"   (the aud admin tokens must name; default "KBS")
 * # tls-cert = "kbs.crt"  tls-key = "kbs.key"   (both or neither; neither: generated)
 * # trust-sim = "sim"  collateral = "collateral.json"  insecure-http = false
 * # amd-crl = ["vcek/Milan=milan-vcek.crl"]   (AMD CRL files instead of KDS; see config-amd-crl.ts)
 * # master-key-file = "master.key"   (default: DATA-DIR/master.key, generated on first run)
 * # database = "postgres://…"   (default: SQLite in DATA-DIR; see config-database.ts)
 * [limits]          # body = "2MiB", request-timeout = "30s", headers-timeout = "10s",
 *                   # connection-timeout = "60s", keep-alive-timeout = "5s",
 *                   # json-depth = 64, max-header-size = "16KiB",
 *                   # max-connections = 4096, max-connections-per-client = 256
 * [sessions]        # nonce-ttl = "5m"    (30s to 24h: replicas' clocks may be 10 s apart)
 * [tokens]          # lifetime = "5m"     (whole seconds, 30s to 24h)
 * [workloads]       # cache-max-age = "2s"   (how stale another replica's change may be here; "0s": none)
 * [collateral-cache] # max-entries = 4096, max-size = "32MiB"   (each of DATA-DIR/collateral-cache/{kds,pcs})
 * [collateral-downloads] # max-concurrent = 4, max-queued = 64, not-found-ttl = "10m"
 *                   # (per vendor, KDS and PCS, per process; see config-collateral.ts)
 * [rate-limit]      # max = 20, window = "1s"      (per client address, on /auth, /attest and GET /resource)
 * [under-pressure]  # max-event-loop-delay = "1s"; max-heap-used, max-rss (e.g. "1GiB"): off unless set
 * [audit]           # min-retention = "7d"   (no audit prune removes an entry younger; 1ms to 3650d)
 * [log]             # level = "info"
 * [postgres]        # pool-size = 10, connect-timeout = "5s", statement-timeout = "4s", idle-timeout = "30s",
 *                   # insecure-transport = false
 * ```
 *
 * @module
 */
import { dirname, resolve } from 'node:path'
import { UsageError, isJsonObject } from '@initguard/core'
import { ADMIN_AUDIENCE_RULE, isAdminAudience } from '@initguard/kbs-protocol'
import {
  configValueError,
  durationOrZero,
  integerOr,
  optionalText as text,
  parseDuration,
  parseIntegerInRange,
  parseListen,
  parseRetention,
  parseSize,
  shownValue as shown,
  withUnit,
} from './config-values.ts'
import { MIN_REPLICA_LIFETIME_MS, REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'
import { amdCrlFileValues, resolveAmdCrlFiles } from './config-amd-crl.ts'
import { COLLATERAL_SECTION_KEYS, resolveCollateralSettings } from './config-collateral.ts'
import {
  KBS_CONFIG_DEFAULTS,
  LOG_LEVELS,
  type KbsLogLevel,
  type KbsServeFlags,
  type KbsServerConfig,
  type KbsTlsSetting,
} from './config-types.ts'
import {
  KBS_DATABASE_ENV,
  POSTGRES_SECTION_KEYS,
  databaseFileValue,
  resolveDatabaseSetting,
} from './config-database.ts'

export {
  KBS_CONFIG_DEFAULTS,
  type KbsLogLevel,
  type KbsServeFlags,
  type KbsServerConfig,
  type KbsTlsSetting,
} from './config-types.ts'

type Section = Readonly<Record<string, unknown>>

const TOP_KEYS = [
  'data-dir',
  'listen',
  'tls-cert',
  'tls-key',
  'admin-public-key',
  'admin-audience',
  'trust-sim',
  'collateral',
  'amd-crl',
  'master-key-file',
  'database',
  'insecure-http',
  'limits',
  'sessions',
  'tokens',
  'workloads',
  'collateral-cache',
  'collateral-downloads',
  'rate-limit',
  'under-pressure',
  'audit',
  'log',
  'postgres',
] as const
const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  limits: [
    'body',
    'request-timeout',
    'headers-timeout',
    'connection-timeout',
    'keep-alive-timeout',
    'json-depth',
    'max-header-size',
    'max-connections',
    'max-connections-per-client',
  ],
  sessions: ['nonce-ttl'],
  tokens: ['lifetime'],
  workloads: ['cache-max-age'],
  ...COLLATERAL_SECTION_KEYS,
  'rate-limit': ['max', 'window'],
  'under-pressure': ['max-event-loop-delay', 'max-heap-used', 'max-rss'],
  audit: ['min-retention'],
  log: ['level'],
  postgres: POSTGRES_SECTION_KEYS,
}

function checkKeys(object: Section, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw new UsageError('ERR_KBS_CONFIG_KEY', `${where}: unknown key ${JSON.stringify(key)}`, {
        details: { key },
        hint: `the keys here are ${allowed.join(', ')}`,
      })
    }
  }
}

const SKEW_NOTE = `(replicas' clocks may be ${String(REPLICA_CLOCK_SKEW_MS / 1000)} s apart)`
const SHORTEST = `${String(MIN_REPLICA_LIFETIME_MS / 1000)}s`

/**
 * A lifetime another replica checks by its own clock (`nonce-ttl`): at least
 * {@link MIN_REPLICA_LIFETIME_MS}, so replicas as far apart as {@link REPLICA_CLOCK_SKEW_MS}
 * still leave it most of its life, rather than refusing every challenge made on the one behind.
 */
function replicaLifetime(text: string, where: string): number {
  const ms = parseDuration(text, where)
  if (ms < MIN_REPLICA_LIFETIME_MS)
    throw configValueError(where, text, `a duration from ${SHORTEST} to 24h (e.g. 5m) ${SKEW_NOTE}`)
  return ms
}

/**
 * A token lifetime: whole seconds, as a token's `exp` counts them. `1499ms` would be signed as 1 s
 * and `2500ms` as 3 s, longer than asked; so a lifetime that is not whole seconds is refused. At
 * least {@link MIN_REPLICA_LIFETIME_MS}, as `nonce-ttl`.
 */
function tokenLifetime(text: string, where: string): number {
  const ms = parseDuration(text, where)
  if (ms % 1000 !== 0 || ms < MIN_REPLICA_LIFETIME_MS)
    throw configValueError(
      where,
      text,
      `whole seconds from ${SHORTEST} to 24h (e.g. 5m), as tokens count them ${SKEW_NOTE}`,
    )
  return ms
}

/**
 * The admin audience: `--admin-audience`, else `admin-audience` in the file, else Trustee's `KBS`.
 * One value by {@link isAdminAudience}'s rule; anything else is refused where it was given.
 */
function adminAudience(flag: string | undefined, fileValue: unknown): string {
  const [value, where] =
    flag === undefined ? [fileValue, 'admin-audience'] : [flag, '--admin-audience']
  if (value === undefined) return KBS_CONFIG_DEFAULTS.adminAudience
  if (typeof value !== 'string' || !isAdminAudience(value))
    throw configValueError(where, shown(value), ADMIN_AUDIENCE_RULE)
  return value
}

/** A staleness bound: `0s` (none) or a duration up to 60 s. */
function cacheMaxAge(text: string, where: string): number {
  return durationOrZero(text, where, 60_000, 'a duration from 0s to 60s (e.g. 2s)')
}

function section(document: Section, name: string): Section {
  const value = document[name]
  if (value === undefined) return {}
  if (!isJsonObject(value)) throw configValueError(name, shown(value), 'a table (object)')
  checkKeys(value, SECTION_KEYS[name] ?? [], name)
  return value
}

function pathList(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined
  const list = Array.isArray(value) ? (value as unknown[]) : [value]
  return list.map((item, i) => text(item, `${where}[${i}]`) ?? '')
}

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined)
    throw new UsageError('ERR_USAGE', `missing --${flag}`, {
      hint: `give --${flag}, or ${flag} in the --config file`,
    })
  return value
}

/**
 * The configuration from flags and an optional, already-parsed config file document.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_KEY`, `ERR_KBS_CONFIG_VALUE`, `ERR_USAGE`,
 *   `ERR_KBS_TLS_OPTIONS`.
 */
export function resolveKbsServerConfig(
  flags: KbsServeFlags,
  file?: { readonly document: unknown; readonly path: string },
): KbsServerConfig {
  const document: Section = file?.document === undefined ? {} : asDocument(file.document)
  checkKeys(document, TOP_KEYS, 'the config file')
  const base = file === undefined ? '.' : dirname(file.path)
  const filePath = (key: string): string | undefined => {
    const given = text(document[key], key)
    return given === undefined ? undefined : resolve(base, given)
  }
  const insecure = document['insecure-http']
  if (insecure !== undefined && typeof insecure !== 'boolean')
    throw configValueError('insecure-http', shown(insecure), 'true or false')
  const filePaths = pathList(document['admin-public-key'], 'admin-public-key')?.map((p) =>
    resolve(base, p),
  )
  // Every value the file gives is checked, also where a flag replaces it: a malformed file is
  // refused whatever the flags, so it never starts failing only when a flag is dropped.
  const inFile = {
    tlsCert: filePath('tls-cert'),
    tlsKey: filePath('tls-key'),
    listen: text(document['listen'], 'listen'),
    trustSim: filePath('trust-sim'),
    collateral: filePath('collateral'),
    masterKeyFile: filePath('master-key-file'),
    dataDir: filePath('data-dir'),
    amdCrl: resolveAmdCrlFiles(amdCrlFileValues(document['amd-crl'], base)),
  }
  if (inFile.listen !== undefined) parseListen(inFile.listen, 'listen')
  adminAudience(undefined, document['admin-audience'])
  const tlsCert = flags.tlsCert ?? inFile.tlsCert
  const tlsKey = flags.tlsKey ?? inFile.tlsKey
  const insecureHttp = flags.insecureHttp === true || insecure === true
  const tls = tlsSetting(tlsCert, tlsKey, insecureHttp)
  const listenText = flags.listen ?? inFile.listen
  const adminKeys =
    flags.adminPublicKey !== undefined && flags.adminPublicKey.length > 0
      ? flags.adminPublicKey
      : filePaths
  if (adminKeys === undefined || adminKeys.length === 0) required(undefined, 'admin-public-key')
  const trustSimDir = flags.trustSim ?? inFile.trustSim
  const collateralFile = flags.collateral ?? inFile.collateral
  // Flags replace the file's list, as --admin-public-key does.
  const amdCrlFiles =
    flags.amdCrl !== undefined && flags.amdCrl.length > 0
      ? resolveAmdCrlFiles(flags.amdCrl.map((value) => ({ value, where: '--amd-crl' })))
      : inFile.amdCrl
  const masterKeyFile = flags.masterKeyFile ?? inFile.masterKeyFile
  const d = KBS_CONFIG_DEFAULTS
  const limits = section(document, 'limits')
  const rate = section(document, 'rate-limit')
  const pressure = section(document, 'under-pressure')
  const level = text(section(document, 'log')['level'], 'log.level') ?? d.logLevel
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw configValueError('log.level', level, `one of ${LOG_LEVELS.join(', ')}`)
  return {
    dataDir: flags.dataDir ?? required(inFile.dataDir, 'data-dir'),
    listen: parseListen(
      required(listenText, 'listen'),
      flags.listen === undefined ? 'listen' : '--listen',
    ),
    tls,
    adminPublicKeyFiles: adminKeys ?? [],
    adminAudience: adminAudience(flags.adminAudience, document['admin-audience']),
    ...(trustSimDir === undefined ? {} : { trustSimDir }),
    ...(collateralFile === undefined ? {} : { collateralFile }),
    ...(Object.keys(amdCrlFiles).length === 0 ? {} : { amdCrlFiles }),
    ...(masterKeyFile === undefined ? {} : { masterKeyFile }),
    database: resolveDatabaseSetting(
      [
        { value: flags.database, where: '--database' },
        { value: flags.databaseEnv, where: KBS_DATABASE_ENV },
        { value: databaseFileValue(document['database']), where: 'database', checkedAlways: true },
      ],
      section(document, 'postgres'),
      flags.databaseInsecureTransport === true,
    ),
    nonceTtlMs: withUnit(
      section(document, 'sessions')['nonce-ttl'],
      'sessions.nonce-ttl',
      replicaLifetime,
      d.nonceTtlMs,
    ),
    tokenLifetimeMs: withUnit(
      section(document, 'tokens')['lifetime'],
      'tokens.lifetime',
      tokenLifetime,
      d.tokenLifetimeMs,
    ),
    workloadCacheMs: withUnit(
      section(document, 'workloads')['cache-max-age'],
      'workloads.cache-max-age',
      cacheMaxAge,
      d.workloadCacheMs,
    ),
    ...resolveCollateralSettings(
      section(document, 'collateral-cache'),
      section(document, 'collateral-downloads'),
    ),
    bodyLimitBytes: withUnit(limits['body'], 'limits.body', parseSize, d.bodyLimitBytes),
    ...connectionLimits(limits),
    timeouts: {
      connectionMs: withUnit(
        limits['connection-timeout'],
        'limits.connection-timeout',
        parseDuration,
        d.timeouts.connectionMs,
      ),
      requestMs: withUnit(
        limits['request-timeout'],
        'limits.request-timeout',
        parseDuration,
        d.timeouts.requestMs,
      ),
      headersMs: withUnit(
        limits['headers-timeout'],
        'limits.headers-timeout',
        parseDuration,
        d.timeouts.headersMs,
      ),
      keepAliveMs: withUnit(
        limits['keep-alive-timeout'],
        'limits.keep-alive-timeout',
        parseDuration,
        d.timeouts.keepAliveMs,
      ),
    },
    rateLimit: {
      max:
        rate['max'] === undefined
          ? d.rateLimit.max
          : parseIntegerInRange(rate['max'], 1, 1_000_000, 'rate-limit.max'),
      windowMs: withUnit(rate['window'], 'rate-limit.window', parseDuration, d.rateLimit.windowMs),
    },
    underPressure: {
      maxEventLoopDelayMs: withUnit(
        pressure['max-event-loop-delay'],
        'under-pressure.max-event-loop-delay',
        parseDuration,
        d.underPressure.maxEventLoopDelayMs,
      ),
      maxHeapUsedBytes: withUnit(
        pressure['max-heap-used'],
        'under-pressure.max-heap-used',
        parseSize,
        0,
      ),
      maxRssBytes: withUnit(pressure['max-rss'], 'under-pressure.max-rss', parseSize, 0),
    },
    auditMinRetentionMs: withUnit(
      section(document, 'audit')['min-retention'],
      'audit.min-retention',
      parseRetention,
      d.auditMinRetentionMs,
    ),
    logLevel: level as KbsLogLevel,
  }
}

/** `limits.json-depth`, `max-header-size`, `max-connections`, `max-connections-per-client`. */
function connectionLimits(
  limits: Section,
): Pick<KbsServerConfig, 'jsonMaxDepth' | 'maxHeaderBytes' | 'connections'> {
  const d = KBS_CONFIG_DEFAULTS
  const where = 'limits.max-header-size'
  const maxHeaderBytes = withUnit(limits['max-header-size'], where, parseSize, d.maxHeaderBytes)
  // Below 1 KiB an ordinary request with a bearer token would not fit; above 1 MiB is no bound.
  if (maxHeaderBytes < 1024 || maxHeaderBytes > 1024 * 1024)
    throw configValueError(where, String(limits['max-header-size']), 'a size from 1KiB to 1MiB')
  const max = integerOr(
    limits['max-connections'],
    1,
    1_000_000,
    'limits.max-connections',
    d.connections.max,
  )
  const perClient = integerOr(
    limits['max-connections-per-client'],
    1,
    max,
    'limits.max-connections-per-client',
    Math.min(d.connections.perClient, max),
  )
  return {
    jsonMaxDepth: integerOr(limits['json-depth'], 1, 1000, 'limits.json-depth', d.jsonMaxDepth),
    maxHeaderBytes,
    connections: { max, perClient },
  }
}

function asDocument(document: unknown): Section {
  if (!isJsonObject(document))
    throw configValueError('the config file', typeof document, 'a table (object) at the top')
  return document
}

function tlsSetting(
  cert: string | undefined,
  key: string | undefined,
  insecure: boolean,
): KbsTlsSetting {
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('ERR_KBS_TLS_OPTIONS', 'give both --tls-cert and --tls-key, or neither', {
      hint: 'without both, the KBS generates a self-signed certificate in its data directory',
    })
  }
  if (insecure && cert !== undefined) {
    throw new UsageError(
      'ERR_KBS_TLS_OPTIONS',
      '--insecure-http contradicts --tls-cert/--tls-key',
      {
        hint: 'drop --insecure-http to serve HTTPS, or the TLS files to serve plain HTTP',
      },
    )
  }
  if (insecure) return { mode: 'insecure-http' }
  return cert === undefined || key === undefined
    ? { mode: 'generate' }
    : { mode: 'files', certFile: cert, keyFile: key }
}
