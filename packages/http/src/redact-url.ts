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
 * A URL safe for messages: the password replaced by `xxxxx` (as Go's `URL.Redacted` does), the
 * values of credential-like query parameters replaced too, the fragment removed. A string that is
 * not a URL is not echoed.
 */
export function redactUrl(url: URL | string, options: RedactUrlOptions = {}): string {
  let copy: URL
  try {
    copy = new URL(url)
  } catch {
    return '(not a valid URL)'
  }
  if (options.query === 'drop') return `${copy.protocol}//${copy.host}${copy.pathname}`
  copy.hash = ''
  if (copy.password !== '') copy.password = 'xxxxx'
  const secret = [...copy.searchParams.keys()].filter((name) => SECRET_PARAMETER.test(name))
  if (secret.length > 0) {
    // Rebuilt only when needed: re-serialising may re-encode the other parameters.
    for (const name of new Set(secret)) {
      const count = copy.searchParams.getAll(name).length
      copy.searchParams.delete(name)
      for (let i = 0; i < count; i++) copy.searchParams.append(name, 'xxxxx')
    }
  }
  return copy.href
}
