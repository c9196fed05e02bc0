/**
 * Everything that differs between SQL dialects, in one place: how the connection is opened and
 * tuned, and the few column types the migrations cannot spell portably. The stores use kysely's
 * query builder only; PostgreSQL's flavour is in `dialect-postgres.ts`.
 *
 * @module
 */
import { open as openFile } from 'node:fs/promises'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type {
  ColumnDataType,
  ColumnDefinitionBuilder,
  RawBuilder,
  SqliteDatabase,
  SqliteStatement,
} from 'kysely'
import { LocalIoError, LruCache } from '@initguard/core'
import type { PostgresPoolOptions } from './dialect-postgres.ts'
import type { RawExecutor, RawResult, SyncExecute } from './hot-statement.ts'
import type { KbsDatabase } from './schema.ts'

/** The SQL dialects the store speaks. */
export type KbsDatabaseKind = 'sqlite' | 'postgres'

/**
 * Which database the KBS keeps its data in: SQLite in the data directory (the default), or a
 * PostgreSQL database shared by every replica.
 */
export type KbsDatabaseConfig =
  | { readonly kind: 'sqlite' }
  | ({
      readonly kind: 'postgres'
      readonly url: string
      /** Allow a remote server without verified TLS (`--database-insecure-transport`). */
      readonly insecureTransport?: boolean
    } & PostgresPoolOptions)

/** The SQLite file's name inside the data directory. */
export const SQLITE_FILE_NAME = 'kbs.sqlite'

/** Column types that differ between dialects. */
export interface DialectColumns {
  /** Bytes: `blob` in SQLite, `bytea` in PostgreSQL. */
  readonly bytes: ColumnDataType
  /** An increasing integer primary key assigned by the database. */
  readonly identity: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder
  /** Statements that make the database itself refuse UPDATE and DELETE on `table`. */
  readonly appendOnly: (table: string) => readonly RawBuilder<unknown>[]
  /**
   * Statements that keep `table`'s rows whole in the table's own page whenever one fits, not
   * compressed or moved out of line (`keep`), and that go back to the default (`undo`): none in
   * SQLite, which has no such step.
   */
  readonly inlineRows: (table: string) => InlineRowStatements
  /**
   * Migration 007's triggers: `audit_prune_mark` only rises and is never deleted, and an
   * `audit_entry` row may be deleted only at or below it (`up`); `down` puts 001's back.
   */
  readonly pruneMark: {
    readonly up: readonly RawBuilder<unknown>[]
    readonly down: readonly RawBuilder<unknown>[]
  }
  /**
   * Migration 008's statements: the columns that give the audit log its commit order and its
   * database time (PostgreSQL, see `migrations/008-audit-commit-order.ts`); none on SQLite.
   */
  readonly auditCommitOrder: {
    readonly up: readonly RawBuilder<unknown>[]
    readonly down: readonly RawBuilder<unknown>[]
  }
}

/** See {@link DialectColumns.inlineRows}. */
export interface InlineRowStatements {
  readonly keep: readonly RawBuilder<unknown>[]
  readonly undo: readonly RawBuilder<unknown>[]
}

/** An open connection and what the migrations need to know about its dialect. */
export interface DialectConnection {
  readonly db: Kysely<KbsDatabase>
  readonly columns: DialectColumns
  /** Where the data is, for messages (a file path, or a URL without credentials). */
  readonly location: string
  readonly kind: KbsDatabaseKind
  /** Runs the hot queries (see `hot-statement.ts`) on the driver itself. */
  readonly executor: RawExecutor
  /** Run `work` (the migrations) so that no other process migrates the database meanwhile. */
  readonly withMigrationLock: <T>(work: () => Promise<T>) => Promise<T>
}

/** Options of {@link connectSqlite}. */
export interface SqliteConnectOptions {
  readonly dataDir: string
  /** How long a writer waits for another connection's lock; default 5000 ms. */
  readonly busyTimeoutMs?: number
}

