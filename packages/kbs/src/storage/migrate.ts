/**
 * Bringing a database to this version's schema with kysely's `Migrator`, refusing a database
 * that a newer version has migrated (it may hold data this version would misread).
 *
 * @module
 */
import { DEFAULT_MIGRATION_TABLE, Migrator } from 'kysely'
import type { Kysely } from 'kysely'
import type { Migration, MigrationProvider } from 'kysely'
import { LocalIoError, UsageError } from '@initguard/core'

/** The migrations applied by one run, in order (empty when the database was current). */
export type AppliedMigrations = readonly string[]

/**
 * Run every migration not yet applied, in name order, at open.
 *
 * @param location - the database, for messages.
 * @throws {@link UsageError} `ERR_KBS_STORE_NEWER` when the database has run a migration this
 *   version does not know.
 * @throws {@link LocalIoError} `ERR_KBS_STORE_MIGRATION` when a migration fails.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  migrations: Readonly<Record<string, Migration>>,
  location: string,
): Promise<AppliedMigrations> {
  const known = new Set(Object.keys(migrations))
  const unknown = (await executedMigrations(db)).filter((name) => !known.has(name))
  if (unknown.length > 0) {
    throw new UsageError(
      'ERR_KBS_STORE_NEWER',
      `the database ${location} was migrated by a newer Initguard (migrations ${unknown.join(', ')} are unknown to this version)`,
      {
        details: { path: location, unknown },
        hint: 'run the Initguard version that last opened this database, or restore a backup taken before the upgrade',
      },
    )
  }
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) }
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown'
    throw new LocalIoError(
      'ERR_KBS_STORE_MIGRATION',
      `migrating the database ${location} failed at ${failed}`,
      {
        cause: error,
        details: { path: location, migration: failed },
        hint: 'nothing of this start was kept: its migrations run in one transaction, on SQLite and PostgreSQL alike, so the database is as it was before the start; fix the cause, or restore a backup',
      },
    )
  }
  return (results ?? []).map((result) => result.migrationName)
}

async function executedMigrations(db: Kysely<unknown>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true })
  if (!tables.some((table) => table.name === DEFAULT_MIGRATION_TABLE)) return []
  const rows = await (db as Kysely<{ [DEFAULT_MIGRATION_TABLE]: { name: string } }>)
    .selectFrom(DEFAULT_MIGRATION_TABLE)
    .select('name')
    .execute()
  return rows.map((row) => row.name)
}
