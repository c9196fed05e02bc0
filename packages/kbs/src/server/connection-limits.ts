/**
 * Bounds on the KBS's connections, so a client that opens many and sends nothing (or sends a byte
 * now and then) cannot hold the server's memory or its sockets:
 *
 * - at most `limits.max-connections` open in all (Node's `server.maxConnections`: a connection
 *   over it is closed at once), and at most `limits.max-connections-per-client` from one client
 *   address (counted as the rate limits count: an IPv4 address or an IPv6 /64), closed at once
 *   too, before any TLS work is spent on it;
 * - the TLS handshake, then the request's headers, each within `limits.headers-timeout`; the
 *   whole request within `limits.request-timeout`; an idle keep-alive connection closed after
 *   `limits.keep-alive-timeout`. Node checks the header and request deadlines on a timer, here
 *   every quarter of the shorter one, so a short deadline is kept closely.
 *
 * A request Node cannot parse gets Trustee's error shape: 431 for headers over
 * `limits.max-header-size`, 408 for a request over a deadline, 400 for anything else; then the
 * connection is closed, lingering: what the client still sends is read and dropped for at most
 * {@link LINGER_MS}, because closing a socket with unread data makes the kernel send a reset, and
 * a reset makes the client's kernel drop the answer it has not read yet (RFC 9112 §9.6). After a
 * refused body (413) too. At most {@link LINGER_MAX_BYTES} are read so, after either.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http'
import type { Server, Socket } from 'node:net'
import type { Duplex, Readable } from 'node:stream'
import type { KbsServerConfig } from './config.ts'
import { problem, problemBody, type KbsProblem } from './errors.ts'
import { rateLimitKey } from './rate-limit-key.ts'

/** The Node server options these limits set (for `https.createServer` / `http.createServer`). */
export function nodeServerLimits(config: KbsServerConfig): {
  readonly maxHeaderSize: number
  readonly connectionsCheckingInterval: number
} {
  const { headersMs, requestMs } = config.timeouts
  return {
    maxHeaderSize: config.maxHeaderBytes,
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(30_000, Math.floor(Math.min(headersMs, requestMs) / 4)),
    ),
  }
}

/** Count connections per client on `server` and close those over the caps; `refused` is told. */
export function limitConnections(
  server: Server,
  limits: KbsServerConfig['connections'],
  refused: (why: 'total' | 'per-client') => void,
): void {
  server.maxConnections = limits.max
  server.on('drop', () => {
    refused('total')
  })
  const open = new Map<string, number>()
  server.on('connection', (socket: Duplex & { remoteAddress?: string }) => {
    const key = rateLimitKey(socket.remoteAddress ?? '')
    const count = (open.get(key) ?? 0) + 1
    if (count > limits.perClient) {
      refused('per-client')
      socket.destroy()
      return
    }
    open.set(key, count)
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1
      if (left === 0) open.delete(key)
      else open.set(key, left)
    })
  })
}

const CLIENT_ERRORS: Readonly<Record<string, KbsProblem>> = {
  HPE_HEADER_OVERFLOW: problem(
    431,
    'RequestHeaderFieldsTooLarge',
    'the request line and headers are larger than the KBS accepts (the server limit is limits.max-header-size)',
  ),
  ERR_HTTP_REQUEST_TIMEOUT: problem(
    408,
    'RequestTimeout',
    'the request did not arrive in time (the server limits are limits.headers-timeout and limits.request-timeout)',
  ),
}
const MALFORMED = problem(400, 'SerdeError', 'the request is malformed (HTTP framing)')
const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
}

/** How long a connection answered with an error goes on being read (and dropped) before it closes. */
export const LINGER_MS = 2000

/**
 * How much of what a client still sends after its answer is read and dropped before the
 * connection is closed anyway: 1 MiB. A client that reads its answer stops sending soon after it
 * arrives (the route tests' uploader sends 256 KiB more, a quarter of the cap, and is not reset);
 * one that has sent a mebibyte past it is not reading, so a reset takes nothing from it. Without
 * the cap, each refusal had the KBS read (over TLS, decrypt) up to {@link LINGER_MS} of upload at
 * the link's speed: gigabytes on a fast link.
 */
export const LINGER_MAX_BYTES: number = 1024 * 1024

