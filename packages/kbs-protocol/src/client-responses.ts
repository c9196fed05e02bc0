/**
 * What the KBS client reads from responses: JSON bodies within a limit, and error responses
 * (`{type, detail}`) as coded errors carrying status, type and detail. The session cookie is read
 * in `client-session-cookie.ts`.
 *
 * @module
 */
import {
  ExpectationError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
  isInitguardError,
  parseStrictJsonValue,
  utf8ToString,
  type InitguardError,
  type InitguardErrorOptions,
} from '@initguard/core'
import { isRedirectStatus, redactUrl, type HttpResponse } from '@initguard/http'
import { messageError } from './message-fields.ts'
import { KBS_PROTOCOL_VERSION } from './messages.ts'
import { parseKbsErrorBody } from './message-parse.ts'

/** Largest error body read. */
const MAX_ERROR_BODY = 16 * 1024
/** Longest server detail repeated in a message. */
const MAX_DETAIL_SHOWN = 500

/** The error class and code per status a KBS answers with. */
const BY_STATUS: Readonly<
  Record<
    number,
    readonly [
      new (c: `ERR_${string}`, m: string, o: InitguardErrorOptions) => InitguardError,
      `ERR_${string}`,
      string,
    ]
  >
> = {
  400: [MalformedInputError, 'ERR_KBS_BAD_REQUEST', 'the KBS found the request malformed'],
  401: [
    VerificationError,
    'ERR_KBS_UNAUTHORIZED',
    'the KBS did not accept the attestation or token',
  ],
  403: [ExpectationError, 'ERR_KBS_FORBIDDEN', 'the KBS policy denies this'],
  404: [ExpectationError, 'ERR_KBS_NOT_FOUND', 'the KBS has no such resource'],
  413: [MalformedInputError, 'ERR_KBS_TOO_LARGE', 'the KBS found the request too large'],
}

/** Printable text of a server's detail, cut short: it is repeated to people, never trusted. */
function shown(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const printable = text.replace(/[\u0000-\u001f\u007f]/g, ' ')
  return printable.length > MAX_DETAIL_SHOWN
    ? `${printable.slice(0, MAX_DETAIL_SHOWN)}…`
    : printable
}

/** ` to <Location>` (credentials redacted, cut short), or nothing when there is none to show. */
function locationShown(response: HttpResponse): string {
  const location = response.headers.get('location')
  if (location === null) return ''
  let target: URL
  try {
    target = new URL(location, response.url)
  } catch {
    return ''
  }
  return ` to ${shown(redactUrl(target)).slice(0, 200)}`
}

/**
 * Whether an error answer to `/auth` says the KBS wants another protocol version than
 * {@link KBS_PROTOCOL_VERSION}: Trustee answers 401 `AttestationError` "… KBS Client Protocol
 * Version Mismatch: expect =0.4.0 while the request is …" (`kbs/src/attestation/backend.rs`), this
 * project's KBS 400 `AttestationError` "protocol version "…" is not supported: …"
 * (`packages/kbs/src/server/rcar-routes.ts`). Only the detail's words tell it from any other
 * refusal of the same status and type, so they are matched word for word, and on `/auth` alone: it is
 * the one request that carries the version.
 */
