/**
 * A client still sending when its request is refused (a body over the limit, a malformed chunk)
 * over real TCP: it gets its answer, is not reset, and is read for a bounded time only.
 *
 * @module
 */
import { connect, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { LINGER_MS } from './connection-limits.ts'
import { closeTestApps, testApp } from './routes-test-support.ts'

afterEach(closeTestApps)

/**
 * An oversize body refused mid-stream: the 413 must reach a client that is still sending. Closing
 * the socket with the rest of the body unread makes the kernel reset the connection and drop the
 * answer it has not sent yet, so the close lingers (connection-limits.ts, lingerAfterAnswer).
 */
interface Outcome {
  readonly answer: string
  /** The socket's error (a reset: the server closed with the body unread), if any. */
  readonly error: string | undefined
  readonly ended: boolean
}

/**
 * Send a chunked body without end; once the answer has come, send 256 KiB more (a client still
 * uploading), then stop and wait for the server to close.
 */
function uploadPastTheAnswer(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let error: string | undefined
    let ended = false
    let answered = false
    const framed = Buffer.concat([
      Buffer.from('4000\r\n'),
      Buffer.alloc(0x4000, 0x20),
      Buffer.from('\r\n'),
    ])
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (answered) return
      answered = true
      for (let i = 0; i < 16; i++) socket.write(framed)
    })
    socket.on('end', () => {
      ended = true
      socket.end()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message
    })
    socket.on('close', () => {
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), error, ended })
    })
    socket.write(
      'POST /kbs/v0/attest HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    )
    const more = (): void => {
      if (answered || socket.destroyed) return
      socket.write(framed, () => setImmediate(more))
    }
    more()
  })
}

describe('a chunked body over the limit', () => {
  it('is answered 413, and a client still sending is not reset: the close lingers', async () => {
    const { app: kbs } = await testApp({ bodyLimit: '16KiB' })
    await kbs.listen({ port: 0, host: '127.0.0.1' })
    const port = (kbs.server.address() as AddressInfo).port
    for (let i = 0; i < 5; i++) {
      const outcome = await uploadPastTheAnswer(port)
      expect(outcome.answer).toMatch(/^HTTP\/1\.1 413 /)
      expect(outcome.answer).toMatch(/connection: close/i)
      expect(outcome.error).toBeUndefined()
      expect(outcome.ended).toBe(true)
    }
  })
})

interface Flood {
  readonly answer: string
  /** Milliseconds from the answer's first byte to the connection's close. */
  readonly closedAfterMs: number
}

/**
 * Send `head`, then body bytes as fast as the connection takes them, before and after the answer,
 * until the server closes: a client that never stops uploading.
 */
function floodPastTheAnswer(port: number, head: string, frame: Buffer): Promise<Flood> {
  return new Promise((resolve) => {
    // Half-open allowed: the server's FIN does not end this client's sending, as it would not a
    // hostile one's.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    const chunks: Buffer[] = []
    let answeredAt: number | undefined
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      answeredAt ??= performance.now()
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      resolve({
        answer: Buffer.concat(chunks).toString('latin1'),
        closedAfterMs: performance.now() - (answeredAt ?? Number.NaN),
      })
    })
    socket.write(head)
    const more = (): void => {
      if (socket.destroyed || !socket.writable) return
      socket.write(frame, () => setImmediate(more))
    }
    more()
  })
}

describe('a client that goes on sending after its answer', () => {
  const chunk = Buffer.concat([
    Buffer.from('10000\r\n'),
    Buffer.alloc(0x10000, 0x20),
    Buffer.from('\r\n'),
  ])

  it('is read for at most LINGER_MAX_BYTES after a 413, not for all of LINGER_MS', async () => {
    const { app: kbs } = await testApp({ bodyLimit: '16KiB' })
    await kbs.listen({ port: 0, host: '127.0.0.1' })
    const port = (kbs.server.address() as AddressInfo).port
    const flood = await floodPastTheAnswer(
      port,
      'POST /kbs/v0/attest HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunk,
    )
    expect(flood.answer).toMatch(/^HTTP\/1\.1 413 /)
    // Loopback carries LINGER_MAX_BYTES in a few milliseconds; the old close waited LINGER_MS.
    expect(flood.closedAfterMs).toBeLessThan(LINGER_MS / 2)
  })

  it('gets its 400 and is read for at most LINGER_MAX_BYTES after it, not reset at once', async () => {
    const { app: kbs } = await testApp({ bodyLimit: '16KiB' })
    await kbs.listen({ port: 0, host: '127.0.0.1' })
    const port = (kbs.server.address() as AddressInfo).port
    // A chunk size that is not hex: the parser fails, and every later chunk raised clientError
    // again, whose handler destroyed the socket with those bytes unread (a reset: no answer).
    const flood = await floodPastTheAnswer(
      port,
      'POST /kbs/v0/attest HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      Buffer.alloc(0x10000, 0x20),
    )
    expect(flood.answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*SerdeError/)
    expect(flood.closedAfterMs).toBeLessThan(LINGER_MS / 2)
  })
})
