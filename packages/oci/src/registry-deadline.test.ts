/**
 * Every registry request that is not a blob download (manifests, cosign attachments, token
 * answers, tag lists, uploads' error bodies) has a total deadline, not only the per-stall timeout:
 * a loopback server that trickles a byte well inside the stall timeout is given up on at the
 * deadline with `ERR_REGISTRY_DEADLINE`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { rejected } from '@initguard/testkit'
import { parseDockerImageReference } from '@initguard/image-policy'
import { findImageSignatures } from './image-signatures.ts'
import { computeDigest } from './oci-manifest.ts'
import { parseRegistriesD } from './registries-d.ts'
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts'
import {
  ANSWER_ALLOWANCE_BYTES,
  DEFAULT_BLOB_DEADLINE_BASE_MS,
  DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
  blobDeadlineMs,
  withinDeadline,
} from './registry-deadline.ts'
import { RegistryTransport, type RegistryRequest } from './registry-transport.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

let server: Server
let host: string
let handler: Handler = (_req, res) => res.writeHead(404).end()

/** One byte every 20 ms after the headers: never a stall near the 1 s stall timeout. */
function trickle(res: ServerResponse, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  const timer = setInterval(() => res.write(' '), 20)
  res.on('close', () => {
    clearInterval(timer)
  })
}

/** A small deadline: 400 ms, and so fast a rate that the bytes add about a millisecond. */
const DEADLINE = { baseMs: 400, minBytesPerSecond: 1e10 }

function client(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({
    insecureRegistries: [host],
    timeoutMs: 1000,
    attempts: 1,
    blobDeadline: DEADLINE,
    ...options,
  })
}

