import { execFileSync } from 'node:child_process'
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { isInitguardError, type InitguardError } from '@initguard/core'
import { parseDockerImageReference } from '@initguard/image-policy'
import { readLookasideSignatures } from './lookaside.ts'
import { lookasideFor, parseRegistriesD } from './registries-d.ts'

const HEX = 'ab'.repeat(32)
const DIGEST = `sha256:${HEX}`

async function thrown(run: () => Promise<unknown>): Promise<InitguardError> {
  try {
    await run()
  } catch (error) {
    if (isInitguardError(error)) return error
    throw new Error(`expected an InitguardError, got ${String(error)}`, { cause: error })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** A lookaside directory for `test/hello` holding the given signature files. */
function fileStore(files: Record<string, string | null>): URL {
  const root = mkdtempSync(join(tmpdir(), 'initguard-lookaside-'))
  onTestFinished(() => {
    rmSync(root, { recursive: true, force: true })
  })
  const dir = join(root, 'test', `hello@sha256=${HEX}`)
  mkdirSync(dir, { recursive: true })
  for (const [name, content] of Object.entries(files)) {
    if (content === null) mkdirSync(join(dir, name))
    else writeFileSync(join(dir, name), content)
  }
  return new URL(`${pathToFileURL(root).href}/test/hello`)
}

const texts = (signatures: readonly { bytes: Uint8Array }[]): string[] =>
  signatures.map((s) => new TextDecoder().decode(s.bytes))

describe('readLookasideSignatures from file:', () => {
  it('reads signature-1, -2, … until the first missing one', async () => {
    const base = fileStore({
      'signature-1': 'one',
      'signature-2': 'two',
      'signature-4': 'after a gap',
    })
    const signatures = await readLookasideSignatures(base, DIGEST)
    expect(texts(signatures)).toEqual(['one', 'two'])
    expect(signatures[1]?.n).toBe(2)
    expect(signatures[1]?.url).toMatch(/\/test\/hello@sha256=(?:ab)+\/signature-2$/u)
  })

  it('finds the store through registries.d exactly where skopeo writes it', async () => {
    const store = fileStore({ 'signature-1': 'sig' })
    const root = store.href.slice(0, -'/test/hello'.length)
    const config = parseRegistriesD([
      { name: 'a.yaml', text: `docker:\n  127.0.0.1:5055:\n    lookaside: ${root}\n` },
    ])
    const choice = lookasideFor(config, parseDockerImageReference('127.0.0.1:5055/test/hello:v1'))
    expect(choice.repositoryBase).toBeDefined()
    if (choice.repositoryBase === undefined) return
    expect(texts(await readLookasideSignatures(choice.repositoryBase, DIGEST))).toEqual(['sig'])
  })

  it('returns nothing when the image has no directory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'initguard-lookaside-'))
    onTestFinished(() => {
      rmSync(root, { recursive: true, force: true })
    })
    const base = new URL(`${pathToFileURL(root).href}/x`)
    expect(await readLookasideSignatures(base, DIGEST)).toEqual([])
  })

  it('refuses an oversized signature, a directory in its place, and too many signatures', async () => {
    const big = fileStore({ 'signature-1': 'x'.repeat(11) })
    const error = await thrown(() => readLookasideSignatures(big, DIGEST, { maxSignatureSize: 10 }))
    expect(error.code).toBe('ERR_LOOKASIDE_SIGNATURE_TOO_LARGE')
    const exact = fileStore({ 'signature-1': 'x'.repeat(10) })
    expect(await readLookasideSignatures(exact, DIGEST, { maxSignatureSize: 10 })).toHaveLength(1)
    const dir = fileStore({ 'signature-1': null })
    expect((await thrown(() => readLookasideSignatures(dir, DIGEST))).code).toBe(
      'ERR_LOOKASIDE_READ',
    )
    const many = fileStore({ 'signature-1': 'a', 'signature-2': 'b', 'signature-3': 'c' })
    expect(await readLookasideSignatures(many, DIGEST, { maxSignatures: 3 })).toHaveLength(3)
    const tooMany = await thrown(() => readLookasideSignatures(many, DIGEST, { maxSignatures: 2 }))
    expect(tooMany.code).toBe('ERR_LOOKASIDE_TOO_MANY')
  })

  it('refuses a FIFO in place of a signature at once, without waiting for a writer', async () => {
    const base = fileStore({})
    const fifo = join(fileURLToPath(base), '..', `hello@sha256=${HEX}`, 'signature-1')
    execFileSync('mkfifo', [fifo])
    onTestFinished(() => {
      // Unblock a reader stuck opening the FIFO (old code), so the worker can exit.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // No reader waiting: nothing to unblock.
      }
    })
    const read = thrown(() => readLookasideSignatures(base, DIGEST))
    const late = new Promise<string>((resolve) =>
      setTimeout(() => {
        resolve('still waiting')
      }, 2000),
    )
    expect(await Promise.race([read.then((e) => e.code), late])).toBe('ERR_LOOKASIDE_READ')
  })

  it('refuses a bad digest and an unsupported scheme', async () => {
    const base = fileStore({})
    expect((await thrown(() => readLookasideSignatures(base, 'sha256:../x'))).code).toBe(
      'ERR_LOOKASIDE_DIGEST',
    )
    const ftp = await thrown(() => readLookasideSignatures(new URL('ftp://h/x'), DIGEST))
    expect(ftp.code).toBe('ERR_LOOKASIDE_SCHEME')
    const remote = await thrown(() => readLookasideSignatures(new URL('file://host/x'), DIGEST))
    expect(remote.code).toBe('ERR_LOOKASIDE_SCHEME')
  })

  it('refuses a bound that is not a whole number, never reading it as no bound', async () => {
    // A NaN bound compared false: the reader read on until the store ran out (in a store that
    // answers every signature-N, forever), and a NaN size let any signature through.
    const base = fileStore(
      Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`signature-${String(i + 1)}`, 'x'])),
    )
    for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]) {
      for (const option of ['maxSignatures', 'maxSignatureSize'] as const) {
        const error = await thrown(() => readLookasideSignatures(base, DIGEST, { [option]: bad }))
        expect([option, bad, error.code]).toEqual([option, bad, 'ERR_LOOKASIDE_OPTION'])
      }
    }
    expect(await readLookasideSignatures(base, DIGEST, { maxSignatures: 3 })).toHaveLength(3)
    const none = await thrown(() => readLookasideSignatures(base, DIGEST, { maxSignatures: 0 }))
    expect(none.code).toBe('ERR_LOOKASIDE_TOO_MANY')
  })
})

