/**
 * `buildKbsApp`: the KBS as a Fastify 5 instance (not listening), written against the ports only.
 *
 * Limits: the body limit (413), JSON nesting (400, json-body.ts), header size (431), connection,
 * request and header timeouts and connection caps (connection-limits.ts), a per-client rate limit
 * on `/auth`, `/attest` and `GET /resource` (429), and `@fastify/under-pressure` (503 when the
 * event loop or memory is overloaded). Every error is Trustee's `{type, detail}`. Logs are pino JSON; with simulated
 * trust every line carries `simulated: true` and the app warns when it is built.
 *
 * @module
 */
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import type { LoggerOptions } from 'pino'
import { UsageError } from '@initguard/core'
import type { Appraiser, KbsStore, TokenService } from '../ports.ts'
import { rateLimitKey } from './rate-limit-key.ts'
import { requireAdminKeys, type AdminPublicKey } from './admin-auth.ts'
import { registerAdminRoutes } from './admin-routes.ts'
import type { KbsServerConfig } from './config.ts'
import { problem, problemForError, type KbsProblem } from './errors.ts'
import {
  kbsClientErrorHandler,
  limitConnections,
  lingerAfterAnswer,
  nodeServerLimits,
} from './connection-limits.ts'
import { registerJsonBodyParser } from './json-body.ts'
import { createKbsMetrics } from './metrics.ts'
import { KBS_OPENAPI } from './openapi.ts'
import { RESOURCE_ROUTE_PREFIX, registerRcarRoutes, type RcarRefusals } from './rcar-routes.ts'
import {
  MAX_PATH_SEGMENT_LENGTH,
  sendProblem,
  type KbsProtocolFunctions,
  type KbsRouteContext,
} from './route-context.ts'
import { monotonicRateLimitStore } from './rate-limit-store.ts'
import { registerServiceRoutes, shedUnderPressure } from './service-routes.ts'

/** What `buildKbsApp` needs. */
export interface KbsAppOptions {
  readonly store: KbsStore
  readonly appraiser: Appraiser
  readonly tokens: TokenService
  /** Validates a workload definition (JSON); throws a coded error saying what is wrong. */
  readonly validateWorkload: (json: unknown) => unknown
  readonly adminKeys: readonly AdminPublicKey[]
  readonly protocol: KbsProtocolFunctions
  readonly config: KbsServerConfig
  /** The certificate and key to serve HTTPS with; absent only when `config.tls` is insecure-http. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string }
  /** Pino options, or a pino logger; default pino at `config.logLevel`. */
  readonly logger?: LoggerOptions | FastifyBaseLogger
  readonly clock: () => Date
  /** A monotonic clock in ms, for the rate limiter's windows; default `performance.now`. */
  readonly monotonicMs?: () => number
  /** True when the simulator's roots are trusted (`--trust-sim`). */
  readonly simulatedTrust: boolean
  /** For `kbs_build_info`; default "0.1.0". */
  readonly version?: string
  /**
   * Also export the process's own metrics on `/metrics` (Node's: event-loop lag, heap, GC, CPU,
   * RSS, open handles). For the one app of a `kbs serve` process: they describe the process, and
   * their collectors (an event-loop delay monitor) stay on for its life, so an app built for a
   * test or next to another leaves them off (the default).
   */
  readonly processMetrics?: boolean
}

const routesOf = new WeakMap<FastifyInstance, { method: string; url: string }[]>()

/** The routes an app built by {@link buildKbsApp} has (method and URL), in registration order. */
export function kbsAppRoutes(
  app: FastifyInstance,
): readonly { readonly method: string; readonly url: string }[] {
  return routesOf.get(app) ?? []
}

function isLogger(logger: KbsAppOptions['logger']): logger is FastifyBaseLogger {
  return typeof (logger as { child?: unknown } | undefined)?.child === 'function'
}

function loggerSettings(
  options: KbsAppOptions,
): { logger: LoggerOptions } | { loggerInstance: FastifyBaseLogger } {
  const simulated = options.simulatedTrust ? { simulated: true } : {}
  if (isLogger(options.logger))
    return {
      loggerInstance: options.simulatedTrust ? options.logger.child(simulated) : options.logger,
    }
  const given: LoggerOptions = options.logger ?? { level: options.config.logLevel }
  return {
    logger: {
      ...given,
      base: { ...(given.base ?? { pid: process.pid }), ...simulated },
      // Credentials never reach the log.
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    },
  }
}

/**
 * Build the KBS app (routes, limits, metrics, error handling), ready to `listenKbs`.
 *
 * @throws {@link UsageError} `ERR_KBS_NO_ADMIN_KEY` with no admin key; `ERR_KBS_TLS_OPTIONS`
 *   without TLS material unless the configuration says insecure-http.
 */
