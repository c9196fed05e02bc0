/**
 * The audit log gets a prune mark: a one-row table `audit_prune_mark` holding
 * `pruned_through_id` (0 at first), which only rises, and a DELETE trigger on `audit_entry` that
 * allows removing an entry only at or below the mark. UPDATE stays refused everywhere, and every
 * entry above the mark stays append-only: raising the mark is the one way to remove entries, and
 * the store does it in the same transaction as the removal and the entry that records it
 * (`../audit-log.ts`). The row's own trigger refuses lowering the mark, deleting the row (and, on
 * PostgreSQL, TRUNCATE; on SQLite, any INSERT, as REPLACE would delete the row without its DELETE
 * trigger), so the mark cannot be reset to re-open entries pruned or not. On SQLite an INSERT
 * over an existing entry's id is refused too (REPLACE would write over it). A table
 * owner can still drop triggers, as before; the database does not defend against its owner.
 * Nothing is rewritten: several replicas starting at once wait on the migration lock a moment.
 *
 * @module
 */
import { sql, type Kysely, type Migration } from 'kysely'
import type { DialectColumns } from '../dialect.ts'

/** The migration, for the dialect's statements. */
export function auditPruneMarkMigration(columns: DialectColumns): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_prune_mark')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('pruned_through_id', 'bigint', (c) =>
          c.notNull().check(sql`pruned_through_id >= 0`),
        )
        .execute()
      await sql`INSERT INTO audit_prune_mark (id, pruned_through_id) VALUES (1, 0)`.execute(db)
      for (const statement of columns.pruneMark.up) await statement.execute(db)
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const statement of columns.pruneMark.down) await statement.execute(db)
      await db.schema.dropTable('audit_prune_mark').execute()
    },
  }
}
