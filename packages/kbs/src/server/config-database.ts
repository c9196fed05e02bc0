/**
 * Which database the KBS uses, from `--database`, `INITGUARD_KBS_DATABASE` or the config file's
 * `database` key (in that order), and the `[postgres]` pool section. A URL's password is never
 * echoed: every message shows it redacted.
 *
 * ```toml
 * database = "postgres://kbs:PASSWORD@db.internal:5432/kbs?sslmode=verify-full"   # or "sqlite"
 * [postgres]   # pool-size = 10, connect-timeout = "5s", statement-timeout = "4s", idle-timeout = "30s"
 *              # insecure-transport = false  (true: allow a remote server without verified TLS)
 * ```
 *
 * A remote server must be reached with `sslmode=verify-full` (or `verify-ca` with `sslrootcert`):
 * see `../storage/postgres-transport.ts`.
 *
 * @module
 */
import { UsageError, jsonKind } from '@initguard/core'
import { redactUrl } from '@initguard/http'
import type { KbsDatabaseConfig } from '../storage/dialect.ts'
import { checkPostgresTransport } from '../storage/postgres-transport.ts'
import { configValueError, parseDuration, parseIntegerInRange } from './config-values.ts'
import { STORE_CALL_DEADLINE_MS } from './store-availability.ts'

/** The environment variable that may hold the database (a URL with a password is a secret). */
export const KBS_DATABASE_ENV = 'INITGUARD_KBS_DATABASE'

/** The keys of the `[postgres]` section. */
export const POSTGRES_SECTION_KEYS: readonly string[] = [
  'pool-size',
  'connect-timeout',
  'statement-timeout',
  'idle-timeout',
  'insecure-transport',
]

const DATABASE_EXPECTED = 'sqlite, or a postgres:// (postgresql://) URL'

/**
 * `sqlite` or a PostgreSQL URL.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE` for anything else (the value shown redacted).
 */
export function parseDatabaseSetting(text: string, where: string): KbsDatabaseConfig {
  if (text === 'sqlite') return { kind: 'sqlite' }
  const url = URL.canParse(text) ? new URL(text) : undefined
  if (url !== undefined && (url.protocol === 'postgres:' || url.protocol === 'postgresql:')) {
    // A parameter given twice is ambiguous, and the driver takes the last while a check here would
    // read the first (`?host=/run/pg&host=` would pass as a socket and connect by PGHOST).
    const names = [...url.searchParams.keys()]
    const repeated = names.find((name, index) => names.indexOf(name) !== index)
    if (repeated !== undefined)
      throw configValueError(
        where,
        redactUrl(url),
        `a URL that gives each parameter once (${repeated} is repeated)`,
      )
    // No host in the authority is libpq's form for a Unix socket (`postgres:///kbs?host=/run/…`);
    // without a socket directory either, the driver would pick its host from the environment.
    const socketDir = url.searchParams.get('host') ?? ''
    if (url.hostname === '' && !socketDir.startsWith('/'))
      throw configValueError(
        where,
        redactUrl(url),
        'a URL with a host, or ?host=/socket/directory for a Unix socket',
      )
    return { kind: 'postgres', url: text }
  }
  throw configValueError(
    where,
    url === undefined ? '(not a URL)' : redactUrl(url),
    DATABASE_EXPECTED,
  )
}

/**
 * The config file's `database` value. Anything but a non-empty string without U+0000 is refused
 * naming only its kind: the value may be a URL with its password.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function databaseFileValue(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && value !== '' && !value.includes('\0')) return value
  const kind =
    typeof value === 'string' ? (value === '' ? 'empty' : 'holds U+0000') : jsonKind(value)
  throw configValueError('database', `(${kind}, not shown)`, DATABASE_EXPECTED)
}

/**
 * The database from its sources (first given wins) and the `[postgres]` section;
 * `insecureTransportFlag` is `--database-insecure-transport`.
 */