/** The coded error of `run`, checked to have come at the deadline, long before any stall timeout. */
async function deadlineError(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const started = Date.now()
  const error = await rejected(run)
  const elapsed = Date.now() - started
  expect(error.code).toBe('ERR_REGISTRY_DEADLINE')
  expect(elapsed).toBeGreaterThanOrEqual(350)
  expect(elapsed).toBeLessThan(1500)
  expect(error.details).toMatchObject({ baseMs: 400, minBytesPerSecond: 1e10 })
  expect(error.hint).toMatch(/blobDeadline/)
  return { message: error.message, ...error.details }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  host = `127.0.0.1:${address.port}`
})
afterEach(() => {
  handler = (_req, res) => res.writeHead(404).end()
  server.closeAllConnections()
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('the deadline of a registry request', () => {
  it('is the base time plus its body limit and the token and error-body allowance at the rate', () => {
    expect(ANSWER_ALLOWANCE_BYTES).toBe(1024 * 1024 + 64 * 1024)
    // A default 4 MiB manifest: a minute, and 5.06 MiB at 32 KiB/s.
    expect(blobDeadlineMs(4 * 1024 * 1024 + ANSWER_ALLOWANCE_BYTES)).toBe(
      DEFAULT_BLOB_DEADLINE_BASE_MS +
        ((4 * 1024 * 1024 + ANSWER_ALLOWANCE_BYTES) * 1000) / DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
    )
  })

  it('gives up on a manifest that trickles in', async () => {
    handler = (_req, res) => {
      trickle(res, 200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
    }
    const details = await deadlineError(() => client().getManifest(`${host}/app`, 'v1'))
    expect(details['message']).toMatch(/get the manifest .*app:v1/)
    expect(details['bytes']).toBe(4 * 1024 * 1024 + ANSWER_ALLOWANCE_BYTES)
    expect(details['url']).toBe(`http://${host}/v2/app/manifests/v1`)
  })

  it('gives up on a cosign attachment manifest that trickles in', async () => {
    const digest = computeDigest(new TextEncoder().encode('image'))
    handler = (req, res) => {
      if (req.url?.includes('.sig') === true) trickle(res)
      else res.writeHead(404).end()
    }
    const registriesD = parseRegistriesD([
      { name: 'd.yaml', text: `docker:\n  ${host}:\n    use-sigstore-attachments: true\n` },
    ])
    const reference = parseDockerImageReference(`${host}/app:v1`)
    const details = await deadlineError(() =>
      findImageSignatures(client(), reference, digest, registriesD),
    )
    expect(details['message']).toContain(`${digest.replace(':', '-')}.sig`)
  })

  it('gives up on a token answer that trickles in, within the request that needed it', async () => {
    const seen: string[] = []
    handler = (req, res) => {
      seen.push(req.url ?? '')
      if (req.url?.startsWith('/token') === true) {
        trickle(res)
        return
      }
      res
        .writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="s"` })
        .end()
    }
    await deadlineError(() => client().getManifest(`${host}/app`, 'v1'))
    expect(seen).toEqual(['/v2/app/manifests/v1', '/token?service=s&scope=repository%3Aapp%3Apull'])
  })

  it('gives up on a tag list page that trickles in', async () => {
    handler = (_req, res) => {
      trickle(res)
    }
    const details = await deadlineError(() => client().listTags(`${host}/app`))
    expect(details['message']).toMatch(/list the tags/)
    expect(details['bytes']).toBe(4 * 1024 * 1024 + ANSWER_ALLOWANCE_BYTES)
  })

  it('gives up on error bodies that trickle in: a manifest push, an upload start, a blob check', async () => {
    const bytes = new TextEncoder().encode('{}')
    handler = (_req, res) => {
      trickle(res, 400)
    }
    const pushed = await deadlineError(() =>
      client().pushManifest(`${host}/app`, 'v1', bytes, 'application/json'),
    )
    expect(pushed['bytes']).toBe(bytes.length + ANSWER_ALLOWANCE_BYTES)
    // HEAD answers 404 (no such blob), then the upload start's 400 body trickles.
    handler = (req, res) => {
      if (req.method === 'HEAD') res.writeHead(404).end()
      else trickle(res, 400)
    }
    const started = await deadlineError(() => client().pushBlob(`${host}/app`, bytes))
    expect(started['url']).toBe(`http://${host}/v2/app/blobs/uploads/`)
  })

  it('lets a steady answer finish that takes longer than the base time but not than its size earns', async () => {
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: computeDigest(new Uint8Array()),
        size: 0,
      },
      layers: [],
    })
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
      const half = Math.floor(manifest.length / 2)
      res.write(manifest.slice(0, half))
      setTimeout(() => res.end(manifest.slice(half)), 300)
    }
    // 200 ms base, and the allowance with the manifest limit earns about 2.4 s more at this rate.
    const fetched = await client({
      blobDeadline: { baseMs: 200, minBytesPerSecond: ANSWER_ALLOWANCE_BYTES * 2 },
    }).getManifest(`${host}/app`, 'v1')
    expect(fetched.manifest.kind).toBe('image')
    // Base alone, at a rate that earns nothing: the same answer is given up on.
    await expect(
      client({ blobDeadline: { baseMs: 200, minBytesPerSecond: 1e12 } }).getManifest(
        `${host}/app`,
        'v1',
      ),
    ).rejects.toMatchObject({ code: 'ERR_REGISTRY_DEADLINE' })
  })

  it('gives up on what a blob download reads besides the blob, within the blob deadline: a token answer, an error body', async () => {
    const blob = {
      mediaType: 'application/octet-stream',
      digest: computeDigest(new Uint8Array(8)),
      size: 8,
    }
    const blobDeadlineError = async (run: () => Promise<unknown>): Promise<void> => {
      const started = Date.now()
      const error = await rejected(run)
      expect(error.code).toBe('ERR_REGISTRY_BLOB_DEADLINE')
      expect(Date.now() - started).toBeGreaterThanOrEqual(350)
      expect(Date.now() - started).toBeLessThan(1500)
      expect(error.details).toMatchObject({
        digest: blob.digest,
        size: 8,
        received: 0,
        baseMs: 400,
      })
      expect(error.hint).toMatch(/deadline\.minBytesPerSecond/)
    }
    handler = (req, res) => {
      if (req.url?.startsWith('/token') === true) trickle(res)
      else
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="s"` })
          .end()
    }
    await blobDeadlineError(() => client().fetchBlob(`${host}/app`, blob))
    handler = (_req, res) => {
      trickle(res, 404)
    }
    await blobDeadlineError(() => client().fetchBlob(`${host}/app`, blob))
  })

  it('gives up on an upload whose answer trickles in, with the time its size earns', async () => {
    const bytes = new Uint8Array(1000)
    handler = (req, res) => {
      if (req.method === 'HEAD') res.writeHead(404).end()
      else if (req.method === 'POST')
        res.writeHead(202, { location: '/v2/app/blobs/uploads/u1?_state=x' }).end()
      else trickle(res, 400)
    }
    const details = await deadlineError(() => client().pushBlob(`${host}/app`, bytes))
    expect(details['bytes']).toBe(1000 + ANSWER_ALLOWANCE_BYTES)
    expect(details['url']).toBe(`http://${host}/v2/app/blobs/uploads/u1`)
  })
})

describe('a registry whose status line and headers trickle in', () => {
  it('is given up on at the deadline of a manifest and of a blob, before any answer', async () => {
    const sockets: Socket[] = []
    // Byte by byte, never a stall; a header far below Node's header size limit when given up on.
    const tcp = createTcpServer((socket) => {
      sockets.push(socket)
      const text = `HTTP/1.1 200 OK\r\nx-pad: ${'a'.repeat(100_000)}`
      let at = 0
      const timer = setInterval(() => {
        socket.write(text.slice(at, ++at))
      }, 20)
      socket.on('close', () => {
        clearInterval(timer)
      })
      socket.on('error', () => {
        clearInterval(timer)
      })
    })
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const address = tcp.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    const slow = `127.0.0.1:${address.port}`
    try {
      await deadlineError(() =>
        client({ insecureRegistries: [slow] }).getManifest(`${slow}/app`, 'v1'),
      )
      const blob = {
        mediaType: 'application/octet-stream',
        digest: computeDigest(new Uint8Array(8)),
        size: 8,
      }
      const started = Date.now()
      await expect(
        client({ insecureRegistries: [slow] }).fetchBlob(`${slow}/app`, blob),
      ).rejects.toMatchObject({ code: 'ERR_REGISTRY_BLOB_DEADLINE', details: { received: 0 } })
      expect(Date.now() - started).toBeLessThan(1500)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => tcp.close(resolve))
    }
  })
})

