/**
 * `listenKbs`: start an app built by `buildKbsApp` on a host and port.
 *
 * @module
 */
import { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { UsageError } from '@initguard/core'
import type { ListenAddress } from './config-values.ts'

/** Why an address cannot be listened on, by the system's code, for people. */
const LISTEN_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is in use (another process listens there)',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'this host has no such address',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (for now)',
}

/** Where the KBS listens, once it does. */
export interface KbsListening {
  /** `https://127.0.0.1:8443` (IPv6 in brackets). */
  readonly url: string
  readonly port: number
}

/**
 * Listen on `address` (port 0: any free port). HTTPS or HTTP was decided by `buildKbsApp`.
 *
 * @throws {@link UsageError} `ERR_KBS_LISTEN` when the system refuses the address (in use, not
 *   this host's, a privileged port, a name that does not resolve): the operator's `--listen` to
 *   change, not a bug.
 */
export async function listenKbs(
  app: FastifyInstance,
  address: ListenAddress,
): Promise<KbsListening> {
  try {
    await app.listen({ host: address.host, port: address.port })
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    const why = typeof code === 'string' ? LISTEN_FAILURES[code] : undefined
    if (why === undefined) throw error
    const shown = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${String(address.port)}`
    throw new UsageError('ERR_KBS_LISTEN', `cannot listen on ${shown}: ${why}`, {
      cause: error,
      details: { listen: shown, reason: code as string },
      hint: 'give --listen (or listen in the config file) an address of this host that is free',
    })
  }
  const bound = app.server.address()
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
  const scheme = app.server instanceof TlsServer ? 'https' : 'http'
  const host = address.host.includes(':') ? `[${address.host}]` : address.host
  return { url: `${scheme}://${host}:${port}`, port }
}
