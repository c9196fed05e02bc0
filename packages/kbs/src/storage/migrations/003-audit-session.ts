/**
 * Audit entries get a `session` column: the RCAR session an attest or resource entry belongs to
 * (the challenge's id at `/attest`, the token's `jti` at `/resource`), so that every release can
 * be traced to the attestation that earned it. Entries already there, and admin entries, keep
 * none. Adding a nullable column changes no row, so the append-only triggers are not involved.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'

/** The migration. */
export function auditSessionMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_entry').addColumn('session', 'text').execute()
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_entry').dropColumn('session').execute()
    },
  }
}