export async function buildKbsApp(options: KbsAppOptions): Promise<FastifyInstance> {
  requireAdminKeys(options.adminKeys)
  const { config } = options
  if (options.tls === undefined && config.tls.mode !== 'insecure-http') {
    throw new UsageError(
      'ERR_KBS_TLS_OPTIONS',
      'no TLS certificate was given to the app, and plain HTTP was not asked for',
      {
        hint: 'pass the TLS identity (tls-identity.ts), or --insecure-http explicitly',
      },
    )
  }
  const nodeLimits = nodeServerLimits(config)
  // Set once the routes are registered (the router is built first).
  const refusals: { rcar?: RcarRefusals } = {}
  /**
   * A request path no route takes: a guest GET under the resource route is counted in that
   * route's rate limit and audited (as the route audits a bad path); any other is only answered.
   */
  const refusePath = (
    request: FastifyRequest,
    reply: FastifyReply,
    refused: KbsProblem,
  ): Promise<FastifyReply> | FastifyReply =>
    request.method === 'GET' &&
    request.url.startsWith(RESOURCE_ROUTE_PREFIX) &&
    refusals.rcar !== undefined
      ? refusals.rcar.resource(request, reply, refused)
      : sendProblem(reply, refused)
  const app = Fastify({
    ...loggerSettings(options),
    ...(options.tls === undefined
      ? { http: nodeLimits }
      : {
          https: {
            cert: options.tls.certPem,
            key: options.tls.keyPem,
            ...nodeLimits,
            // A connection that never finishes TLS is held no longer than one that never sends headers.
            handshakeTimeout: config.timeouts.headersMs,
          },
        }),
    clientErrorHandler: kbsClientErrorHandler,
    bodyLimit: config.bodyLimitBytes,
    connectionTimeout: config.timeouts.connectionMs,
    requestTimeout: config.timeouts.requestMs,
    keepAliveTimeout: config.timeouts.keepAliveMs,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // A path segment or workload name may be 128 characters (route-context.ts); Fastify's
    // default of 100 refused 101…128 before any route, with a 414.
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT_LENGTH },
    // What the router refuses itself (a longer segment, a malformed %-escape) was answered in
    // Fastify's own body, echoing the path: answer it like every other error.
    // A guest GET under the resource route is audited as the route audits a bad path, within the
    // route's rate limit.
    frameworkErrors: (_error, request, reply) => {
      void refusePath(
        request,
        reply,
        problem(
          400,
          'InvalidRequestPath',
          `the request path is malformed: each segment is percent-encoded correctly and at most ${String(MAX_PATH_SEGMENT_LENGTH)} characters`,
        ),
      )
    },
  }) as unknown as FastifyInstance
  app.server.headersTimeout = config.timeouts.headersMs
  const routes: { method: string; url: string }[] = []
  routesOf.set(app, routes)
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url })
  })
  if (options.simulatedTrust)
    app.log.warn(
      'SIMULATED TRUST: evidence from the TEE simulator (--trust-sim) is accepted; every token and log line says so. Never use this with real secrets.',
    )
  if (options.tls === undefined)
    app.log.warn(
      'PLAIN HTTP (--insecure-http): session cookies and tokens travel unencrypted; use only on a trusted network',
    )

  const metrics = createKbsMetrics(options.version ?? '0.1.0', options.processMetrics === true)
  limitConnections(app.server, config.connections, (reason) => {
    metrics.connectionsRefused.inc({ reason })
  })
  registerJsonBodyParser(app, config.jsonMaxDepth)
  const context: KbsRouteContext = {
    store: options.store,
    appraiser: options.appraiser,
    tokens: options.tokens,
    protocol: options.protocol,
    validateWorkload: options.validateWorkload,
    adminKeys: options.adminKeys,
    adminAudience: config.adminAudience,
    metrics,
    clock: options.clock,
    nonceTtlMs: config.nonceTtlMs,
    auditMinRetentionMs: config.auditMinRetentionMs,
    secureCookie: options.tls !== undefined,
    simulatedTrust: options.simulatedTrust,
  }

  app.setErrorHandler(async (error, request, reply) => {
    const mapped = problemForError(error)
    // A body refused before it was read to its end: the answer must reach the client before the close.
    lingerAfterAnswer(request.raw)
    if (mapped.unexpected) request.log.error({ err: error }, 'unexpected error')
    else
      request.log.info(
        { code: (error as { code?: unknown }).code, status: mapped.problem.status },
        'request refused',
      )
    // A body /auth or /attest refused before its handler ran is audited like the handler's own.
    const told =
      refusals.rcar === undefined
        ? mapped.problem
        : await refusals.rcar.body(request, error, mapped.problem)
    return sendProblem(reply, told)
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    return path.startsWith(RESOURCE_ROUTE_PREFIX)
      ? refusePath(
          request,
          reply,
          problem(
            400,
            'InvalidRequestPath',
            'a resource path is <repository>/<type>/<tag>, each matching ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$',
          ),
        )
      : sendProblem(
          reply,
          problem(404, 'InvalidRequestPath', `no route ${request.method} ${path.slice(0, 200)}`),
        )
  })
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
  })

  await app.register(underPressure, {
    maxEventLoopDelay: config.underPressure.maxEventLoopDelayMs,
    maxHeapUsedBytes: config.underPressure.maxHeapUsedBytes,
    maxRssBytes: config.underPressure.maxRssBytes,
    pressureHandler: (_request, reply, type) => {
      shedUnderPressure(reply, type)
    },
  })
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (request) => rateLimitKey(request.ip),
    store: monotonicRateLimitStore(options.monotonicMs ?? (() => performance.now())),
  })
  const perClient = { max: config.rateLimit.max, timeWindow: config.rateLimit.windowMs }
  refusals.rcar = registerRcarRoutes(app, context, perClient)
  await registerAdminRoutes(app, context, perClient)
  registerServiceRoutes(app, context, KBS_OPENAPI, config.underPressure)
  return app
}
