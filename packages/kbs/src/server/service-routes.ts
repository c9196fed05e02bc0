/**
 * The routes around the protocol: `GET /.well-known/jwks.json`, `/healthz`, `/readyz`, `/metrics`
 * and `/openapi.json`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { problem } from './errors.ts'
import { sendProblem, type KbsRouteContext } from './route-context.ts'

/** Register the service routes. */
export function registerServiceRoutes(
  app: FastifyInstance,
  context: KbsRouteContext,
  openapi: Readonly<Record<string, unknown>>,
): void {
  app.get('/.well-known/jwks.json', async () => context.tokens.jwks(context.clock()))
  app.get('/healthz', () => Promise.resolve({ status: 'ok' }))
  app.get('/readyz', async (request, reply) => {
    try {
      await context.store.ping()
      return { status: 'ready' }
    } catch (error) {
      request.log.error({ err: error }, 'the store does not answer')
      return sendProblem(reply, problem(503, 'ServiceUnavailable', 'the KBS store does not answer'))
    }
  })
  app.get('/metrics', async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  )
  app.get('/openapi.json', () => Promise.resolve(openapi))
}