/** SQLite's append-only triggers on `table`: UPDATE's, then DELETE's. */
const SQLITE_APPEND_ONLY = (table: string): RawBuilder<unknown>[] =>
  (['UPDATE', 'DELETE'] as const).map(
    (operation) => sql`CREATE TRIGGER ${sql.id(`${table}_no_${operation.toLowerCase()}`)}
        BEFORE ${sql.raw(operation)} ON ${sql.id(table)}
        BEGIN SELECT RAISE(ABORT, ${sql.lit(`${table} is append-only`)}); END`,
  )

const SQLITE_COLUMNS: DialectColumns = {
  bytes: 'blob',
  identity: (column) => column.primaryKey().autoIncrement(),
  appendOnly: SQLITE_APPEND_ONLY,
  inlineRows: () => ({ keep: [], undo: [] }),
  pruneMark: {
    up: [
      sql`CREATE TRIGGER audit_prune_mark_no_lowering BEFORE UPDATE ON audit_prune_mark
        WHEN NEW.id IS NOT OLD.id OR NOT (NEW.pruned_through_id >= OLD.pruned_through_id)
        BEGIN SELECT RAISE(ABORT, 'audit_prune_mark only rises'); END`,
      sql`CREATE TRIGGER audit_prune_mark_no_delete BEFORE DELETE ON audit_prune_mark
        BEGIN SELECT RAISE(ABORT, 'audit_prune_mark only rises'); END`,
      // REPLACE removes the row it conflicts with without firing DELETE triggers (recursive
      // triggers are off): refused here, before the conflict is resolved. The mark's one row is
      // in already; an entry is only ever inserted with a new id.
      sql`CREATE TRIGGER audit_prune_mark_no_insert BEFORE INSERT ON audit_prune_mark
        BEGIN SELECT RAISE(ABORT, 'audit_prune_mark only rises'); END`,
      sql`CREATE TRIGGER audit_entry_no_replace BEFORE INSERT ON audit_entry
        WHEN EXISTS (SELECT 1 FROM audit_entry WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END`,
      sql`DROP TRIGGER audit_entry_no_delete`,
      // No mark row (it cannot be deleted, but fail closed): nothing may go.
      sql`CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
        WHEN NOT (OLD.id <= COALESCE((SELECT pruned_through_id FROM audit_prune_mark WHERE id = 1), 0))
        BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only above its prune mark'); END`,
    ],
    down: [
      sql`DROP TRIGGER audit_entry_no_delete`,
      ...SQLITE_APPEND_ONLY('audit_entry').slice(1),
      sql`DROP TRIGGER audit_entry_no_replace`,
      sql`DROP TRIGGER audit_prune_mark_no_insert`,
      sql`DROP TRIGGER audit_prune_mark_no_delete`,
      sql`DROP TRIGGER audit_prune_mark_no_lowering`,
    ],
  },
  // One writer at a time (a write transaction holds the database's lock from its first write,
  // and an IMMEDIATE one from its start), and the id is assigned inside it: ids are assigned and
  // committed in the same order, so id order is commit order. One host, so one clock: `at`.
  auditCommitOrder: { up: [], down: [] },
}

/**
 * Open (creating when absent, mode 0600) `<dataDir>/kbs.sqlite` in WAL mode with a busy timeout,
 * so several processes (replicas, the admin CLI) can share the file.
 *
 * @throws {@link LocalIoError} `ERR_KBS_STORE_OPEN` when the file cannot be created or opened.
 */
