/**
 * Serving the guest API: plain HTTP on a loopback address (default `127.0.0.1:8006`, as CoCo's
 * api-server-rest) and, optionally, a Unix socket created with mode 0600. Fastify is imported
 * only here, lazily, so the agent's start-up up to the init-data check does not load it.
 *
 * Who may call: every process of the guest reaches a loopback port, whatever its user, and
 * whoever reaches the API gets the TEE key and every secret. The socket's mode is the only check
 * of the caller there is (its owner, and root); `listen: 'none'` serves on the socket alone, for a
 * guest whose other users must not have the secrets.
 *
 * Stopping is bounded: {@link RunningGuestApi.close} aborts the KBS calls in flight, and closes
 * connections still open after a short grace, so a hanging KBS cannot outlast a pod's grace.
 *
 * @module
 */
import type { Server } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { unlink } from 'node:fs/promises'
import type { InitguardError } from '@initguard/core'
import { InternalError, LocalIoError, UsageError } from '@initguard/core'
import {
  DEFAULT_GUEST_API_ADDRESS,
  isLoopbackAddress,
  isLoopbackHost,
  type GuestApiAddress,
} from './guest-api-listen.ts'
import { GUEST_API_LIMITS, createLimitedServer, type GuestApiLimits } from './guest-api-limits.ts'
import { guestApiClientError, guestApiMarks } from './guest-api-marks.ts'
import { GuestApiRefusal } from './guest-api-refusal.ts'
import {
  guestApiFrameworkErrors,
  registerGuestApi,
  unboundMember,
  type GuestApiState,
} from './guest-api-routes.ts'
import { listenUnix, type GuestApiHandler } from './guest-api-socket.ts'

/** `listen` value that serves on the Unix socket only (no TCP listener). */
export const NO_TCP_LISTENER = 'none'

/** Where and how to serve. */
export interface GuestApiServeOptions {
  readonly state: GuestApiState
  /**
   * Default `127.0.0.1:8006`; port 0 picks a free port. {@link NO_TCP_LISTENER} (`'none'`): no
   * TCP listener at all, only `socketPath` (required then).
   */
  readonly listen?: GuestApiAddress | typeof NO_TCP_LISTENER
  /** A Unix socket to serve on as well (created 0600; a stale socket of ours is replaced). */
  readonly socketPath?: string
  /** Serve on a non-loopback address (anyone who can reach it gets the secrets). Default false. */
  readonly allowNonLoopback?: boolean
  /** How long {@link RunningGuestApi.close} lets requests finish before closing their connections; default 2 s. */
  readonly closeGraceMs?: number
  /** Timeouts, header size and connection cap, on both listeners; default {@link GUEST_API_LIMITS}. */
  readonly limits?: Partial<GuestApiLimits>
}

/** A running guest API. */
export interface RunningGuestApi {
  /** `http://127.0.0.1:8006` (IPv6 in brackets). */
  readonly url: string
  readonly socketPath: string | undefined
  /**
   * Settles when the API latched its refused state (the TEE's init-time field changed): every
   * path answers 503 with this reason; the agent should stop. Never settles otherwise.
   */
  readonly refused: Promise<InitguardError>
  /** Abort the KBS calls in flight, stop serving (open connections closed after the grace), remove the socket file. */
  close(): Promise<void>
}

function notLoopback(host: string, bound?: string): UsageError {
  return new UsageError(
    'ERR_AGENT_LISTEN_NOT_LOOPBACK',
    `${host}${bound === undefined ? '' : ` (bound to ${bound})`} is not a loopback address: the guest API hands out secrets to whoever reaches it`,
    {
      details: { host, ...(bound === undefined ? {} : { bound }) },
      hint: 'listen on 127.0.0.1 (or ::1), or pass --allow-non-loopback if the network is private to the workload',
    },
  )
}

