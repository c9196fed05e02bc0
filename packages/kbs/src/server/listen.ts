/**
 * `listenKbs`: start an app built by `buildKbsApp` on a host and port.
 *
 * @module
 */
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { ListenAddress } from './config-values.ts'

/** Where the KBS listens, once it does. */
export interface KbsListening {
  /** `https://127.0.0.1:8443` (IPv6 in brackets). */
  readonly url: string
  readonly port: number
}

/** Listen on `address` (port 0: any free port). HTTPS or HTTP was decided by `buildKbsApp`. */
export async function listenKbs(
  app: FastifyInstance,
  address: ListenAddress,
): Promise<KbsListening> {
  await app.listen({ host: address.host, port: address.port })
  const bound = app.server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
  const scheme = app.server instanceof TlsServer ? 'https' : 'http'
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return { url: `${scheme}://${host}:${port}`, port }
}
