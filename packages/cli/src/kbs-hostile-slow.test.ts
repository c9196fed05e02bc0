/**
 * Slow and many clients against the real `kbs serve` process, with short limits from its config
 * file: slowloris (headers a byte at a time), a body trickled slowly, idle connections (after TLS,
 * and before it), 100 000 pipelined requests whose answers are never read, connection caps per
 * client and in all, and floods on `/auth` and `/attest`.
 * Each is cut off by its deadline or answered 408/429 (with Retry-After) while an honest client
 * from another address is still served; the server's memory stays bounded.
 */
import { createConnection } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  answerOf,
  bodyOf,
  exchange,
  headerOf,
  openTls,
  sleep,
  problemsAfterAttack,
  startHostileKbs,
  type HostileKbs,
  type RawAnswer,
} from './kbs-hostile-test-support.ts'

const HEADERS_TIMEOUT_MS = 1000
const REQUEST_TIMEOUT_MS = 2000
const PER_CLIENT = 40
const MAX_CONNECTIONS = 100
/** How late a deadline may be kept on a loaded 2-core machine. */
const SLACK_MS = 2500
const PREFIX = 'https://github.com/confidential-containers/kbs/errors/'
let kbs: HostileKbs
const rss: Record<string, number> = {}

beforeAll(async () => {
  kbs = await startHostileKbs({
    limits: {
      'headers-timeout': `${String(HEADERS_TIMEOUT_MS)}ms`,
      'request-timeout': `${String(REQUEST_TIMEOUT_MS)}ms`,
      'keep-alive-timeout': '1s',
      'connection-timeout': '5s',
      'max-connections': MAX_CONNECTIONS,
      'max-connections-per-client': PER_CLIENT,
    },
    'rate-limit': { max: 10, window: '3s' },
  })
  // Warm (one honest handshake loads the verifiers), so the RSS measured after is the attacks'.
  expect((await kbs.handshake()).code).toBe(0)
  rss['start'] = kbs.rssKiB()
}, 60_000)

afterAll(async () => {
  console.info(`kbs-hostile-slow: RSS KiB ${JSON.stringify(rss)}`)
  await kbs.stop()
})

/** Open `count` TLS connections from `from`, one after another. */
async function openMany(count: number, from: string): Promise<TLSSocket[]> {
  const sockets: TLSSocket[] = []
  for (let i = 0; i < count; i++) sockets.push(await openTls(kbs.port, { from }))
  return sockets
}

/** Write `text` to `socket` a byte every `gapMs` until the socket closes. */
async function trickle(socket: TLSSocket, text: string, gapMs: number): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed || !socket.writable) return
    socket.write(byte)
    await sleep(gapMs)
  }
}

const HEAD = 'GET /healthz HTTP/1.1\r\nHost: kbs\r\nX-Slow: ' + 'a'.repeat(500)

describe('slow clients are cut off by their deadlines; honest clients are served meanwhile', () => {
  it('slowloris: 3 × 30 connections sending headers a byte at a time → 408 and closed', async () => {
    const sockets = (
      await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((from) => openMany(30, from)))
    ).flat()
    // Timed from when the last connection opened: an upper bound on every connection's age.
    const answers = sockets.map((socket) => answerOf(socket, Date.now(), 20_000))
    for (const socket of sockets) void trickle(socket, HEAD, 100)
    await sleep(300)
    expect(await kbs.healthz()).toBe(200)
    const settled = await Promise.all(answers)
    rss['slowloris'] = kbs.rssKiB()
    expect(settled.every((a) => a.closedByServer)).toBe(true)
    expect(settled.map((a) => a.status)).toEqual(settled.map(() => 408))
    expect(settled.map(bodyOf)[0]).toMatchObject({ type: `${PREFIX}RequestTimeout` })
    const slowest = Math.max(...settled.map((a) => a.closedAfterMs))
    expect(slowest).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS + 1000)
  })

  it('a body trickled a byte at a time is cut off at the request timeout', async () => {
    const startedAt = Date.now()
    const socket = await openTls(kbs.port, { from: '127.0.0.5' })
    const answer = answerOf(socket, startedAt, 20_000)
    socket.write(
      'POST /kbs/v0/auth HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n',
    )
    void trickle(socket, ' '.repeat(4000), 100)
    const settled = await answer
    expect(settled.closedByServer).toBe(true)
    expect(settled.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100)
    expect(settled.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS)
    expect([0, 408]).toContain(settled.status)
  })

  it('idle connections (after TLS, and raw TCP that never starts TLS) are closed at the headers timeout', async () => {
    const idle = await openMany(20, '127.0.0.6')
    const answers = idle.map((socket) => answerOf(socket, Date.now(), 20_000))
    const raw = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<number>((resolve) => {
            const startedAt = Date.now()
            const socket = createConnection({
              host: '127.0.0.1',
              port: kbs.port,
              localAddress: '127.0.0.7',
            })
            socket.on('error', () => undefined)
            socket.once('close', () => {
              resolve(Date.now() - startedAt)
            })
          }),
      ),
    )
    const settled = await Promise.all(answers)
    rss['idle'] = kbs.rssKiB()
    expect(settled.every((a) => a.closedByServer)).toBe(true)
    expect(Math.max(...settled.map((a) => a.closedAfterMs))).toBeLessThan(
      HEADERS_TIMEOUT_MS + SLACK_MS,
    )
    expect(Math.max(...raw)).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS)
  })

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const startedAt = Date.now()
    const socket = await openTls(kbs.port, { from: '127.0.0.8' })
    const answer = answerOf(socket, startedAt, 20_000)
    socket.write('GET /healthz HTTP/1.1\r\nHost: kbs\r\n\r\n')
    const settled = await answer
    expect(settled.status).toBe(200)
    expect(settled.closedByServer).toBe(true)
    expect(settled.closedAfterMs).toBeLessThan(1000 + SLACK_MS)
  })
})

