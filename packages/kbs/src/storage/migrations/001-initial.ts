/**
 * The first schema: meta, resources, workload versions, audit, sessions, signing keys.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import type { Migration } from 'kysely'
import type { DialectColumns } from '../dialect.ts'

/** The migration, for the dialect's column types. */
export function initialMigration(columns: DialectColumns): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('kbs_meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('resource')
        .addColumn('path', 'text', (c) => c.primaryKey())
        .addColumn('sealed', columns.bytes, (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute()
      await db.schema
        .createTable('workload_version')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .addPrimaryKeyConstraint('workload_version_pk', ['name', 'version'])
        .execute()
      await db.schema
        .createTable('audit_entry')
        .addColumn('id', 'integer', columns.identity)
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('workload', 'text')
        .addColumn('resource', 'text')
        .addColumn('tee', 'text')
        .addColumn('reason', 'text')
        .addColumn('evidence_digest', 'text')
        .addColumn('simulated', 'integer')
        .addColumn('detail', 'text')
        .execute()
      // Defence in depth: the code has no update or delete for the audit log, nor does the database.
      for (const statement of columns.appendOnly('audit_entry')) await statement.execute(db)
      await db.schema
        .createTable('rcar_session')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tee', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('token', 'text')
        .execute()
      await db.schema
        .createIndex('rcar_session_expires_at')
        .on('rcar_session')
        .column('expires_at')
        .execute()
      await db.schema
        .createTable('signing_key')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('sealed', columns.bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'text')
        .execute()
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of [
        'signing_key',
        'rcar_session',
        'audit_entry',
        'workload_version',
        'resource',
        'kbs_meta',
      ]) {
        await db.schema.dropTable(table).execute()
      }
    },
  }
}
