/**
 * Pruning the audit log: the one way to remove entries. In one transaction, the prune mark
 * (migration 007) is read and locked, the range checked (its age against the pruner's clock and
 * the database's, the earlier bound winning), the mark raised, the entries up to it deleted (the
 * database refuses any above it) and an entry recording the prune appended. An entry's age is
 * its database time on PostgreSQL (`db_written_at`, migration 008: the database's clock when it
 * was written, where `at` is its writer's, which may run behind), and its `at` on SQLite (one
 * host, one clock) and for entries from before 008 (the best there is). Two
 * replicas pruning at once take turns on the mark (SQLite: the IMMEDIATE write lock; PostgreSQL:
 * `FOR UPDATE` on its row); the second then finds nothing left, or its own range checked afresh.
 *
 * The steps are written once, as a generator of compiled statements, and run synchronously in
 * SQLite's in-process transaction or asynchronously in a kysely transaction on PostgreSQL.
 *
 * @module
 */
import { sql, type CompiledQuery, type Kysely } from 'kysely'
import { InternalError, UsageError } from '@initguard/core'
import { AUDIT_PRUNE_MAX } from '@initguard/kbs-protocol'
import type { AuditPruneRequest, AuditPruneResult } from '../ports.ts'
import { auditColumnValues } from './audit-row.ts'
import type { RawExecutor } from './hot-statement.ts'
import type { KbsDatabase } from './schema.ts'

/**
 * The most entries one prune removes: a bounded transaction that stays well inside the
 * PostgreSQL statement timeout and the store-call deadline. The CLI prunes a larger range in steps.
 */
export { AUDIT_PRUNE_MAX }

/** The codes of refusals that are about the log's state, not the request (HTTP 409). */
export const AUDIT_PRUNE_CONFLICTS: ReadonlySet<string> = new Set([
  'ERR_KBS_AUDIT_PRUNE_NEWEST',
  'ERR_KBS_AUDIT_PRUNE_RETENTION',
  'ERR_KBS_AUDIT_PRUNE_CHANGED',
  'ERR_KBS_AUDIT_PRUNE_TOO_MANY',
])

/** What a step gets back: the rows, and how many rows a write changed. */
interface StepResult {
  readonly rows: readonly Readonly<Record<string, unknown>>[]
  readonly affected: number
}

type Steps = Generator<CompiledQuery, AuditPruneResult, StepResult>

/**
 * Run {@link AuditLog.prune} on `db`.
 *
 * @throws {@link UsageError} `ERR_KBS_AUDIT_PRUNE_RANGE` (not a safe integer ≥ 1, or a bad
 *   expected count), `ERR_KBS_AUDIT_PRUNE_NEWEST`, `ERR_KBS_AUDIT_PRUNE_RETENTION`,
 *   `ERR_KBS_AUDIT_PRUNE_CHANGED`, `ERR_KBS_AUDIT_PRUNE_TOO_MANY`.
 */
export async function pruneAuditLog(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
  request: AuditPruneRequest,
): Promise<AuditPruneResult> {
  checkRequest(request)
  const { atomic } = executor
  if (atomic !== undefined)
    return atomic.run((execute) => {
      const steps = pruneSteps(db, request, false)
      for (let step = steps.next(); ;) {
        if (step.done === true) return step.value
        const { rows, affectedRows } = execute(step.value.sql, step.value.parameters)
        step = steps.next({ rows, affected: affectedRows })
      }
    })
  return db.transaction().execute(async (trx) => {
    const steps = pruneSteps(db, request, true)
    for (let step = steps.next(); ;) {
      if (step.done === true) return step.value
      const result = await trx.executeQuery(step.value)
      step = steps.next({
        rows: result.rows as StepResult['rows'],
        affected: Number(result.numAffectedRows ?? 0),
      })
    }
  })
}

function checkRequest(request: AuditPruneRequest): void {
  const { throughId, expectedCount } = request
  if (!Number.isSafeInteger(throughId) || throughId < 1)
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_RANGE',
      `audit prune: throughId ${String(throughId)} is not a whole number from 1 up`,
      { hint: 'give the id of the last entry to remove (archive the entries first)' },
    )
  if (expectedCount !== undefined && (!Number.isSafeInteger(expectedCount) || expectedCount < 0))
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_RANGE',
      `audit prune: expectedCount ${String(expectedCount)} is not a whole number from 0 up`,
      { hint: 'give how many entries up to throughId were archived, or leave it out' },
    )
}

