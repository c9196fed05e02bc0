/**
 * `POST /kbs/v0/admin/audit/prune` with `{"throughId": N}` (and optionally `"expectedCount": C`,
 * how many entries up to N the caller archived): removes the audit entries up to id N, in one
 * transaction with the entry that records it (`storage/audit-prune.ts`). Answers 200 with what was
 * removed (`pruned` 0: nothing was left to remove, nothing changed), 400 `SerdeError` for a
 * malformed body, 409 `AuditPruneRefused` when the log's state refuses it (the newest entry, an
 * entry younger than `[audit] min-retention` plus the replicas' clock skew, by this replica's
 * clock or the database's, a count other than the archive's, too many at once); every refusal
 * names its `code`, and changes nothing.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isInitguardError } from '@initguard/core'
import type { AuditPruned } from '../ports.ts'
import { REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'
import { AUDIT_PRUNE_CONFLICTS } from '../storage/audit-prune.ts'
import { adminSignerText, type AdminIdentity } from './admin-auth.ts'
import { problem } from './errors.ts'
import { sendCodedProblem, sendProblem, type KbsRouteContext } from './route-context.ts'

/** The route. */
export const AUDIT_PRUNE_ROUTE = '/kbs/v0/admin/audit/prune'

const BODY_RULE =
  'the prune body is a JSON object {"throughId": <entry id, a whole number from 1>} with, optionally, "expectedCount": <entries up to it that were archived>, nothing else'

/** The body, or what is wrong with it. */
function pruneBody(
  body: unknown,
): { readonly throughId: number; readonly expectedCount?: number } | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return BODY_RULE
  const { throughId, expectedCount, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0)
    return `${BODY_RULE}; ${JSON.stringify(unknown[0]?.slice(0, 64))} is not read, so it would be ignored`
  const whole = (value: unknown, min: number): value is number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min
  if (!whole(throughId, 1)) return BODY_RULE
  if (expectedCount !== undefined && !whole(expectedCount, 0)) return BODY_RULE
  return { throughId, ...(expectedCount === undefined ? {} : { expectedCount }) }
}

/** Who pruned, as the audit entry of a signed refusal names the signer. */
function by(identity: AdminIdentity | undefined): string {
  if (identity === undefined) return 'an admin'
  return adminSignerText(identity.keyFingerprint, identity.subject)
}

/** The detail of the entry that records a prune. */
export function prunedDetail(pruned: AuditPruned, identity: AdminIdentity | undefined): string {
  return `audit log pruned through entry ${String(pruned.throughId)}: ${String(pruned.count)} entries removed, at ${pruned.firstAt} to ${pruned.lastAt} (by ${by(identity)})`
}

/** Register the route on the admin context (its guard has run; `identityOf` gives who). */
export function registerAuditPrune(
  admin: FastifyInstance,
  context: KbsRouteContext,
  identityOf: (request: FastifyRequest) => AdminIdentity | undefined,
): void {
  admin.post(AUDIT_PRUNE_ROUTE, async (request, reply) => {
    const asked = pruneBody(request.body)
    if (typeof asked === 'string') return sendProblem(reply, problem(400, 'SerdeError', asked))
    const now = context.clock()
    try {
      const result = await context.store.audit.prune({
        ...asked,
        now,
        // An entry's `at` is its writer's clock, which may be REPLICA_CLOCK_SKEW_MS behind this
        // one: judged by `at` alone (SQLite, entries from before migration 008), it could go that
        // much before min-retention has passed. On PostgreSQL the store judges the database's
        // time of the entry, and the margin only adds.
        olderThan: new Date(now.getTime() - context.auditMinRetentionMs - REPLICA_CLOCK_SKEW_MS),
        recorded: (pruned) => ({
          at: now,
          action: 'admin',
          outcome: 'changed',
          detail: prunedDetail(pruned, identityOf(request)),
        }),
      })
      return await reply.send({
        prunedThroughId: result.throughId,
        pruned: result.count,
        ...(result.firstAt === undefined ? {} : { firstAt: result.firstAt }),
        ...(result.lastAt === undefined ? {} : { lastAt: result.lastAt }),
        ...(result.entryId === undefined ? {} : { entryId: result.entryId }),
      })
    } catch (error) {
      if (!isInitguardError(error) || !error.code.startsWith('ERR_KBS_AUDIT_PRUNE_')) throw error
      return refused(reply, error.code, error.message, error.hint)
    }
  })
}

function refused(
  reply: FastifyReply,
  code: string,
  message: string,
  hint: string | undefined,
): FastifyReply {
  const conflict = AUDIT_PRUNE_CONFLICTS.has(code)
  const answer = problem(
    conflict ? 409 : 400,
    conflict ? 'AuditPruneRefused' : 'SerdeError',
    hint === undefined ? message : `${message} (${hint})`,
  )
  return sendCodedProblem(reply, answer, code)
}
