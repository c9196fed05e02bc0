/**
 * What the KBS client reads from responses: the session cookie of `/auth`, JSON bodies within a
 * limit, and error responses (`{type, detail}`) as coded errors carrying status, type and detail.
 *
 * @module
 */
import {
  ExpectationError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
  type InitguardError,
  type InitguardErrorOptions,
} from '@initguard/core'
import type { HttpResponse } from '@initguard/http'
import { KBS_SESSION_COOKIE } from './messages.ts'
import { messageError } from './message-fields.ts'
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

/**
 * The coded error for a non-2xx response from the KBS, reading its `{type, detail}` body when it
 * has one: `details` carries `status`, `type` and `detail` (empty when the body is not one).
 */
export async function kbsResponseError(
  response: HttpResponse,
  what: string,
): Promise<InitguardError> {
  const { bytes } = await response.peek(MAX_ERROR_BODY)
  let body = { type: '', detail: '' }
  try {
    body = parseKbsErrorBody(JSON.parse(new TextDecoder().decode(bytes)))
  } catch {
    // Not a KBS error body (a proxy's page, say): the status alone is reported.
  }
  const [ErrorClass, code, meaning] = BY_STATUS[response.status] ?? [
    UnavailableError,
    'ERR_KBS_STATUS',
    `the KBS answered HTTP ${response.status}`,
  ]
  const variant = body.type.split('/').at(-1) ?? ''
  const message = `cannot ${what}: ${meaning} (HTTP ${response.status}${variant === '' ? '' : ` ${variant}`})${body.detail === '' ? '' : `: ${shown(body.detail)}`}`
  return new ErrorClass(code, message, {
    details: { status: response.status, type: body.type, detail: shown(body.detail) },
    hint:
      response.status === 401 || response.status === 403
        ? 'check that a workload on the KBS accepts this TEE, its measurements and its init-data'
        : 'see the detail from the KBS',
  })
}

/** The body as JSON within `maxBytes`, or `ERR_KBS_MESSAGE_INVALID`. */
export async function jsonBody(response: HttpResponse, maxBytes: number): Promise<unknown> {
  const text = await response.text({ maxBytes })
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw messageError('$', 'is not JSON')
  }
}

const COOKIE_VALUE = /^[A-Za-z0-9._~+/=-]{1,256}$/

/** The `kbs-session-id` value of the `/auth` response's Set-Cookie headers. */
export function sessionCookie(response: HttpResponse): string {
  for (const header of response.headers.getSetCookie()) {
    const [pair = ''] = header.split(';')
    const at = pair.indexOf('=')
    if (pair.slice(0, at).trim() !== KBS_SESSION_COOKIE) continue
    const value = pair.slice(at + 1).trim()
    if (COOKIE_VALUE.test(value)) return value
  }
  throw new MalformedInputError(
    'ERR_KBS_SESSION_COOKIE',
    `the KBS answered /auth without a usable ${KBS_SESSION_COOKIE} cookie`,
    { hint: 'the server is not an RCAR 0.4.0 KBS, or a proxy drops its cookies' },
  )
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