/** The database's clock, in milliseconds since 1970 (the host's, on SQLite). */
const POSTGRES_NOW_MS = sql<{
  ms: number
}>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`
const SQLITE_NOW_MS = sql<{ ms: number }>`SELECT (julianday('now') - 2440587.5) * 86400000.0 AS ms`

/**
 * The earlier of `olderThan` and the database's clock less the same retention, in ms: a second
 * clock, so that one replica's clock set ahead cannot age the log. A clock that cannot be read
 * refuses (nothing is older than the epoch).
 */
function boundOf(request: AuditPruneRequest, databaseNowMs: number): number {
  const retention = request.now.getTime() - request.olderThan.getTime()
  const bound = Math.min(request.olderThan.getTime(), databaseNowMs - retention)
  return Number.isFinite(bound) ? bound : 0
}

/**
 * The database time of the youngest entry counted, in ms (PostgreSQL): `db_written_at`, or for an
 * entry from before migration 008 its `at`.
 */
const YOUNGEST_WRITTEN_MS = sql<number>`(extract(epoch FROM max(COALESCE(db_written_at, CAST(at AS timestamptz)))) * 1000)::float8`

function* pruneSteps(db: Kysely<KbsDatabase>, request: AuditPruneRequest, lock: boolean): Steps {
  const { throughId } = request
  const markQuery = db
    .selectFrom('audit_prune_mark')
    .select('pruned_through_id')
    .where('id', '=', 1)
  const [markRow] = (yield (lock ? markQuery.forUpdate() : markQuery).compile()).rows
  if (markRow === undefined)
    throw new InternalError('ERR_KBS_AUDIT_PRUNE_MARK', 'the audit log has no prune mark row')
  const mark = Number(markRow['pruned_through_id'])
  const [newestRow] = (yield db
    .selectFrom('audit_entry')
    .select((eb) => eb.fn.max('id').as('newest'))
    .compile()).rows
  const newest = Number(newestRow?.['newest'] ?? 0)
  if (throughId >= newest)
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_NEWEST',
      `audit prune through entry ${String(throughId)} would remove the newest entry (${String(newest)}): the log is never emptied`,
      {
        details: { throughId, newest },
        hint: `prune through an id below ${String(newest)}`,
      },
    )
  const [stats] = (yield db
    .selectFrom('audit_entry')
    .select((eb) => [
      eb.fn.countAll().as('count'),
      eb.fn.min('at').as('first_at'),
      eb.fn.max('at').as('last_at'),
      ...(lock ? [YOUNGEST_WRITTEN_MS.as('youngest_ms')] : []),
    ])
    .where('id', '<=', throughId)
    .compile()).rows
  const count = Number(stats?.['count'] ?? 0)
  if (count === 0) return { throughId: Math.max(mark, throughId), count: 0 }
  const firstAt = String(stats?.['first_at'])
  const lastAt = String(stats?.['last_at'])
  if (request.expectedCount !== undefined && request.expectedCount !== count)
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_CHANGED',
      `audit prune through entry ${String(throughId)}: the log holds ${String(count)} entries up to it, the archive ${String(request.expectedCount)}; nothing was removed`,
      {
        details: { throughId, count, expectedCount: request.expectedCount },
        hint: 'another prune ran, or an entry was committed late: archive again, then prune',
      },
    )
  if (count > AUDIT_PRUNE_MAX)
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_TOO_MANY',
      `audit prune through entry ${String(throughId)} would remove ${String(count)} entries, over the ${String(AUDIT_PRUNE_MAX)} one prune may`,
      {
        details: { throughId, count, max: AUDIT_PRUNE_MAX },
        hint: `prune in steps of at most ${String(AUDIT_PRUNE_MAX)} entries (initguard kbs admin audit prune does)`,
      },
    )
  const [clockRow] = (yield (lock ? POSTGRES_NOW_MS : SQLITE_NOW_MS).compile(db)).rows
  const boundMs = boundOf(request, Number(clockRow?.['ms']))
  const olderThan = new Date(boundMs).toISOString()
  // NaN (no time to tell) is not older: refused.
  const youngest = lock
    ? { ms: Number(stats?.['youngest_ms']), what: 'written (by the database clock) at' }
    : { ms: Date.parse(lastAt), what: 'of' }
  if (!(youngest.ms < boundMs))
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_RETENTION',
      `audit prune through entry ${String(throughId)} would remove an entry ${youngest.what} ${Number.isFinite(youngest.ms) ? new Date(youngest.ms).toISOString() : lastAt}, not older than ${olderThan} (the minimum retention, [audit] min-retention); nothing was removed`,
      {
        details: { throughId, lastAt, olderThan },
        hint: 'prune through an older entry, or wait; the KBS keeps every entry for at least [audit] min-retention',
      },
    )
  if (throughId > mark)
    yield db
      .updateTable('audit_prune_mark')
      .set({ pruned_through_id: throughId })
      .where('id', '=', 1)
      .compile()
  const { affected } = yield db.deleteFrom('audit_entry').where('id', '<=', throughId).compile()
  // An entry up to the id committed late (after the count): it is in no archive.
  if (affected !== count)
    throw new UsageError(
      'ERR_KBS_AUDIT_PRUNE_CHANGED',
      `audit prune through entry ${String(throughId)}: ${String(affected)} entries were there to remove where ${String(count)} were counted; nothing was removed`,
      {
        details: { throughId, count, affected },
        hint: 'an entry was committed late: archive again, then prune',
      },
    )
  const pruned = { throughId: Math.max(mark, throughId), count, firstAt, lastAt }
  const [entry] = (yield db
    .insertInto('audit_entry')
    .values(auditColumnValues(request.recorded(pruned)) as never)
    .returning('id')
    .compile()).rows
  return { ...pruned, entryId: Number(entry?.['id']) }
}