export async function connectSqlite(options: SqliteConnectOptions): Promise<DialectConnection> {
  const location = join(options.dataDir, SQLITE_FILE_NAME)
  let database: BetterSqlite3.Database
  try {
    // Created here first so the file (and SQLite's -wal/-shm, which copy its mode) is 0600.
    await (await openFile(location, 'a', 0o600)).close()
    database = new BetterSqlite3(location, { fileMustExist: true })
    database.pragma('journal_mode = WAL')
    database.pragma(`busy_timeout = ${String(options.busyTimeoutMs ?? 5000)}`)
    database.pragma('foreign_keys = ON')
    // WAL with NORMAL never corrupts; a power cut may lose the last commits, not order them.
    database.pragma('synchronous = NORMAL')
  } catch (error) {
    throw new LocalIoError('ERR_KBS_STORE_OPEN', `cannot open the KBS database ${location}`, {
      cause: error,
      details: { path: location },
      hint: 'check that the data directory is writable and the file is an SQLite database',
    })
  }
  const cached = withStatementCache(database)
  const db = new Kysely<KbsDatabase>({ dialect: new SqliteDialect({ database: cached }) })
  // Synchronous and on the one connection kysely also uses: safe because the stores run no
  // transaction through kysely at run time (a statement run here never lands inside one of its).
  const executeSync: SyncExecute = (text, values) => {
    const statement = cached.prepare(text)
    if (statement.reader) {
      const rows = statement.all(values) as RawResult['rows']
      return { rows, affectedRows: rows.length }
    }
    const { changes } = statement.run(values)
    return { rows: [], affectedRows: Number(changes) }
  }
  const executor: RawExecutor = {
    execute: (text, values) => settle(() => executeSync(text, values)),
    atomic: {
      // IMMEDIATE: the write lock is taken first, so a read in `work` sees what the write after it
      // commits over (no other process writes in between) and no upgrade can fail half way.
      run: (work) => settle(() => database.transaction(() => work(executeSync)).immediate()),
    },
  }
  return {
    db,
    columns: SQLITE_COLUMNS,
    location,
    kind: 'sqlite',
    executor,
    withMigrationLock: (work) => inWriteTransaction(database, location, work),
  }
}

/**
 * `work` (the migrations and the master key check) inside one IMMEDIATE transaction on the
 * connection kysely uses. kysely runs SQLite migrations without a transaction and without a lock
 * (its SQLite adapter has neither), so two processes starting on a new data directory both ran
 * `001-initial` and one failed (`table "kbs_meta" already exists`), and a migration that failed
 * half way left its first statements applied, which every later start then tripped on. Here the
 * write lock is taken first (another process waits for it up to the busy timeout, then finds the
 * migrations done) and a failure rolls every statement back: SQLite's DDL is transactional.
 */
async function inWriteTransaction<T>(
  database: BetterSqlite3.Database,
  location: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    database.exec('BEGIN IMMEDIATE')
  } catch (error) {
    throw new LocalIoError(
      'ERR_KBS_STORE_MIGRATION_LOCK',
      `cannot take the write lock of the KBS database ${location} to migrate it`,
      {
        cause: error,
        details: { path: location },
        hint: 'another process holds it (a KBS starting or migrating on the same data directory): start again once it has',
      },
    )
  }
  try {
    const result = await work()
    database.exec('COMMIT')
    return result
  } catch (error) {
    if (database.inTransaction) database.exec('ROLLBACK')
    throw error
  }
}

/** `work()`'s value or throw, as a promise (the stores' calls are asynchronous on every driver). */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work())
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

/** How many distinct prepared statements a connection keeps. */
const STATEMENT_CACHE_SIZE = 128

/**
 * `database` for kysely, keeping the prepared form of each SQL text. kysely asks for a new
 * statement per query, and preparing was a sixth of the store's time in a handshake; a prepared
 * better-sqlite3 statement is reusable, and this process runs one at a time (the driver is
 * synchronous and kysely never streams here). Bounded, so SQL built with a varying number of
 * parameters cannot grow it without limit.
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new LruCache<string, SqliteStatement>(STATEMENT_CACHE_SIZE)
  return {
    close: () => {
      statements.clear()
      database.close()
    },
    prepare: (text: string) => statements.getOrSet(text, () => database.prepare(text)),
  }
}
