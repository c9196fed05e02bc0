/**
 * Serving the guest API: plain HTTP on a loopback address (default `127.0.0.1:8006`, as CoCo's
 * api-server-rest) and, optionally, a Unix socket created with mode 0600. Fastify is imported
 * only here, lazily, so the agent's start-up up to the init-data check does not load it.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createConnection } from 'node:net'
import { chmod, lstat, unlink } from 'node:fs/promises'
import { LocalIoError, UsageError } from '@initguard/core'
import {
  DEFAULT_GUEST_API_ADDRESS,
  isLoopbackHost,
  type GuestApiAddress,
} from './guest-api-listen.ts'
import { registerGuestApi, type GuestApiState } from './guest-api-routes.ts'

/** Where and how to serve. */
export interface GuestApiServeOptions {
  readonly state: GuestApiState
  /** Default `127.0.0.1:8006`; port 0 picks a free port. */
  readonly listen?: GuestApiAddress
  /** A Unix socket to serve on as well (created 0600; a stale socket left by a crash is replaced). */
  readonly socketPath?: string
  /** Serve on a non-loopback address (anyone who can reach it gets the secrets). Default false. */
  readonly allowNonLoopback?: boolean
}

/** A running guest API. */
export interface RunningGuestApi {
  /** `http://127.0.0.1:8006` (IPv6 in brackets). */
  readonly url: string
  readonly socketPath: string | undefined
  /** Stop serving and remove the socket file. */
  close(): Promise<void>
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void

/** True when something answers on the socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => {
      resolve(false)
    })
  })
}

/** Remove a stale socket at `path`; refuse a live one or anything that is not a socket. */
async function clearSocketPath(path: string): Promise<void> {
  let kind: 'socket' | 'other'
  try {
    kind = (await lstat(path)).isSocket() ? 'socket' : 'other'
  } catch {
    return
  }
  if (kind === 'other' || (await socketAnswers(path)))
    throw new LocalIoError(
      'ERR_AGENT_SOCKET_IN_USE',
      `${path} ${kind === 'other' ? 'exists and is not a socket' : 'is the socket of a running server'}`,
      { details: { path }, hint: 'stop the other agent, or give another --socket path' },
    )
  await unlink(path)
}

async function listenUnix(path: string, handler: Handler): Promise<Server> {
  await clearSocketPath(path)
  const server = createServer(handler)
  // The socket is created 0600 (umask), never briefly wider, then checked.
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (cause) {
    throw new LocalIoError('ERR_AGENT_SOCKET', `cannot listen on the socket ${path}`, {
      cause,
      details: { path },
      hint: 'check that the directory exists and is writable',
    })
  } finally {
    process.umask(umask)
  }
  await chmod(path, 0o600)
  return server
}

/**
 * Serve the guest API (routes: {@link registerGuestApi}) on loopback and, when asked, a socket.
 *
 * @throws {@link UsageError} `ERR_AGENT_LISTEN_NOT_LOOPBACK` for another address without
 *   `allowNonLoopback`; {@link LocalIoError} `ERR_AGENT_SOCKET`, `ERR_AGENT_SOCKET_IN_USE`;
 *   the listen error (`EADDRINUSE`) as a LocalIoError `ERR_AGENT_LISTEN`.
 */
export async function serveGuestApi(options: GuestApiServeOptions): Promise<RunningGuestApi> {
  const listen = options.listen ?? DEFAULT_GUEST_API_ADDRESS
  if (!isLoopbackHost(listen.host) && options.allowNonLoopback !== true)
    throw new UsageError(
      'ERR_AGENT_LISTEN_NOT_LOOPBACK',
      `${listen.host} is not a loopback address: the guest API hands out secrets to whoever reaches it`,
      {
        details: { host: listen.host },
        hint: 'listen on 127.0.0.1 (or ::1), or pass --allow-non-loopback if the network is private to the workload',
      },
    )
  const { default: fastify } = await import('fastify')
  let handler: Handler | undefined
  const app = fastify({
    logger: false,
    bodyLimit: 1024,
    serverFactory: (h) => {
      handler = h
      return createServer(h)
    },
  })
  registerGuestApi(app, options.state)
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
  const bound = app.server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`
  let unix: Server | undefined
  if (options.socketPath !== undefined && handler !== undefined) {
    try {
      unix = await listenUnix(options.socketPath, handler)
    } catch (error) {
      await app.close()
      throw error
    }
  }
  const socketPath = options.socketPath
  return {
    url,
    socketPath,
    close: async () => {
      if (unix !== undefined) {
        const server = unix
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve()
          })
          server.closeAllConnections()
        })
        // Node removes the socket file on close; make sure, without failing if it did.
        if (socketPath !== undefined) await unlink(socketPath).catch(() => undefined)
      }
      await app.close()
    },
  }
}
