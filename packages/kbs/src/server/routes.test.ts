/**
 * Route tests on the real parts (SQLite store, tokens, appraiser, protocol functions) where only
 * the admin keys and the store matter: admin refusals change nothing, uploads, workloads, limits,
 * service routes and logs. The full handshake is in `../service/handshake.test.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import type { KbsStore } from '../ports.ts'
import { createKbsServices, type KbsServices } from '../service/kbs-services.ts'
import { testAdminKey, testAdminToken } from './admin-auth-test-support.ts'
import { buildKbsApp, kbsAppRoutes } from './app.ts'
import { LINGER_MS } from './connection-limits.ts'
import { resolveKbsServerConfig } from './config.ts'
import { KBS_OPENAPI } from './openapi.ts'

const now = new Date('2026-06-01T12:00:00Z')
const admin = testAdminKey('EdDSA')
const PREFIX = 'https://github.com/confidential-containers/kbs/errors/'
const cleanups: (() => Promise<void>)[] = []
/** A valid workload definition without its name (the path gives it). */
const WEB_WORKLOAD = {
  tees: ['snp'],
  initdata: ['version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n'],
  resources: ['default/web/*'],
  snp: { measurements: ['ab'.repeat(48)] },
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The real services on a fresh data directory (offline: no collateral is fetched here). */
async function services(bodyLimit?: string): Promise<{
  services: KbsServices
  config: ReturnType<typeof resolveKbsServerConfig>
}> {
  const root = await mkdtemp(join(tmpdir(), 'kbs-routes-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const config = resolveKbsServerConfig(
    {
      dataDir: join(root, 'data'),
      listen: '127.0.0.1:0',
      adminPublicKey: ['admin.pub'],
      insecureHttp: true,
    },
    bodyLimit === undefined
      ? undefined
      : { document: { limits: { body: bodyLimit } }, path: 'kbs.toml' },
  )
  const made = await createKbsServices(config, { online: false })
  cleanups.push(() => made.store.close())
  return { services: made, config }
}

async function app(
  options: {
    store?: (real: KbsStore) => KbsStore
    bodyLimit?: string
    simulated?: boolean
    lines?: string[]
    processMetrics?: boolean
  } = {},
): Promise<{ app: FastifyInstance; store: KbsStore }> {
  const { services: real, config } = await services(options.bodyLimit)
  const store = options.store === undefined ? real.store : options.store(real.store)
  const lines = options.lines
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines?.push(chunk.toString())
      callback()
    },
  })
  const built = await buildKbsApp({
    ...real,
    store,
    adminKeys: [admin.admin],
    config,
    logger: { level: 'info', stream } as unknown as Parameters<typeof buildKbsApp>[0]['logger'] &
      object,
    clock: () => now,
    simulatedTrust: options.simulated ?? false,
    ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
  })
  cleanups.push(() => built.close())
  return { app: built, store }
}

const auth = async (claims: Record<string, unknown> = {}): Promise<Record<string, string>> => ({
  authorization: `Bearer ${await testAdminToken(admin, now, claims)}`,
})

async function snapshot(store: KbsStore): Promise<unknown> {
  return {
    resources: await store.resources.list(),
    workloads: await store.workloads.list(),
    audit: await store.audit.list({ limit: 1000 }),
  }
}

