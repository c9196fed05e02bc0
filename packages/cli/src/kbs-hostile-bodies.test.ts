/**
 * Hostile bodies and headers against the real `kbs serve` process: bodies over the limit (with a
 * Content-Length, chunked without one), JSON nested 100 000 levels deep, a huge header and a
 * huge header set. Each answer is the documented status in Trustee's error shape (413, 400, 431),
 * never a 500 or a crash; the server's memory stays bounded and an honest client is still served.
 */
import { generateEcKeyPair } from '@initguard/kbs-protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bodyOf,
  exchange,
  problemsAfterAttack,
  startHostileKbs,
  type HostileKbs,
} from './kbs-hostile-test-support.ts'

const BODY_LIMIT = 256 * 1024
const PREFIX = 'https://github.com/confidential-containers/kbs/errors/'
let kbs: HostileKbs
let rssAtStart: number

beforeAll(async () => {
  kbs = await startHostileKbs({
    limits: { body: '256KiB', 'json-depth': 64, 'max-header-size': '16KiB' },
    'rate-limit': { max: 10_000, window: '1s' },
  })
  expect((await kbs.handshake()).code).toBe(0)
  rssAtStart = kbs.rssKiB()
}, 60_000)

afterAll(async () => {
  await kbs.stop()
})