/** The bound addresses (pipes aside) that are not loopback IP addresses. */
export function nonLoopbackAddresses(
  bound: readonly (string | { readonly address: string })[],
): string[] {
  return bound.flatMap((b) =>
    typeof b === 'string' || isLoopbackAddress(b.address) ? [] : [b.address],
  )
}

/** The guest API served on its Unix socket only ({@link NO_TCP_LISTENER}): it has no URL. */
export interface SocketOnlyGuestApi extends Omit<RunningGuestApi, 'url' | 'socketPath'> {
  readonly url: undefined
  readonly socketPath: string
}

/**
 * Refuse listeners that cannot be meant: an address that is not loopback without
 * `allowNonLoopback` (the first filter {@link serveGuestApi} applies; it checks what was bound
 * too), `listen: 'none'` without a socket (nothing would be served), or with `allowNonLoopback`
 * (there is no address for it to allow), and `allowNonLoopback` with a loopback address or the
 * default one (it would allow nothing: an option is never silently ignored). The agent's command calls it before the init-data check,
 * so a usage error reads nothing and never leaves a runtime directory behind (which would make the
 * corrected start fail as not empty).
 *
 * @throws {@link UsageError} `ERR_AGENT_LISTEN_NOT_LOOPBACK`, `ERR_AGENT_LISTEN_NONE`,
 *   `ERR_OPTION_NOT_APPLICABLE`.
 */
export function checkGuestApiListeners(
  options: Pick<GuestApiServeOptions, 'listen' | 'socketPath' | 'allowNonLoopback'>,
): void {
  const { listen } = options
  if (listen !== NO_TCP_LISTENER) {
    const host = (listen ?? DEFAULT_GUEST_API_ADDRESS).host
    // A loopback address (the default's too) is served without the flag, so with it the flag
    // allows nothing. `localhost` is a name a resolver may map elsewhere: the flag counts there.
    if (options.allowNonLoopback === true && isLoopbackAddress(host))
      throw new UsageError(
        'ERR_OPTION_NOT_APPLICABLE',
        `--allow-non-loopback has no effect: the guest API listens on ${listen === undefined ? `the default ${host}` : host}, a loopback address, which needs no permission`,
        {
          details: { option: '--allow-non-loopback', listen: host },
          hint: 'drop --allow-non-loopback, or give the non-loopback address it is for with --listen HOST:PORT',
        },
      )
    if (listen !== undefined && !isLoopbackHost(listen.host) && options.allowNonLoopback !== true)
      throw notLoopback(listen.host)
    return
  }
  if (options.socketPath === undefined)
    throw new UsageError(
      'ERR_AGENT_LISTEN_NONE',
      'the guest API would listen nowhere: no TCP listener and no socket',
      { hint: 'give --socket PATH with --listen none, or a --listen HOST:PORT' },
    )
  if (options.allowNonLoopback === true)
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      '--allow-non-loopback applies to a TCP listener, and --listen none has none',
      { details: { option: '--allow-non-loopback' }, hint: 'drop --allow-non-loopback' },
    )
}

/**
 * Serve the guest API (routes: {@link registerGuestApi}) on loopback and, when asked, a socket;
 * or, with `listen: 'none'`, on the socket alone.
 *
 * @throws {@link UsageError} `ERR_AGENT_LISTEN_NOT_LOOPBACK` for another address (or a name that
 *   bound one) without `allowNonLoopback`; `ERR_AGENT_LISTEN_NONE` (`'none'` without a socket),
 *   `ERR_OPTION_NOT_APPLICABLE` (`'none'` with `allowNonLoopback`); {@link LocalIoError}
 *   `ERR_AGENT_SOCKET`, `ERR_AGENT_SOCKET_IN_USE`; the listen error (`EADDRINUSE`) as a
 *   LocalIoError `ERR_AGENT_LISTEN`.
 */
