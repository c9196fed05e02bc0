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

/**
 * A server's `clientError` handler: a request Node cannot parse (a bad header, a bad request
 * line) gets a 400 with the marks and a JSON body, then the connection is closed.
 */
export function guestApiClientError(
  marks: Readonly<Record<string, string>>,
  unboundMember: object | undefined,
): (error: Error, socket: Duplex) => void {
  const body = JSON.stringify({
    code: 'ERR_AGENT_REQUEST',
    message: 'malformed request',
    hint: 'see the guest API paths',
    status: 400,
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
  const response = `HTTP/1.1 400 Bad Request\r\n${head}\r\n${body}`
  return (error, socket) => {
    // A connection reset or a timeout has nobody to answer.
    const code = (error as { code?: unknown }).code
    if (!socket.writable || code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    socket.end(response)
  }
}
