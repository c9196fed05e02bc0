/**
 * Hostile local clients against the guest API (loopback and its Unix socket), with short limits:
 * a huge header (431), headers sent a byte at a time and a body trickled slowly (cut off at their
 * deadlines, 408), a huge (413) or deeply nested body (no route takes one: 404), and the
 * connection cap; an honest client is served meanwhile and afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initSimulator } from '@initguard/tee-simulator'
import { launchGuest, verifyInitdata } from './agent-test-support.ts'
import { get, kbsInitdataToml } from './guest-api-test-support.ts'
import { serveGuestApi, type RunningGuestApi } from './guest-api-server.ts'
import { VerifiedDocuments } from './initdata-check/verified-documents.ts'
import { openAgentKbs } from './kbs-access.ts'

const DOCUMENT = kbsInitdataToml('http://127.0.0.1:1', undefined, 'hostile')
const HEADERS_TIMEOUT_MS = 500
const REQUEST_TIMEOUT_MS = 1000
const MAX_CONNECTIONS = 20
let dir: string
let api: RunningGuestApi
let socketPath: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'guest-api-hostile-'))
  await initSimulator(join(dir, 'sim'))
  const tee = await launchGuest(join(dir, 'sim'), DOCUMENT)
  const initdata = await verifyInitdata(tee, DOCUMENT)
  const { access } = openAgentKbs({ initdata, tee })
  socketPath = join(dir, 'agent.sock')
  api = await serveGuestApi({
    state: { initdata, documents: new VerifiedDocuments(initdata), tee, kbs: access },
    listen: { host: '127.0.0.1', port: 0 },
    socketPath,
    limits: {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: 500,
      maxHeaderBytes: 8 * 1024,
      maxConnections: MAX_CONNECTIONS,
    },
  })
})

afterAll(async () => {
  await api.close()
  await rm(dir, { recursive: true, force: true })
})

/** A connection to the TCP listener, or to the socket with `unix`. */
function open(unix = false): Promise<Socket> {
  const url = new URL(api.url)
  return new Promise((resolve, reject) => {
    const socket = unix ? connect(socketPath) : connect(Number(url.port), url.hostname)
    socket.once('connect', () => {
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** Everything the server sends until it closes the connection, and when it did (ms). */
function answer(socket: Socket): Promise<{ text: string; afterMs: number }> {
  const startedAt = Date.now()
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => undefined)
    socket.once('close', () => {
      resolve({ text: Buffer.concat(chunks).toString('latin1'), afterMs: Date.now() - startedAt })
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function trickle(socket: Socket, text: string, gapMs: number): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed || !socket.writable) return
    socket.write(byte)
    await sleep(gapMs)
  }
}

describe('the guest API under hostile local clients', () => {
  it('a 1 MiB header → 431 with the marks, on loopback and on the socket', async () => {
    for (const unix of [false, true]) {
      const socket = await open(unix)
      const answered = answer(socket)
      socket.write(`GET /initdata HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`)
      const { text } = await answered
      expect(text).toMatch(/^HTTP\/1\.1 431 /)
      expect(text).toContain('initguard-tee: simulated\r\n')
      expect(text).toContain('"code":"ERR_AGENT_HEADERS_TOO_LARGE"')
    }
  })

  it('headers sent a byte at a time → 408 at the headers timeout; an honest client is served meanwhile', async () => {
    const sockets = await Promise.all(Array.from({ length: 10 }, () => open()))
    const answers = sockets.map(answer)
    for (const socket of sockets)
      void trickle(socket, `GET /initdata HTTP/1.1\r\nX-Slow: ${'a'.repeat(200)}`, 50)
    expect((await get({ base: api.url }, '/initdata')).status).toBe(200)
    const settled = await Promise.all(answers)
    for (const { text, afterMs } of settled) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /)
      expect(afterMs).toBeLessThan(HEADERS_TIMEOUT_MS + 2500)
    }
  })

  it('a body trickled slowly is cut off at the request timeout', async () => {
    const socket = await open(true)
    const answered = answer(socket)
    socket.write('POST /aa/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n')
    void trickle(socket, 'x'.repeat(1000), 50)
    const { afterMs } = await answered
    expect(afterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2500)
  })

  it('a body over the limit → 413, a nested one reaches no route (404), a GET body is ignored', async () => {
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
    for (const [method, body, status] of [
      ['POST', nested(100_000), 413],
      ['POST', nested(500), 404],
      ['GET', nested(100_000), 200],
    ] as const) {
      const socket = await open()
      const answered = answer(socket)
      socket.write(
        `${method} /initdata HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n${body}`,
      )
      const { text } = await answered
      expect(text.slice(0, 200), `${method} ${String(body.length)}`).toMatch(
        new RegExp(`^HTTP/1\\.1 ${String(status)} `),
      )
    }
  })

  it(`at most ${String(MAX_CONNECTIONS)} connections; once they go, clients are served again`, async () => {
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => open()))
    const over = await open()
    const { text } = await answer(over)
    expect(text).toBe('')
    for (const socket of held) socket.destroy()
    await sleep(100)
    expect((await get({ base: api.url }, '/initdata')).status).toBe(200)
    expect((await get({ socket: socketPath }, '/initdata')).status).toBe(200)
  })
})
