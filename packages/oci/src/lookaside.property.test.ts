/**
 * Property tests of `readLookasideSignatures` against a model of containers/image's lookaside
 * reading: any store (bodies of any size, declared or streamed, gaps, 404 or any other status,
 * redirects good and bad, failing connections, endless `signature-N` sequences, FIFOs and
 * directories in a file store) gives exactly the signatures before the first missing one, or the
 * coded error the model names; never another exception, never a hang, and bounded requests and
 * bytes read.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { readLookasideSignatures, type LookasideSignature } from './lookaside.ts'

const HEX = 'ab'.repeat(32)
const DIGEST = `sha256:${HEX}`

/** What the server answers for one `signature-N`. */
type Entry =
  | { readonly kind: 'ok'; readonly body: Uint8Array; readonly declared?: number }
  | { readonly kind: 'endless-body' }
  | { readonly kind: 'status'; readonly status: number; readonly location?: string }
  | { readonly kind: 'redirects'; readonly hops: number; readonly then: Entry }
  | { readonly kind: 'loop' }
  | { readonly kind: 'network' }

const okEntry = fc.record(
  {
    kind: fc.constant('ok' as const),
    body: fc.uint8Array({ maxLength: 40 }),
    declared: fc.nat(60),
  },
  { requiredKeys: ['kind', 'body'] },
)
const entry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 6, arbitrary: okEntry },
  { weight: 1, arbitrary: fc.constant({ kind: 'endless-body' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      status: fc.constantFrom(201, 204, 206, 300, 304, 400, 401, 403, 410, 418, 429, 500, 503),
    }),
  },
  {
    weight: 1,
    // A redirect status without a usable Location, or to where the client will not go.
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      status: fc.constantFrom(301, 302, 303, 307, 308),
      location: fc.constantFrom('ftp://elsewhere/x', 'file:///etc/passwd', 'http://[bad'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('redirects' as const),
      hops: fc.integer({ min: 1, max: 12 }),
      then: fc.oneof(okEntry, fc.constant({ kind: 'status' as const, status: 404 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'loop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'network' as const }) },
)
const store = fc.record({
  entries: fc.array(entry, { maxLength: 6 }),
  /** After the entries: 404 (the end), or a 200 for every further number. */
  endless: fc.boolean(),
  maxSignatureSize: fc.nat(40),
  maxSignatures: fc.nat(5),
  withPassword: fc.boolean(),
})
type Store = typeof store extends fc.Arbitrary<infer T> ? T : never

const CHUNK = 7
const MAX_REDIRECTS = 10
const ATTEMPTS = 2

/** The model: the signatures read, or the code of the error. */
function expected(s: Store): { bodies: Uint8Array[] } | { code: string } {
  const bodies: Uint8Array[] = []
  for (let n = 1; ; n++) {
    let at: Entry | 'missing' =
      s.entries[n - 1] ?? (s.endless ? { kind: 'ok', body: Uint8Array.of(n % 256) } : 'missing')
    if (at !== 'missing' && at.kind === 'redirects') {
      if (at.hops > MAX_REDIRECTS) return { code: 'ERR_LOOKASIDE_REDIRECT' }
      at = at.then.kind === 'status' ? 'missing' : at.then
    }
    if (at === 'missing') return { bodies }
    switch (at.kind) {
      case 'ok':
        if (at.body.length > s.maxSignatureSize || (at.declared ?? 0) > s.maxSignatureSize)
          return { code: 'ERR_LOOKASIDE_SIGNATURE_TOO_LARGE' }
        break
      case 'endless-body':
        return { code: 'ERR_LOOKASIDE_SIGNATURE_TOO_LARGE' }
      case 'status':
        if (at.location !== undefined) return { code: 'ERR_LOOKASIDE_REDIRECT' }
        return { code: 'ERR_LOOKASIDE_HTTP_STATUS' }
      case 'loop':
        return { code: 'ERR_LOOKASIDE_REDIRECT' }
      case 'network':
        return { code: 'ERR_LOOKASIDE_UNAVAILABLE' }
      case 'redirects':
        throw new Error('unreachable')
    }
    if (n > s.maxSignatures) return { code: 'ERR_LOOKASIDE_TOO_MANY' }
    bodies.push(at.body)
  }
}

/** A body in chunks of {@link CHUNK} bytes, counting what the reader pulls. */
function stream(body: Uint8Array | 'endless', pulled: { bytes: number }): ReadableStream {
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (body !== 'endless' && offset >= body.length) {
        controller.close()
        return
      }
      const chunk =
        body === 'endless'
          ? new Uint8Array(CHUNK).fill(0x78)
          : body.subarray(offset, offset + CHUNK)
      offset += chunk.length
      pulled.bytes += chunk.length
      controller.enqueue(chunk)
    },
  })
}

/** A fetch that serves `s` under `/repo@sha256=HEX/`, recording every URL asked for. */
function fakeFetch(s: Store, seen: string[], pulled: { bytes: number }): typeof fetch {
  const respond = (at: Entry | 'missing', url: URL, hop: number): Response => {
    if (at === 'missing') return new Response('not found', { status: 404 })
    switch (at.kind) {
      case 'ok': {
        const headers = at.declared === undefined ? {} : { 'content-length': String(at.declared) }
        return new Response(stream(at.body, pulled), { status: 200, headers })
      }
      case 'endless-body':
        return new Response(stream('endless', pulled), { status: 200 })
      case 'status': {
        const empty = [204, 304].includes(at.status)
        return new Response(empty ? null : 'no', {
          status: at.status,
          headers: at.location === undefined ? {} : { location: at.location },
        })
      }
      case 'redirects':
        if (hop >= at.hops) return respond(at.then.kind === 'status' ? 'missing' : at.then, url, 0)
        return new Response(null, {
          status: 302,
          headers: { location: `${url.pathname.replace(/\/hop-\d+$/u, '')}/hop-${hop + 1}` },
        })
      case 'loop':
        return new Response(null, { status: 301, headers: { location: url.href } })
      case 'network':
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } })
    }
  }
  return async (input) => {
    await Promise.resolve()
    const url = new URL(input instanceof Request ? input.url : input)
    seen.push(url.href)
    // Fail at once rather than hang when the reader does not stop.
    if (seen.length > (s.maxSignatures + 1) * ATTEMPTS * (MAX_REDIRECTS + 1))
      throw new Error('more requests than the bound')
    const match = /\/repo@sha256=[0-9a-f]{64}\/signature-(\d+)(?:\/hop-(\d+))?$/u.exec(url.pathname)
    if (match === null) return new Response('', { status: 400 })
    const n = Number(match[1])
    const at =
      s.entries[n - 1] ?? (s.endless ? { kind: 'ok', body: Uint8Array.of(n % 256) } : 'missing')
    return respond(at, url, Number(match[2] ?? 0))
  }
}

