/**
 * The `kbs-session-id` cookie: an opaque value (lowercase hex of the authenticated challenge,
 * `storage/rcar-challenge.ts`; Trustee's is 32 hex characters), set by `/auth` with `Expires`,
 * `Path=/kbs/v0`, `HttpOnly`, `SameSite=Strict` and, over HTTPS, `Secure` (Trustee sets none of
 * these attributes).
 *
 * @module
 */
import { KBS_SESSION_COOKIE } from '@initguard/kbs-protocol'
import { CHALLENGE_COOKIE_LENGTH } from '../storage/rcar-challenge.ts'

const SESSION_VALUE = new RegExp(`^[0-9a-f]{${String(CHALLENGE_COOKIE_LENGTH)}}$`)

/** The `Set-Cookie` value for a new challenge. */
export function sessionCookie(value: string, expiresAt: Date, secure: boolean): string {
  return [
    `${KBS_SESSION_COOKIE}=${value}`,
    `Expires=${expiresAt.toUTCString()}`,
    'Path=/kbs/v0',
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ')
}

/** What a `Cookie` header says about the session. */
export type SessionCookie =
  /** No `kbs-session-id` cookie. */
  | { readonly present: false }
  /** The first `kbs-session-id`: its value when it has the exact shape, else none. */
  | { readonly present: true; readonly value?: string }

/**
 * The `kbs-session-id` cookie in a `Cookie` header. Only the first one counts; a value that is
 * not exactly the challenge cookie's length of lowercase hex names no session (and is not
 * opened), whatever else it is.
 */
export function sessionCookieOf(header: string | undefined): SessionCookie {
  if (header === undefined) return { present: false }
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=')
    if (name !== KBS_SESSION_COOKIE) continue
    const value = rest.join('=')
    return SESSION_VALUE.test(value) ? { present: true, value } : { present: true }
  }
  return { present: false }
}