describe('a client that sends and never reads', () => {
  it('100 000 pipelined requests on one connection, answers unread: the server stops reading', async () => {
    const before = kbs.rssKiB()
    const socket = await openTls(kbs.port, { from: '127.0.0.15' })
    socket.pause()
    socket.on('error', () => undefined)
    const request = 'GET /healthz HTTP/1.1\r\nHost: kbs\r\n\r\n'
    const batch = request.repeat(1000)
    for (let i = 0; i < 100; i++) socket.write(batch)
    await sleep(3000)
    rss['pipelined'] = kbs.rssKiB()
    expect(await kbs.healthz()).toBe(200)
    socket.destroy()
    expect((rss['pipelined'] ?? 0) - before).toBeLessThan(32 * 1024)
  })
})

describe('connection caps', () => {
  it(`one client gets at most ${String(PER_CLIENT)} connections; the next is closed at once, and others are served`, async () => {
    const held = await openMany(PER_CLIENT, '127.0.0.9')
    await expect(openTls(kbs.port, { from: '127.0.0.9' })).rejects.toThrow()
    expect(await kbs.healthz()).toBe(200)
    for (const socket of held) socket.destroy()
  })

  it(`at most ${String(MAX_CONNECTIONS)} in all; once the attackers leave, clients are served again`, async () => {
    const held = (
      await Promise.all(['127.0.0.10', '127.0.0.11'].map((from) => openMany(PER_CLIENT, from)))
    ).flat()
    held.push(...(await openMany(MAX_CONNECTIONS - held.length, '127.0.0.12')))
    await expect(openTls(kbs.port, { from: '127.0.0.13', waitMs: 3000 })).rejects.toThrow()
    rss['capped'] = kbs.rssKiB()
    for (const socket of held) socket.destroy()
    await sleep(200)
    expect(await kbs.healthz()).toBe(200)
  })
})

describe('floods → 429 with Retry-After, per client', () => {
  for (const [path, body] of [
    ['/kbs/v0/auth', '{"version":"0.4.0","tee":"snp","extra-params":""}'],
    ['/kbs/v0/attest', '{}'],
  ] as const) {
    it(`200 requests on ${path} from one address`, async () => {
      const request = `POST ${path} HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n${body}`
      const answers: RawAnswer[] = []
      const startedAt = Date.now()
      for (let wave = 0; wave < 10; wave++)
        answers.push(
          ...(await Promise.all(
            Array.from({ length: 20 }, () => exchange(kbs.port, request, { from: '127.0.0.14' })),
          )),
        )
      // At most `max` (10) answered per window (3 s) the flood spanned; the rest refused.
      const windows = Math.ceil((Date.now() - startedAt) / 3000) + 1
      rss[path] = kbs.rssKiB()
      const limited = answers.filter((a) => a.status === 429)
      const served = answers.filter((a) => a.status !== 429)
      expect(served.length).toBeLessThanOrEqual(10 * windows)
      expect(served.map((a) => a.status)).toEqual(
        served.map(() => (path === '/kbs/v0/auth' ? 200 : 401)),
      )
      expect(limited.length).toBeGreaterThanOrEqual(200 - 10 * windows)
      for (const answer of limited)
        expect(Number(headerOf(answer, 'retry-after'))).toBeGreaterThan(0)
      expect(limited.map(bodyOf)[0]).toMatchObject({ type: `${PREFIX}TooManyRequests` })
    })
  }
})

describe('after the attacks', () => {
  it('the server is up, its memory is bounded, and an honest client is served', async () => {
    expect(await problemsAfterAttack(kbs)).toEqual([])
    rss['end'] = kbs.rssKiB()
    expect((rss['end'] ?? 0) - (rss['start'] ?? 0)).toBeLessThan(64 * 1024)
  })
})
