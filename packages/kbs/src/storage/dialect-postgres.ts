/**
 * The PostgreSQL flavour of the data layer: kysely's `PostgresDialect` over a bounded `pg.Pool`
 * (connect, statement and idle timeouts), `bytea` and identity columns, append-only tables
 * enforced by a trigger, and a session-level advisory lock that lets several replicas start (and
 * migrate) at once. The URL's password never appears in a message: `location` is redacted.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { UnavailableError, UsageError } from '@initguard/core'
import { redactUrl } from '@initguard/http'
import type { DialectColumns, DialectConnection } from './dialect.ts'
import type { RawExecutor, RawResult } from './hot-statement.ts'
import { checkPostgresTransport, postgresConnectionConfig } from './postgres-transport.ts'
import type { KbsDatabase } from './schema.ts'

/** Tuning of the connection pool; every bound has a default. */
export interface PostgresPoolOptions {
  /** Connections per process; default 10. */
  readonly poolSize?: number
  /** How long opening a connection (or waiting for a free one) may take; default 5000 ms. */
  readonly connectTimeoutMs?: number
  /** The server cancels a statement running longer; default {@link POSTGRES_STATEMENT_TIMEOUT_MS}. */
  readonly statementTimeoutMs?: number
  /** An idle connection is closed after; default 30000 ms. */
  readonly idleTimeoutMs?: number
  /** How long a starting replica waits for another's migrations; default {@link POSTGRES_MIGRATION_LOCK_WAIT_MS}. */
  readonly migrationLockTimeoutMs?: number
}

/**
 * The default statement timeout: under the routes' 5 s store-call deadline
 * (`STORE_CALL_DEADLINE_MS`), so a statement the deadline gave up on (the guest got 503) is
 * cancelled by the server rather than committed later, behind the answer. It does not cover the
 * wait for a pooled connection or the network: it narrows the window, it does not close it.
 */
export const POSTGRES_STATEMENT_TIMEOUT_MS = 4000

/** The largest timeout PostgreSQL takes, in ms (its settings are 32-bit integers). */
const POSTGRES_LARGEST_TIMEOUT_MS = 2_147_483_647

/** Options of {@link connectPostgres}. */
export interface PostgresConnectOptions extends PostgresPoolOptions {
  /** `postgres://user:password@host:port/database?sslmode=…` (or `postgresql://`). */
  readonly url: string
  /** Connect to a remote server without verified TLS (see `postgres-transport.ts`). */
  readonly insecureTransport?: boolean
}

/**
 * How long a starting replica waits for another's migrations by default: a deployment's start-up
 * probe must allow at least this long, or the kubelet restarts a replica still waiting its turn.
 */
export const POSTGRES_MIGRATION_LOCK_WAIT_MS = 300_000

/** The largest `toast_tuple_target` PostgreSQL takes (8 kB pages): a heap page's usable bytes. */
export const POSTGRES_LARGEST_INLINE_ROW = 8160

/** The key of the session-level advisory lock held while one process migrates. */
const MIGRATION_LOCK_KEY = 0x1a17_6a4d_6b62_73n
/** How often a waiting replica tries the migration lock again. */
const MIGRATION_LOCK_POLL_MS = 200

