/**
 * The `fetch` of the one HTTP client: https with the certificate always verified, against Node's
 * built-in roots (and `NODE_EXTRA_CA_CERTS`), or against per-client trust: only the given CA
 * certificates, or only one exact server certificate (pinning).
 *
 * Node's global `fetch` takes no TLS options, so this `fetch` runs over `node:https` with a
 * keep-alive agent of its own that carries them. (The `undici` package would give an `Agent` for
 * fetch, but importing it replaces the process's global dispatcher, changing every other `fetch`
 * in the process.) `rejectUnauthorized` is set, so not even `NODE_TLS_REJECT_UNAUTHORIZED=0` in
 * the environment turns verification off, as it would for the global `fetch`:
 *
 * - neither option: Node's built-in roots, and the name must match the URL's host;
 * - `caPem` only: the server's chain must lead to one of these certificates, and its name must
 *   match the URL's host (Node's usual check);
 * - `pinnedCertificatePem`: the server must present exactly this certificate (DER-equal, hence the
 *   same SPKI). The chain must still verify, so the pinned certificate is added to the trust
 *   anchors: a self-signed one (what `initguard kbs serve` generates) needs nothing else; one
 *   issued by a CA needs that CA in `caPem` too. The host name is not compared: the exact
 *   certificate identifies the server more narrowly than any name in it, and a generated KBS
 *   certificate cannot know every name or address a guest reaches it by.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import { Agent as PlainAgent, request as plainRequest, type IncomingMessage } from 'node:http'
import { Agent, request } from 'node:https'
import { Readable } from 'node:stream'
import type { PeerCertificate } from 'node:tls'
import { MalformedInputError, pemCertificates } from '@initguard/core'
import { PINNED_CERTIFICATE_MISMATCH } from './network-failure.ts'

/** Whom to trust for https, in place of Node's built-in roots. */
export interface HttpTlsOptions {
  /** PEM certificates (one or more) the server's chain must lead to. */
  readonly caPem?: string
  /** The PEM certificate the server must present, exactly. */
  readonly pinnedCertificatePem?: string
}

function sha256Fingerprint(der: Uint8Array): string {
  return new X509Certificate(der).fingerprint256
}

/** The `checkServerIdentity` of a pinned connection: the exact certificate, or an error. */
function pinCheck(pinned: X509Certificate) {
  return (_host: string, presented: PeerCertificate): Error | undefined => {
    if (Buffer.compare(presented.raw, pinned.raw) === 0) return undefined
    const error = new Error(
      `the server presented the certificate with SHA-256 fingerprint ${sha256Fingerprint(presented.raw)}, not the pinned one (${pinned.fingerprint256})`,
    )
    Object.assign(error, { code: PINNED_CERTIFICATE_MISMATCH })
    return error
  }
}

/**
 * A `fetch` whose https connections trust exactly `options` (see the module comment); with
 * neither option, Node's built-in roots. Verified in every case.
 *
 * @throws {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` for PEM that holds no
 *   certificate or one that does not parse.
 */
export function tlsFetch(options: HttpTlsOptions): typeof fetch {
  const pinned =
    options.pinnedCertificatePem === undefined
      ? undefined
      : pemCertificates(options.pinnedCertificatePem, 'pinned certificate')
  if (pinned !== undefined && pinned.length !== 1)
    throw new MalformedInputError(
      'ERR_TLS_CERTIFICATE_INVALID',
      `the pinned certificate must be one certificate, not ${pinned.length}`,
      { details: { field: 'pinned certificate' }, hint: 'give only the server certificate' },
    )
  const authorities =
    options.caPem === undefined ? [] : pemCertificates(options.caPem, 'CA certificate')
  const anchors = [...(pinned ?? []), ...authorities].map((c) => c.toString())
  const agent = new Agent({
    keepAlive: true,
    // Explicit: left out, Node takes it from NODE_TLS_REJECT_UNAUTHORIZED at every connection, and
    // `=0` there would let any server through, pin and CA bundle included.
    rejectUnauthorized: true,
    ...(anchors.length === 0 ? {} : { ca: anchors }),
    ...(pinned?.[0] === undefined ? {} : { checkServerIdentity: pinCheck(pinned[0]) }),
  })
  const plain = new PlainAgent({ keepAlive: true })
  return (input, init) => httpsFetch({ https: agent, http: plain }, input, init)
}

