/**
 * Real `node:http` servers on loopback for tests that need a service to talk to: AMD KDS, a PCCS,
 * an OCI registry. {@link startLoopbackServer} runs a handler the test writes;
 * {@link startHoldingServer} holds its answers until the test lets them go, and counts what it saw.
 *
 * @module
 */
import { createServer, type RequestListener } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'

/** A running loopback server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, or `https://…` when started with TLS. */
  readonly baseUrl: string
  /** Stop it, dropping kept-alive connections. */
  close(): Promise<void>
}

/**
 * Start `handler` on 127.0.0.1 at a port the system chooses: over HTTPS with `tls` (a certificate
 * and its key, PEM), as a TLS-terminating proxy serves; else plain http.
 */
export async function startLoopbackServer(
  handler: RequestListener,
  tls?: { readonly certPem: string; readonly keyPem: string },
): Promise<LoopbackServer> {
  const server =
    tls === undefined
      ? createServer(handler)
      : createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    baseUrl: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${address.port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** A loopback server whose answers wait until released, and what it saw. */
export interface HoldingServer extends LoopbackServer {
  /** Requests by path, in the order they arrived. */
  readonly arrived: string[]
  /** Requests answered or not, by path. */
  count(path: string): number
  /** The most requests open at once since the last {@link HoldingServer.reset}. */
  readonly mostOpen: number
  /** Hold every answer from now until the returned function is called. */
  hold(): () => void
  /** Forget what was seen (not the hold). */
  reset(): void
  /** Wait until `total` requests have arrived. */
  arrivals(total: number): Promise<void>
}

/**
 * Start a server (standing in for a collateral service) that answers a path starting with
 * `/missing` 404, one starting with `/failing` 503, and any other `body of <path>`, each once the
 * hold is released.
 */
export async function startHoldingServer(): Promise<HoldingServer> {
  const arrived: string[] = []
  let open = 0
  let mostOpen = 0
  let released = Promise.resolve()
  const server = await startLoopbackServer((req, res) => {
    const path = req.url ?? ''
    arrived.push(path)
    mostOpen = Math.max(mostOpen, ++open)
    // Counted closed once its answer is flushed, before the client can read it and send the next.
    let closed = false
    const close = (): void => {
      if (!closed) open--
      closed = true
    }
    res.on('finish', close)
    res.on('close', close)
    void released.then(() => {
      if (path.startsWith('/missing')) res.writeHead(404)
      if (path.startsWith('/failing')) res.writeHead(503)
      res.end(`body of ${path}`)
    })
  })
  return {
    ...server,
    arrived,
    count: (path) => arrived.filter((p) => p === path).length,
    get mostOpen() {
      return mostOpen
    },
    hold: () => {
      let release: () => void = () => undefined
      released = new Promise((resolve) => {
        release = resolve
      })
      return release
    },
    reset: () => {
      arrived.length = 0
      mostOpen = open
    },
    arrivals: async (total) => {
      while (arrived.length < total) await new Promise((resolve) => setTimeout(resolve, 5))
    },
  }
}
