/**
 * The KBS store: SQLite (better-sqlite3) through kysely, migrated at open, secrets and signing
 * keys sealed under a master key (AES-256-GCM envelope). Implements the `KbsStore` port.
 *
 * @example
 * ```ts
 * const master = await loadMasterKey({ dataDir, env: process.env.KBS_MASTER_KEY })
 * const store = await openKbsStore({ dataDir, masterKey: master.key })
 * await store.resources.put('default/key/one', secret, new Date())
 * ```
 *
 * @module
 */
export { openKbsStore } from './open-store.ts'
export type { OpenKbsStoreOptions, SqlKbsStore } from './open-store.ts'
export {
  loadMasterKey,
  ensureDataDir,
  MASTER_KEY_LENGTH,
  MASTER_KEY_FILE_NAME,
} from './master-key.ts'
export type { MasterKey, MasterKeyOptions } from './master-key.ts'
export { Envelope, masterKeyFingerprint } from './envelope.ts'
export type { EnvelopeKind, EnvelopeRow } from './envelope.ts'
export { SQLITE_FILE_NAME } from './dialect.ts'
export type { KbsDatabaseKind } from './dialect.ts'
export type { AppliedMigrations } from './migrate.ts'
export { SqlResourceStore, checkResourcePath } from './resource-store.ts'
export { SqlWorkloadStore } from './workload-store.ts'
export type { WorkloadVersion } from './workload-store.ts'
export { SqlAuditLog, AUDIT_LIST_MAX } from './audit-log.ts'
export { SqlSessionStore } from './session-store.ts'
export { SqlSigningKeyStore } from './signing-key-store.ts'