async function outcome(
  run: () => Promise<LookasideSignature[]>,
): Promise<{ value: LookasideSignature[] } | { code: string }> {
  try {
    return { value: await run() }
  } catch (error) {
    if (isInitguardError(error)) return { code: error.code }
    throw error
  }
}

describe('readLookasideSignatures over http: properties', () => {
  it('reads exactly what the model says from any store, with bounded requests and bytes', async () => {
    await fc.assert(
      fc.asyncProperty(store, async (s) => {
        const seen: string[] = []
        const pulled = { bytes: 0 }
        const base = new URL(`http://${s.withPassword ? 'u:secret@' : ''}sig.example/repo`)
        const result = await outcome(() =>
          readLookasideSignatures(base, DIGEST, {
            maxSignatureSize: s.maxSignatureSize,
            maxSignatures: s.maxSignatures,
            attempts: ATTEMPTS,
            backoffMs: 1,
            sleep: () => Promise.resolve(),
            fetch: fakeFetch(s, seen, pulled),
          }),
        )
        const model = expected(s)
        if ('code' in model) expect(result).toEqual(model)
        else {
          expect('value' in result && result.value.map((v) => v.bytes)).toEqual(model.bodies)
          if ('value' in result)
            result.value.forEach((signature, i) => {
              expect(signature.n).toBe(i + 1)
              expect(signature.url).toBe(
                `http://${s.withPassword ? 'u:xxxxx@' : ''}sig.example/repo@sha256=${HEX}/signature-${i + 1}`,
              )
            })
        }
        // Bounded work: signature maxSignatures + 1 is the last one ever asked for, each number
        // costs at most its attempts and redirects, and no more of each body is read than the
        // limit, the chunk that passes it and the one the stream queues ahead.
        const numbers = s.maxSignatures + 1
        expect(seen.length).toBeLessThanOrEqual(numbers * ATTEMPTS * (MAX_REDIRECTS + 1))
        expect(pulled.bytes).toBeLessThanOrEqual(numbers * (s.maxSignatureSize + 2 * CHUNK))
        // Never outside the image's signature directory (redirect targets are below it too).
        for (const url of seen) expect(url).toMatch(/^http:\/\/sig\.example\/repo@sha256=/u)
      }),
      { numRuns: 300 },
    )
  })

  it('any manifest digest: read under its own directory, or ERR_LOOKASIDE_DIGEST with no request', async () => {
    const digest = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc
        .tuple(
          fc.constantFrom('sha256', 'sha384', 'sha512', 'SHA256', 'md5', ''),
          fc.stringMatching(/^[0-9a-fA-F./%]{0,130}$/),
        )
        .map(([a, h]) => `${a}:${h}`),
    )
    await fc.assert(
      fc.asyncProperty(digest, async (d) => {
        const seen: string[] = []
        const fetchStub: typeof fetch = (input) => {
          seen.push(String(input instanceof Request ? input.url : input))
          return Promise.resolve(new Response('', { status: 404 }))
        }
        const result = await outcome(() =>
          readLookasideSignatures(new URL('https://sig.example/repo'), d, { fetch: fetchStub }),
        )
        if ('code' in result) {
          expect(result.code).toBe('ERR_LOOKASIDE_DIGEST')
          expect(seen).toEqual([])
          return
        }
        expect(result.value).toEqual([])
        const [algorithm, hex] = d.split(':')
        expect(seen).toEqual([`https://sig.example/repo@${algorithm}=${hex}/signature-1`])
      }),
      { numRuns: 300 },
    )
  })

  it('any URL scheme but file, http and https is ERR_LOOKASIDE_SCHEME, before any request', async () => {
    const scheme = fc.oneof(
      fc.constantFrom('ftp', 'data', 'blob', 'ws', 'wss', 'docker', 'oci', 'HTTPS', 'FILE'),
      fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/),
    )
    await fc.assert(
      fc.asyncProperty(scheme, async (sch) => {
        const url = new URL(`${sch}://sig.example/repo`)
        const seen: string[] = []
        const fetchStub: typeof fetch = (input) => {
          seen.push(String(input instanceof Request ? input.url : input))
          return Promise.resolve(new Response('', { status: 404 }))
        }
        const result = await outcome(() =>
          readLookasideSignatures(url, DIGEST, { fetch: fetchStub }),
        )
        if (['http:', 'https:', 'file:'].includes(url.protocol)) return
        expect(result).toEqual({ code: 'ERR_LOOKASIDE_SCHEME' })
        expect(seen).toEqual([])
      }),
      { numRuns: 100 },
    )
  })
})

