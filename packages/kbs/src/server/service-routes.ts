/**
 * The routes around the protocol: `GET /.well-known/jwks.json`, `/healthz`, `/readyz`, `/metrics`
 * and `/openapi.json`.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isInitguardError } from '@initguard/core'
import { sharedCheck, withStoreDeadline } from './store-availability.ts'
import { problem } from './errors.ts'
import { sendProblem, type KbsRouteContext } from './route-context.ts'

/** How long `/readyz` waits for the database. */
const READINESS_DEADLINE_MS = 2000
/** How long one answer of the database serves `/readyz` calls. */
const READINESS_CACHE_MS = 1000

/**
 * Refuse a request while `@fastify/under-pressure` sees a bound passed (`type`: its name of the
 * bound): 503 with `Retry-After`, the answer of every route under pressure.
 */
export function shedUnderPressure(reply: FastifyReply, type: string): void {
  void sendProblem(
    reply.header('retry-after', '1'),
    problem(503, 'ServiceUnavailable', `the KBS is overloaded (${type}); retry shortly`),
  )
}

/** The memory bounds under-pressure enforces (0: not checked), as the server's configuration gives them. */
export interface MemoryBounds {
  readonly maxHeapUsedBytes: number
  readonly maxRssBytes: number
}

/**
 * The probes' answer under pressure. Event-loop delay is load, not ill health: were `/healthz` and
 * `/readyz` shed for it, a flood that slows every replica would take every replica out of the
 * Service (readiness) and restart them all (liveness), turning per-request 503s into an outage
 * with cold caches. So the probes answer through it; a loop that is truly stuck does not answer
 * at all, and the probe's own timeout catches that. Memory over its bound (heap, RSS) does not
 * pass: a restart is what recovers a replica that stays there. under-pressure names only the
 * first bound passed, event-loop delay before memory, so under delay the memory bounds are
 * checked here: a replica over both (a heap near its bound spends its time in GC) is restarted.
 */
function probeUnderPressure(
  bounds: MemoryBounds,
): (request: FastifyRequest, reply: FastifyReply, type: string) => void {
  return (request, reply, type) => {
    if (type !== 'eventLoopDelay') {
      shedUnderPressure(reply, type)
      return
    }
    const { heapUsed, rssBytes } = request.server.memoryUsage()
    if (bounds.maxHeapUsedBytes > 0 && heapUsed > bounds.maxHeapUsedBytes)
      shedUnderPressure(reply, 'heapUsedBytes')
    else if (bounds.maxRssBytes > 0 && rssBytes > bounds.maxRssBytes)
      shedUnderPressure(reply, 'rssBytes')
  }
}

/** Register the service routes. */
export function registerServiceRoutes(
  app: FastifyInstance,
  context: KbsRouteContext,
  openapi: Readonly<Record<string, unknown>>,
  bounds: MemoryBounds,
): void {
  app.get('/.well-known/jwks.json', async () => context.tokens.jwks(context.clock()))
  const probe = { config: { pressureHandler: probeUnderPressure(bounds) } }
  app.get('/healthz', probe, () => Promise.resolve({ status: 'ok' }))
  // Readiness is the database's: a replica that cannot reach it leaves the load balancer's
  // rotation. Bounded, so a probe never waits on a database that does not answer.
  const ready = sharedCheck(
    () => withStoreDeadline(context.store.ping(), READINESS_DEADLINE_MS),
    READINESS_CACHE_MS,
  )
  app.get('/readyz', probe, async (request, reply) => {
    try {
      await ready()
      return { status: 'ready', database: 'ok' }
    } catch (error) {
      request.log.warn({ err: error }, 'the database does not answer')
      const why = isInitguardError(error) ? `: ${error.message}` : ''
      return sendProblem(
        reply,
        problem(503, 'ServiceUnavailable', `not ready: the KBS database does not answer${why}`),
      )
    }
  })
  app.get('/metrics', async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  )
  app.get('/openapi.json', () => Promise.resolve(openapi))
}