describe('a registry request without a deadline of its own', () => {
  const transport = (): RegistryTransport =>
    new RegistryTransport({ insecureRegistries: [host], timeoutMs: 1000, attempts: 1 })
  const base = {
    method: 'GET',
    target: 'manifests/v1',
    actions: 'pull',
    what: 'get the manifest',
  } as const

  it('is refused by the type when it leaves its deadline to a caller signal it does not give', () => {
    // @ts-expect-error 'caller' says the signal carries the deadline: without a signal there is none.
    const missing: RegistryRequest = {
      ...base,
      repository: { registry: host, path: 'app' },
      deadline: 'caller',
    }
    expect(missing.deadline).toBe('caller')
  })

  it('is refused before anything is sent (a JS caller or a cast): no request goes out with no deadline', async () => {
    const seen: string[] = []
    handler = (req, res) => {
      seen.push(req.url ?? '')
      res.writeHead(200).end('{}')
    }
    const repository = { registry: host, path: 'app' }
    for (const deadline of [
      'caller',
      undefined,
      { bytes: -1 },
      { bytes: Number.NaN },
      { bytes: Number.POSITIVE_INFINITY },
      { bytes: '10' },
    ]) {
      const request = { ...base, repository, deadline } as unknown as RegistryRequest
      const sent = transport().request(request, async (r) => {
        await r.discard()
        return r.status
      })
      await expect(sent).rejects.toMatchObject({
        code: 'ERR_REGISTRY_REQUEST_DEADLINE',
        category: 'internal',
      })
    }
    // A signal that is not an AbortSignal cannot carry a deadline either.
    const notSignal = { ...base, repository, deadline: 'caller', signal: {} }
    await expect(
      transport().request(notSignal as unknown as RegistryRequest, () => Promise.resolve(0)),
    ).rejects.toMatchObject({ code: 'ERR_REGISTRY_REQUEST_DEADLINE' })
    expect(seen).toEqual([])
    // With its signal, the caller's deadline is the request's.
    const cancel = new AbortController()
    const status = await transport().request(
      { ...base, repository, deadline: 'caller', signal: cancel.signal },
      async (r) => {
        await r.discard()
        return r.status
      },
    )
    expect(status).toBe(200)
    expect(seen).toEqual(['/v2/app/manifests/v1'])
  })
})

describe('withinDeadline, the one owner of a registry deadline', () => {
  afterEach(() => {
    vi.useRealTimers()
  })
  const settings = { baseMs: 1000, minBytesPerSecond: 100 }
  const passed = (numbers: object, cause: unknown): Error =>
    new Error(`passed ${JSON.stringify(numbers)}`, { cause })

  it('gives work a signal that aborts at base + bytes at the rate, and maps what work throws then', async () => {
    vi.useFakeTimers()
    let aborted = -1
    const running = withinDeadline(
      50,
      settings,
      undefined,
      (signal) =>
        new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = Date.now()
            reject(new Error('work stopped'))
          })
        }),
      passed,
    )
    const outcome = running.catch((e: unknown) => e)
    const started = Date.now()
    await vi.advanceTimersByTimeAsync(1499)
    expect(aborted).toBe(-1)
    await vi.advanceTimersByTimeAsync(1)
    expect(aborted - started).toBe(1500)
    const error = (await outcome) as Error
    expect(error.message).toBe('passed {"deadlineMs":1500,"baseMs":1000,"minBytesPerSecond":100}')
    expect((error.cause as Error).message).toBe('work stopped')
    expect(vi.getTimerCount()).toBe(0)
  })

  it("keeps the caller's cancellation a cancellation, and clears its timer however work ends", async () => {
    vi.useFakeTimers()
    const cancel = new AbortController()
    const cancelled = withinDeadline(
      0,
      settings,
      cancel.signal,
      (signal) =>
        new Promise<never>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reject(new Error('cancelled'))
          })
        }),
      passed,
    ).catch((e: unknown) => e)
    cancel.abort()
    expect(((await cancelled) as Error).message).toBe('cancelled')
    expect(vi.getTimerCount()).toBe(0)
    expect(await withinDeadline(0, settings, undefined, () => Promise.resolve(7), passed)).toBe(7)
    expect(vi.getTimerCount()).toBe(0)
    // A failure before the deadline is the failure itself.
    await expect(
      withinDeadline(0, settings, undefined, () => Promise.reject(new Error('404')), passed),
    ).rejects.toThrow('404')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('refuses malformed settings before work runs', async () => {
    let ran = false
    await expect(
      withinDeadline(
        0,
        { baseMs: 0 },
        undefined,
        () => {
          ran = true
          return Promise.resolve()
        },
        passed,
      ),
    ).rejects.toMatchObject({ code: 'ERR_REGISTRY_BLOB_DEADLINE_OPTION' })
    expect(ran).toBe(false)
  })
})
