/**
 * The `kbs-session-id` cookie as the KBS sets it, with its lifetime (RFC 6265 §5.2.1, §5.2.2,
 * §5.3): `Max-Age` wins over `Expires`; a `Max-Age` of 0 or less, or an `Expires` that is not
 * after now, deletes the cookie, and a deleted cookie is never sent back. Trustee sets the cookie
 * with `Expires` = now + its session timeout (`Cookie::build(..).expires(timeout)`, an IMF-fixdate
 * such as `Sun, 06 Dec 2026 10:30:00 GMT`) on `/auth` and again on `/attest`; this project's KBS
 * sets it with `Expires` on `/auth` only.
 *
 * An `Expires` is judged against the answer's own `Date` header when it has a readable one: the
 * cookie lives here for `Expires` − `Date`, the lifetime the KBS meant, from now on this clock. RFC
 * 6265 compares `Expires` with the client's clock alone, so a guest whose clock runs ahead of the
 * KBS's by more than the session timeout (a host that starts the guest with its RTC in local time,
 * say) would read every fresh cookie as deleted and could never attest; a guest behind would send
 * a cookie the KBS has ended. Without a readable `Date`, `Expires` is compared with this clock, as
 * RFC 6265 says. `Max-Age` is relative already.
 *
 * Unlike RFC 6265, which ignores a `Max-Age` or `Expires` it cannot parse (and would keep the
 * cookie for the whole session), a malformed lifetime on the session cookie is refused
 * (`ERR_KBS_SESSION_COOKIE`): the KBS meant some lifetime, and guessing "forever" would send a
 * session back that the KBS may have ended. So is a lifetime attribute given twice, which RFC 6265
 * reads as the last one and a proxy might have added.
 *
 * The cookie's scope is checked as a user agent would keep and send it: a `Domain` that the KBS's
 * host does not domain-match (§5.3 step 6: a browser, and CoCo's reqwest cookie store, ignore
 * the cookie), or a `Path` (§5.2.4; without one, the directory of the request's path) that does
 * not path-match every route this client sends the cookie to (§5.4: it would not be sent there),
 * is refused (`ERR_KBS_SESSION_COOKIE`, naming the attribute, its value and the host or route),
 * rather than sent where a browser would not send it or silently dropped. Trustee sets neither
 * (its default Path is `<prefix>/kbs/v0`, which covers `/attest` and every resource, with or
 * without a prefix in the KBS URL); this project's KBS sets `Path=/kbs/v0`, which covers them
 * when the KBS is not behind a proxy that mounts it under a prefix. An empty `Domain` is ignored
 * and a `Path` that does not start with `/` is the default Path, as §5.2.3 and §5.2.4 say; either
 * given twice is refused, as a lifetime is.
 *
 * A cookie marked `Secure` is sent only over a secure channel (§5.4 step 1), so one set on the
 * answer to a plain `http://` KBS URL could never be sent back to `/attest` or a resource: it is
 * refused (`ERR_KBS_SESSION_COOKIE`, naming the URL and the fix) rather than sent in clear text,
 * which is what a browser would refuse to do and RFC 6265bis forbids storing. It means the KBS
 * serves HTTPS and something in between serves it over plain http (a proxy that strips TLS), or a
 * KBS in a plain-http lab mode that marks its cookie `Secure` anyway: this project's KBS sets
 * `Secure` over HTTPS only (none with `--insecure-http`), and Trustee never sets it, so both work
 * over plain http as before.
 *
 * @module
 */
import { domainToASCII } from 'node:url'
import { isIP } from 'node:net'
import { MalformedInputError } from '@initguard/core'
import type { HttpResponse } from '@initguard/http'
import { KBS_SESSION_COOKIE } from './messages.ts'

/** What one answer's `Set-Cookie` headers say of the session cookie. */
export type SessionCookieUpdate =
  /** The cookie, to send until `expiresAt` (ms since the epoch; none: as long as the client). */
  | { readonly deleted: false; readonly value: string; readonly expiresAt?: number }
  /** The KBS deleted the cookie (`Max-Age` ≤ 0, or `Expires` not after now). */
  | { readonly deleted: true }

