/**
 * Service routes and what every route shares: the OpenAPI document matches the app's routes,
 * health, readiness and metrics, an unexpected error's generic 500, the log lines, and the
 * refusal to start without admin keys.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { buildKbsApp, kbsAppRoutes } from './app.ts'
import { KBS_OPENAPI } from './openapi.ts'
import { PREFIX, auth, closeTestApps, now, testApp, testServices } from './routes-test-support.ts'

afterEach(closeTestApps)

describe('the OpenAPI document', () => {
  it('lists exactly the routes the app has', async () => {
    const { app: built } = await testApp()
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

describe('service routes, errors and logs', () => {
  it('healthz, readyz, metrics, and 404 in the error shape', async () => {
    const { app: built } = await testApp()
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
    const { app: built } = await testApp({ processMetrics: true })
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
    const { app: built } = await testApp({
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
    const { app: built } = await testApp({ simulated: true, lines })
    await built.inject({ method: 'GET', url: '/healthz' })
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(parsed.length).toBeGreaterThan(2)
    expect(parsed.every((l) => l['simulated'] === true)).toBe(true)
    expect(parsed[0]?.['msg']).toMatch(/SIMULATED TRUST/)
  })

  it('does not start without admin keys', async () => {
    const { services: real, config } = await testServices()
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

describe('the probes under pressure', () => {
  /**
   * Blocks the event loop for `ms`, then waits until under-pressure's sample (every 1 s) has seen
   * the delay; the next sample, a second later, forgets it.
   */
  async function stallEventLoop(app: FastifyInstance, ms: number, bound: number): Promise<void> {
    const until = performance.now() + ms
    while (performance.now() < until) {
      // busy: the event loop is held, as a flood of CPU-bound handshakes holds it
    }
    for (let waited = 0; app.memoryUsage().eventLoopDelay <= bound && waited < 2000; waited += 5)
      await new Promise((resolve) => setTimeout(resolve, 5))
  }

  it('event-loop delay sheds the protocol and admin routes, not /healthz and /readyz', async () => {
    const { app: built } = await testApp({
      config: (c) => ({ ...c, underPressure: { ...c.underPressure, maxEventLoopDelayMs: 20 } }),
    })
    await built.ready()
    await stallEventLoop(built, 1500, 20)
    expect(built.memoryUsage().eventLoopDelay).toBeGreaterThan(20)
    const shed = await built.inject({ method: 'POST', url: '/kbs/v0/auth', payload: {} })
    expect(shed.statusCode).toBe(503)
    expect(shed.json<{ detail: string }>().detail).toMatch(/overloaded \(eventLoopDelay\)/)
    const admin = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/resources',
      headers: await auth(),
    })
    expect(admin.statusCode).toBe(503)
    expect((await built.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    const ready = await built.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ready', database: 'ok' })
  })

  it('memory over its bound fails both probes, so a replica that stays there is restarted', async () => {
    const { app: built } = await testApp({
      config: (c) => ({ ...c, underPressure: { ...c.underPressure, maxRssBytes: 1 } }),
    })
    await built.ready()
    await new Promise((resolve) => setTimeout(resolve, 1100))
    for (const url of ['/healthz', '/readyz']) {
      const answer = await built.inject({ method: 'GET', url })
      expect(answer.statusCode, url).toBe(503)
      expect(answer.headers['retry-after'], url).toBe('1')
      expect(answer.json<{ detail: string }>().detail, url).toMatch(/overloaded \(rssBytes\)/)
    }
  })

  it.each([
    ['maxRssBytes', 'rssBytes'],
    ['maxHeapUsedBytes', 'heapUsedBytes'],
  ] as const)(
    'memory over its bound (%s) fails both probes while the event loop is delayed too',
    async (bound, type) => {
      // under-pressure tells the first bound passed, event-loop delay before memory: a probe that
      // answered through the delay skipped the memory bounds, so a replica over both (a heap near
      // its bound spends its time in GC) was never restarted.
      const { app: built } = await testApp({
        config: (c) => ({
          ...c,
          underPressure: { ...c.underPressure, maxEventLoopDelayMs: 20, [bound]: 1 },
        }),
      })
      await built.ready()
      await stallEventLoop(built, 1500, 20)
      expect(built.memoryUsage().eventLoopDelay).toBeGreaterThan(20)
      for (const url of ['/healthz', '/readyz']) {
        const answer = await built.inject({ method: 'GET', url })
        expect(answer.statusCode, url).toBe(503)
        expect(answer.json<{ detail: string }>().detail, url).toContain(`overloaded (${type})`)
      }
    },
  )
})