function isVersionRefusal(status: number, variant: string, detail: string): boolean {
  return (
    variant === 'AttestationError' &&
    ((status === 401 && detail.includes('KBS Client Protocol Version Mismatch')) ||
      (status === 400 && /^protocol version "[^"]*" is not supported: /.test(detail)))
  )
}

/**
 * The coded error for a non-200 response from the KBS, reading its `{type, detail}` body when it
 * has one: `details` carries `status`, `type` and `detail` (empty when the body is not one). On
 * `/kbs/v0/auth` (`route`), a refusal of the protocol version is `ERR_KBS_PROTOCOL_VERSION`, not
 * `ERR_KBS_UNAUTHORIZED` or `ERR_KBS_BAD_REQUEST`: no attestation was refused, and asking again
 * cannot help.
 */
export async function kbsResponseError(
  response: HttpResponse,
  what: string,
  route: string,
): Promise<InitguardError> {
  const { bytes } = await response.peek(MAX_ERROR_BODY)
  let body = { type: '', detail: '' }
  try {
    body = parseKbsErrorBody(JSON.parse(new TextDecoder().decode(bytes)))
  } catch {
    // Not a KBS error body (a proxy's page, say): the status alone is reported.
  }
  // The statuses the HTTP client calls redirects; a 304 or 300 is an unexpected status.
  const redirect = isRedirectStatus(response.status)
  const [ErrorClass, code, meaning] =
    BY_STATUS[response.status] ??
    (redirect
      ? [
          UnavailableError,
          // As the HTTP client names a redirect of a GET it refuses to follow.
          'ERR_KBS_REDIRECT',
          `the KBS redirects${locationShown(response)}, and this client follows no redirects`,
        ]
      : [UnavailableError, 'ERR_KBS_STATUS', `the KBS answered HTTP ${response.status}`])
  // Printable and cut short like the detail: a type of "…/Policy\r\n[INFO] granted" put a forged
  // line into the message and the logs that repeat it.
  const type = shown(body.type)
  const variant = (type.split('/').at(-1) ?? '').slice(0, 64)
  const told = `(HTTP ${response.status}${variant === '' ? '' : ` ${variant}`})${body.detail === '' ? '' : `: ${shown(body.detail)}`}`
  if (route === '/kbs/v0/auth' && isVersionRefusal(response.status, variant, body.detail))
    return new ExpectationError(
      'ERR_KBS_PROTOCOL_VERSION',
      `cannot ${what}: the KBS does not accept this client's protocol version, RCAR ${KBS_PROTOCOL_VERSION} ${told}`,
      {
        details: { status: response.status, type, detail: shown(body.detail) },
        hint: `this client speaks RCAR ${KBS_PROTOCOL_VERSION} only and the KBS wants another version (its detail names it); use a KBS that accepts ${KBS_PROTOCOL_VERSION} (Trustee's KBS of August 2026 requires exactly it), or a client of the version the KBS speaks`,
      },
    )
  const message = `cannot ${what}: ${meaning} ${told}`
  return new ErrorClass(code, message, {
    details: { status: response.status, type, detail: shown(body.detail) },
    hint:
      response.status === 401 || response.status === 403
        ? 'check that a workload on the KBS accepts this TEE, its measurements and its init-data'
        : redirect
          ? "give the KBS's own URL (the one it answers at without a redirect)"
          : response.status < 300
            ? 'a KBS grants a request with 200 only; check for a proxy between the guest and the KBS'
            : 'see the detail from the KBS',
  })
}

/**
 * `ERR_KBS_CONTENT_TYPE` unless the answer says it is JSON: `application/json` (case-insensitive,
 * RFC 9110 §8.3.1), with no charset but UTF-8. Trustee answers `/auth` with actix's `.json()`,
 * `/attest` and an encrypted resource with `content_type("application/json")`; this project's KBS
 * with `application/json; charset=utf-8` on all three (`packages/kbs`, client-answers.test.ts). Anything else on a 200 is
 * not the KBS's answer: a proxy's or portal's HTML page, or Trustee's `text/xml` for a plugin
 * answer it did not encrypt, which is no resource JWE.
 *
 * A missing Content-Type is refused too (fail closed): neither KBS ever omits it on these
 * answers, so one without it came from something else, and RFC 9110 §8.3 leaves its recipient to
 * assume `application/octet-stream`, not JSON. Error answers (not 200) are not checked: Trustee
 * sends its `{type, detail}` bodies without a Content-Type, and they are read only to report.
 */
function checkJsonContentType(response: HttpResponse, route: string): void {
  const type = response.headers.get('content-type')
  if (type !== null) {
    const [media = '', ...parameters] = type.split(';')
    const charsets = parameters
      .map((p) => p.trim().toLowerCase())
      .filter((p) => p.startsWith('charset='))
      .map((p) => p.slice('charset='.length).replace(/^"(.*)"$/, '$1'))
    if (media.trim().toLowerCase() === 'application/json' && charsets.every((c) => c === 'utf-8'))
      return
  }
  throw new MalformedInputError(
    'ERR_KBS_CONTENT_TYPE',
    type === null
      ? `the KBS answered ${route} without a Content-Type, where a KBS says application/json`
      : `the KBS answered ${route} with Content-Type ${shown(type).slice(0, 100)}, not application/json`,
    {
      details: { route, contentType: type === null ? '' : shown(type).slice(0, 100) },
      hint: 'something other than the KBS answered (a proxy, a login or error page, another service at this URL), or the KBS served a plugin answer it does not encrypt; check the KBS URL and what stands between the guest and the KBS',
    },
  )
}

/**
 * The body as JSON within `maxBytes`, after its Content-Type is checked (`ERR_KBS_CONTENT_TYPE`,
 * naming `route`), or `ERR_KBS_MESSAGE_INVALID`: strictly UTF-8 (no byte order mark, no byte
 * replaced by U+FFFD) and no key repeated in one object. `JSON.parse` of leniently decoded text
 * read `{"nonce":"a","nonce":"b"}` as nonce `b` and a Latin-1 byte as U+FFFD, so the client bound,
 * sent back and decrypted with a value the KBS never sent as such; Trustee's serde never produces
 * either, and guest-components' serde structs refuse a repeated field.
 */
export async function jsonBody(
  response: HttpResponse,
  maxBytes: number,
  route: string,
): Promise<unknown> {
  checkJsonContentType(response, route)
  const bytes = await response.bytes({ maxBytes })
  let text: string
  try {
    text = utf8ToString(bytes)
  } catch {
    throw messageError('$', 'is not UTF-8 text')
  }
  try {
    return parseStrictJsonValue(text, {
      what: 'the KBS answer',
      syntaxCode: 'ERR_KBS_MESSAGE_INVALID',
      duplicateKeyCode: 'ERR_KBS_MESSAGE_DUPLICATE_KEY',
      tooDeepCode: 'ERR_KBS_MESSAGE_TOO_DEEP',
    })
  } catch (error) {
    if (!isInitguardError(error)) throw error
    const field = error.details['field']
    const at = typeof field === 'string' ? `$.${field}` : '$'
    if (error.code === 'ERR_KBS_MESSAGE_DUPLICATE_KEY')
      throw messageError(at, 'is named more than once in one object')
    if (error.code === 'ERR_KBS_MESSAGE_TOO_DEEP')
      throw messageError('$', 'nests deeper than any KBS answer does')
    throw messageError(
      '$',
      `is not JSON${text.startsWith('\ufeff') ? ' (it starts with a byte order mark)' : ''}`,
    )
  }
}

/** One segment of a resource path as Trustee's `ResourceDesc` allows it. */
const RESOURCE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/

/**
 * `repo/type/tag` (a leading `/` allowed, as in `kbs:///repo/type/tag`) checked segment by
 * segment; the URL path under `/kbs/v0/resource/`.
 */
export function resourcePath(path: string): string {
  const segments = path.replace(/^\//, '').split('/')
  if (segments.length !== 3 || !segments.every((s) => RESOURCE_SEGMENT.test(s)))
    throw new UsageError(
      'ERR_KBS_RESOURCE_PATH',
      `${JSON.stringify(path.slice(0, 200))} is not a resource path`,
      {
        hint: 'give repo/type/tag, each of letters, digits, _ - . (not starting with .)',
      },
    )
  return segments.join('/')
}