const COOKIE_VALUE = /^[A-Za-z0-9._~+/=-]{1,256}$/

/** Where the client keeps and sends the session cookie, for its `Domain`, `Path` and `Secure`. */
export interface SessionCookieScope {
  /**
   * The KBS URL the client was given (`https://host:port/` or `…/prefix/`): its host for `Domain`,
   * its path for hints, its scheme for `Secure` (sent back over https only).
   */
  readonly base: URL
  /** The path of the request answered (`/prefix/kbs/v0/auth`), whose directory is the default Path. */
  readonly requestPath: string
  /**
   * The request paths the cookie must be sent to from now on (`/prefix/kbs/v0/attest`; and
   * `/prefix/kbs/v0/resource/`, which stands for every resource under it).
   */
  readonly sentTo: readonly string[]
}

/**
 * The `kbs-session-id` cookie of an answer's `Set-Cookie` headers, or `undefined` when none of
 * them sets it. Two headers that say different things of it (another value, another lifetime, a
 * deletion beside a value) are refused, not read as whichever came first or last: Trustee sets the
 * cookie once per answer.
 *
 * @param route the route answered, for messages (`/kbs/v0/auth`).
 * @param now the current time, ms since the epoch.
 * @param scope the KBS's host and the paths the cookie is sent to, for its `Domain` and `Path`.
 * @throws {@link MalformedInputError} `ERR_KBS_SESSION_COOKIE` for an ambiguous cookie, a value
 *   that is not a session id, a malformed or repeated `Max-Age` or `Expires`, a `Domain` that the
 *   KBS's host does not domain-match, a `Path` that does not cover `scope.sentTo`, either of
 *   them repeated, or `Secure` on a plain-http KBS URL.
 */
export function sessionCookieOf(
  response: HttpResponse,
  route: string,
  now: number,
  scope: SessionCookieScope,
): SessionCookieUpdate | undefined {
  const seen = new Map<string, SessionCookieUpdate>()
  const serverNow = parseCookieDate(response.headers.get('date') ?? '')
  // What the KBS's clock said when it answered, in this clock's terms (see the module's note).
  const clock = { now, skew: serverNow === undefined ? 0 : now - serverNow }
  for (const header of response.headers.getSetCookie()) {
    const [pair = '', ...attributes] = header.split(';')
    const at = pair.indexOf('=')
    if (at < 0 || pair.slice(0, at).trim() !== KBS_SESSION_COOKIE) continue
    const value = pair.slice(at + 1).trim()
    checkScope(attributes, route, scope)
    const expiresAt = expiryOf(attributes, route, clock)
    const update: SessionCookieUpdate =
      expiresAt !== undefined && expiresAt <= now
        ? { deleted: true }
        : { deleted: false, value, ...(expiresAt === undefined ? {} : { expiresAt }) }
    seen.set(JSON.stringify(update), update)
  }
  const [update] = seen.values()
  if (seen.size > 1)
    throw cookieError(
      `the KBS answered ${route} with ${String(seen.size)} different ${KBS_SESSION_COOKIE} cookies`,
    )
  if (update === undefined || update.deleted || COOKIE_VALUE.test(update.value)) return update
  throw cookieError(`the KBS answered ${route} without a usable ${KBS_SESSION_COOKIE} cookie`)
}

/** `ERR_KBS_SESSION_COOKIE` with `message` (and a `hint` of its own): the one form of that refusal. */
export function cookieError(
  message: string,
  hint = 'the server is not an RCAR 0.4.0 KBS, or a proxy drops, adds or rewrites cookies',
): MalformedInputError {
  return new MalformedInputError('ERR_KBS_SESSION_COOKIE', message, { hint })
}

/**
 * The cookie's `Domain` and `Path` attributes (the last of any name given twice is refused, not
 * taken), checked against `scope` by RFC 6265 §5.1.3, §5.1.4, §5.2.3, §5.2.4 and §5.3 step 6; and
 * its `Secure` attribute (§5.2.5, whatever its value), by §5.4 step 1.
 */