describe('readLookasideSignatures from file: properties', () => {
  /** What sits at `signature-N` in a file store. */
  const fileEntry = fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('missing', 'directory', 'fifo', 'dangling-link', 'link-loop'),
    },
  )

  it('reads exactly the files before the first missing one, or a coded error, never waiting', async () => {
    const root = mkdtempSync(join(tmpdir(), 'initguard-lookaside-prop-'))
    let run = 0
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fileEntry, { maxLength: 6 }),
          fc.nat(40),
          fc.nat(5),
          async (entries, maxSignatureSize, maxSignatures) => {
            const repo = join(root, String(run++))
            const dir = `${repo}@sha256=${HEX}`
            mkdirSync(dir, { recursive: true })
            entries.forEach((e, i) => {
              const path = join(dir, `signature-${i + 1}`)
              if (e instanceof Uint8Array) writeFileSync(path, e)
              else if (e === 'directory') mkdirSync(path)
              else if (e === 'fifo') execFileSync('mkfifo', [path])
              else if (e === 'dangling-link') symlinkSync(join(dir, 'nowhere'), path)
              else if (e === 'link-loop') symlinkSync(path, path)
            })
            let model: { bodies: Uint8Array[] } | { code: string } = { bodies: [] }
            for (const [i, e] of entries.entries()) {
              if (e === 'missing' || e === 'dangling-link') break
              if (!(e instanceof Uint8Array)) {
                model = { code: 'ERR_LOOKASIDE_READ' }
                break
              }
              if (e.length > maxSignatureSize) {
                model = { code: 'ERR_LOOKASIDE_SIGNATURE_TOO_LARGE' }
                break
              }
              if (i + 1 > maxSignatures) {
                model = { code: 'ERR_LOOKASIDE_TOO_MANY' }
                break
              }
              model.bodies.push(e)
            }
            const read = outcome(() =>
              readLookasideSignatures(pathToFileURL(repo), DIGEST, {
                maxSignatureSize,
                maxSignatures,
              }),
            )
            let timer: ReturnType<typeof setTimeout> | undefined
            const late = new Promise<'hang'>((resolve) => {
              timer = setTimeout(() => {
                resolve('hang')
              }, 2000)
            })
            const result = await Promise.race([read, late])
            clearTimeout(timer)
            if ('code' in model) expect(result).toEqual(model)
            else
              expect(
                result !== 'hang' && 'value' in result && result.value.map((v) => v.bytes),
              ).toEqual(model.bodies)
          },
        ),
        { numRuns: 60 },
      )
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
