/**
 * Test support for the store: temporary data directories (removed after the test), opened stores
 * on them (closed after the test), and the same on each engine: `describe.each(STORE_ENGINES)`
 * with {@link testDatabases}, which starts one throwaway PostgreSQL cluster per test file and
 * gives each test its own database.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, onTestFinished } from 'vitest'
import { startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import type { KbsDatabaseConfig, KbsDatabaseKind } from './dialect.ts'
import { SQLITE_FILE_NAME, connectSqlite } from './dialect.ts'
import { connectPostgres } from './dialect-postgres.ts'
import { kbsMigrations } from './migrations/index.ts'
import { openKbsStore } from './open-store.ts'
import type { OpenKbsStoreOptions, SqlKbsStore } from './open-store.ts'

/** Every engine the store runs on, for `describe.each`. */
export const STORE_ENGINES: readonly KbsDatabaseKind[] = ['sqlite', 'postgres']

/** A fresh directory (mode 0700) for one test. */
export async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'initguard-kbs-store-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A random 32-byte master key. */
export function randomMasterKey(): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

/** A store opened for one test, closed when it ends. */
export async function openTestStore(
  options: Partial<OpenKbsStoreOptions> & Pick<OpenKbsStoreOptions, 'dataDir' | 'masterKey'>,
): Promise<SqlKbsStore> {
  const store = await openKbsStore(options)
  onTestFinished(() => store.close())
  return store
}

/** Where one test's data lives: its data directory and its database. */
export interface TestDatabase {
  readonly dataDir: string
  readonly database: KbsDatabaseConfig
}

/** Fresh databases on one engine, for the tests of one `describe`. */
export interface TestDatabases {
  readonly engine: KbsDatabaseKind
  /** The cluster (PostgreSQL only), started before the tests. */
  readonly cluster: () => PostgresCluster
  /** A new data directory and an empty database. */
  fresh(): Promise<TestDatabase>
  /** A store on a fresh database with a random master key, closed after the test. */
  open(): Promise<SqlKbsStore>
  /** Two handles on one fresh database (two replicas). */
  twoHandles(): Promise<{ readonly first: SqlKbsStore; readonly second: SqlKbsStore }>
  /** Run SQL (with `?` placeholders) on `at`'s database behind the store's back. */
  raw(at: TestDatabase, text: string, parameters?: readonly unknown[]): Promise<RawRow[]>
  /**
   * Make every append to `at`'s audit log fail (a trigger raising "the audit log cannot be
   * written") until {@link TestDatabases.allowAuditAppends}: what a write audited in the same
   * transaction must not survive.
   */
  failAuditAppends(at: TestDatabase): Promise<void>
  /** Drop the trigger {@link TestDatabases.failAuditAppends} created. */
  allowAuditAppends(at: TestDatabase): Promise<void>
}

/** A row as the driver returns it. */
export type RawRow = Readonly<Record<string, unknown>>

/** Register the engine's setup in the calling `describe` and return its database maker. */
export function testDatabases(engine: KbsDatabaseKind): TestDatabases {
  let cluster: PostgresCluster | undefined
  let counter = 0
  if (engine === 'postgres') {
    beforeAll(async () => {
      cluster = await startPostgresCluster()
    }, 120_000)
    afterAll(() => cluster?.stop())
  }
  const running = (): PostgresCluster => {
    if (cluster === undefined) throw new Error('the test PostgreSQL cluster is not running')
    return cluster
  }
  const fresh = async (): Promise<TestDatabase> => {
    const dataDir = await temporaryDir()
    if (engine === 'sqlite') return { dataDir, database: { kind: 'sqlite' } }
    counter += 1
    const url = await running().createDatabase(`test_${String(counter)}`)
    return { dataDir, database: { kind: 'postgres', url } }
  }
  return {
    engine,
    cluster: running,
    fresh,
    async open() {
      return openTestStore({ ...(await fresh()), masterKey: randomMasterKey() })
    },
    async twoHandles() {
      const at = await fresh()
      const masterKey = randomMasterKey()
      const first = await openTestStore({ ...at, masterKey })
      const second = await openTestStore({ ...at, masterKey })
      return { first, second }
    },
    raw: rawQuery,
    async failAuditAppends(at) {
      if (engine === 'sqlite') {
        await rawQuery(
          at,
          `CREATE TRIGGER audit_fails BEFORE INSERT ON audit_entry
            BEGIN SELECT RAISE(ABORT, 'the audit log cannot be written'); END`,
        )
        return
      }
      await rawQuery(
        at,
        `CREATE FUNCTION audit_fails() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'the audit log cannot be written'; END $$`,
      )
      await rawQuery(
        at,
        `CREATE TRIGGER audit_fails BEFORE INSERT ON audit_entry
          FOR EACH ROW EXECUTE FUNCTION audit_fails()`,
      )
    },
    async allowAuditAppends(at) {
      await rawQuery(
        at,
        'DROP TRIGGER audit_fails' + (engine === 'sqlite' ? '' : ' ON audit_entry'),
      )
    },
  }
}

async function rawQuery(
  at: TestDatabase,
  text: string,
  parameters: readonly unknown[] = [],
): Promise<RawRow[]> {
  if (at.database.kind === 'sqlite') {
    const raw = new BetterSqlite3(join(at.dataDir, SQLITE_FILE_NAME))
    try {
      const statement = raw.prepare(text)
      if (statement.reader) return statement.all(...parameters) as RawRow[]
      statement.run(...parameters)
      return []
    } finally {
      raw.close()
    }
  }
  const client = new pg.Client({ connectionString: at.database.url })
  await client.connect()
  try {
    let index = 0
    const numbered = text.replace(/\?/g, () => `$${String(++index)}`)
    return (await client.query(numbered, [...parameters])).rows as RawRow[]
  } finally {
    await client.end()
  }
}

/**
 * Take `at`'s database back to before the migrations `names` (newest first): run each one's
 * `down` and forget it was run, as a database a release from before them left it.
 */
export async function undoMigrations(at: TestDatabase, names: readonly string[]): Promise<void> {
  const connection =
    at.database.kind === 'postgres'
      ? await connectPostgres(at.database)
      : await connectSqlite({ dataDir: at.dataDir })
  try {
    const migrations = kbsMigrations(connection.columns)
    for (const name of names) {
      const migration = migrations[name]
      if (migration?.down === undefined) throw new Error(`no migration ${name} to undo`)
      await migration.down(connection.db as never)
      await rawQuery(at, 'DELETE FROM kysely_migration WHERE name = ?', [name])
    }
  } finally {
    await connection.db.destroy()
  }
}

/** A directory, a key, and two handles on the same SQLite database (two replicas). */
export async function twoHandles(): Promise<{
  readonly first: SqlKbsStore
  readonly second: SqlKbsStore
}> {
  const dataDir = await temporaryDir()
  const masterKey = randomMasterKey()
  const first = await openTestStore({ dataDir, masterKey })
  const second = await openTestStore({ dataDir, masterKey })
  return { first, second }
}
