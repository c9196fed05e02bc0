/**
 * The audit log: append-only (no update anywhere, and ids only increase) except for
 * {@link SqlAuditLog.prune}, which removes entries up to a prune mark, in one transaction with the
 * entry recording it (`audit-prune.ts`).
 *
 * @module
 */
import type { Kysely, Selectable } from 'kysely'
import { InternalError, UsageError } from '@initguard/core'
import type { KbsTee } from '@initguard/kbs-protocol'
import type {
  AuditEntry,
  AuditEntryInput,
  AuditLog,
  AuditPruneRequest,
  AuditPruneResult,
} from '../ports.ts'
import { pruneAuditLog } from './audit-prune.ts'
import { auditInsert, auditValues } from './audit-row.ts'
import { HotStatement } from './hot-statement.ts'
import type { RawExecutor } from './hot-statement.ts'
import type { AuditEntryTable, KbsDatabase } from './schema.ts'

/** The most entries one `list` call returns. */
export const AUDIT_LIST_MAX = 1000

/** Named, not `*`: a prepared statement's result must not change when a migration adds a column. */
const AUDIT_RETURNED_COLUMNS = [
  'id',
  'at',
  'action',
  'outcome',
  'workload',
  'resource',
  'tee',
  'reason',
  'evidence_digest',
  'simulated',
  'detail',
  'session',
] as const

/** {@link AuditLog} over kysely. */
export class SqlAuditLog implements AuditLog {
  readonly #db: Kysely<KbsDatabase>
  readonly #executor: RawExecutor
  /** Every handshake appends: run prepared (`hot-statement.ts`). */
  readonly #append: HotStatement<Selectable<AuditEntryTable>>

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor) {
    this.#db = db
    this.#executor = executor
    this.#append = new HotStatement(executor, auditInsert(db).returning(AUDIT_RETURNED_COLUMNS))
  }

  async append(entry: AuditEntryInput): Promise<AuditEntry> {
    const [row] = await this.#append.rows(...auditValues(entry))
    if (row === undefined) {
      throw new InternalError('ERR_KBS_AUDIT_APPEND', 'the audit entry was not returned on insert')
    }
    return toEntry(row)
  }

  /**
   * @throws {@link UsageError} `ERR_KBS_AUDIT_QUERY` when `limit` is not 1…{@link AUDIT_LIST_MAX}
   *   or `afterId` is not a non-negative integer.
   */
  async list(query: {
    readonly afterId?: number
    readonly limit: number
  }): Promise<readonly AuditEntry[]> {
    const afterId = query.afterId ?? 0
    if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > AUDIT_LIST_MAX) {
      throw queryError(
        `limit ${String(query.limit)} is not an integer from 1 to ${String(AUDIT_LIST_MAX)}`,
      )
    }
    if (!Number.isSafeInteger(afterId) || afterId < 0) {
      throw queryError(`afterId ${String(afterId)} is not a non-negative integer`)
    }
    const rows = await this.#db
      .selectFrom('audit_entry')
      .selectAll()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(query.limit)
      .execute()
    return rows.map(toEntry)
  }

  /** See `audit-prune.ts` for the checks and their codes. */
  prune(request: AuditPruneRequest): Promise<AuditPruneResult> {
    return pruneAuditLog(this.#db, this.#executor, request)
  }
}

function queryError(what: string): UsageError {
  return new UsageError('ERR_KBS_AUDIT_QUERY', `audit query: ${what}`, {
    hint: `page with afterId = the last id seen and a limit up to ${String(AUDIT_LIST_MAX)}`,
  })
}

/** An audit row as the port's entry. */
export function toEntry(row: Selectable<AuditEntryTable>): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    action: row.action as AuditEntry['action'],
    outcome: row.outcome as AuditEntry['outcome'],
    ...(row.workload === null ? {} : { workload: row.workload }),
    ...(row.resource === null ? {} : { resource: row.resource }),
    ...(row.tee === null ? {} : { tee: row.tee as KbsTee }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.evidence_digest === null ? {} : { evidenceDigest: row.evidence_digest }),
    ...(row.simulated === null ? {} : { simulated: row.simulated !== 0 }),
    ...(row.detail === null ? {} : { detail: row.detail }),
    ...(row.session === null ? {} : { session: row.session }),
  }
}