export function serveGuestApi(
  options: GuestApiServeOptions & {
    readonly listen: typeof NO_TCP_LISTENER
    readonly socketPath: string
  },
): Promise<SocketOnlyGuestApi>
export function serveGuestApi(
  options: GuestApiServeOptions & { readonly listen?: GuestApiAddress },
): Promise<RunningGuestApi>
export function serveGuestApi(
  options: GuestApiServeOptions,
): Promise<RunningGuestApi | SocketOnlyGuestApi>
export async function serveGuestApi(
  options: GuestApiServeOptions,
): Promise<RunningGuestApi | SocketOnlyGuestApi> {
  const listen = options.listen ?? DEFAULT_GUEST_API_ADDRESS
  const allowNonLoopback = options.allowNonLoopback === true
  checkGuestApiListeners(options)
  const { state } = options
  const clientError = guestApiClientError(guestApiMarks(state), unboundMember(state))
  const { default: fastify } = await import('fastify')
  let handler: GuestApiHandler | undefined
  const limits = { ...GUEST_API_LIMITS, ...options.limits }
  const app = fastify({
    logger: false,
    bodyLimit: 1024,
    frameworkErrors: guestApiFrameworkErrors(state),
    clientErrorHandler: clientError,
    serverFactory: (h) => {
      handler = h
      return createLimitedServer(h, limits)
    },
  })
  const refusal = new GuestApiRefusal()
  registerGuestApi(app, state, refusal)
  let stopping = false
  // Once stopping, answers close their connections, so close() need not wait out keep-alive.
  app.addHook('onSend', async (_request, reply) => {
    if (stopping) reply.header('connection', 'close')
  })
  const url =
    listen === NO_TCP_LISTENER ? undefined : await listenTcp(app, listen, allowNonLoopback)
  // Socket only: the routes are made ready without the TCP server ever listening.
  if (url === undefined) await app.ready()
  let unix: Server | undefined
  if (options.socketPath !== undefined && handler !== undefined) {
    try {
      unix = await listenUnix(options.socketPath, createLimitedServer(handler, limits), clientError)
    } catch (error) {
      await app.close()
      throw error
    }
  }
  const socketPath = options.socketPath
  const graceMs = options.closeGraceMs ?? 2_000
  const running = {
    refused: refusal.refused,
    close: async () => {
      stopping = true
      if (state.kbs.kind === 'session') state.kbs.session.close()
      const force = setTimeout(() => {
        app.server.closeAllConnections()
        unix?.closeAllConnections()
      }, graceMs)
      try {
        const server = unix
        await Promise.all([
          server === undefined
            ? undefined
            : new Promise<void>((resolve) => {
                server.close(() => {
                  resolve()
                })
                server.closeIdleConnections()
              }),
          app.close(),
        ])
      } finally {
        clearTimeout(force)
      }
      // Node removes the socket file on close; make sure, without failing if it did.
      if (socketPath !== undefined) await unlink(socketPath).catch(() => undefined)
    },
  }
  if (url !== undefined) return { url, socketPath, ...running }
  // checkGuestApiListeners refused 'none' without a socket.
  if (socketPath === undefined) throw new InternalError('ERR_INTERNAL', 'no listener was made')
  return { url, socketPath, ...running }
}

/**
 * Listen on `listen` and return the URL, judging what was bound (a name is trusted for what it
 * bound, not for what it is called); the app is closed on any refusal.
 */
async function listenTcp(
  app: FastifyInstance,
  listen: GuestApiAddress,
  allowNonLoopback: boolean,
): Promise<string> {
  try {
    await app.listen({ host: listen.host, port: listen.port })
  } catch (cause) {
    await app.close()
    throw new LocalIoError('ERR_AGENT_LISTEN', `cannot listen on ${listen.host}:${listen.port}`, {
      cause,
      details: { host: listen.host, port: listen.port },
      hint: 'another process may use the port: give another --listen HOST:PORT',
    })
  }
  const wide = nonLoopbackAddresses(app.addresses())
  if (wide.length > 0 && !allowNonLoopback) {
    await app.close()
    throw notLoopback(listen.host, wide.join(', '))
  }
  const bound = app.server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port
  return `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`
}