const POSTGRES_COLUMNS: DialectColumns = {
  bytes: 'bytea',
  identity: (column) => column.primaryKey().generatedAlwaysAsIdentity(),
  appendOnly: (table) => {
    const refuse = sql.id(`${table}_append_only`)
    return [
      sql`CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`,
      sql`CREATE TRIGGER ${sql.id(`${table}_no_change`)} BEFORE UPDATE OR DELETE ON ${sql.id(table)}
        FOR EACH ROW EXECUTE FUNCTION ${refuse}()`,
      sql`CREATE TRIGGER ${sql.id(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.id(table)}
        FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}()`,
    ]
  },
  pruneMark: {
    up: [
      sql`CREATE FUNCTION audit_prune_mark_only_rises() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' THEN
            IF NEW.id = OLD.id AND NEW.pruned_through_id >= OLD.pruned_through_id THEN
              RETURN NEW;
            END IF;
          END IF;
          RAISE EXCEPTION 'audit_prune_mark only rises';
        END $$`,
      sql`CREATE TRIGGER audit_prune_mark_no_lowering BEFORE UPDATE OR DELETE ON audit_prune_mark
        FOR EACH ROW EXECUTE FUNCTION audit_prune_mark_only_rises()`,
      sql`CREATE TRIGGER audit_prune_mark_no_truncate BEFORE TRUNCATE ON audit_prune_mark
        FOR EACH STATEMENT EXECUTE FUNCTION audit_prune_mark_only_rises()`,
      // 001's row trigger refused UPDATE and DELETE: UPDATE keeps it; DELETE is checked once per
      // statement over the rows it removed (a prune removes thousands: one check, not one each).
      // No mark row (it cannot be deleted, but fail closed): nothing may go.
      sql`DROP TRIGGER audit_entry_no_change ON audit_entry`,
      sql`CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`,
      sql`CREATE FUNCTION audit_entry_delete_below_mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM removed WHERE NOT (removed.id <= COALESCE(
            (SELECT pruned_through_id FROM audit_prune_mark WHERE id = 1), 0))) THEN
            RAISE EXCEPTION 'audit_entry is append-only above its prune mark';
          END IF;
          RETURN NULL;
        END $$`,
      sql`CREATE TRIGGER audit_entry_no_delete AFTER DELETE ON audit_entry
        REFERENCING OLD TABLE AS removed
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_delete_below_mark()`,
    ],
    down: [
      sql`DROP TRIGGER audit_entry_no_delete ON audit_entry`,
      sql`DROP FUNCTION audit_entry_delete_below_mark()`,
      sql`DROP TRIGGER audit_entry_no_update ON audit_entry`,
      sql`CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()`,
      sql`DROP TRIGGER audit_prune_mark_no_truncate ON audit_prune_mark`,
      sql`DROP TRIGGER audit_prune_mark_no_lowering ON audit_prune_mark`,
      sql`DROP FUNCTION audit_prune_mark_only_rises()`,
    ],
  },
  auditCommitOrder: {
    up: [
      // A constant default first, so the column is added without rewriting a row: the entries
      // already there get 0, InvalidTransactionId, below every xid a transaction can have (real
      // ones start at 3). They were all committed before this statement could lock the table, so
      // they come first, in id order, as they were listed before. Then the default that every
      // later insert gets, ours or an older replica's (a default of the table, not of our INSERT).
      sql`ALTER TABLE audit_entry ADD COLUMN writer_xid xid8 NOT NULL DEFAULT '0'`,
      sql`ALTER TABLE audit_entry ALTER COLUMN writer_xid SET DEFAULT pg_current_xact_id()`,
      // No default while adding: now() would give every entry already there this moment, making
      // old entries young. They keep NULL, and the prune reads their `at` instead (the best there
      // is: their writer's clock).
      sql`ALTER TABLE audit_entry ADD COLUMN db_written_at timestamptz`,
      sql`ALTER TABLE audit_entry ALTER COLUMN db_written_at SET DEFAULT now()`,
      sql`CREATE INDEX audit_entry_commit_order ON audit_entry (writer_xid, id)`,
    ],
    down: [
      sql`DROP INDEX audit_entry_commit_order`,
      sql`ALTER TABLE audit_entry DROP COLUMN db_written_at`,
      sql`ALTER TABLE audit_entry DROP COLUMN writer_xid`,
    ],
  },
  // PostgreSQL compresses a row over about 2 kB and moves what still does not fit to the
  // table's TOAST table. Raised to the most a heap page holds, a row is only TOASTed when it
  // could not be stored otherwise. Takes a lock that lets reads and writes go on.
  inlineRows: (table) => ({
    keep: [
      sql`ALTER TABLE ${sql.id(table)} SET (toast_tuple_target = ${sql.raw(String(POSTGRES_LARGEST_INLINE_ROW))})`,
    ],
    undo: [sql`ALTER TABLE ${sql.id(table)} RESET (toast_tuple_target)`],
  }),
}