function checkScope(attributes: readonly string[], route: string, scope: SessionCookieScope): void {
  const given = new Map<'domain' | 'path', string>()
  for (const attribute of attributes) {
    const at = attribute.indexOf('=')
    const name = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase()
    if (name === 'secure' && scope.base.protocol !== 'https:') throw secureOverHttp(route, scope)
    if (name !== 'domain' && name !== 'path') continue
    if (given.has(name))
      throw cookieError(
        `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie that gives ${name === 'domain' ? 'Domain' : 'Path'} twice`,
      )
    given.set(name, at < 0 ? '' : attribute.slice(at + 1).trim())
  }
  const domain = given.get('domain') ?? ''
  if (domain !== '') {
    // §5.1.2: the canonical host; Node's hostname puts an IPv6 address in brackets.
    const host = scope.base.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
    const bare = domain.replace(/^\./, '')
    const wanted = isIP(bare) === 0 ? domainToASCII(bare) : bare.toLowerCase()
    if (wanted === '' || !domainMatches(host, wanted))
      throw cookieError(
        `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie for Domain ${shownValue(domain)}, which the KBS's host ${host} does not domain-match (RFC 6265 §5.3), so a client would not keep it for this KBS`,
        `give the client the KBS's URL by the host name the KBS sets its cookie for, or have the KBS set the cookie without Domain (as Trustee and this project's KBS do) or with that host name; a proxy in front of the KBS may be rewriting it`,
      )
  }
  const path = given.get('path') ?? ''
  const cookiePath = path.startsWith('/') ? path : defaultPath(scope.requestPath)
  const missed = scope.sentTo.filter((sent) => !pathMatches(sent, cookiePath))
  if (missed.length === 0) return
  const prefix = scope.base.pathname.replace(/\/$/, '')
  const pathShown = path.startsWith('/')
    ? `Path ${shownValue(path)}`
    : `${given.has('path') ? `Path ${shownValue(path)}, not starting with /, so` : 'no Path, so'} the default Path ${shownValue(cookiePath)}`
  throw cookieError(
    `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie for ${pathShown}, which does not cover ${missed.join(' or ')} (RFC 6265 §5.1.4 path-match), where this client must send it`,
    prefix === ''
      ? `have the KBS set the cookie for a Path that covers ${scope.base.pathname}kbs/v0 (this project's KBS sets Path=/kbs/v0), or without Path (as Trustee does); a proxy in front of the KBS may be rewriting it`
      : `the KBS is at the path prefix ${prefix} of its URL, so its cookie must cover ${prefix}/kbs/v0: have the proxy that serves it there rewrite the cookie's Path (nginx: proxy_cookie_path /kbs/v0 ${prefix}/kbs/v0), or have the KBS set the cookie without Path (as Trustee does)`,
  )
}

/** The refusal of a `Secure` cookie set on the answer to a plain-http KBS URL (§5.4 step 1). */
function secureOverHttp(route: string, scope: SessionCookieScope): MalformedInputError {
  return cookieError(
    `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie marked Secure, which a client sends only over https (RFC 6265 §5.4), but this client's KBS URL is plain http (${scope.base.href}), so it could not send it back to ${scope.sentTo.join(' or ')}`,
    `give the client the KBS's https:// URL: a KBS that marks its cookie Secure serves HTTPS, and a plain-http proxy in front of it would carry the cookie and token in clear text (terminate TLS at the proxy instead); a lab KBS served over plain http must not set Secure (this project's KBS with --insecure-http does not, nor does Trustee)`,
  )
}

/** A cookie attribute's value in a message: quoted, and cut short. */
function shownValue(value: string): string {
  return JSON.stringify(value.slice(0, 64))
}

/** RFC 6265 §5.1.3: `host` (canonical) domain-matches `domain` (lower case, no leading dot). */
function domainMatches(host: string, domain: string): boolean {
  return host === domain || (host.endsWith(`.${domain}`) && isIP(host) === 0)
}

/** RFC 6265 §5.1.4: the default Path, the directory of the request's path. */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf('/')
  return requestPath.startsWith('/') && last > 0 ? requestPath.slice(0, last) : '/'
}

/** RFC 6265 §5.1.4: whether the request path `sent` path-matches the cookie's `path`. */
function pathMatches(sent: string, path: string): boolean {
  return (
    sent === path || (sent.startsWith(path) && (path.endsWith('/') || sent[path.length] === '/'))
  )
}

