/**
 * The audit log: append-only (no update anywhere, and ids only increase) except for
 * {@link SqlAuditLog.prune}, which removes entries up to a prune mark, in one transaction with the
 * entry recording it (`audit-prune.ts`).
 *
 * Listed in commit order, so that a reader paging with the last id it saw never misses an entry.
 * On SQLite that is id order (one writer at a time: see `auditCommitOrder` in `dialect.ts`). On
 * PostgreSQL an id is taken when a write begins and the row appears when it commits, so id 11 can
 * be visible before id 10: the log is listed by (writing transaction's id, entry id) and only up
 * to the current snapshot's xmin, below which every transaction has ended and above which every
 * later write falls (migration 008). A cursor is still an entry id: its entry's position is looked
 * up, and a cursor naming no entry is refused, never read as "from that id on".
 *
 * @module
 */
import { sql, type Kysely, type Selectable } from 'kysely'
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
import type { KbsDatabaseKind } from './dialect.ts'
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
  readonly #kind: KbsDatabaseKind

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor, kind: KbsDatabaseKind) {
    this.#db = db
    this.#executor = executor
    this.#kind = kind
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
   *   or `afterId` is not a non-negative integer; `ERR_KBS_AUDIT_CURSOR_PRUNED` when `afterId`
   *   names an entry pruned since, `ERR_KBS_AUDIT_CURSOR_UNKNOWN` when it names none ever listed,
   *   `ERR_KBS_AUDIT_CURSOR_AHEAD` (PostgreSQL) when it names one not listed yet.
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
    // 0: from the start. Entries from before migration 008 have writer 0, first in id order.
    const writer = afterId === 0 ? '0' : await this.#writerOf(afterId)
    if (this.#kind === 'sqlite') {
      const rows = await this.#db
        .selectFrom('audit_entry')
        .select(AUDIT_RETURNED_COLUMNS)
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(query.limit)
        .execute()
      return rows.map(toEntry)
    }
    // One statement, one snapshot: its xmin and the rows it sees agree.
    const { rows } = await sql<Selectable<AuditEntryTable>>`
      SELECT ${sql.join(AUDIT_RETURNED_COLUMNS.map((column) => sql.id(column)))}
      FROM audit_entry
      WHERE writer_xid < pg_snapshot_xmin(pg_current_snapshot())
        AND (writer_xid, id) > (CAST(${writer} AS xid8), CAST(${afterId} AS integer))
      ORDER BY writer_xid, id
      LIMIT ${query.limit}`.execute(this.#db)
    return rows.map(toEntry)
  }

  /** The transaction that wrote entry `id`, as text ('0' on SQLite, in id order), or a refusal. */
  async #writerOf(id: number): Promise<string> {
    const found = await this.#find(id)
    // Above the horizon: no listing gave it (the horizon only rises), so the reader may not have
    // the entries before it. Or the transaction ids went back (a dump restored into another
    // cluster), under which paging from it would skip every entry written since.
    if (found?.listed === false)
      throw new UsageError(
        'ERR_KBS_AUDIT_CURSOR_AHEAD',
        `audit query: entry ${String(id)} (after=) is not listed yet: a transaction that began before it is still running, or the database's transaction ids are behind its (restored from a dump into another cluster)`,
        {
          details: { afterId: id },
          hint: 'give after= the id of the last entry a listing returned (not one from elsewhere), or page again from after=0 and skip the ids already held',
        },
      )
    if (found !== undefined) return found.writer
    const mark = await this.#db
      .selectFrom('audit_prune_mark')
      .select('pruned_through_id')
      .where('id', '=', 1)
      .executeTakeFirst()
    const prunedThrough = Number(mark?.pruned_through_id ?? 0)
    if (id <= prunedThrough)
      throw new UsageError(
        'ERR_KBS_AUDIT_CURSOR_PRUNED',
        `audit query: entry ${String(id)} (after=) was pruned (the log is pruned through entry ${String(prunedThrough)}): entries after it may have been pruned unread`,
        {
          details: { afterId: id, prunedThroughId: prunedThrough },
          hint: 'page again from after=0 and skip the ids already held; the entries pruned are in the archives audit prune wrote',
        },
      )
    throw new UsageError(
      'ERR_KBS_AUDIT_CURSOR_UNKNOWN',
      `audit query: there is no entry ${String(id)} (after=) in the log`,
      {
        details: { afterId: id },
        hint: 'give after= the id of the last entry a listing returned, or 0 for the start',
      },
    )
  }

  /** Entry `id`'s writing transaction, and whether a listing can have given it; none: no entry. */
  async #find(id: number): Promise<{ writer: string; listed: boolean } | undefined> {
    if (this.#kind === 'sqlite') {
      const row = await this.#db
        .selectFrom('audit_entry')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst()
      return row === undefined ? undefined : { writer: '0', listed: true }
    }
    // bigint: an id beyond the column's integer is no entry, not an error.
    const { rows } = await sql<{ writer: string; listed: boolean }>`
      SELECT writer_xid::text AS writer,
        writer_xid < pg_snapshot_xmin(pg_current_snapshot()) AS listed
      FROM audit_entry WHERE id = CAST(${id} AS bigint)`.execute(this.#db)
    return rows[0]
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
