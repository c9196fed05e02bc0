/**
 * The routes around the protocol: `GET /.well-known/jwks.json`, `/healthz`, `/readyz`, `/metrics`
 * and `/openapi.json`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { isInitguardError } from '@initguard/core'
import { sharedCheck, withStoreDeadline } from './store-availability.ts'
import { problem } from './errors.ts'
import { sendProblem, type KbsRouteContext } from './route-context.ts'

/** How long `/readyz` waits for the database. */
const READINESS_DEADLINE_MS = 2000
/** How long one answer of the database serves `/readyz` calls. */
const READINESS_CACHE_MS = 1000

/** Register the service routes. */
export function registerServiceRoutes(
  app: FastifyInstance,
  context: KbsRouteContext,
  openapi: Readonly<Record<string, unknown>>,
): void {
  app.get('/.well-known/jwks.json', async () => context.tokens.jwks(context.clock()))
  app.get('/healthz', () => Promise.resolve({ status: 'ok' }))
  // Readiness is the database's: a replica that cannot reach it leaves the load balancer's
  // rotation. Bounded, so a probe never waits on a database that does not answer.
  const ready = sharedCheck(
    () => withStoreDeadline(context.store.ping(), READINESS_DEADLINE_MS),
    READINESS_CACHE_MS,
  )
  app.get('/readyz', async (request, reply) => {
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