export function resolveDatabaseSetting(
  sources: readonly {
    readonly value: string | undefined
    readonly where: string
    /** Checked even when an earlier source wins (the config file's key). */
    readonly checkedAlways?: boolean
  }[],
  postgres: Readonly<Record<string, unknown>>,
  insecureTransportFlag = false,
): KbsDatabaseConfig {
  // The config file's value is checked even while --database (or the environment) replaces it, as
  // every file value is; the environment is the process's, not the configuration's, and an empty
  // or stale variable under an explicit --database stays as harmless as it always was.
  const winner = sources.find((source) => source.value !== undefined)
  for (const source of sources)
    if (source !== winner && source.checkedAlways === true && source.value !== undefined)
      parseDatabaseSetting(source.value, source.where)
  const database =
    winner?.value === undefined
      ? ({ kind: 'sqlite' } as const)
      : parseDatabaseSetting(winner.value, winner.where)
  const keys = Object.keys(postgres)
  if (database.kind === 'sqlite') {
    if (insecureTransportFlag) {
      throw new UsageError(
        'ERR_KBS_CONFIG_KEY',
        '--database-insecure-transport is given but the database is SQLite',
        { hint: 'drop --database-insecure-transport, or give --database postgres://…' },
      )
    }
    if (keys.length > 0) {
      throw new UsageError(
        'ERR_KBS_CONFIG_KEY',
        `[postgres] ${keys.join(', ')} is set but the database is SQLite`,
        { hint: 'set database = "postgres://…", or remove the [postgres] section' },
      )
    }
    return database
  }
  const duration = (key: string): number | undefined => {
    const value = postgres[key]
    if (value === undefined) return undefined
    if (typeof value !== 'string')
      throw configValueError(`postgres.${key}`, JSON.stringify(value), 'a duration')
    return parseDuration(value, `postgres.${key}`)
  }
  const poolSize =
    postgres['pool-size'] === undefined
      ? undefined
      : parseIntegerInRange(postgres['pool-size'], 1, 1000, 'postgres.pool-size')
  const connectTimeoutMs = duration('connect-timeout')
  const statementTimeoutMs = duration('statement-timeout')
  // At or past the store-call deadline the server would let a statement the guest was told failed
  // (503) run on and commit behind the answer: the timeout exists to cancel exactly those.
  if (statementTimeoutMs !== undefined && statementTimeoutMs >= STORE_CALL_DEADLINE_MS)
    throw configValueError(
      'postgres.statement-timeout',
      String(postgres['statement-timeout']),
      `a duration under the ${String(STORE_CALL_DEADLINE_MS / 1000)} s store-call deadline (the default is 4s)`,
    )
  const idleTimeoutMs = duration('idle-timeout')
  const insecure = postgres['insecure-transport']
  if (insecure !== undefined && typeof insecure !== 'boolean')
    throw configValueError('postgres.insecure-transport', JSON.stringify(insecure), 'true or false')
  const insecureTransport = insecureTransportFlag || insecure === true
  if (insecureTransport) refuseNeedlessOptIn(database.url, insecureTransportFlag)
  return {
    ...database,
    ...(insecureTransport ? { insecureTransport } : {}),
    ...(poolSize === undefined ? {} : { poolSize }),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
    ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
  }
}

/**
 * Refuse the insecure-transport opt-in where the connection is protected without it: on this host
 * (loopback, a Unix socket) or `sslmode=verify-full` / `verify-ca` with a root. It would allow
 * nothing there, and an option is never silently ignored; worse, left in place it would let the
 * URL lose its protection later without a word.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_KEY` naming the flag or the key (never the password).
 */
function refuseNeedlessOptIn(url: string, fromFlag: boolean): void {
  const location = URL.canParse(url) ? redactUrl(new URL(url)) : '(the database URL)'
  const transport = checkPostgresTransport(url, location, true)
  if (transport.kind === 'insecure-opt-in') return
  const named = fromFlag ? '--database-insecure-transport' : '[postgres] insecure-transport'
  const why =
    transport.kind === 'local'
      ? `the server ${transport.host} is on this host, which needs no opt-in`
      : `the URL asks for sslmode=${transport.sslmode}, which verifies the server`
  throw new UsageError('ERR_KBS_CONFIG_KEY', `${named} has no effect for ${location}: ${why}`, {
    details: { option: named },
    hint: `drop ${named}; it is only for a remote server without verified TLS`,
  })
}
