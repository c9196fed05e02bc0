/**
 * Bounds on the guest API's connections. It listens on loopback and a 0600 socket, so only the
 * workload's own processes reach it, but a stuck or hostile one must not hold the agent: the
 * request's headers arrive within `headersTimeoutMs`, the whole request within
 * `requestTimeoutMs` (Node checks both every quarter of the shorter), an idle keep-alive
 * connection closes after `keepAliveTimeoutMs`, the request line and headers are at most
 * `maxHeaderBytes` (over it: 431), and at most `maxConnections` are open per listener. No route
 * takes a body (every path is a GET), so no body is ever parsed.
 *
 * @module
 */
import { createServer, type Server } from 'node:http'
import type { GuestApiHandler } from './guest-api-socket.ts'

/** The guest API's limits (times in ms, sizes in bytes). */
export interface GuestApiLimits {
  readonly headersTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  readonly maxHeaderBytes: number
  readonly maxConnections: number
}

/** The defaults: generous for a local client, short for one that stalls. */
export const GUEST_API_LIMITS: GuestApiLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 256,
}

/** A `node:http` server for `handler` under `limits`. */
export function createLimitedServer(handler: GuestApiHandler, limits: GuestApiLimits): Server {
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(shorter / 4))),
    },
    handler,
  )
  server.headersTimeout = limits.headersTimeoutMs
  server.requestTimeout = limits.requestTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.maxConnections = limits.maxConnections
  return server
}
