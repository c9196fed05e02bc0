import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import {
  LINGER_MAX_BYTES,
  LINGER_MS,
  kbsClientErrorHandler,
  lingerAfterAnswer,
} from './connection-limits.ts'
import { generateSelfSignedTls } from './tls-identity.ts'

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

interface Linger {
  readonly answer: string
  /** Milliseconds from the answer's first byte to the close. */
  readonly closedAfterMs: number
  /** What the server read off the socket in all. */
  readonly serverBytesRead: number
}

/**
 * A server answering 413 before it reads the body (as the KBS does past `limits.body`), or none
 * (`refuse: false`: the request is left to `kbsClientErrorHandler`), and a client that sends
 * `head`, then `frame` for ever, as fast as the connection takes it.
 */
async function flood(head: string, frame: Buffer, refuse: boolean): Promise<Linger> {
  let serverBytesRead = 0
  const server = createServer((request, response) => {
    lingerAfterAnswer(request)
    request.socket.on('close', () => {
      serverBytesRead = request.socket.bytesRead
    })
    response.writeHead(413, { connection: 'close', 'content-length': '0' })
    response.end()
  })
  server.on('connection', (socket) => {
    socket.on('close', () => {
      serverBytesRead = socket.bytesRead
    })
  })
  if (!refuse) server.on('clientError', kbsClientErrorHandler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const chunks: Buffer[] = []
  let answeredAt: number | undefined
  const closedAt = await new Promise<number>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      answeredAt ??= performance.now()
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      resolve(performance.now())
    })
    socket.write(head)
    const more = (): void => {
      if (!socket.destroyed && socket.writable) socket.write(frame, () => setImmediate(more))
    }
    more()
  })
  // The server's own close event may come a moment after the client's.
  await new Promise((resolve) => setTimeout(resolve, 50))
  return {
    answer: Buffer.concat(chunks).toString('latin1'),
    closedAfterMs: closedAt - (answeredAt ?? Number.NaN),
    serverBytesRead,
  }
}

/** 64 one-byte chunks, each with a 4000-byte chunk extension: framing the body never sees. */
const EXTENDED_CHUNKS = Buffer.from(`1;${'e'.repeat(4000)}\r\nx\r\n`.repeat(64))
const CHUNKED_HEAD = 'POST / HTTP/1.1\r\nHost: kbs\r\nTransfer-Encoding: chunked\r\n\r\n'

describe('the lingering close', () => {
  it('after a 413, counts the bytes read off the socket, chunk framing and extensions too', async () => {
    const linger = await flood(CHUNKED_HEAD, EXTENDED_CHUNKS, true)
    expect(linger.answer).toMatch(/^HTTP\/1\.1 413 /)
    // Before, only body bytes were counted (about 250 KB here in LINGER_MS), so the close came
    // at LINGER_MS after the server had read close to a gigabyte.
    expect(linger.closedAfterMs).toBeLessThan(LINGER_MS / 2)
    expect(linger.serverBytesRead).toBeGreaterThan(LINGER_MAX_BYTES)
    expect(linger.serverBytesRead).toBeLessThan(4 * LINGER_MAX_BYTES)
  })

  it('after a 400, is bounded the same way', async () => {
    // A header line without a colon: the parser fails before any request is made.
    const linger = await flood('POST / HTTP/1.1\r\nHost kbs\r\n\r\n', EXTENDED_CHUNKS, false)
    expect(linger.answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(linger.closedAfterMs).toBeLessThan(LINGER_MS / 2)
    expect(linger.serverBytesRead).toBeLessThan(4 * LINGER_MAX_BYTES)
  })

  it('over TLS, counts what comes off the wire, not the decrypted bytes', async () => {
    // Small TLS records cost the KBS several wire bytes (header, tag) for each byte they carry:
    // counted after decryption, a client sending them was read for all of LINGER_MS.
    const raw: Socket[] = []
    const { certPem, keyPem } = generateSelfSignedTls('127.0.0.1', new Date())
    const server = createHttpsServer({ cert: certPem, key: keyPem }, (request, response) => {
      lingerAfterAnswer(request)
      response.writeHead(413, { connection: 'close', 'content-length': '0' })
      response.end()
    })
    server.on('connection', (socket: Socket) => raw.push(socket))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    let readAtAnswer: number | undefined
    await new Promise<void>((resolve) => {
      const socket = connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        socket.write('POST / HTTP/1.1\r\nHost: kbs\r\nContent-Length: 1000000000\r\n\r\n')
        const one = Buffer.from('x')
        const more = (): void => {
          if (!socket.destroyed && socket.writable) socket.write(one, more)
        }
        more()
      })
      socket.on('data', () => {
        readAtAnswer ??= raw[0]?.bytesRead
      })
      socket.on('error', () => undefined)
      socket.on('close', () => {
        resolve()
      })
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const readAfterAnswer = (raw[0]?.bytesRead ?? 0) - (readAtAnswer ?? Number.NaN)
    // The cap, and what one check interval can add at loopback speed.
    expect(readAfterAnswer).toBeLessThan(LINGER_MAX_BYTES + 512 * 1024)
  })
})
