/**
 * Resource rows get a generation and a deletion mark (see `../resource-store.ts`): a value sealed
 * from now on names its generation in its AAD, so a row written back from before a later put or
 * delete is refused by a replica that has seen the later one. Rows already there keep generation
 * 0: they open as before (the migration has no key to seal them again). A put or delete takes at
 * least the clock in milliseconds as its generation (so a row removed outright and put again does
 * not start over below a copy of the removed one), hence a 64-bit column: PostgreSQL `bigint`
 * (SQLite's INTEGER is 64-bit whatever the declared type). Adding columns with a constant default rewrites no row on either engine,
 * so several replicas starting at once wait on the migration lock for a moment, no longer.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'

/** The migration. */
export function resourceGenerationMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('resource')
        .addColumn('generation', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
      await db.schema
        .alterTable('resource')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute()
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('resource').dropColumn('deleted').execute()
      await db.schema.alterTable('resource').dropColumn('generation').execute()
    },
  }
}
