/**
 * The `kbs-session-id` cookie: 32 lowercase hex characters (Trustee's UUIDv4 without dashes), set
 * by `/auth` with `Expires`, `Path=/kbs/v0`, `HttpOnly`, `SameSite=Strict` and, over HTTPS,
 * `Secure` (Trustee sets none of these attributes).
 *
 * @module
 */
import { KBS_SESSION_COOKIE } from '@initguard/kbs-protocol'

const SESSION_ID = /^[0-9a-f]{32}$/

/** The `Set-Cookie` value for a new session. */
export function sessionCookie(id: string, expiresAt: Date, secure: boolean): string {
  return [
    `${KBS_SESSION_COOKIE}=${id}`,
    `Expires=${expiresAt.toUTCString()}`,
    'Path=/kbs/v0',
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ')
}

/**
 * The session id in a `Cookie` header: `undefined` when there is none or it is not 32 lowercase
 * hex characters (then it cannot name a session, and is not looked up).
 */
export function sessionIdFromCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=')
    if (name !== KBS_SESSION_COOKIE) continue
    const value = rest.join('=')
    return SESSION_ID.test(value) ? value : undefined
  }
  return undefined
}