/**
 * Check that `url` is a PostgreSQL URL and return it redacted, for messages.
 *
 * @throws {@link UsageError} `ERR_KBS_DATABASE_URL` for another scheme or a URL that does not parse.
 */
export function checkPostgresUrl(url: string): string {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  if (parsed?.protocol !== 'postgres:' && parsed?.protocol !== 'postgresql:') {
    throw new UsageError(
      'ERR_KBS_DATABASE_URL',
      `the database ${redactUrl(url)} is not a postgres:// URL`,
      { hint: 'use postgres://USER:PASSWORD@HOST:PORT/DATABASE, or sqlite (the default)' },
    )
  }
  return redactUrl(parsed)
}

/**
 * Open a pool on the database at `url` and check that it answers.
 *
 * @throws {@link UsageError} `ERR_KBS_DATABASE_URL`, `ERR_KBS_DATABASE_POOL` (a bound that is not
 *   a positive integer), `ERR_KBS_DATABASE_TLS` (an unprotected connection to another host).
 * @throws {@link UnavailableError} `ERR_KBS_STORE_UNAVAILABLE` when the server cannot be reached
 *   or refuses the login.
 */
export async function connectPostgres(options: PostgresConnectOptions): Promise<DialectConnection> {
  const location = checkPostgresUrl(options.url)
  checkPostgresTransport(options.url, location, options.insecureTransport === true)
  const statementTimeoutMs = bound(
    'statementTimeoutMs',
    options.statementTimeoutMs,
    POSTGRES_STATEMENT_TIMEOUT_MS,
    POSTGRES_LARGEST_TIMEOUT_MS,
  )
  const pool = new pg.Pool({
    // Not `connectionString`: pg would leave certificate verification to the environment.
    ...postgresConnectionConfig(options.url),
    max: bound('poolSize', options.poolSize, 10),
    connectionTimeoutMillis: bound('connectTimeoutMs', options.connectTimeoutMs, 5000),
    idleTimeoutMillis: bound('idleTimeoutMs', options.idleTimeoutMs, 30_000),
    application_name: 'initguard-kbs',
    // The timeout is SET on each new connection before the pool hands it out (pg-pool awaits this
    // hook; the typings say `void`), not passed as a connection parameter: the URL's
    // `statement_timeout` or `options=-c statement_timeout=0`, and `ALTER ROLE … SET`, would win
    // over that. If the SET fails, the pool ends the connection and the caller gets the error: no
    // query runs on a connection without the timeout.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- awaited by pg-pool ≥ 3.14
    onConnect: async (client: pg.ClientBase): Promise<void> => {
      await client.query(`SET statement_timeout = ${String(statementTimeoutMs)}`)
    },
  })
  // An idle connection the server drops (restart, failover) is reported here; without a listener
  // the process would crash. The next query opens a new connection or fails with its own error.
  pool.on('error', () => undefined)
  // A connection in use when the server ends it (57P01 on a restart) emits 'error' on its client,
  // which the pool does not listen to while it is checked out: the process would crash. The query
  // under way fails with its own error (→ 503) and the pool discards the broken connection.
  pool.on('connect', (client) => {
    client.on('error', () => undefined)
  })
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end()
    throw unavailable(location, error)
  }
  const db = new Kysely<KbsDatabase>({ dialect: new PostgresDialect({ pool }) })
  return {
    db,
    columns: POSTGRES_COLUMNS,
    location,
    kind: 'postgres',
    executor: namedStatements(pool),
    withMigrationLock: (work) => withAdvisoryLock(options, location, work),
  }
}

/**
 * Runs each SQL text as a named prepared statement: parsed and planned once per connection, then
 * only bound and executed.
 */
