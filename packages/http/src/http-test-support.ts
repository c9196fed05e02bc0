/**
 * Local peers for the HTTP client's tests: scripted `node:http` and `node:https` servers on
 * loopback (the https one with a self-signed certificate for 127.0.0.1 built by the simulator's
 * X.509 builder), a port nothing listens on, and a `fetch` that counts requests and trusts that
 * certificate.
 *
 * @module
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net'
import {
  X509_EXTENSION_OID,
  X509_NAME_OID,
  buildX509Certificate,
  encodeBasicConstraints,
  derSequence,
  derTlv,
  derToPem,
} from '@initguard/tee-simulator'
import { vi } from 'vitest'
import { tlsFetch } from './tls-fetch.ts'

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

/** A PEM certificate and its PEM private key. */
export interface PemCertificate {
  readonly cert: string
  readonly key: string
}

/** What {@link loopbackCertificate} makes. */
export interface LoopbackCertificateOptions {
  /** The CA that signs it; default self-signed. */
  readonly issuer?: PemCertificate
  /** A CA certificate (basicConstraints cA) rather than a server's. */
  readonly ca?: boolean
  /** The IPv4 address in its subjectAltName; default 127.0.0.1. */
  readonly address?: readonly [number, number, number, number]
  readonly commonName?: string
}

let serial = 1n

/** A certificate for a loopback server, self-signed or issued by `issuer` (PEM). */
export function loopbackCertificate(options: LoopbackCertificateOptions = {}): PemCertificate {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const subject = [{ oid: X509_NAME_OID.commonName, value: options.commonName ?? '127.0.0.1' }]
  const issuerCert =
    options.issuer === undefined ? undefined : new X509Certificate(options.issuer.cert)
  const issuerName = [
    {
      oid: X509_NAME_OID.commonName,
      value: issuerCert?.subject.replace(/^CN=/, '') ?? subject[0]?.value ?? '',
    },
  ]
  // subjectAltName: iPAddress [7], which TLS checks the host against.
  const san = derSequence([
    derTlv(
      { tagClass: 'context', tagNumber: 7, constructed: false },
      Uint8Array.from(options.address ?? [127, 0, 0, 1]),
    ),
  ])
  const der = buildX509Certificate(
    {
      serialNumber: serial++,
      issuer: issuerName,
      subject,
      notBefore: new Date(hour - 3_600_000),
      notAfter: new Date(hour + 86_400_000),
      publicKey: privateKey,
      extensions: [
        options.ca === true
          ? {
              oid: X509_EXTENSION_OID.basicConstraints,
              critical: true,
              value: encodeBasicConstraints({ ca: true }),
            }
          : { oid: '2.5.29.17', value: san },
      ],
      signatureAlgorithm: 'ecdsa-sha256',
    },
    options.issuer === undefined ? privateKey : createPrivateKey(options.issuer.key),
  )
  return {
    cert: derToPem(der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

/** A self-signed certificate and key for 127.0.0.1 (PEM). */
export function selfSignedLoopbackCertificate(): PemCertificate {
  return loopbackCertificate()
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
export async function startServer(tls?: PemCertificate): Promise<TestServer> {
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

/** A `fetch` trusting only `cert` for https (the client's own TLS option, {@link tlsFetch}). */
export function fetchTrusting(cert: string): typeof fetch {
  return tlsFetch({ caPem: cert })
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

/**
 * Run `work` with `NODE_TLS_REJECT_UNAUTHORIZED=0` in `process.env`, then put the variable back as
 * it was. Node reads the variable at every TLS connection whose options leave
 * `rejectUnauthorized` out, and then verifies nothing: tests use it to show that no outbound path
 * of the product leaves that choice to the environment. Node's one-off warning that verification
 * is off stays out of the test output.
 */
export async function withTlsVerificationOffInEnvironment<T>(work: () => Promise<T>): Promise<T> {
  const before = process.env['NODE_TLS_REJECT_UNAUTHORIZED']
  const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
  process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0'
  try {
    return await work()
  } finally {
    if (before === undefined) delete process.env['NODE_TLS_REJECT_UNAUTHORIZED']
    else process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = before
    warning.mockRestore()
  }
}

/** A way to run a test's requests: as Node verifies by default, or with the variable set to 0. */
export interface VerificationEnvironment {
  /** For test names: "as Node verifies by default", "with NODE_TLS_REJECT_UNAUTHORIZED=0". */
  readonly name: string
  readonly run: <T>(work: () => Promise<T>) => Promise<T>
}

/** Both environments an outbound TLS path must verify certificates in. */
export const VERIFICATION_ENVIRONMENTS: readonly VerificationEnvironment[] = [
  { name: 'as Node verifies by default', run: (work) => work() },
  { name: 'with NODE_TLS_REJECT_UNAUTHORIZED=0', run: withTlsVerificationOffInEnvironment },
]
