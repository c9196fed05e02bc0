/**
 * How the guest API answers a failure: the HTTP status for each error, and the JSON body
 * (`{code, message, hint?, status}`), so a workload sees why the KBS refused or could not be
 * reached, not a bare 500.
 *
 * ```text
 * 400  malformed request (bad path segment, runtime_data, token_type)
 * 403  the KBS refused this guest (its 401 on attestation or 403 by policy), with its detail
 * 404  no such resource (at the KBS) or no such init-data key
 * 502  the KBS answered wrongly: a certificate that is not the pinned one, a bad response, a
 *      protocol version the KBS does not speak, or a KBS that cannot read the token as a header
 *      (431) and keeps no session cookie for it even after a new handshake
 *      (ERR_KBS_TOKEN_TOO_LONG)
 * 503  no KBS configured (or its configuration was refused), the KBS or the TEE unreachable,
 *      the KBS not answering within the total timeout (ERR_KBS_TIMEOUT, or ERR_KBS_DEADLINE
 *      from the KBS client's own total timeout), the agent stopping
 *      (ERR_AGENT_STOPPING), or refusing everything since the TEE's init-time field changed
 *      (ERR_AGENT_INITDATA_FIELD_CHANGED, on every path)
 * 500  a bug
 * ```
 *
 * @module
 */
import { isInitguardError, type ErrorCategory, type InitguardError } from '@initguard/core'

/** Statuses for the KBS client's codes (the KBS's own status, or the network's failure). */
const KBS_STATUS: Readonly<Record<string, number>> = {
  ERR_KBS_RESOURCE_PATH: 400,
  ERR_KBS_FORBIDDEN: 403,
  ERR_KBS_UNAUTHORIZED: 403,
  ERR_KBS_NOT_FOUND: 404,
  ERR_KBS_TLS: 502,
  ERR_KBS_STATUS: 502,
  ERR_KBS_REDIRECT: 502,
  ERR_KBS_TOO_LARGE: 502,
  ERR_KBS_BAD_REQUEST: 502,
  ERR_KBS_PROTOCOL_VERSION: 502,
  ERR_KBS_MESSAGE_INVALID: 502,
  ERR_KBS_CONTENT_TYPE: 502,
  ERR_KBS_SESSION_COOKIE: 502,
  ERR_KBS_SESSION_DELETED: 502,
  ERR_KBS_TOKEN_TOO_LONG: 502,
  ERR_KBS_RESOURCE_DECRYPT: 502,
  ERR_KBS_JWE_INCOMPLETE: 502,
  ERR_KBS_UNREACHABLE: 503,
  ERR_KBS_UNAVAILABLE: 503,
  ERR_KBS_DEADLINE: 503,
  ERR_KBS_CANCELLED: 503,
  ERR_KBS_SESSION_EXPIRED: 503,
}

const CATEGORY_STATUS: Readonly<Record<ErrorCategory, number>> = {
  usage: 400,
  malformed: 400,
  verification: 502,
  expectation: 403,
  unavailable: 503,
  io: 503,
  internal: 500,
}

/** The status of a failure: by KBS code first, then by category; 500 for anything unexpected. */
export function guestApiStatus(error: unknown): number {
  if (!isInitguardError(error)) return 500
  return KBS_STATUS[error.code] ?? CATEGORY_STATUS[error.category]
}

/** The JSON body of a failure; an unexpected error says only that it is a bug. */
export function guestApiErrorBody(
  error: unknown,
  status: number,
): { code: string; message: string; hint?: string; status: number } {
  if (!isInitguardError(error))
    return { code: 'ERR_AGENT_INTERNAL', message: 'internal error (a bug)', status }
  const known: InitguardError = error
  return {
    code: known.code,
    message: known.message,
    ...(known.hint === undefined ? {} : { hint: known.hint }),
    status,
  }
}