describe('readLookasideSignatures from http:', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void
  let handler: Handler = (_req, res) => res.writeHead(404).end()
  const requests: string[] = []
  let server: Server
  let origin: string

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '')
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  const serve =
    (bodies: readonly string[]): Handler =>
    (req, res) => {
      const match = /signature-(\d+)$/u.exec(req.url ?? '')
      const body = match === null ? undefined : bodies[Number(match[1]) - 1]
      if (body === undefined) res.writeHead(404).end('not found')
      else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body)
    }

  it('GETs signature-1, -2, … at the c/image path until the first 404', async () => {
    handler = serve(['one', 'two'])
    requests.length = 0
    const base = new URL(`${origin}/sigstore/library/busybox`)
    expect(texts(await readLookasideSignatures(base, DIGEST))).toEqual(['one', 'two'])
    expect(requests).toEqual(
      [1, 2, 3].map((n) => `/sigstore/library/busybox@sha256=${HEX}/signature-${n}`),
    )
  })

  it('treats any status other than 200 and 404 as an error', async () => {
    handler = (_req, res) => res.writeHead(403).end('forbidden')
    const error = await thrown(() => readLookasideSignatures(new URL(`${origin}/s/a`), DIGEST))
    expect(error.code).toBe('ERR_LOOKASIDE_HTTP_STATUS')
    expect(error.details['status']).toBe(403)
    expect(error.hint).toBeTruthy()
  })

  it('refuses a body over the limit, declared or streamed', async () => {
    handler = serve(['x'.repeat(100)])
    const declared = await thrown(() =>
      readLookasideSignatures(new URL(`${origin}/s/a`), DIGEST, { maxSignatureSize: 50 }),
    )
    expect(declared.code).toBe('ERR_LOOKASIDE_SIGNATURE_TOO_LARGE')
    handler = (_req, res) => {
      // Chunked, no Content-Length: the limit must hold while streaming.
      res.writeHead(200)
      for (let i = 0; i < 10; i++) res.write('y'.repeat(20))
      res.end()
    }
    const streamed = await thrown(() =>
      readLookasideSignatures(new URL(`${origin}/s/a`), DIGEST, { maxSignatureSize: 50 }),
    )
    expect(streamed.code).toBe('ERR_LOOKASIDE_SIGNATURE_TOO_LARGE')
  })

  it('times out a server that never answers', async () => {
    handler = () => undefined
    const base = new URL(`${origin}/s/a`)
    const error = await thrown(() => readLookasideSignatures(base, DIGEST, { timeoutMs: 200 }))
    expect(error.code).toBe('ERR_LOOKASIDE_DEADLINE')
    expect(error.message).toContain('within the total timeout of 200 ms')
  })

  it('gives up on a signature that trickles in at the total timeout, not at a stall', async () => {
    // A byte every 20 ms: never a 200 ms stall, and the body never ends.
    handler = (_req, res) => {
      res.writeHead(200)
      const timer = setInterval(() => res.write('x'), 20)
      res.on('close', () => {
        clearInterval(timer)
      })
    }
    const started = Date.now()
    const base = new URL(`${origin}/s/a`)
    const error = await thrown(() =>
      readLookasideSignatures(base, DIGEST, { timeoutMs: 300, maxSignatureSize: 1024 * 1024 }),
    )
    expect(Date.now() - started).toBeLessThan(1500)
    expect(error.code).toBe('ERR_LOOKASIDE_DEADLINE')
    expect(error.message).toContain('no complete answer within the total timeout of 300 ms')
    expect(error.hint).toContain('timeoutMs')
  })

  it('sends URL credentials as basic authentication and redacts the password', async () => {
    let authorization: string | undefined
    handler = (req, res) => {
      authorization = req.headers.authorization
      res.writeHead(500).end()
    }
    const base = new URL(`http://user:hunter%402@${origin.slice('http://'.length)}/s/a`)
    const error = await thrown(() => readLookasideSignatures(base, DIGEST))
    expect(error.code).toBe('ERR_LOOKASIDE_HTTP_STATUS')
    expect(authorization).toBe(`Basic ${Buffer.from('user:hunter@2').toString('base64')}`)
    expect(JSON.stringify(error.toJSON())).not.toContain('hunter')
  })

  it('reports a refused connection as unavailable', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const error = await thrown(() =>
      readLookasideSignatures(new URL(`http://127.0.0.1:${port}/s`), DIGEST),
    )
    expect(error.code).toBe('ERR_LOOKASIDE_UNAVAILABLE')
  })

  it('follows a redirect, as Go’s HTTP client does', async () => {
    handler = (req, res) => {
      if (req.url?.startsWith('/moved/') === true) serve(['moved'])(req, res)
      else res.writeHead(302, { location: `/moved${req.url ?? ''}` }).end()
    }
    expect(texts(await readLookasideSignatures(new URL(`${origin}/s/a`), DIGEST))).toEqual([
      'moved',
    ])
  })
})
