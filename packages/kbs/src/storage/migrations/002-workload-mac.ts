/**
 * Workload versions get a MAC column (see `../workload-mac.ts`). Rows already there keep none:
 * the migration has no master key, so they are refused on read until the workload is put again.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'

/** The migration. */
export function workloadMacMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('workload_version').addColumn('mac', 'text').execute()
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('workload_version').dropColumn('mac').execute()
    },
  }
}