function namedStatements(pool: pg.Pool): RawExecutor {
  const names = new Map<string, string>()
  let generation = 0
  return {
    async execute(text, values) {
      let name = names.get(text)
      if (name === undefined) {
        name = `kbs_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`
        names.set(text, name)
      }
      let result: pg.QueryResult
      try {
        result = await pool.query({ name, text, values: [...values] })
      } catch (error) {
        if (!isStalePreparedStatement(error)) throw error
        // Nothing ran: PostgreSQL refused the statement before executing it. Once more under a
        // new name, which every connection prepares afresh; a second failure is the caller's.
        generation += 1
        const renamed = `${name.slice(0, 28)}_${String(generation)}`
        names.set(text, renamed)
        result = await pool.query({ name: renamed, text, values: [...values] })
      }
      return { rows: result.rows as RawResult['rows'], affectedRows: result.rowCount ?? 0 }
    },
  }
}

/**
 * A named statement this connection can no longer use: 0A000 "cached plan must not change result
 * type" (a newer replica's migration changed a table under it) or 26000 "prepared statement does
 * not exist" (a pooler in transaction mode moved us to another server connection). pg's client
 * still takes the old name as prepared, hence the new name.
 */
function isStalePreparedStatement(error: unknown): boolean {
  const code = (error as { readonly code?: unknown } | null)?.code
  return code === '0A000' || code === '26000'
}

/**
 * Run `work` holding a session-level advisory lock on its own connection (not the pool's), so
 * replicas starting together migrate one after the other; the lock ends with that connection
 * even if this process dies. kysely's `Migrator` locks too, but only around its own steps.
 */
async function withAdvisoryLock<T>(
  options: PostgresConnectOptions,
  location: string,
  work: () => Promise<T>,
): Promise<T> {
  const waitMs = bound(
    'migrationLockTimeoutMs',
    options.migrationLockTimeoutMs,
    POSTGRES_MIGRATION_LOCK_WAIT_MS,
  )
  // Bounded connect, and keep-alive so a server or network that vanishes while the lock is held
  // (or awaited) ends this connection instead of leaving it open forever.
  const client = new pg.Client({
    ...postgresConnectionConfig(options.url),
    application_name: 'initguard-kbs-migrate',
    connectionTimeoutMillis: bound('connectTimeoutMs', options.connectTimeoutMs, 5000),
    keepAlive: true,
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
    // Migrations may take longer than a request's statement timeout: none on this connection.
    await client.query('SET statement_timeout = 0')
    await takeLock(client, location, waitMs)
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error instanceof UnavailableError ? error : unavailable(location, error)
  }
  try {
    return await work()
  } finally {
    // Ending the session releases the lock whether or not the unlock got through.
    await client.end().catch(() => undefined)
  }
}

/** Try the lock until `waitMs` has passed; a wait that never ends is never an option. */
async function takeLock(client: pg.Client, location: string, waitMs: number): Promise<void> {
  const started = performance.now()
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS locked',
      [MIGRATION_LOCK_KEY.toString()],
    )
    if (rows[0]?.locked === true) return
    if (performance.now() - started >= waitMs) {
      throw new UnavailableError(
        'ERR_KBS_MIGRATION_LOCK_TIMEOUT',
        `another process has held the migration lock of the KBS database ${location} for over ${String(waitMs)} ms`,
        {
          details: { database: location },
          hint: "another replica is migrating (wait and restart) or is stuck: find it with SELECT * FROM pg_locks WHERE locktype = 'advisory', and pg_stat_activity where application_name = 'initguard-kbs-migrate'",
        },
      )
    }
    await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_POLL_MS))
  }
}

function unavailable(location: string, error: unknown): UnavailableError {
  const reason = error instanceof Error ? error.message : String(error)
  return new UnavailableError(
    'ERR_KBS_STORE_UNAVAILABLE',
    `cannot reach the KBS database ${location}: ${reason}`,
    {
      cause: error,
      details: { database: location },
      hint: 'check that PostgreSQL runs, the host and port, and the user name and password in the URL',
    },
  )
}

function bound(
  name: string,
  value: number | undefined,
  fallback: number,
  largest: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1 || value > largest) {
    throw new UsageError(
      'ERR_KBS_DATABASE_POOL',
      `the database option ${name} is ${String(value)}, not a positive integer up to ${String(largest)}`,
      { hint: `leave it out for ${String(fallback)}` },
    )
  }
  return value
}
