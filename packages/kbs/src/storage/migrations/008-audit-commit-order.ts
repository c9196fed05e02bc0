/**
 * The audit log in commit order, and database time for its retention (PostgreSQL).
 *
 * An entry's id comes from a sequence when its write begins and the row becomes visible when the
 * write commits, so a reader paging by `id >` could see id 11, page past it, and never see id 10
 * committed a moment later. Each entry now records the id of the transaction that wrote it
 * (`writer_xid`, `pg_current_xact_id()`), and the log is listed by (`writer_xid`, id) up to the
 * oldest transaction still running (`../audit-log.ts`): below it, every transaction has ended and
 * every later one gets a larger xid, so nothing can appear behind a reader. An entry's `at` is its
 * writer's clock; `db_written_at` (`now()`, the database's clock) is what the prune judges
 * `[audit] min-retention` by (`../audit-prune.ts`). Both are defaults of the table, so an older
 * replica still appending during a rolling upgrade fills them too, and the hot INSERT is
 * unchanged (no round trip, no lock).
 *
 * Adding the columns rewrites no row; the index over (`writer_xid`, id) is built while the
 * migration holds the table, so appends wait for it: on a log of millions of entries, prune
 * before upgrading. On SQLite nothing changes: one writer at a time, so id order is commit
 * order, and one clock. Needs PostgreSQL 13 or later (`xid8`).
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { DialectColumns } from '../dialect.ts'

/** The migration, for the dialect's statements. */
export function auditCommitOrderMigration(columns: DialectColumns): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const statement of columns.auditCommitOrder.up) await statement.execute(db)
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const statement of columns.auditCommitOrder.down) await statement.execute(db)
    },
  }
}