/**
 * Read and drop what `source` still delivers, closing `socket` once more than
 * {@link LINGER_MAX_BYTES} have been read off the wire or {@link LINGER_MS} has passed, whichever
 * is first; the caller ends the socket. The bytes are counted on the connection, not in what
 * `source` delivers: after a 413 the source is the request's body, and chunk framing and chunk
 * extensions never reach it (1-byte chunks with 4 KB extensions had the KBS read almost a
 * gigabyte in the 2 s while 243 KB of body was counted). Over TLS they are counted on the TCP
 * socket under it (Node's `_parent`), since a TLS socket's `bytesRead` counts decrypted bytes
 * only and small or padded records cost the KBS many wire bytes for each. The count is checked as
 * the source delivers and on a short timer, since a client can send bytes that deliver nothing.
 */
function lingerOn(socket: Duplex, source: Readable): void {
  if (socket.destroyed) return
  const wire = wireOf(socket)
  const readBefore = wire.bytesRead ?? 0
  const overCap = (): void => {
    if ((wire.bytesRead ?? 0) - readBefore > LINGER_MAX_BYTES) socket.destroy()
  }
  const linger = setTimeout(() => socket.destroy(), LINGER_MS)
  linger.unref()
  const check = setInterval(overCap, LINGER_CHECK_MS)
  check.unref()
  socket.once('close', () => {
    clearTimeout(linger)
    clearInterval(check)
  })
  source.on('data', overCap)
  source.resume()
}

interface CountedSocket {
  readonly bytesRead?: number
  /** The TCP socket a TLS socket wraps (set by Node's `tls`; undocumented, so optional here). */
  readonly _parent?: CountedSocket | null
}

/** The socket whose `bytesRead` counts what came off the wire: the TCP one under TLS. */
function wireOf(socket: Duplex): CountedSocket {
  const counted = socket as Duplex & CountedSocket
  return counted._parent ?? counted
}

/** How often a lingering connection's byte count is checked between deliveries. */
const LINGER_CHECK_MS = 25

/**
 * The sockets {@link kbsClientErrorHandler} has answered. Node's parser stays on the socket after
 * its error, so every later chunk the client sends raises `clientError` again; such a call must
 * leave the lingering close alone. It used to destroy the socket (no longer writable), with the
 * client's bytes unread: the kernel sent a reset, and the client lost the answer it had not read.
 */
const answered = new WeakSet<Duplex>()

/** Fastify's `clientErrorHandler`: the answer to a request Node could not parse (see above). */
export function kbsClientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (answered.has(socket)) return
  // Only an HTTP parser's error has an HTTP client to answer. A TLS error (a handshake that timed
  // out or failed) has none, and a write there would wait for a handshake that never comes, so
  // the connection would stay open; a reset or closed connection has nobody to tell.
  const http = error.code?.startsWith('HPE_') === true || error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
  if (!http || socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  answered.add(socket)
  const answer = (error.code === undefined ? undefined : CLIENT_ERRORS[error.code]) ?? MALFORMED
  const body = JSON.stringify(problemBody(answer))
  socket.end(
    `HTTP/1.1 ${String(answer.status)} ${REASONS[answer.status] ?? 'Error'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${String(Buffer.byteLength(body))}\r\nconnection: close\r\n\r\n${body}`,
  )
  // Lingering close: drain and drop until the client closes too, for at most LINGER_MS and
  // LINGER_MAX_BYTES.
  lingerOn(socket, socket)
}

/**
 * Make the close that follows an answer to a request whose body was not read to its end (a body
 * over `limits.body`, refused as soon as the limit is passed) a lingering one. Fastify answers such
 * a request with `connection: close` and Node then calls `socket.destroySoon()`: end, and destroy
 * as soon as the answer is handed to the kernel. The client is still sending the rest of its body,
 * so the socket is closed with unread data; the kernel then sends a reset at once and drops what
 * it has not yet sent — the 413 itself — so the client saw the connection cut with no answer
 * (a few runs in a hundred). Here the answer is ended (TLS close_notify and FIN after it) and what
 * the client still sends is read and dropped until it closes too, for at most {@link LINGER_MS}
 * and {@link LINGER_MAX_BYTES} read off the wire (counted once the answer is handed over).
 */
export function lingerAfterAnswer(request: IncomingMessage): void {
  const socket: Socket = request.socket
  if (request.complete || socket.destroyed) return
  socket.destroySoon = (): void => {
    lingerOn(socket, request)
    socket.end()
  }
  // Drop the rest of the body as it comes, so the parser keeps reading the socket.
  request.on('data', () => undefined)
  request.resume()
}
