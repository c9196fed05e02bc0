/**
 * Faults a real registry does not produce on demand, injected by a small HTTP server that proxies
 * to a real registry (registry-faults-test-support.ts): blob download deadlines, redirects to
 * another host, wrong bytes, manifests Go reads differently, and pushes. Authentication and
 * retries are in registry-faults.test.ts.
 */
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { computeDigest } from './oci-manifest.ts'
import { simpleTestImage } from './oci-image-test-support.ts'
import {
  client,
  front,
  image,
  log,
  proxy,
  ref,
  registry,
  storage,
  useFaultServers,
  work,
} from './registry-faults-test-support.ts'

useFaultServers()

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
