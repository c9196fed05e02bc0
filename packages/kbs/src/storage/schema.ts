/**
 * The KBS tables as kysely sees them. Timestamps are ISO 8601 text in UTC as
 * `Date.prototype.toISOString` writes it (fixed width, so text order is time order in every
 * dialect); booleans are integers 0/1; secrets are sealed bytes (see `envelope.ts`).
 *
 * @module
 */
import type { Generated } from 'kysely'

/** Key/value facts about the database itself (the master key fingerprint). */
export interface MetaTable {
  readonly name: string
  readonly value: string
}

/** One secret: its path, the sealed bytes, its plaintext size. */
export interface ResourceTable {
  readonly path: string
  readonly sealed: Uint8Array
  readonly size: number
  readonly updated_at: string
  /**
   * Raised by every put and delete; named in the sealed value's AAD (0: a row from before
   * migration 005, sealed without it). Migration 005. `bigint`, read as a string on PostgreSQL
   * (see `storedGeneration` in `resource-store.ts`).
   */
  readonly generation: Generated<number | string>
  /** 1: a deletion tombstone (its sealed value is empty and says so in its AAD); migration 005. */
  readonly deleted: Generated<number>
}

/** Every version of every workload; `deleted_at` hides a name's versions without losing them. */
export interface WorkloadVersionTable {
  readonly name: string
  readonly version: number
  /** The definition as JSON text. */
  readonly definition: string
  readonly created_at: string
  readonly deleted_at: string | null
  /** HMAC over name, version, definition and deletion mark (`workload-mac.ts`); null: refused. */
  readonly mac: string | null
}

/**
 * The append-only audit log. On PostgreSQL migration 008 adds `writer_xid` (xid8) and
 * `db_written_at` (timestamptz), filled by their defaults and read only by raw SQL in
 * `audit-log.ts` and `audit-prune.ts`: not here, as SQLite has neither.
 */
export interface AuditEntryTable {
  readonly id: Generated<number>
  readonly at: string
  readonly action: string
  readonly outcome: string
  readonly workload: string | null
  readonly resource: string | null
  readonly tee: string | null
  readonly reason: string | null
  readonly evidence_digest: string | null
  /** 0/1, or null when not known. */
  readonly simulated: number | null
  readonly detail: string | null
  /** The RCAR session (32 hex digits) of an attest or resource entry; migration 003. */
  readonly session: string | null
}

/**
 * The audit log's prune mark (migration 007): one row (`id` 1); entries with `id <=
 * pruned_through_id` may be deleted, the rest are append-only. Only rises. `bigint`: a string
 * on PostgreSQL.
 */
export interface AuditPruneMarkTable {
  readonly id: number
  readonly pruned_through_id: number | string
}

/** RCAR sessions. */
export interface RcarSessionTable {
  readonly id: string
  readonly tee: string
  readonly nonce: string
  readonly expires_at: string
  readonly state: string
  readonly token: string | null
}

/** Token-signing keys, the private JWK sealed. */
export interface SigningKeyTable {
  readonly kid: string
  readonly sealed: Uint8Array
  readonly created_at: string
  readonly retired_at: string | null
  /** HMAC over the key's metadata (`signing-key-mac.ts`); null on rows from before 006. */
  readonly mac: string | null
}

/** The whole database. */
export interface KbsDatabase {
  readonly kbs_meta: MetaTable
  readonly resource: ResourceTable
  readonly workload_version: WorkloadVersionTable
  readonly audit_entry: AuditEntryTable
  readonly audit_prune_mark: AuditPruneMarkTable
  readonly rcar_session: RcarSessionTable
  readonly signing_key: SigningKeyTable
}
