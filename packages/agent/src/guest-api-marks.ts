/**
 * What every guest API response carries, whoever answers it (a route, Fastify's own refusal of a
 * bad URL, or Node's refusal of a malformed request):
 *
 * ```text
 * Cache-Control: no-store
 * Initguard-Initdata: unbound; reason="…"     when the agent runs unbound
 * Initguard-Tee: simulated                    on the TEE simulator
 * ```
 *
 * and, for a request Node could not parse at all, the raw 400 written on the socket.
 *
 * @module
 */
import type { Duplex } from 'node:stream'
import type { GuestTee } from '@initguard/tee'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** The header that says the agent runs unbound (and why). */
export const UNBOUND_HEADER = 'initguard-initdata'
/** The header that says the TEE is the simulator. */
export const SIMULATED_HEADER = 'initguard-tee'

/** Printable ASCII for a header's quoted string. */
export const headerText = (text: string): string =>
  text.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, 200)

/** The headers every response of this agent carries (see the module comment). */
export function guestApiMarks(state: {
  readonly initdata: VerifiedInitdata | UnboundInitdata
  readonly tee: GuestTee
}): Readonly<Record<string, string>> {
  return {
    'cache-control': 'no-store',
    ...('unbound' in state.initdata
      ? { [UNBOUND_HEADER]: `unbound; reason="${headerText(state.initdata.reason)}"` }
      : {}),
    ...(state.tee.simulated ? { [SIMULATED_HEADER]: 'simulated' } : {}),
  }
}

/** What a request Node could not parse is told: its status, reason phrase, code and message. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string, string]>> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'ERR_AGENT_HEADERS_TOO_LARGE',
    'the request line and headers are too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'ERR_AGENT_REQUEST_TIMEOUT',
    'the request did not arrive in time',
  ],
}
const MALFORMED = [400, 'Bad Request', 'ERR_AGENT_REQUEST', 'malformed request'] as const

/**
 * A server's `clientError` handler: a request Node cannot parse gets a JSON body with the marks,
 * then the connection is closed: 431 for headers over the limit, 408 for a request over its
 * deadline, 400 for anything else (a bad header, a bad request line).
 */
export function guestApiClientError(
  marks: Readonly<Record<string, string>>,
  unboundMember: object | undefined,
): (error: Error, socket: Duplex) => void {
  const responses = new Map(
    [...Object.entries(CLIENT_ERRORS), ['', MALFORMED] as const].map(
      ([key, [status, reason, code, message]]) => {
        const body = JSON.stringify({
          code,
          message,
          hint: 'see the guest API paths',
          status,
          ...(unboundMember === undefined ? {} : { 'initguard-initdata': unboundMember }),
        })
        const head = Object.entries({
          ...marks,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          connection: 'close',
        })
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')
        return [key, `HTTP/1.1 ${String(status)} ${reason}\r\n${head}\r\n${body}`] as const
      },
    ),
  )
  return (error, socket) => {
    // A connection reset or a closed socket has nobody to answer.
    const code = (error as { code?: unknown }).code
    if (!socket.writable || code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    socket.end(responses.get(typeof code === 'string' ? code : '') ?? responses.get(''))
  }
}