/**
 * The expiry (ms since the epoch, this clock) that the cookie's attributes give, by RFC 6265 §5.3
 * step 3: `Max-Age` if present (≤ 0: the earliest time there is), else `Expires` moved by the
 * `skew` of this clock against the KBS's, else none.
 */
function expiryOf(
  attributes: readonly string[],
  route: string,
  { now, skew }: { readonly now: number; readonly skew: number },
): number | undefined {
  let maxAge: string | undefined
  let expires: string | undefined
  for (const attribute of attributes) {
    const at = attribute.indexOf('=')
    const name = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase()
    if (name !== 'max-age' && name !== 'expires') continue
    const value = at < 0 ? '' : attribute.slice(at + 1).trim()
    const shown = JSON.stringify(value.slice(0, 64))
    const named = name === 'max-age' ? 'Max-Age' : 'Expires'
    if ((name === 'max-age' ? maxAge : expires) !== undefined)
      throw cookieError(
        `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie that gives ${named} twice`,
      )
    if (name === 'max-age') maxAge = value
    else expires = value
    const malformed =
      name === 'max-age'
        ? !/^-?[0-9]+$/.test(value) && `a Max-Age of ${shown}, not a whole number of seconds`
        : parseCookieDate(value) === undefined &&
          `an Expires of ${shown}, not a date (as "Sun, 06 Nov 1994 08:49:37 GMT")`
    if (malformed !== false)
      throw cookieError(
        `the KBS answered ${route} with a ${KBS_SESSION_COOKIE} cookie that has ${malformed}, so its lifetime is unknown`,
      )
  }
  if (maxAge !== undefined) {
    const seconds = Number(maxAge)
    return seconds <= 0 ? Number.NEGATIVE_INFINITY : now + seconds * 1000
  }
  const expiresAt = expires === undefined ? undefined : parseCookieDate(expires)
  return expiresAt === undefined ? undefined : expiresAt + skew
}

/** RFC 6265 §5.1.1 delimiters between the tokens of a cookie date. */
// eslint-disable-next-line no-control-regex -- %x09 is one of the delimiters
const DATE_DELIMITERS = /[\u0009\u0020-\u002f\u003b-\u0040\u005b-\u0060\u007b-\u007e]+/
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/**
 * A cookie date (RFC 6265 §5.1.1: the IMF-fixdate Trustee and this project's KBS send, RFC 850's
 * and asctime's forms, and what else that algorithm reads) as ms since the epoch; `undefined` where
 * the algorithm fails to parse it (a missing or out-of-range field, a day the month does not have,
 * a year before 1601).
 */
export function parseCookieDate(text: string): number | undefined {
  let time: number[] | undefined
  let day: number | undefined
  let month: number | undefined
  let year: number | undefined
  for (const token of text.split(DATE_DELIMITERS)) {
    if (token === '') continue
    const hms = /^([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?$/s.exec(token)
    if (time === undefined && hms !== null) {
      time = [Number(hms[1]), Number(hms[2]), Number(hms[3])]
      continue
    }
    const dayOfMonth = /^([0-9]{1,2})(?:[^0-9].*)?$/s.exec(token)
    if (day === undefined && dayOfMonth !== null) {
      day = Number(dayOfMonth[1])
      continue
    }
    const monthAt = MONTHS.indexOf(token.slice(0, 3).toLowerCase())
    if (month === undefined && monthAt >= 0) {
      month = monthAt
      continue
    }
    const years = /^([0-9]{2,4})(?:[^0-9].*)?$/s.exec(token)
    if (year === undefined && years !== null) year = Number(years[1])
  }
  if (time === undefined || day === undefined || month === undefined || year === undefined)
    return undefined
  if (year >= 70 && year <= 99) year += 1900
  else if (year <= 69) year += 2000
  const [hour = 0, minute = 0, second = 0] = time
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59)
    return undefined
  const date = new Date(Date.UTC(year, month, day, hour, minute, second))
  // Date.UTC maps years 0–99 to 1900–1999; none is left here (year ≥ 1601).
  return date.getUTCDate() === day ? date.getTime() : undefined
}