const post = (path: string, body: string | Buffer, extra = ''): string | Buffer =>
  Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\n${extra}\r\n`,
    ),
    Buffer.isBuffer(body) ? body : Buffer.from(body),
  ])

/** `[` × depth, then `]` × depth: valid JSON, nested `depth` levels. */
const nestedArrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
/** `{"a":` × depth, `1`, `}` × depth. */
const nestedObjects = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

describe('oversize bodies → 413', () => {
  it('a Content-Length over the limit is refused before the body is read', async () => {
    const head = `POST /kbs/v0/auth HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nContent-Length: ${String(1 << 30)}\r\n\r\n`
    const answer = await exchange(kbs.port, [head, Buffer.alloc(64 * 1024, 0x20)])
    expect(answer.status).toBe(413)
    expect(bodyOf(answer)).toMatchObject({ type: `${PREFIX}PayloadTooLarge` })
  })

  it('a chunked body without Content-Length is cut off at the limit', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    const framed = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
    ])
    const head =
      'POST /kbs/v0/attest HTTP/1.1\r\nHost: kbs\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'
    // 64 × 64 KiB = 4 MiB offered, 16 × the limit; the server answers and stops reading.
    const answer = await exchange(kbs.port, [head, ...new Array<Buffer>(64).fill(framed)])
    expect(answer.status).toBe(413)
    expect(answer.closedByServer).toBe(true)
  })

  it('a body exactly at the limit is read (and refused as malformed, not as too large)', async () => {
    const body = `{"version":"0.4.0","tee":"snp","extra-params":"${' '.repeat(BODY_LIMIT - 60)}"}`
    const answer = await exchange(kbs.port, post('/kbs/v0/auth', body, 'Connection: close\r\n'))
    expect(answer.status).not.toBe(413)
    expect(answer.status).toBeLessThan(500)
  })
})

/** A session cookie and nonce from a real `/auth`. */
async function challenge(): Promise<{ cookie: string; nonce: string }> {
  const answer = await exchange(
    kbs.port,
    post(
      '/kbs/v0/auth',
      '{"version":"0.4.0","tee":"snp","extra-params":""}',
      'Connection: close\r\n',
    ),
  )
  const cookie = /^set-cookie: (kbs-session-id=[0-9a-f]+)/im.exec(answer.text)?.[1]
  const { nonce } = bodyOf(answer) as { nonce: string }
  if (cookie === undefined) throw new Error(answer.text)
  return { cookie, nonce }
}

const TEE_KEY = ((): string => {
  const { kty, crv, x, y } = generateEcKeyPair('P-256').jwk
  return JSON.stringify({ kty, crv, x, y, alg: 'ECDH-ES+A256KW' })
})()

/** `/attest` bodies with `nested` (JSON text) in each place an attacker can put a value. */
function attestBodies(nonce: string, nested: string): Record<string, string> {
  const runtime = `{"nonce":"${nonce}","tee-pubkey":${TEE_KEY}}`
  const evidence = (primary: string): string =>
    `{"primary_evidence":${primary},"additional_evidence":""}`
  return {
    'an ignored top-level member': `{"x":${nested},"runtime-data":${runtime},"tee-evidence":${evidence('{}')}}`,
    'inside the evidence': `{"runtime-data":${runtime},"tee-evidence":${evidence(`{"report":${nested}}`)}}`,
    'as the TEE key': `{"runtime-data":{"nonce":"${nonce}","tee-pubkey":${nested}},"tee-evidence":${evidence('{}')}}`,
  }
}

describe('deeply nested JSON → 400, never a 500 or a crash', () => {
  for (const [name, nested] of [
    ['arrays, 100 000 levels', nestedArrays(100_000)],
    ['objects, 40 000 levels', nestedObjects(40_000)],
    ['arrays, 65 levels (one over the limit)', nestedArrays(65)],
  ] as const) {
    it(`${name}: on /auth, and in each place of an /attest with a live session`, async () => {
      const auth = await exchange(kbs.port, post('/kbs/v0/auth', nested, 'Connection: close\r\n'))
      expect(auth.status, auth.text.slice(0, 400)).toBe(400)
      for (const [place, body] of Object.entries(attestBodies('n', nested))) {
        const { cookie, nonce } = await challenge()
        const attest = await exchange(
          kbs.port,
          post(
            '/kbs/v0/attest',
            body.replace('"nonce":"n"', `"nonce":"${nonce}"`),
            `Cookie: ${cookie}\r\nConnection: close\r\n`,
          ),
        )
        expect(attest.status, `${place}: ${attest.text.slice(0, 400)}`).toBe(400)
        expect(bodyOf(attest)).toMatchObject({ type: `${PREFIX}SerdeError` })
        expect((bodyOf(attest) as { detail: string }).detail).toMatch(/more than 64 levels deep/)
      }
    })
  }

  it('nesting within the limit is still read (and judged on its content)', async () => {
    const { cookie, nonce } = await challenge()
    const body = attestBodies(nonce, nestedArrays(60))['inside the evidence'] ?? ''
    const answer = await exchange(
      kbs.port,
      post('/kbs/v0/attest', body, `Cookie: ${cookie}\r\nConnection: close\r\n`),
    )
    // Not refused as too deep: the evidence is read and refused as evidence (not attested).
    expect(answer.status, answer.text.slice(0, 400)).toBe(401)
    expect((bodyOf(answer) as { detail: string }).detail).not.toMatch(/nest/)
  })
})

describe('huge headers → 431', () => {
  it('one header of 1 MiB', async () => {
    const answer = await exchange(kbs.port, [
      'GET /healthz HTTP/1.1\r\nHost: kbs\r\nX-Big: ',
      Buffer.alloc(1 << 20, 0x61),
      '\r\n\r\n',
    ])
    expect(answer.status).toBe(431)
    expect(bodyOf(answer)).toMatchObject({ type: `${PREFIX}RequestHeaderFieldsTooLarge` })
    expect(answer.closedByServer).toBe(true)
  })

  it('5000 small headers', async () => {
    const headers = Array.from({ length: 5000 }, (_, i) => `X-H${String(i)}: ${'v'.repeat(20)}\r\n`)
    const answer = await exchange(
      kbs.port,
      `GET /healthz HTTP/1.1\r\nHost: kbs\r\n${headers.join('')}\r\n`,
    )
    expect(answer.status).toBe(431)
  })
})

describe('after the attacks', () => {
  it('the server is up, its memory is bounded, and an honest client is served', async () => {
    expect(await problemsAfterAttack(kbs)).toEqual([])
    const rssAtEnd = kbs.rssKiB()
    console.info(`kbs-hostile-bodies: RSS ${String(rssAtStart)} KiB → ${String(rssAtEnd)} KiB`)
    expect(rssAtEnd - rssAtStart).toBeLessThan(64 * 1024)
  })
})
