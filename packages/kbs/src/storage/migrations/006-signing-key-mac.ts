/**
 * Signing keys get a MAC column (see `../signing-key-mac.ts`). Rows already there keep none and
 * are not used from now on: the migration has no master key, and a replica that sealed unsealed
 * rows when it started would seal whatever a database writer had made of them, again at every
 * start (set `mac` to null, restart, and a retired key is active). The key ring makes a new key
 * when it finds no usable active one; tokens signed with an old key stop verifying. Adding a
 * nullable column rewrites no row on either engine, so several replicas starting at once wait on
 * the migration lock for a moment, no longer.
 *
 * @module
 */
import type { Kysely, Migration } from 'kysely'

/** The migration. */
export function signingKeyMacMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('signing_key').addColumn('mac', 'text').execute()
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('signing_key').dropColumn('mac').execute()
    },
  }
}
