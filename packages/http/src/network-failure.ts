/**
 * Network failures that retrying cannot cure: the host name does not resolve (no network, no DNS,
 * a typo), nothing listens at the address, or the server's TLS certificate is not trusted. All are
 * reported at once instead of after a backoff meant for a throttling server.
 *
 * @module
 */

/** The code on the TLS error when the server's certificate is not the pinned one ({@link tlsFetch}). */
export const PINNED_CERTIFICATE_MISMATCH = 'ERR_TLS_PINNED_CERTIFICATE_MISMATCH'

/** A failure not worth retrying, with what it means for people. */
export interface HopelessNetworkFailure {
  /** The system error code, e.g. `ENOTFOUND`. */
  readonly code: string
  /** What it means: "the host name does not resolve (ENOTFOUND)". */
  readonly reason: string
}

const MEANINGS: Readonly<Record<string, string>> = {
  ENOTFOUND: 'the host name does not resolve (no network, no DNS, or a wrong name)',
  EAI_AGAIN: 'the host name cannot be resolved now (no network or no DNS server)',
  EAI_NONAME: 'the host name does not resolve (no network, no DNS, or a wrong name)',
  ECONNREFUSED: 'the connection was refused (nothing listens at that address)',
  ENETUNREACH: 'the network is unreachable',
  EHOSTUNREACH: 'the host is unreachable',
}

/** The system error codes in `error`, its `cause` chain and an `AggregateError`'s errors. */
function systemCodes(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 8) return []
  const own = (error as { code?: unknown }).code
  const codes = typeof own === 'string' ? [own] : []
  const nested = error instanceof AggregateError ? (error.errors as unknown[]) : []
  return [
    ...codes,
    ...systemCodes((error as { cause?: unknown }).cause, depth + 1),
    ...nested.flatMap((e) => systemCodes(e, depth + 1)),
  ]
}

/**
 * The failure in a `fetch` error when retrying it cannot help (DNS, refused, unreachable);
 * `undefined` for anything else (a timeout, a reset connection), which may be transient.
 */
export function hopelessNetworkFailure(error: unknown): HopelessNetworkFailure | undefined {
  const code = systemCodes(error).find((c) => MEANINGS[c] !== undefined)
  return code === undefined ? undefined : { code, reason: `${MEANINGS[code] ?? code} (${code})` }
}

/**
 * OpenSSL's certificate-verification codes as Node reports them, Node's own host-name mismatch,
 * and the pinned-certificate mismatch of {@link tlsFetch}: the server is not the one trusted.
 */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  PINNED_CERTIFICATE_MISMATCH,
])

/** The first error in `error`'s cause chain whose code is a certificate failure. */
function certificateError(
  error: unknown,
  depth = 0,
): { code: string; message: string } | undefined {
  if (!(error instanceof Error) || depth > 8) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && CERTIFICATE_CODES.has(code))
    return { code, message: error.message }
  return certificateError((error as { cause?: unknown }).cause, depth + 1)
}

/**
 * The failure in a `fetch` error when the server's TLS certificate is not trusted (no chain to a
 * trusted root, expired, another host's name, not the pinned certificate); `undefined` otherwise.
 * Retrying cannot cure it, and it is a verification failure, not an outage.
 */
export function certificateFailure(error: unknown): HopelessNetworkFailure | undefined {
  const found = certificateError(error)
  return found === undefined
    ? undefined
    : { code: found.code, reason: `the server's certificate is not trusted: ${found.message}` }
}

/** undici's codes for a connection that failed or broke mid-way (not for bad arguments). */
const TRANSIENT_UNDICI_CODES = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])

/**
 * Whether `error` is a failure of the network or the peer (a failed or broken connection, a body
 * cut short, a timeout), which another attempt may cure. Anything else, such as a `TypeError` from
 * a bad URL or argument, is our own bug and must surface as one, not be retried.
 */
export function isTransportFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (error.name === 'TimeoutError') return true
  // undici's own words for "the request failed on the wire" and "the body stopped mid-way".
  if (
    error instanceof TypeError &&
    (error.message === 'fetch failed' || error.message === 'terminated')
  )
    return true
  return systemCodes(error).some((c) => /^E[A-Z]+$/.test(c) || TRANSIENT_UNDICI_CODES.has(c))
}

/**
 * A transport failure no other attempt can cure, as the HTTP client reports it: `'tls'` when the
 * server's certificate is not trusted ({@link certificateFailure}), `'unreachable'` for no
 * network, no DNS or nothing listening ({@link hopelessNetworkFailure}); undefined otherwise.
 */
export function finalTransportFailure(
  error: unknown,
):
  | { readonly kind: 'tls' | 'unreachable'; readonly reason: string; readonly systemCode: string }
  | undefined {
  const untrusted = certificateFailure(error)
  if (untrusted !== undefined)
    return { kind: 'tls', reason: untrusted.reason, systemCode: untrusted.code }
  const hopeless = hopelessNetworkFailure(error)
  if (hopeless !== undefined)
    return { kind: 'unreachable', reason: hopeless.reason, systemCode: hopeless.code }
  return undefined
}
