/**
 * A `fetch` for {@link HttpClient}'s `fetch` option that trusts exactly the given CA certificates
 * (PEM) instead of the system's: for a server whose certificate the user holds (the KBS's
 * generated self-signed certificate, `initguard kbs admin --ca FILE`). Global `fetch` cannot take
 * a CA without undici, which is not a dependency.
 *
 * @module
 */
import { request } from 'node:https'
import { Readable } from 'node:stream'

/** A `fetch` over `node:https` that trusts only `caPem`. Bodies are `Uint8Array` or absent. */
export function fetchTrustingCa(caPem: string): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      const headers: Record<string, string> = {}
      new Headers(init?.headers).forEach((value, name) => {
        headers[name] = value
      })
      const body = init?.body
      if (body !== undefined && body !== null && !(body instanceof Uint8Array)) {
        reject(new TypeError('fetchTrustingCa sends Uint8Array bodies only'))
        return
      }
      const outgoing = request(
        url,
        {
          method: init?.method ?? 'GET',
          headers,
          ca: caPem,
          ...(init?.signal ? { signal: init.signal } : {}),
        },
        (incoming) => {
          const responseHeaders = new Headers()
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const one of [value ?? []].flat()) responseHeaders.append(name, one)
          }
          const status = incoming.statusCode ?? 500
          const noBody = status === 204 || status === 304 || init?.method === 'HEAD'
          resolve(
            new Response(noBody ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), {
              status,
              headers: responseHeaders,
            }),
          )
        },
      )
      outgoing.on('error', reject)
      outgoing.end(body ?? undefined)
    })
}
