/**
 * URLs as messages and error details show them: never a password, never a query parameter that
 * looks like a credential (pre-signed storage URLs carry signatures and tokens in the query).
 *
 * @module
 */

/** Query parameter names whose values are credentials (AWS, GCS and Azure signed URLs, tokens). */
const SECRET_PARAMETER = /sig|token|credential|secret|password|passwd|auth|key|session|state/i

/** How much of the query {@link redactUrl} keeps. */
export interface RedactUrlOptions {
  /**
   * `redact` (default): every parameter kept, the values of credential-like ones replaced;
   * `drop`: no user info, no query, no fragment at all (`scheme://host/path`).
   */
  readonly query?: 'redact' | 'drop'
}

/**
 * A URL safe for messages: the password replaced by `xxxxx` (as Go's `URL.Redacted` does), and
 * a user name without a password too (`https://TOKEN@host/`: a token in the user name is the
 * whole credential, which the client sends as basic authentication), the values of
 * credential-like query parameters replaced too, the fragment removed. A string that is
 * not a URL, or a URL without a host (other than `file:`), is not echoed.
 */
export function redactUrl(url: URL | string, options: RedactUrlOptions = {}): string {
  let copy: URL
  try {
    copy = new URL(url)
  } catch {
    return '(not a valid URL)'
  }
  // "user:pass@host" parses as an opaque URL of scheme "user": no host, nothing safe to show.
  if (copy.host === '' && copy.protocol !== 'file:') return `(a ${copy.protocol} URL)`
  if (options.query === 'drop') return `${copy.protocol}//${copy.host}${copy.pathname}`
  copy.hash = ''
  if (copy.password !== '') copy.password = 'xxxxx'
  else if (copy.username !== '') copy.username = 'xxxxx'
  const params = [...copy.searchParams]
  if (params.some(([name]) => SECRET_PARAMETER.test(name))) {
    // Rebuilt only when needed (re-serialising may re-encode the others), in the same order.
    copy.search = new URLSearchParams(
      params.map(([name, value]): [string, string] => [
        name,
        SECRET_PARAMETER.test(name) ? 'xxxxx' : value,
      ]),
    ).toString()
  }
  return copy.href
}
