/**
 * A tag list that comes in pages is bounded as a whole, not page by page: at most
 * `MAX_TAG_LIST_PAGES` pages, `MAX_TAG_LIST_BYTES` over all of them, and one deadline for the
 * listing. A registry that hands out page after page, each small and quick, gets a coded error,
 * never hours of requests or a list silently cut short.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { RegistryClient } from './registry-client.ts'
import { MAX_TAG_LIST_BYTES, MAX_TAG_LIST_PAGES } from './registry-push.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

let server: Server
let host: string
let handler: Handler = (_req, res) => res.writeHead(404).end()

beforeAll(async () => {
  server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  host = `127.0.0.1:${String(address.port)}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

function client(baseMs: number): RegistryClient {
  return new RegistryClient({
    insecureRegistries: [host],
    timeoutMs: 5000,
    attempts: 1,
    blobDeadline: { baseMs, minBytesPerSecond: 1e10 },
  })
}

/** Page `n` of a list of `pages` pages (0-based, from `?n=`), one tag each, linking to the next. */
function pagedTags(pages: number, delayMs = 0, tagOf = (n: number) => `t${String(n)}`): Handler {
  return (req, res) => {
    const n = Number(new URL(req.url ?? '', 'http://x').searchParams.get('n') ?? '0')
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (n + 1 < pages) headers['link'] = `</v2/app/tags/list?n=${String(n + 1)}>; rel="next"`
    setTimeout(() => {
      res.writeHead(200, headers).end(JSON.stringify({ name: 'app', tags: [tagOf(n)] }))
    }, delayMs)
  }
}

describe('listTags over pages', () => {
  it(`follows up to ${String(MAX_TAG_LIST_PAGES)} pages`, async () => {
    handler = pagedTags(MAX_TAG_LIST_PAGES)
    const tags = await client(10_000).listTags(`${host}/app`)
    expect(tags).toHaveLength(MAX_TAG_LIST_PAGES)
    expect(tags.at(-1)).toBe(`t${String(MAX_TAG_LIST_PAGES - 1)}`)
  })

  it('refuses a list that goes on past the last page it follows, rather than cutting it short', async () => {
    handler = pagedTags(MAX_TAG_LIST_PAGES + 1)
    const error = await rejected(client(10_000).listTags(`${host}/app`))
    expect(error.code).toBe('ERR_REGISTRY_TAGS')
    expect(error.message).toMatch(/past 100 pages/)
  })

  it('gives the whole listing one deadline: quick pages cannot add up past it', async () => {
    // 10 pages of 100 ms each: every page well inside a 400 ms deadline, the listing not.
    handler = pagedTags(10, 100)
    const started = Date.now()
    expect(await rejectedCode(client(400).listTags(`${host}/app`))).toBe('ERR_REGISTRY_DEADLINE')
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(350)
    expect(elapsed).toBeLessThan(900)
  })

  it('counts the byte limit over all pages, not per page', async () => {
    // Two pages of about 3 MiB: each under the limit, together over it.
    const big = (n: number): string => String(n).repeat(3 * 1024 * 1024)
    expect(3 * 1024 * 1024 * 2).toBeGreaterThan(MAX_TAG_LIST_BYTES)
    handler = pagedTags(2, 0, big)
    const error = await rejected(client(10_000).listTags(`${host}/app`))
    expect(error.code).toBe('ERR_REGISTRY_TAGS')
    expect(error.message).toMatch(/page 2 \(after \d+ bytes of earlier pages, of the 4194304/)
    handler = pagedTags(1, 0, big)
    expect(await client(10_000).listTags(`${host}/app`)).toEqual([big(0)])
  })
})
