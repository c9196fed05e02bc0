/**
 * A real `node:http` server on loopback for the collateral tests, standing in for AMD KDS or a
 * PCCS.
 *
 * @module
 */
import { createServer, type RequestListener } from 'node:http'

/** A running loopback server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string
  /** Stop it, dropping kept-alive connections. */
  close(): Promise<void>
}

/** Start `handler` on 127.0.0.1 at a port the system chooses. */
export async function startLoopbackServer(handler: RequestListener): Promise<LoopbackServer> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
