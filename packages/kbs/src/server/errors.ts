/**
 * The KBS's error answers: Trustee's body `{"type": ".../errors/<Variant>", "detail"}` with a
 * status that means something (Trustee answers 401 for nearly everything). Every failure a route
 * decides is a {@link KbsProblem}; everything thrown is mapped by {@link problemForError}, which
 * never puts a stack or an unexpected error's text in `detail` (those are logged instead).
 *
 * ```text
 * 400 SerdeError, InvalidRequestPath, AttestationError (version, TEE)    malformed
 * 401 AttestationError, TokenNotFound, TokenVerifierError, AdminAuthAccess not attested / bad token
 * 403 PolicyDeny                                                           denied by policy
 * 404 ResourceNotFound, InvalidRequestPath (no such route)                 no such thing
 * 409 WorkloadUnusable (admin GET of a workload whose row does not authenticate; admin-routes.ts)
 * 409 AuditPruneRefused (the audit log's state refuses a prune; admin-audit-prune.ts)
 * 408 RequestTimeout    413 PayloadTooLarge   431 RequestHeaderFieldsTooLarge (connection-limits.ts)
 * 429 TooManyRequests   503 ServiceUnavailable   500 InternalError
 * ```
 *
 * @module
 */
import { KBS_ERROR_TYPE_PREFIX, type KbsErrorBody } from '@initguard/kbs-protocol'
import { isInitguardError } from '@initguard/core'

/** The error variants this KBS answers with: Trustee's names where one fits. */
export type KbsErrorVariant =
  | 'AttestationError'
  | 'PolicyDeny'
  | 'TokenNotFound'
  | 'TokenVerifierError'
  | 'AdminAuthAccess'
  | 'InvalidRequestPath'
  | 'SerdeError'
  | 'ResourceNotFound'
  | 'WorkloadNotFound'
  | 'WorkloadUnusable'
  | 'AuditPruneRefused'
  | 'AuditCursorPruned'
  | 'AuditCursorAhead'
  | 'AuditEntryNotFound'
  | 'PayloadTooLarge'
  | 'RequestHeaderFieldsTooLarge'
  | 'RequestTimeout'
  | 'TooManyRequests'
  | 'ServiceUnavailable'
  | 'InternalError'

/** The statuses the KBS answers errors with. */
export type KbsErrorStatus = 400 | 401 | 403 | 404 | 408 | 409 | 413 | 429 | 431 | 500 | 503

/** One error answer. */
export interface KbsProblem {
  readonly status: KbsErrorStatus
  readonly variant: KbsErrorVariant
  /** What a person can act on; never a secret or a stack. */
  readonly detail: string
}

/** The generic detail of a 500: the real error goes to the log only. */
export const INTERNAL_ERROR_DETAIL =
  'the KBS failed unexpectedly; the server log has the details (nothing was released)'

/** The wire body of a problem. */
export function problemBody(problem: KbsProblem): KbsErrorBody {
  return { type: `${KBS_ERROR_TYPE_PREFIX}${problem.variant}`, detail: problem.detail }
}

/** A problem, as a value. */
export function problem(
  status: KbsErrorStatus,
  variant: KbsErrorVariant,
  detail: string,
): KbsProblem {
  return { status, variant, detail }
}

/** A mapped error: the answer, and whether the error was unexpected (log it with its stack). */
export interface MappedError {
  readonly problem: KbsProblem
  readonly unexpected: boolean
}

/** Fastify's own error codes for malformed requests, with what the client must change. */
const FASTIFY_CLIENT_ERRORS: Readonly<Record<string, KbsProblem>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: problem(
    413,
    'PayloadTooLarge',
    'the request body is larger than the KBS accepts (the limit is the server setting limits.body)',
  ),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: problem(
    400,
    'SerdeError',
    'unsupported Content-Type: send the body as application/json',
  ),
  FST_ERR_CTP_EMPTY_JSON_BODY: problem(
    400,
    'SerdeError',
    'the body is empty: send a JSON object as application/json',
  ),
  FST_ERR_CTP_INVALID_JSON_BODY: problem(400, 'SerdeError', 'the body is not valid JSON'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: problem(
    400,
    'SerdeError',
    'Content-Length does not match the body',
  ),
}

function fastifyCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' ? status : undefined
}

/**
 * The answer for a thrown error. Initguard errors map by category (`usage`/`malformed` → 400,
 * `verification` → 401, `expectation` → 403, `unavailable` → 503) with their own message, which
 * by the house rule never holds a secret; `io` and `internal` are the server's fault → 500.
 * Fastify's body errors, JSON errors and the rate limiter map to 400/413/429. Anything else → 500
 * with a generic detail.
 */
export function problemForError(error: unknown): MappedError {
  const code = fastifyCode(error)
  const known = code === undefined ? undefined : FASTIFY_CLIENT_ERRORS[code]
  if (known !== undefined) return { problem: known, unexpected: false }
  if (isInitguardError(error)) {
    switch (error.category) {
      case 'usage':
      case 'malformed':
        return { problem: problem(400, 'SerdeError', error.message), unexpected: false }
      case 'verification':
        return { problem: problem(401, 'AttestationError', error.message), unexpected: false }
      case 'expectation':
        return { problem: problem(403, 'PolicyDeny', error.message), unexpected: false }
      case 'unavailable':
        return { problem: problem(503, 'ServiceUnavailable', error.message), unexpected: false }
      case 'io':
      case 'internal':
        return { problem: problem(500, 'InternalError', INTERNAL_ERROR_DETAIL), unexpected: true }
    }
  }
  const status = statusOf(error)
  if (status === 429) {
    return {
      problem: problem(429, 'TooManyRequests', 'too many requests from this client: retry later'),
      unexpected: false,
    }
  }
  // Fastify's other 4xx are about the request's framing (its text names no secret, but it may echo
  // input): answer with a fixed text.
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      problem: problem(400, 'SerdeError', 'the request is malformed (headers or body framing)'),
      unexpected: false,
    }
  }
  return { problem: problem(500, 'InternalError', INTERNAL_ERROR_DETAIL), unexpected: true }
}
