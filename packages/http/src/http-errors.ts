/**
 * The failures the HTTP client reports, and how each caller turns them into its own stable error
 * codes (`ERR_KDS_UNREACHABLE`, `ERR_REGISTRY_STATUS`, …), so moving a caller onto the one client
 * changes no code a user or a test relies on.
 *
 * @module
 */
import {
  MalformedInputError,
  UnavailableError,
  VerificationError,
  type ErrorCode,
  type ErrorDetails,
  type InitguardError,
} from '@initguard/core'

/**
 * What went wrong:
 * - `unreachable`: the host does not resolve or refuses the connection (never retried);
 * - `network`: every attempt failed on the network or timed out (a per-attempt timeout: no
 *   answer or no progress for `timeoutMs`);
 * - `deadline`: the whole request ran past the client's total timeout (`totalTimeoutMs`), e.g. a
 *   server that trickles its answer just fast enough never to stall; never retried (the time is
 *   spent), and told apart from `network` and `status` so that "too slow" does not read as "down";
 * - `status`: every attempt got HTTP 429 or 5xx, or a status the caller does not accept;
 * - `redirect`: a redirect the client will not follow (too many, a loop, https → http, not http);
 * - `too-large`: a body over its limit;
 * - `cancelled`: the caller's signal aborted the request;
 * - `tls`: the server's certificate is not trusted (no chain to a trusted root, expired, another
 *   host's name, not the pinned certificate; never retried).
 */
export type HttpFailureKind =
  'unreachable' | 'network' | 'deadline' | 'status' | 'redirect' | 'too-large' | 'cancelled' | 'tls'

/** One failure, with everything a message needs; the URL is already redacted. */
export interface HttpFailure {
  readonly kind: HttpFailureKind
  /** What was being done, for messages: "download the VCEK from AMD KDS". */
  readonly what: string
  /** The URL, redacted. */
  readonly url: string
  /** Why, for people: "HTTP 503", "timed out (…)", "the host name does not resolve (ENOTFOUND)". */
  readonly reason: string
  /** The system error code of an unreachable host (`ENOTFOUND`, `ECONNREFUSED`). */
  readonly systemCode?: string
  /** The last HTTP status, when there was one. */
  readonly status?: number
  /** Attempts made. */
  readonly attempts: number
  /** The limit a body went over. */
  readonly maxBytes?: number
  /** The total timeout that passed (`deadline`). */
  readonly totalTimeoutMs?: number
  /** Why the attempt before the one the deadline cut short failed, when one did (`deadline`). */
  readonly previous?: string
  readonly cause?: unknown
}

/** Turns a failure into the caller's coded error. */
export type HttpErrorMapper = (failure: HttpFailure) => InitguardError

/** How {@link httpErrors} names and explains failures. */
export interface HttpErrorScheme {
  /** The error-code area: `KDS` gives `ERR_KDS_UNREACHABLE`, `ERR_KDS_UNAVAILABLE`, … */
  readonly area: string
  /** Codes that differ from the defaults (`ERR_<area>_` + UNREACHABLE, UNAVAILABLE, DEADLINE, STATUS, REDIRECT, TOO_LARGE, CANCELLED, TLS). */
  readonly codes?: Partial<Readonly<Record<HttpFailureKind, ErrorCode>>>
  /** Hints that differ from the generic ones. */
  readonly hints?: Partial<Readonly<Record<HttpFailureKind, string>>>
}

const SUFFIXES: Readonly<Record<HttpFailureKind, string>> = {
  unreachable: 'UNREACHABLE',
  network: 'UNAVAILABLE',
  deadline: 'DEADLINE',
  status: 'STATUS',
  redirect: 'REDIRECT',
  'too-large': 'TOO_LARGE',
  cancelled: 'CANCELLED',
  tls: 'TLS',
}

const HINTS: Readonly<Record<HttpFailureKind, string>> = {
  unreachable: 'check the network, the host name and any proxy',
  network: 'check the network and any proxy, then try again',
  deadline:
    'the server or the network is too slow, or sends its answer a little at a time; try again later, and report a server that keeps doing it to its operator',
  status: 'the server is overloaded or failing: try again later',
  redirect: 'the server redirects where Initguard will not follow; report it to its operator',
  'too-large': 'a response this large is not plausible; check the URL',
  cancelled: 'the request was cancelled; run it again',
  tls: "check the URL and the CA or pinned certificate given for this server, and the server's own certificate",
}

/** The part of a message after "cannot <what>: ". */
function explain(failure: HttpFailure): string {
  switch (failure.kind) {
    case 'too-large':
      return `the response from ${failure.url} is larger than ${failure.maxBytes ?? 0} bytes`
    case 'deadline': {
      const attempts = failure.attempts > 1 ? `; ${failure.attempts} attempts` : ''
      const previous =
        failure.previous === undefined ? '' : `; the attempt before failed: ${failure.previous}`
      return `${failure.reason}${attempts}${previous}`
    }
    case 'network':
    case 'status':
      return failure.attempts > 1
        ? `${failure.reason} (${failure.attempts} attempts)`
        : failure.reason
    case 'unreachable':
    case 'redirect':
    case 'cancelled':
    case 'tls':
      return failure.reason
  }
}

/**
 * The mapper for a caller's error-code area: `cannot <what>: <why>`, with the redacted URL, the
 * reason (the system code for an unreachable host), the attempts and any status in the details.
 * A body over its limit is a {@link MalformedInputError}, an untrusted certificate a
 * {@link VerificationError}; everything else an {@link UnavailableError}.
 */
export function httpErrors(scheme: HttpErrorScheme): HttpErrorMapper {
  return (failure) => {
    const code = scheme.codes?.[failure.kind] ?? `ERR_${scheme.area}_${SUFFIXES[failure.kind]}`
    const details: ErrorDetails = {
      url: failure.url,
      reason: failure.systemCode ?? failure.reason,
      attempts: failure.attempts,
      ...(failure.status === undefined ? {} : { status: failure.status }),
      ...(failure.maxBytes === undefined ? {} : { maxBytes: failure.maxBytes }),
      ...(failure.totalTimeoutMs === undefined ? {} : { totalTimeoutMs: failure.totalTimeoutMs }),
      ...(failure.previous === undefined ? {} : { previous: failure.previous }),
    }
    const options = {
      details,
      hint: scheme.hints?.[failure.kind] ?? HINTS[failure.kind],
      ...(failure.cause === undefined ? {} : { cause: failure.cause }),
    }
    const message = `cannot ${failure.what}: ${explain(failure)}`
    if (failure.kind === 'too-large') return new MalformedInputError(code, message, options)
    if (failure.kind === 'tls') return new VerificationError(code, message, options)
    return new UnavailableError(code, message, options)
  }
}
