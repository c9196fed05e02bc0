/**
 * Session rows stay whole in their table on PostgreSQL. A row holds its token (about 3 kB: an EAR
 * JWT with the annotated evidence), past the ~2 kB at which PostgreSQL compresses a row and moves
 * what does not shrink (base64url does not) into the TOAST table. Measured per `/attest` insert
 * on the benchmark's handshake: 10 WAL records and 4.2 kB of WAL with TOAST, 6 and 3.9 kB
 * without, 12% less execution time, and no TOAST table growing by the token of every session
 * for the sweep to clean. A token too large for a page is still TOASTed. Nothing on SQLite.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'
import type { DialectColumns } from '../dialect.ts'

/** The migration, for the dialect's statements. */
export function sessionRowInlineMigration(columns: DialectColumns): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const statement of columns.inlineRows('rcar_session').keep) await statement.execute(db)
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const statement of columns.inlineRows('rcar_session').undo) await statement.execute(db)
    },
  }
}
