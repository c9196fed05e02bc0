/**
 * The harness of the registry fault tests: a real registry (Debian's `docker-registry`) holding one
 * test image, and two loopback servers in front of it (`front`, the registry's address as the
 * client sees it, and `storage`, another host for redirects) whose handler a test replaces to inject
 * faults; by default they proxy to the real registry. {@link useFaultServers} starts them for a
 * test file and resets the handlers and the request log after each test.
 *
 * `registry`, `work`, `image`, `front` and `storage` are live bindings (`let`), set in `beforeAll`:
 * read them inside tests and hooks, never at module load.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts'
import { pushTestImage, simpleTestImage, type TestImage } from './oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'

/** What a fault server does with a request (its body already read). */
export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
) => Promise<void> | void

/** A loopback server and its replaceable handler. */
export interface FaultServer {
  readonly server: Server
  readonly host: string
  readonly handler: { current: Handler | undefined }
}

export let registry: TestRegistry
export let work: string
export let image: TestImage
export let front: FaultServer
export let storage: FaultServer
/** `METHOD URL AUTHORIZATION` of every request the fault servers received in this test. */
export const log: string[] = []
const servers: FaultServer[] = []

/** Start a fault server on a free loopback port; it proxies until a test sets its handler. */
export async function serve(): Promise<FaultServer> {
  const handler: { current: Handler | undefined } = { current: undefined }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      log.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? '-'}`)
      Promise.resolve((handler.current ?? proxy)(req, res, Buffer.concat(chunks))).catch(() => {
        res.destroy()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const entry = { server, host: `127.0.0.1:${address.port}`, handler }
  servers.push(entry)
  return entry
}

/** Forward to the real registry, rewriting its absolute Location headers to the front server. */
export async function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<void> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers))
    if (typeof v === 'string' && !['host', 'authorization', 'connection'].includes(k))
      headers[k] = v
  const method = req.method ?? 'GET'
  const upstream = await fetch(`http://${registry.host}${req.url ?? '/'}`, {
    method,
    headers,
    redirect: 'manual',
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
  })
  const out: Record<string, string> = {}
  upstream.headers.forEach((v, k) => {
    if (!['content-encoding', 'transfer-encoding', 'connection', 'keep-alive'].includes(k))
      out[k] = k === 'location' ? v.replace(registry.host, front.host) : v
  })
  const bytes = Buffer.from(await upstream.arrayBuffer())
  res.writeHead(upstream.status, out)
  res.end(bytes)
}

/** A client of the fault servers (plain http), with short timeouts and backoff. */
export function client(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({
    insecureRegistries: [front.host, storage.host],
    backoffMs: 1,
    timeoutMs: 2000,
    ...options,
  })
}

/** Start the registry and the fault servers for this test file; reset them after each test. */
export function useFaultServers(): void {
  beforeAll(async () => {
    registry = await startRegistry()
    work = await mkdtemp(join(tmpdir(), 'initguard-registry-faults-'))
    front = await serve()
    storage = await serve()
    image = simpleTestImage('faults')
    await pushTestImage(
      new RegistryClient({ insecureRegistries: [registry.host] }),
      `${registry.host}/test/app`,
      'v1',
      image,
    )
  })
  afterEach(() => {
    front.handler.current = undefined
    storage.handler.current = undefined
    log.length = 0
  })
  afterAll(async () => {
    for (const { server } of servers) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
    await registry.stop()
    await rm(work, { recursive: true, force: true })
  })
}

/** The test image by tag, through the front server. */
export const ref = (): string => `${front.host}/test/app:v1`