/** The cause's code when a server answers with a status outside 200–599. */
const INVALID_STATUS = 'ERR_HTTP_STATUS_INVALID'

/** The cause's code when a server codes the body (gzip, …) though asked for identity. */
const CONTENT_CODED = 'ERR_HTTP_CONTENT_ENCODING'

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NO_BODY = new Set([204, 205, 304])

/**
 * `fetch` over `node:https` (or `node:http` for a plain URL the client allowed) through the
 * agents, for what {@link HttpClient} sends: a URL, a method, headers, a `Uint8Array` body or
 * none, a signal; redirects are the client's (never followed here). Failures look as they do from
 * `fetch`: `TypeError('fetch failed')` with the cause, or the signal's reason when it aborted.
 */
function httpsFetch(
  agents: { readonly https: Agent; readonly http: PlainAgent },
  input: Parameters<typeof fetch>[0],
  init: Parameters<typeof fetch>[1],
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const body = init?.body
    if (body !== undefined && body !== null && !(body instanceof Uint8Array)) {
      reject(new TypeError('the TLS fetch sends Uint8Array bodies only'))
      return
    }
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value
    })
    // As fetch does for a request that names no Accept (some gateways answer 406 to none).
    headers['accept'] ??= '*/*'
    // Bodies are read as sent, never decoded: say so (the global fetch offered gzip and deflate
    // and decoded them; a digest or a signature is over the bytes as the server has them).
    headers['accept-encoding'] ??= 'identity'
    const signal = init?.signal ?? undefined
    const options = { method: init?.method ?? 'GET', headers, ...(signal ? { signal } : {}) }
    const respond = (incoming: IncomingMessage): void => {
      const status = incoming.statusCode ?? 0
      // A final status fetch cannot represent (101 without an upgrade, 600–999): the Response
      // constructor would throw inside this event handler, an uncaught exception that ends the
      // process. It fails like a broken connection instead.
      if (!(status >= 200 && status <= 599)) {
        incoming.destroy()
        const cause = Object.assign(
          new Error(`the server answered with status ${status}, not a final HTTP status (200–599)`),
          { code: INVALID_STATUS },
        )
        reject(new TypeError('fetch failed', { cause }))
        return
      }
      // A server that codes the body all the same would hand the caller bytes that are not the
      // resource: a registry blob would fail its digest as if tampered with. Refused as a broken
      // answer instead.
      const coding = incoming.headers['content-encoding']?.trim().toLowerCase() ?? 'identity'
      const empty = NO_BODY.has(status) || init?.method === 'HEAD'
      if (coding !== 'identity' && coding !== '' && !empty) {
        incoming.destroy()
        const cause = Object.assign(
          new Error(
            `the server sent the body with Content-Encoding ${JSON.stringify(coding)}, though asked for identity (uncoded)`,
          ),
          { code: CONTENT_CODED },
        )
        reject(new TypeError('fetch failed', { cause }))
        return
      }
      const responseHeaders = new Headers()
      for (const [name, value] of Object.entries(incoming.headers))
        for (const one of [value ?? []].flat()) responseHeaders.append(name, one)
      // As fetch does: a signal that fires while the body streams errors it with its reason.
      signal?.addEventListener(
        'abort',
        () => {
          incoming.destroy(signal.reason instanceof Error ? signal.reason : undefined)
        },
        { once: true },
      )
      if (empty) incoming.resume()
      resolve(
        new Response(empty ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), {
          status,
          headers: responseHeaders,
        }),
      )
    }
    const outgoing =
      url.protocol === 'http:'
        ? plainRequest(url, { ...options, agent: agents.http }, respond)
        : request(url, { ...options, agent: agents.https }, respond)
    outgoing.on('error', (error) => {
      // fetch rejects with the signal's reason, whatever it is (the client's timers give Errors).
      const reason: unknown = signal?.aborted === true ? signal.reason : undefined
      reject(
        reason instanceof Error
          ? reason
          : new TypeError('fetch failed', { cause: reason ?? error }),
      )
    })
    outgoing.end(body ?? undefined)
  })
}
