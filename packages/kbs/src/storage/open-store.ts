/**
 * Opening the KBS store: the data directory (0700), the database (created and migrated on first
 * run), a check that the master key is the one the database was created with, and the stores.
 *
 * @module
 */
import { stat } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import { LocalIoError, UsageError, VerificationError, bytesToHex } from '@initguard/core'
import type { KbsStore } from '../ports.ts'
import { SqlAuditLog } from './audit-log.ts'
import { connectSqlite } from './dialect.ts'
import type { KbsDatabaseConfig, KbsDatabaseKind } from './dialect.ts'
import { checkPostgresUrl, connectPostgres } from './dialect-postgres.ts'
import { Envelope } from './envelope.ts'
import { ensureDataDir } from './master-key.ts'
import { migrateToLatest } from './migrate.ts'
import type { AppliedMigrations } from './migrate.ts'
import { kbsMigrations } from './migrations/index.ts'
import { RcarChallengeCodec } from './rcar-challenge.ts'
import { SqlResourceStore } from './resource-store.ts'
import type { KbsDatabase } from './schema.ts'
import { SqlSessionStore } from './session-store.ts'
import { SigningKeyMac } from './signing-key-mac.ts'
import { SqlSigningKeyStore } from './signing-key-store.ts'
import { SqlWorkloadStore } from './workload-store.ts'
import { WorkloadMac } from './workload-mac.ts'

/** Options of {@link openKbsStore}. */
export interface OpenKbsStoreOptions {
  /** The data directory: created (0700) when absent; refused when group or others may enter it. */
  readonly dataDir: string
  /** The 32-byte master key (see `loadMasterKey`). */
  readonly masterKey: Uint8Array
  /**
   * The database: SQLite (the default) keeps `kbs.sqlite` in the data directory; PostgreSQL is
   * shared by replicas (the data directory then holds only what is per process).
   */
  readonly database?: KbsDatabaseConfig
  /** How long a writer waits for another process's lock; default 5000 ms. */
  readonly busyTimeoutMs?: number
}

/** The opened store: the {@link KbsStore} ports plus the concrete classes' extras. */
export interface SqlKbsStore extends KbsStore {
  readonly workloads: SqlWorkloadStore
  /** Where the data is (the SQLite file, or the URL without its password), for the startup log. */
  readonly location: string
  /** Which engine holds the data. */
  readonly kind: KbsDatabaseKind
  /** The migrations this open applied (empty when the database was current). */
  readonly appliedMigrations: AppliedMigrations
}

const MASTER_KEY_CHECK = 'master_key_fingerprint'

/**
 * Open the KBS store, creating and migrating the database on first run.
 *
 * @throws {@link LocalIoError} `ERR_KBS_DATA_DIR`, `ERR_KBS_DATA_DIR_MODE`, `ERR_KBS_STORE_OPEN`,
 *   `ERR_KBS_STORE_MIGRATION`.
 * @throws {@link UnavailableError} `ERR_KBS_STORE_UNAVAILABLE` when PostgreSQL cannot be reached.
 * @throws {@link UsageError} `ERR_KBS_STORE_KIND`, `ERR_KBS_DATABASE_URL`, `ERR_KBS_DATABASE_POOL`.
 * @throws {@link UsageError} `ERR_KBS_STORE_NEWER` (a newer version's database),
 *   `ERR_KBS_MASTER_KEY_LENGTH`.
 * @throws {@link VerificationError} `ERR_KBS_MASTER_KEY_WRONG` when the database was created
 *   under another master key.
 */
export async function openKbsStore(options: OpenKbsStoreOptions): Promise<SqlKbsStore> {
  const envelope = new Envelope(options.masterKey)
  const database = checkDatabaseConfig(options.database)
  await ensureDataDir(options.dataDir)
  await checkDataDirMode(options.dataDir)
  const connection =
    database.kind === 'postgres'
      ? await connectPostgres(database)
      : await connectSqlite({
          dataDir: options.dataDir,
          ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
        })
  const { db, location } = connection
  try {
    const applied = await connection.withMigrationLock(async () => {
      const names = await migrateToLatest(
        db as Kysely<unknown>,
        kbsMigrations(connection.columns),
        location,
      )
      await checkMasterKey(db, envelope, location)
      return names
    })
    return {
      resources: new SqlResourceStore(db, envelope, connection.executor),
      workloads: new SqlWorkloadStore(db, connection.executor, new WorkloadMac(options.masterKey)),
      audit: new SqlAuditLog(db, connection.executor, connection.kind),
      sessions: new SqlSessionStore(
        db,
        connection.executor,
        new RcarChallengeCodec(options.masterKey),
        connection.kind,
      ),
      signingKeys: new SqlSigningKeyStore(
        db,
        envelope,
        connection.executor,
        new SigningKeyMac(options.masterKey),
      ),
      location,
      kind: connection.kind,
      appliedMigrations: applied,
      ping: async () => {
        await db.selectFrom('kbs_meta').select('name').limit(1).execute()
      },
      close: () => db.destroy(),
    }
  } catch (error) {
    await db.destroy()
    throw error
  }
}

/** Checked at run time too: a config file or JavaScript caller can pass anything. */
function checkDatabaseConfig(database: KbsDatabaseConfig | undefined): KbsDatabaseConfig {
  const kind: unknown = database?.kind ?? 'sqlite'
  if (kind === 'sqlite') return { kind }
  if (kind === 'postgres' && database?.kind === 'postgres') {
    checkPostgresUrl(database.url)
    return database
  }
  throw new UsageError('ERR_KBS_STORE_KIND', `unknown database kind ${String(kind)}`, {
    hint: 'use sqlite or a postgres:// URL',
  })
}

async function checkDataDirMode(dataDir: string): Promise<void> {
  const stats = await stat(dataDir).catch((error: unknown) => {
    throw new LocalIoError('ERR_KBS_DATA_DIR', `cannot read the data directory ${dataDir}`, {
      cause: error,
      details: { path: dataDir },
    })
  })
  if (!stats.isDirectory() || (stats.mode & 0o077) !== 0) {
    throw new LocalIoError(
      'ERR_KBS_DATA_DIR_MODE',
      stats.isDirectory()
        ? `the data directory ${dataDir} is open to group or others (mode ${(stats.mode & 0o777).toString(8)})`
        : `the data directory ${dataDir} is not a directory`,
      {
        details: { path: dataDir },
        hint: `it holds the master key and secrets: chmod 700 ${dataDir}`,
      },
    )
  }
}

/** The first open records the key's fingerprint; every later open must present the same key. */
async function checkMasterKey(
  db: Kysely<KbsDatabase>,
  envelope: Envelope,
  location: string,
): Promise<void> {
  const fingerprint = bytesToHex(envelope.fingerprint)
  await db
    .insertInto('kbs_meta')
    .values({ name: MASTER_KEY_CHECK, value: fingerprint })
    .onConflict((conflict) => conflict.column('name').doNothing())
    .execute()
  const row = await db
    .selectFrom('kbs_meta')
    .select('value')
    .where('name', '=', MASTER_KEY_CHECK)
    .executeTakeFirstOrThrow()
  if (row.value !== fingerprint) {
    throw new VerificationError(
      'ERR_KBS_MASTER_KEY_WRONG',
      `the master key does not match the one the database ${location} was created with`,
      {
        details: { path: location },
        hint: 'start the KBS with the original master key (file or environment); the stored secrets cannot be read without it',
      },
    )
  }
}
