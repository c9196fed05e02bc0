/**
 * Local peers for the HTTP client's tests: scripted `node:http` and `node:https` servers on
 * loopback (the https one with a self-signed certificate for 127.0.0.1 built by the simulator's
 * X.509 builder), a port nothing listens on, and a `fetch` that counts requests and trusts that
 * certificate.
 *
 * @module
 */
import { generateKeyPairSync } from 'node:crypto'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net'
import {
  X509_NAME_OID,
  buildX509Certificate,
  derSequence,
  derTlv,
  derToPem,
} from '@initguard/tee-simulator'

/** A scripted request handler. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** A running local server whose handler a test replaces. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` or `https://…`. */
  readonly origin: string
  /** Requests seen: `METHOD path authorization-or-"-"`. */
  readonly log: string[]
  handler: Handler
  close(): Promise<void>
}

/** A self-signed certificate and key for 127.0.0.1 (PEM). */
export function selfSignedLoopbackCertificate(): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const name = [{ oid: X509_NAME_OID.commonName, value: '127.0.0.1' }]
  // subjectAltName: iPAddress [7] 127.0.0.1, which TLS checks the host against.
  const san = derSequence([
    derTlv({ tagClass: 'context', tagNumber: 7, constructed: false }, Uint8Array.of(127, 0, 0, 1)),
  ])
  const der = buildX509Certificate(
    {
      serialNumber: 1n,
      issuer: name,
      subject: name,
      notBefore: new Date(hour - 3_600_000),
      notAfter: new Date(hour + 86_400_000),
      publicKey: privateKey,
      extensions: [{ oid: '2.5.29.17', value: san }],
      signatureAlgorithm: 'ecdsa-sha256',
    },
    privateKey,
  )
  return {
    cert: derToPem(der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

async function listening(
  server: Server,
  scheme: 'http' | 'https',
  state: TestServer,
): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  Object.assign(state, { origin: `${scheme}://127.0.0.1:${port}` })
  return state
}

function serverState(close: () => Promise<void>): TestServer {
  return {
    origin: '',
    log: [],
    handler: (_req, res) => res.writeHead(404).end(),
    close,
  }
}

/** Start a scripted http server (or https, with `tls`). */
export async function startServer(tls?: { cert: string; key: string }): Promise<TestServer> {
  const state: TestServer = serverState(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    state.log.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? '-'}`)
    res.on('error', () => undefined)
    state.handler(req, res)
  }
  const server = tls === undefined ? createHttpServer(listener) : createHttpsServer(tls, listener)
  return listening(server, tls === undefined ? 'http' : 'https', state)
}

/** A port nothing listens on: bound, then closed. */
export async function closedPort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Counts fetches and backoff waits (the waits are recorded, not slept). */
export interface CountingNetwork {
  readonly fetch: typeof fetch
  readonly sleep: (ms: number) => Promise<void>
  readonly fetches: () => number
  readonly waits: number[]
}

/**
 * The global `fetch` trusting `cert` for https: Node's fetch takes a `dispatcher`, built here from
 * the class of its own global dispatcher (which exists once fetch has run), since the undici
 * package itself is not a dependency.
 */
export async function fetchTrusting(cert: string): Promise<typeof fetch> {
  await (await fetch('data:,')).arrayBuffer()
  const global = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')]
  const Agent = (global as { constructor: new (options: unknown) => unknown }).constructor
  const dispatcher = new Agent({ connect: { ca: cert } })
  return (input, init) => fetch(input, { ...init, dispatcher } as RequestInit)
}

/** `base` (default the global `fetch`), counted, with waits recorded instead of slept. */
export function countingNetwork(base: typeof fetch = fetch): CountingNetwork {
  let fetches = 0
  const waits: number[] = []
  return {
    fetch: (input, init) => {
      fetches++
      return base(input, init)
    },
    sleep: (ms) => {
      waits.push(ms)
      return Promise.resolve()
    },
    fetches: () => fetches,
    waits,
  }
}

/** Write a body that never ends (until the client goes away). */
export function endlessBody(res: ServerResponse, status = 200): void {
  res.writeHead(status)
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk)) {
      // keep writing until the socket pushes back
    }
    if (!res.destroyed) res.once('drain', pump)
  }
  pump()
}