describe('the OpenAPI document', () => {
  it('lists exactly the routes the app has', async () => {
    const { app: built } = await app()
    await built.ready()
    const fromApp = kbsAppRoutes(built)
      .map(({ method, url }) => `${method.toLowerCase()} ${url.replace(/:([a-z]+)/g, '{$1}')}`)
      .sort()
    const paths = KBS_OPENAPI['paths'] as Record<string, Record<string, unknown>>
    const documented = Object.entries(paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`))
      .sort()
    expect(fromApp).toEqual(documented)
    const served = await built.inject({ method: 'GET', url: '/openapi.json' })
    expect(served.json()).toEqual(KBS_OPENAPI)
  })
})

describe('admin routes refuse bad credentials and change nothing', () => {
  it('401 AdminAuthAccess for no token, alg none, a wrong key, expired, wrong audience, no role', async () => {
    const { app: built, store } = await app()
    const { audit: _none, ...before } = (await snapshot(store)) as Record<string, unknown>
    const stranger = testAdminKey('EdDSA')
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'admin', aud: ['KBS'], exp: 2e9 })).toString('base64url')}.`
    const credentials: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${none}` },
      { authorization: `Bearer ${await testAdminToken(stranger, now)}` },
      {
        authorization: `Bearer ${await testAdminToken(admin, new Date(now.getTime() - 3_600_000))}`,
      },
      await auth({ aud: ['elsewhere'] }),
      await auth({ role: undefined }),
    ]
    const calls = [
      { method: 'POST', url: '/kbs/v0/resource/r/k/t', payload: 'secret' },
      { method: 'DELETE', url: '/kbs/v0/resource/r/k/t' },
      { method: 'PUT', url: '/kbs/v0/admin/workloads/w', payload: { tees: ['snp'] } },
      { method: 'DELETE', url: '/kbs/v0/admin/workloads/w' },
      { method: 'POST', url: '/kbs/v0/admin/signing-keys/rotate' },
      { method: 'GET', url: '/kbs/v0/admin/audit' },
      { method: 'GET', url: '/kbs/v0/admin/resources' },
    ] as const
    // The last three are signed by the admin key: audited, within the rate limit (20 a second).
    const signed = credentials.slice(3)
    let audited = 0
    for (const headers of credentials) {
      for (const call of calls) {
        const response = await built.inject({ ...call, headers })
        const limited = signed.includes(headers) && response.statusCode === 429
        expect(response.statusCode, `${call.method} ${call.url}`).toBe(limited ? 429 : 401)
        expect(response.json()).toMatchObject({
          type: `${PREFIX}${limited ? 'TooManyRequests' : 'AdminAuthAccess'}`,
        })
        if (signed.includes(headers) && !limited) audited++
      }
    }
    const { audit, ...after } = (await snapshot(store)) as { audit: { action: string }[] }
    expect(after).toEqual(before)
    // 20 unless the one-second window turned on a slow machine; the bound has its own test.
    expect(audited).toBeGreaterThanOrEqual(20)
    expect(audit).toHaveLength(audited)
    expect(audit.every((entry) => entry.action === 'admin')).toBe(true)
  })
})

describe('admin resources', () => {
  it('stores the raw bytes whatever the content type, lists sizes only, deletes, audits', async () => {
    const { app: built, store } = await app()
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x7b])
    for (const type of ['application/octet-stream', 'application/json', 'text/plain']) {
      const put = await built.inject({
        method: 'POST',
        url: '/kbs/v0/resource/default/key/one',
        payload: bytes,
        headers: { ...(await auth()), 'content-type': type },
      })
      expect(put.statusCode).toBe(200)
      expect(put.body).toBe('')
      expect(await store.resources.get('default/key/one')).toEqual(new Uint8Array(bytes))
    }
    const listed = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/resources',
      headers: await auth(),
    })
    expect(listed.json()).toEqual({
      resources: [{ path: 'default/key/one', size: 5, updatedAt: now.toISOString() }],
    })
    expect(
      (
        await built.inject({
          method: 'DELETE',
          url: '/kbs/v0/resource/default/key/one',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(200)
    const again = await built.inject({
      method: 'DELETE',
      url: '/kbs/v0/resource/default/key/one',
      headers: await auth(),
    })
    expect(again.statusCode).toBe(404)
    expect(again.json()).toMatchObject({ type: `${PREFIX}ResourceNotFound` })
    const entries = (await store.audit.list({ limit: 10 })).map((e) => [
      e.action,
      e.outcome,
      e.resource,
    ])
    // Three writes and one delete.
    expect(entries).toEqual(Array<unknown>(4).fill(['admin', 'changed', 'default/key/one']))
  })

  it('refuses invalid path segments (400) and bodies over the limit (413)', async () => {
    const { app: built, store } = await app({ bodyLimit: '1KiB' })
    for (const url of [
      '/kbs/v0/resource/.hidden/k/t',
      '/kbs/v0/resource/a/b',
      '/kbs/v0/resource/a/b/c/d',
    ]) {
      const response = await built.inject({
        method: 'POST',
        url,
        payload: 'x',
        headers: { ...(await auth()), 'content-type': 'text/plain' },
      })
      expect(response.statusCode, url).toBe(400)
      expect(response.json()).toMatchObject({ type: `${PREFIX}InvalidRequestPath` })
    }
    const big = await built.inject({
      method: 'POST',
      url: '/kbs/v0/resource/a/b/c',
      payload: Buffer.alloc(2048),
      headers: { ...(await auth()), 'content-type': 'application/octet-stream' },
    })
    expect(big.statusCode).toBe(413)
    expect(big.json()).toMatchObject({ type: `${PREFIX}PayloadTooLarge` })
    expect(await store.resources.list()).toEqual([])
  })
})

describe('admin workloads and audit', () => {
  it('validates, versions, reads, deletes', async () => {
    const { app: built, store } = await app()
    const bad = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: { tees: [] },
      headers: await auth(),
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ type: `${PREFIX}SerdeError` })
    expect(bad.json<{ detail: string }>().detail).toMatch(/^workload web: .*tees/)
    const mismatch = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: { ...WEB_WORKLOAD, name: 'api' },
      headers: await auth(),
    })
    expect(mismatch.statusCode).toBe(400)
    // A rule given twice is refused, not read as its last copy (which JSON.parse would keep).
    const resources = JSON.stringify(WEB_WORKLOAD.resources)
    const repeated = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: JSON.stringify(WEB_WORKLOAD).replace(
        `"resources":${resources}`,
        `"resources":${resources},"resources":["*/*/*"]`,
      ),
      headers: { ...(await auth()), 'content-type': 'application/json' },
    })
    expect(repeated.statusCode).toBe(400)
    expect(repeated.json<{ detail: string }>().detail).toMatch(/duplicate key "resources"/)
    expect(await store.workloads.list()).toEqual([])
    for (const version of [1, 2]) {
      const put = await built.inject({
        method: 'PUT',
        url: '/kbs/v0/admin/workloads/web',
        payload: WEB_WORKLOAD,
        headers: await auth(),
      })
      expect(put.json()).toMatchObject({ name: 'web', version })
    }
    expect(
      (
        await built.inject({
          method: 'GET',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).json(),
    ).toMatchObject({ version: 2 })
    expect(
      (
        await built.inject({ method: 'GET', url: '/kbs/v0/admin/workloads', headers: await auth() })
      ).json<{ workloads: unknown[] }>().workloads,
    ).toHaveLength(1)
    expect(
      (
        await built.inject({
          method: 'DELETE',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(200)
    expect(
      (
        await built.inject({
          method: 'GET',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(404)
    const audit = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/audit?after=1&limit=5',
      headers: await auth(),
    })
    expect(audit.json<{ entries: { id: number }[] }>().entries.map((e) => e.id)).toEqual([2, 3])
    for (const query of ['limit=0', 'limit=1001', 'after=-1', 'limit=abc', 'other=1'])
      expect(
        (
          await built.inject({
            method: 'GET',
            url: `/kbs/v0/admin/audit?${query}`,
            headers: await auth(),
          })
        ).statusCode,
        query,
      ).toBe(400)
    expect(await store.workloads.list()).toEqual([])
  })
})

describe('RCAR refusals that need no appraisal', () => {
  it('429 in the error shape once /auth passes its rate limit (default 20 per second)', async () => {
    const { app: built } = await app()
    const statuses: number[] = []
    let limited: unknown
    for (let i = 0; i < 25; i++) {
      const response = await built.inject({
        method: 'POST',
        url: '/kbs/v0/auth',
        payload: { version: '0.4.0', tee: 'snp', 'extra-params': '' },
      })
      statuses.push(response.statusCode)
      if (response.statusCode === 429) limited = response.json()
    }
    // The window starts at the first request; a very slow machine might see it end early.
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true)
    expect(statuses.slice(20)).toContain(429)
    expect(limited).toMatchObject({ type: `${PREFIX}TooManyRequests` })
  })

  it('400 for another protocol version or TEE', async () => {
    const { app: built } = await app()
    const version = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.1.1', tee: 'snp', 'extra-params': '' },
    })
    expect(version.statusCode).toBe(400)
    expect(version.json<{ detail: string }>().detail).toMatch(
      /protocol version "0.1.1" is not supported: this KBS speaks RCAR 0.4.0/,
    )
    const tee = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.4.0', tee: 'az-snp-vtpm', 'extra-params': '' },
    })
    expect(tee.statusCode).toBe(400)
    expect(tee.json<{ detail: string }>().detail).toMatch(/TEE "az-snp-vtpm" is not supported/)
    const notJson = await built.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: '{',
      headers: { 'content-type': 'application/json' },
    })
    expect(notJson.statusCode).toBe(400)
    expect(notJson.json()).toMatchObject({ type: `${PREFIX}SerdeError` })
  })

  it('401 and an audit entry for /attest without a session, with an unknown one, and for a resource without a token', async () => {
    const { app: built, store } = await app()
    const missing = await built.inject({ method: 'POST', url: '/kbs/v0/attest', payload: {} })
    expect(missing.statusCode).toBe(401)
    const unknown = await built.inject({
      method: 'POST',
      url: '/kbs/v0/attest',
      payload: {},
      headers: { cookie: `kbs-session-id=${'a'.repeat(32)}` },
    })
    expect(unknown.json<{ detail: string }>().detail).toMatch(/unknown session/)
    const resource = await built.inject({ method: 'GET', url: '/kbs/v0/resource/a/b/c' })
    expect(resource.statusCode).toBe(401)
    expect(resource.json()).toMatchObject({ type: `${PREFIX}TokenNotFound` })
    const reasons = (await store.audit.list({ limit: 10 })).map((e) => [
      e.action,
      e.outcome,
      e.reason,
    ])
    expect(reasons).toEqual([
      ['attest', 'denied', 'ERR_KBS_SESSION_MISSING'],
      ['attest', 'denied', 'ERR_KBS_SESSION_UNKNOWN'],
      ['resource', 'denied', 'ERR_KBS_TOKEN_MISSING'],
    ])
  })
})

describe('resource requests with a path that is not one', () => {
  it('answer 400 InvalidRequestPath, release nothing, and are audited like every refused GET', async () => {
    const { app: built, store } = await app()
    await store.resources.put('a/b/c', new Uint8Array([1]), now)
    // Three segments that are not valid ones. (Another number of segments matches no route: the
    // not-found handler answers the same 400 and audits it within the route's rate limit; see
    // refusal-audit.test.ts.)
    const urls = [
      '/kbs/v0/resource/a%2Fb/c/d',
      '/kbs/v0/resource/.hidden/b/c',
      '/kbs/v0/resource/a/b/c%00',
    ]
    for (const url of urls) {
      const response = await built.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBe(400)
      expect(response.json()).toMatchObject({ type: `${PREFIX}InvalidRequestPath` })
    }
    const entries = await store.audit.list({ limit: 10 })
    expect(entries.map((e) => [e.action, e.outcome, e.reason, e.resource])).toEqual(
      Array<unknown>(urls.length).fill([
        'resource',
        'denied',
        'ERR_KBS_RESOURCE_PATH_INVALID',
        undefined,
      ]),
    )
    // The path asked for is named, quoted and cut, its NUL escaped.
    expect(entries[0]?.detail).toContain('"a/b/c/d"')
    expect(entries[2]?.detail).toContain('"a/b/c\\u0000"')
  })
})

describe('service routes, errors and logs', () => {
  it('healthz, readyz, metrics, and 404 in the error shape', async () => {
    const { app: built } = await app()
    expect((await built.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({
      status: 'ok',
    })
    expect((await built.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({
      status: 'ready',
      database: 'ok',
    })
    const nowhere = await built.inject({ method: 'GET', url: '/nowhere' })
    expect(nowhere.statusCode).toBe(404)
    expect(nowhere.json()).toEqual({
      type: `${PREFIX}InvalidRequestPath`,
      detail: 'no route GET /nowhere',
    })
    const metrics = (await built.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(
      /kbs_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/,
    )
    expect(metrics).toMatch(/kbs_build_info\{version="0.1.0"\} 1/)
    // The process's own metrics only where asked for (`kbs serve`): see the next test.
    expect(metrics).not.toMatch(/^process_resident_memory_bytes /m)
  })

  it("exports the process's metrics (event-loop lag, heap, RSS) when asked, as kbs serve does", async () => {
    const { app: built } = await app({ processMetrics: true })
    const metrics = (await built.inject({ method: 'GET', url: '/metrics' })).body
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(metrics, name).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'))
    expect(metrics).toMatch(/kbs_build_info\{version="0.1.0"\} 1/)
  })

  it('an unexpected error is a 500 with a generic detail; the real one is logged', async () => {
    const lines: string[] = []
    // The real store with two faults injected: a failing ping and a failing list.
    const { app: built } = await app({
      store: (store) => ({
        resources: {
          put: (...a) => store.resources.put(...a),
          get: (...a) => store.resources.get(...a),
          release: (...a) => store.resources.release(...a),
          delete: (...a) => store.resources.delete(...a),
          list: () => Promise.reject(new Error('db password=hunter2')),
        },
        workloads: store.workloads,
        audit: store.audit,
        sessions: store.sessions,
        signingKeys: store.signingKeys,
        ping: () => Promise.reject(new Error('disk on fire: /secret/path')),
        close: () => store.close(),
      }),
      lines,
    })
    const response = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/resources',
      headers: await auth(),
    })
    expect(response.statusCode).toBe(500)
    expect(response.body).not.toMatch(/hunter2/)
    expect(response.json<{ type: string }>().type).toBe(`${PREFIX}InternalError`)
    expect(lines.join('')).toMatch(/hunter2/)
    const notReady = await built.inject({ method: 'GET', url: '/readyz' })
    expect(notReady.statusCode).toBe(503)
    expect(notReady.headers['retry-after']).toBe('1')
    expect(notReady.json()).toEqual({
      type: `${PREFIX}ServiceUnavailable`,
      detail: 'not ready: the KBS database does not answer',
    })
  })

  it('with simulated trust every log line says simulated: true, and startup warns', async () => {
    const lines: string[] = []
    const { app: built } = await app({ simulated: true, lines })
    await built.inject({ method: 'GET', url: '/healthz' })
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(parsed.length).toBeGreaterThan(2)
    expect(parsed.every((l) => l['simulated'] === true)).toBe(true)
    expect(parsed[0]?.['msg']).toMatch(/SIMULATED TRUST/)
  })

  it('does not start without admin keys', async () => {
    const { services: real, config } = await services()
    const error = await buildKbsApp({
      ...real,
      adminKeys: [],
      config,
      clock: () => now,
      simulatedTrust: false,
    }).catch((e: unknown) => e)
    expect(
      thrown(() => {
        throw error
      }).code,
    ).toBe('ERR_KBS_NO_ADMIN_KEY')
  })
})

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
    const { app: kbs } = await app({ bodyLimit: '16KiB' })
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
    const { app: kbs } = await app({ bodyLimit: '16KiB' })
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
    const { app: kbs } = await app({ bodyLimit: '16KiB' })
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
