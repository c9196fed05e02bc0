/**
 * Faults a real registry does not produce on demand (auth challenges, 5xx/429, redirects to another
 * host, wrong bytes, stalls), injected by a small HTTP server that proxies to a real registry.
 */
import { execFile } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { dockerCredentialsFor, parseDockerConfig } from './docker-credentials.ts'
import { dockerConfigCredentials } from './registry-client.ts'
import { computeDigest } from './oci-manifest.ts'
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts'
import { pushTestImage, simpleTestImage, type TestImage } from './oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void> | void

let registry: TestRegistry
let work: string
let image: TestImage
const servers: { server: Server; host: string; handler: { current: Handler | undefined } }[] = []
let front: (typeof servers)[number]
let storage: (typeof servers)[number]
let log: string[] = []

async function serve(): Promise<(typeof servers)[number]> {
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
async function proxy(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
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

function client(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({
    insecureRegistries: [front.host, storage.host],
    backoffMs: 1,
    timeoutMs: 2000,
    ...options,
  })
}

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
  log = []
})
afterAll(async () => {
  for (const { server } of servers) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  await registry.stop()
  await rm(work, { recursive: true, force: true })
})

const ref = (): string => `${front.host}/test/app:v1`

describe('authentication', () => {
  const config = (user: string, pass: string): string =>
    JSON.stringify({
      auths: { [`http://FRONT/v1/`]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } },
    }).replace('FRONT', front.host)

  function bearerServer(): string[] {
    const tokenRequests: string[] = []
    front.handler.current = async (req, res, body) => {
      const url = new URL(req.url ?? '/', `http://${front.host}`)
      if (url.pathname === '/token') {
        tokenRequests.push(url.search)
        if (
          req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`
        ) {
          res.writeHead(401).end()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ access_token: `tok-${tokenRequests.length}` }))
        return
      }
      if (!(req.headers.authorization ?? '').startsWith('Bearer tok-')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${front.host}/token",service="test-registry",scope="repository:test/app:pull"`,
        })
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        return
      }
      await proxy(req, res, body)
    }
    return tokenRequests
  }

  it('answers a Bearer challenge with credentials from a docker config, and caches the token', async () => {
    const tokenRequests = bearerServer()
    const docker = parseDockerConfig(config('alice', 's3cret'))
    const c = client({ credentials: (r) => dockerCredentialsFor(docker, r) })
    const resolved = await c.resolveImage(ref())
    expect(resolved.digest).toBe(image.manifestDigest)
    await c.fetchBlob(resolved.repository, resolved.manifest.config)
    expect(tokenRequests).toEqual(['?service=test-registry&scope=repository%3Atest%2Fapp%3Apull'])
  })

  it('refuses wrong credentials, missing credentials and helper-only credentials', async () => {
    bearerServer()
    const wrong = parseDockerConfig(config('alice', 'wrong'))
    expect(
      await rejectedCode(
        client({ credentials: (r) => dockerCredentialsFor(wrong, r) }).resolveImage(ref()),
      ),
    ).toBe('ERR_REGISTRY_UNAUTHORIZED')
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_UNAUTHORIZED')
    const helper = parseDockerConfig(JSON.stringify({ credHelpers: { [front.host]: 'ecr-login' } }))
    expect(
      await rejectedCode(
        client({ credentials: (r) => dockerCredentialsFor(helper, r) }).resolveImage(ref()),
      ),
    ).toBe('ERR_REGISTRY_CREDENTIAL_HELPER')
  })

  it('refuses an identity-token entry before sending the placeholder password beside it', async () => {
    bearerServer()
    const acr = parseDockerConfig(
      JSON.stringify({
        auths: {
          [front.host]: {
            auth: Buffer.from('00000000-0000-0000-0000-000000000000:').toString('base64'),
            identitytoken: 'refresh-token',
          },
        },
      }),
    )
    expect(
      await rejectedCode(client({ credentials: dockerConfigCredentials(acr) }).resolveImage(ref())),
    ).toBe('ERR_REGISTRY_IDENTITY_TOKEN')
    expect(log).toEqual([`GET /v2/test/app/manifests/v1 -`])
  })

  it('refuses a plain-http token realm that is not listed as insecure', async () => {
    // The registry is listed, but its token realm is another (unlisted) origin: refused before
    // any credentials are sent there.
    front.handler.current = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1:9/token"' }).end()
    }
    const c = client({ credentials: () => ({ username: 'u', password: 'p' }) })
    expect(await rejectedCode(c.resolveImage(ref()))).toBe('ERR_REGISTRY_INSECURE_REALM')
  })

  it('refuses a token that cannot be sent in a header with a coded error, not a TypeError', async () => {
    front.handler.current = (req, res) => {
      if ((req.url ?? '').startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: 'tok\r\nX-Injected: 1' }))
        return
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${front.host}/token"` }).end()
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_TOKEN')
  })

  it('stops reading an endless token response or error body at its limit', async () => {
    const endless = (res: ServerResponse, status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const pump = (): void => {
        while (res.write(chunk)) {
          if (res.destroyed) return
        }
        res.once('drain', pump)
      }
      res.on('error', () => undefined)
      pump()
    }
    front.handler.current = (req, res) => {
      if ((req.url ?? '').startsWith('/token')) endless(res, 200)
      else
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${front.host}/token"` })
          .end()
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_TOKEN')
    front.handler.current = (_req, res) => {
      endless(res, 404)
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_NOT_FOUND')
  })

  it('uses a namespace-scoped auths entry only for that namespace, the most specific first', async () => {
    const basic = (user: string): string =>
      `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`
    front.handler.current = async (req, res, body) => {
      if (req.headers.authorization !== basic('bob')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const withAuths = (users: Record<string, string>): RegistryClient => {
      const auths = Object.fromEntries(
        Object.entries(users).map(([key, user]) => [
          key.replace('FRONT', front.host),
          { auth: Buffer.from(`${user}:${user}-pw`).toString('base64') },
        ]),
      )
      return client({
        credentials: dockerConfigCredentials(parseDockerConfig(JSON.stringify({ auths }))),
      })
    }
    // containers-auth.json(5): test/app is served by FRONT/test/app, before FRONT/test and FRONT;
    // another namespace's entry (listed first) is never used for it.
    const c = withAuths({
      'FRONT/team-a': 'alice',
      FRONT: 'carol',
      'FRONT/test': 'dave',
      'FRONT/test/app': 'bob',
    })
    const resolved = await c.resolveImage(ref())
    expect(resolved.digest).toBe(image.manifestDigest)
    await c.fetchBlob(resolved.repository, resolved.manifest.config)
    // Only another namespace's entry: anonymous, and alice's password is never sent.
    log = []
    expect(await rejectedCode(withAuths({ 'FRONT/team-a': 'alice' }).resolveImage(ref()))).toBe(
      'ERR_REGISTRY_UNAUTHORIZED',
    )
    expect(log).toEqual([`GET /v2/test/app/manifests/v1 -`])
  })

  it('answers a Basic challenge', async () => {
    front.handler.current = async (req, res, body) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const c = client({ credentials: () => ({ username: 'bob', password: 'pw' }) })
    expect((await c.resolveImage(ref())).digest).toBe(image.manifestDigest)
  })
})

describe('retries', () => {
  it('retries 5xx and 429, honouring Retry-After, then succeeds', async () => {
    let failures = 2
    front.handler.current = async (req, res, body) => {
      if (failures-- > 0) {
        res.writeHead(failures === 1 ? 503 : 429, { 'retry-after': '2' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const waits: number[] = []
    const c = client({
      sleep: (ms) => {
        waits.push(ms)
        return Promise.resolve()
      },
    })
    expect((await c.resolveImage(ref())).digest).toBe(image.manifestDigest)
    expect(waits).toEqual([2000, 2000])
  })

  it('gives up after the attempts, and does not retry a 404', async () => {
    front.handler.current = (_req, res) => {
      res.writeHead(502).end()
    }
    const waits: number[] = []
    const error = await client({
      attempts: 3,
      sleep: (ms) => {
        waits.push(ms)
        return Promise.resolve()
      },
    })
      .resolveImage(ref())
      .catch((e: unknown) => e)
    expect(isInitguardError(error) && error.toJSON()).toMatchObject({
      code: 'ERR_REGISTRY_STATUS',
      category: 'unavailable',
      details: { status: 502, url: `http://${front.host}/v2/test/app/manifests/v1` },
    })
    expect(waits).toHaveLength(2)
    // Exponential with jitter: each wait lies in [d/2, d] for d = 1, 2.
    expect(waits[0]).toBeGreaterThanOrEqual(0.5)
    expect(waits[0]).toBeLessThanOrEqual(1)
    expect(waits[1]).toBeGreaterThanOrEqual(1)
    expect(waits[1]).toBeLessThanOrEqual(2)
    log = []
    front.handler.current = undefined
    expect(await rejectedCode(client().resolveImage(`${front.host}/test/app:missing`))).toBe(
      'ERR_REGISTRY_NOT_FOUND',
    )
    expect(log).toHaveLength(1)
  })

  it('retries a body cut short, and times out a stalled one', async () => {
    let cut = true
    front.handler.current = async (req, res, body) => {
      if (req.url?.includes('/blobs/') === true && cut) {
        cut = false
        res.writeHead(200, { 'content-length': String(image.layer.length) })
        res.write(image.layer.subarray(0, 10))
        setTimeout(() => res.destroy(), 20)
        return
      }
      await proxy(req, res, body)
    }
    const c = client()
    const bytes = await c.fetchBlob(`${front.host}/test/app`, image.layerDescriptor)
    expect(computeDigest(bytes)).toBe(image.layerDescriptor.digest)
    expect(cut).toBe(false)

    front.handler.current = (_req, res) => {
      res.writeHead(200, { 'content-length': String(image.layer.length) })
      res.write(image.layer.subarray(0, 10)) // …and never more
    }
    const error = await client({ timeoutMs: 200, attempts: 2 })
      .fetchBlob(`${front.host}/test/app`, image.layerDescriptor)
      .catch((e: unknown) => e)
    expect(isInitguardError(error) && error.code).toBe('ERR_REGISTRY_UNREACHABLE')
    expect(isInitguardError(error) && String(error.details['reason'])).toMatch(/timed out/)
  })
})

describe('download deadline', () => {
  /**
   * Serve blob GETs with the real registry's bytes, `piece` bytes every `everyMs` ms: never a
   * stall long enough for the stall timeout.
   */
  const trickle = (everyMs: number, piece: number): void => {
    front.handler.current = async (req, res, body) => {
      if (req.url?.includes('/blobs/') !== true) {
        await proxy(req, res, body)
        return
      }
      const upstream = await fetch(`http://${registry.host}${req.url}`)
      const bytes = Buffer.from(await upstream.arrayBuffer())
      res.writeHead(200, { 'content-length': String(bytes.length) })
      let at = 0
      const timer = setInterval(() => {
        res.write(bytes.subarray(at, at + piece))
        at += piece
        if (at >= bytes.length) {
          clearInterval(timer)
          res.end()
        }
      }, everyMs)
      res.on('close', () => {
        clearInterval(timer)
      })
    }
  }

  it('fails a blob that trickles in, within a deadline set by its size', async () => {
    // One byte every 25 ms: the 2 s stall timeout never fires, and the layer would take seconds.
    trickle(25, 1)
    expect(image.layer.length).toBeGreaterThan(50)
    const blobDeadline = { baseMs: 300, minBytesPerSecond: 1_000_000 }
    const started = Date.now()
    const dir = join(work, 'trickle')
    const error = await client({ blobDeadline })
      .pullBlobs(`${front.host}/test/app`, [image.layerDescriptor], dir)
      .catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(isInitguardError(error) && error.code).toBe('ERR_REGISTRY_BLOB_DEADLINE')
    if (!isInitguardError(error)) throw error
    expect(error.message).toContain(image.layerDescriptor.digest)
    expect(error.details).toMatchObject({
      digest: image.layerDescriptor.digest,
      size: image.layer.length,
      baseMs: 300,
      minBytesPerSecond: 1_000_000,
    })
    expect(Number(error.details['received'])).toBeGreaterThan(0)
    expect(Number(error.details['received'])).toBeLessThan(image.layer.length)
    expect(error.hint).toMatch(/minBytesPerSecond/)
    expect(await readdir(join(dir, 'sha256'))).toEqual([])
    // A download's own deadline wins over the client's; into memory as to a file.
    expect(
      await rejectedCode(
        client().fetchBlob(`${front.host}/test/app`, image.layerDescriptor, {
          deadline: blobDeadline,
        }),
      ),
    ).toBe('ERR_REGISTRY_BLOB_DEADLINE')
    // The caller's own cancellation is still a cancellation.
    const cancel = new AbortController()
    setTimeout(() => {
      cancel.abort()
    }, 100)
    expect(
      await rejectedCode(
        client().fetchBlob(`${front.host}/test/app`, image.layerDescriptor, {
          signal: cancel.signal,
        }),
      ),
    ).toBe('ERR_REGISTRY_CANCELLED')
  })

  it('gives a slow blob the time its size earns', async () => {
    // Four pieces 150 ms apart: more than the base time, within base + size at the rate.
    const piece = Math.ceil(image.layer.length / 4)
    trickle(150, piece)
    const bytes = await client({
      blobDeadline: { baseMs: 200, minBytesPerSecond: image.layer.length / 2 },
    }).fetchBlob(`${front.host}/test/app`, image.layerDescriptor)
    expect(computeDigest(bytes)).toBe(image.layerDescriptor.digest)
  })

  it('refuses malformed deadline settings before any request', async () => {
    for (const blobDeadline of [
      { baseMs: 0 },
      { baseMs: -1 },
      { baseMs: Number.NaN },
      { minBytesPerSecond: Number.POSITIVE_INFINITY },
      { minBytesPerSecond: 0 },
      { minBytesPerSecond: '1000' as unknown as number },
    ]) {
      expect(() => client({ blobDeadline })).toThrow(
        expect.objectContaining({ code: 'ERR_REGISTRY_BLOB_DEADLINE_OPTION' }),
      )
      expect(
        await rejectedCode(
          client().fetchBlob(`${front.host}/test/app`, image.layerDescriptor, {
            deadline: blobDeadline,
          }),
        ),
      ).toBe('ERR_REGISTRY_BLOB_DEADLINE_OPTION')
    }
    expect(log).toEqual([])
  })
})

describe('content checks', () => {
  it('follows a blob redirect to another host without the Authorization header', async () => {
    front.handler.current = async (req, res, body) => {
      if (req.headers.authorization !== 'Basic dTpw') {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end()
        return
      }
      if (req.url?.includes('/blobs/') === true) {
        res
          .writeHead(307, { location: `http://${storage.host}/store${req.url}?X-Sig=secret` })
          .end()
        return
      }
      await proxy(req, res, body)
    }
    storage.handler.current = (req, res) => {
      if (req.headers.authorization !== undefined) {
        res.writeHead(400).end()
        return
      }
      res.writeHead(200).end(image.layer)
    }
    const c = client({ credentials: () => ({ username: 'u', password: 'p' }) })
    const dir = join(work, 'redirect')
    const [pulled] = await c.pullBlobs(`${front.host}/test/app`, [image.layerDescriptor], dir)
    expect(pulled?.path).toBe(join(dir, 'sha256', image.layerDescriptor.digest.slice(7)))
    expect(log.some((l) => l.startsWith('GET /store/v2/test/app/blobs/') && l.endsWith(' -'))).toBe(
      true,
    )
  })

  it('refuses blobs with a wrong digest or size and leaves no file behind', async () => {
    const dir = join(work, 'bad')
    const serveBody = (bytes: Uint8Array, chunked: boolean): void => {
      front.handler.current = (_req, res) => {
        res.writeHead(200, chunked ? {} : { 'content-length': String(bytes.length) })
        res.end(bytes)
      }
    }
    const flipped = Uint8Array.from(image.layer)
    flipped[20] = (flipped[20] ?? 0) ^ 1
    const cases: [Uint8Array, boolean, string][] = [
      [flipped, false, 'ERR_REGISTRY_DIGEST_MISMATCH'],
      [Buffer.concat([image.layer, Buffer.from('x')]), false, 'ERR_REGISTRY_SIZE_MISMATCH'],
      [image.layer.subarray(0, 30), true, 'ERR_REGISTRY_SIZE_MISMATCH'],
    ]
    for (const [bytes, chunked, code] of cases) {
      serveBody(bytes, chunked)
      expect(
        await rejectedCode(
          client().pullBlobs(`${front.host}/test/app`, [image.layerDescriptor], dir),
        ),
      ).toBe(code)
      expect(await readdir(join(dir, 'sha256'))).toEqual([])
    }
  })

  it('checks manifests against Docker-Content-Digest, the reference digest, the size limit and JSON', async () => {
    const other = computeDigest(new TextEncoder().encode('other'))
    front.handler.current = (_req, res) => {
      res.writeHead(200, {
        'content-type': image.mediaType,
        'docker-content-digest': other,
      })
      res.end(image.manifest)
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_DIGEST_MISMATCH')
    expect(await rejectedCode(client().resolveImage(`${front.host}/test/app@${other}`))).toBe(
      'ERR_REGISTRY_DIGEST_MISMATCH',
    )
    front.handler.current = (_req, res) => {
      res.writeHead(200, { 'content-type': image.mediaType }).end(image.manifest)
    }
    const sha512 = computeDigest(image.manifest, 'sha512')
    const bySha512 = await client().resolveImage(`${front.host}/test/app@${sha512}`)
    expect(bySha512.digest).toBe(sha512)
    expect(await rejectedCode(client({ maxManifestSize: 100 }).resolveImage(ref()))).toBe(
      'ERR_REGISTRY_MANIFEST_TOO_LARGE',
    )
    front.handler.current = (_req, res) => {
      res.writeHead(200, { 'content-type': image.mediaType })
      res.end(Buffer.alloc(5000, 0x20))
    }
    expect(await rejectedCode(client({ maxManifestSize: 4096 }).resolveImage(ref()))).toBe(
      'ERR_REGISTRY_MANIFEST_TOO_LARGE',
    )
    // A leading BOM: JSON to nobody else (skopeo: "invalid character 'ï'"), whatever its digest.
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), image.manifest])
    front.handler.current = (_req, res) => {
      res.writeHead(200, {
        'content-type': image.mediaType,
        'docker-content-digest': computeDigest(bom),
      })
      res.end(bom)
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_MANIFEST')
    expect(
      await rejectedCode(client().resolveImage(`${front.host}/test/app@${computeDigest(bom)}`)),
    ).toBe('ERR_REGISTRY_MANIFEST')
    front.handler.current = (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      })
      res.end('{"schemaVersion":1}')
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_SCHEMA1')
  })
})

describe('manifests Go reads differently', () => {
  it('refuses a manifest whose "Layers" skopeo reads instead of its "layers"', async () => {
    // The same bytes, the same digest (and so the same signature): skopeo (containers/image, Go's
    // case-insensitive JSON) takes the layer under "Layers", serde and our parser the one under
    // "layers". Refused, as a repeated key is.
    const other = simpleTestImage('the other layer')
    expect(other.layerDescriptor.digest).not.toBe(image.layerDescriptor.digest)
    const document = JSON.parse(new TextDecoder().decode(image.manifest)) as Record<string, unknown>
    const bytes = new TextEncoder().encode(
      JSON.stringify({ ...document, Layers: [other.layerDescriptor] }),
    )
    front.handler.current = async (req, res, body) => {
      if (req.url?.includes('/manifests/') === true) {
        res.writeHead(200, { 'content-type': image.mediaType }).end(bytes)
        return
      }
      await proxy(req, res, body)
    }
    const { stdout } = await promisify(execFile)(
      'skopeo',
      ['--insecure-policy', 'inspect', '--tls-verify=false', '--no-tags', `docker://${ref()}`],
      { timeout: 60_000 },
    )
    expect((JSON.parse(stdout) as { Layers: string[] }).Layers).toEqual([
      other.layerDescriptor.digest,
    ])
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_MANIFEST_AMBIGUOUS')
    expect(
      await rejectedCode(client().resolveImage(`${front.host}/test/app@${computeDigest(bytes)}`)),
    ).toBe('ERR_REGISTRY_MANIFEST_AMBIGUOUS')
  })
})

describe('push', () => {
  it('starts an upload again after a 5xx: a POST to blobs/uploads/ is safe to repeat', async () => {
    let failures = 1
    front.handler.current = async (req, res, body) => {
      if (req.method === 'POST' && failures-- > 0) {
        res.writeHead(503).end()
        return
      }
      await proxy(req, res, body)
    }
    const blob = new TextEncoder().encode('pushed after a failed upload start\n')
    const descriptor = await client().pushBlob(`${front.host}/test/app`, blob)
    expect(log.filter((l) => l.startsWith('POST '))).toHaveLength(2)
    const back = await client().fetchBlob(`${front.host}/test/app`, descriptor)
    expect(Buffer.from(back).toString()).toBe('pushed after a failed upload start\n')
  })

  it('uploads through a relative Location that already has a query', async () => {
    front.handler.current = async (req, res, body) => {
      if (req.method === 'POST') {
        const upstream = await fetch(`http://${registry.host}${req.url ?? ''}`, { method: 'POST' })
        await upstream.body?.cancel()
        const location = new URL(upstream.headers.get('location') ?? '')
        res.writeHead(202, { location: `${location.pathname}${location.search}` }).end()
        return
      }
      await proxy(req, res, body)
    }
    const blob = new TextEncoder().encode('pushed through a relative location\n')
    const descriptor = await client().pushBlob(`${front.host}/test/app`, blob)
    expect(log.some((l) => l.startsWith('PUT ') && /\?_state=.*&digest=sha256%3A/.test(l))).toBe(
      true,
    )
    const back = await client().fetchBlob(`${front.host}/test/app`, descriptor)
    expect(Buffer.from(back).toString()).toBe('pushed through a relative location\n')
  })
})
