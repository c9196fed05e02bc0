/**
 * The session cookie's lifetime, as RFC 6265 gives it: a KBS that deletes the cookie (`Max-Age`
 * 0 or less, an `Expires` in the past) is not sent it again, a cookie past its lifetime is not
 * sent, and a lifetime the client cannot read is refused, not taken as "forever". Against a
 * loopback http KBS stand-in that answers with the headers each test gives it.
 */
import type { InitguardError } from '@initguard/core'
import { rejected, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { KbsClient, MAX_BEARER_TOKEN_LENGTH, type KbsAttestOptions } from './client.ts'
import { parseCookieDate } from './client-session-cookie.ts'
import { trusteeStyleJwe } from './resource-jwe-test-support.ts'
import { generateTeeKeyPair, type TeeKeyPair } from './tee-key.ts'

const ID = '0123456789abcdef0123456789abcdef'
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
/** A token too long for a header: resources are asked for with the cookie while it lives. */
const LONG_TOKEN = `eyJhbGciOiJFUzI1NiJ9.${'e'.repeat(MAX_BEARER_TOKEN_LENGTH)}.c2ln`
const SECRET = new TextEncoder().encode('s3cret')

/**
 * A token too long even for a KBS's whole request head (a Kata agent policy in the init-data: the
 * stand-in, like this project's KBS, is a Node server, which answers 431 past 16 KiB of headers).
 */
const HUGE_TOKEN = `eyJhbGciOiJFUzI1NiJ9.${'e'.repeat(20 * 1024)}.c2ln`
/** The token the stand-in issues. */
let token = LONG_TOKEN
/**
 * How far the stand-in's clock is from this one, in ms, as its `Date` header says; `'none'`: no
 * `Date` header at all.
 */
let kbsClockOffset: number | 'none' = 0
/** `METHOD path cookie=<…|-> bearer=<yes|->` per request. */
const log: string[] = []
/** The Set-Cookie headers of the /auth and /attest answers. */
let cookies: { auth: string[]; attest: string[] } = { auth: [], attest: [] }
let teeKey: TeeKeyPair
let server: LoopbackServer
let origin: string

/** The KBS stand-in: the cookies of {@link cookies}, a long token, and a resource for `teeKey`. */
const kbs: Parameters<typeof startLoopbackServer>[0] = (req, res) => {
  req.resume()
  const cookie = /kbs-session-id=([^;]*)/.exec(req.headers.cookie ?? '')?.[1] ?? '-'
  const bearer = req.headers.authorization === undefined ? '-' : 'yes'
  log.push(`${req.method ?? ''} ${req.url ?? ''} cookie=${cookie} bearer=${bearer}`)
  if (kbsClockOffset === 'none') res.sendDate = false
  else if (kbsClockOffset !== 0)
    res.setHeader('date', new Date(Date.now() + kbsClockOffset).toUTCString())
  const json = { 'content-type': 'application/json' }
  // Also served under /prefix, as behind a proxy that mounts the KBS there.
  const path = (req.url ?? '').replace(/^\/prefix(?=\/)/, '')
  if (path === '/kbs/v0/auth')
    return void res
      .writeHead(200, { ...json, 'set-cookie': cookies.auth })
      .end(`{"nonce":"${NONCE}","extra-params":""}`)
  if (path === '/kbs/v0/attest')
    return void res
      .writeHead(200, { ...json, 'set-cookie': cookies.attest })
      .end(`{"token":"${token}"}`)
  res.writeHead(200, json).end(JSON.stringify(trusteeStyleJwe(teeKey.publicJwk, SECRET)))
}

beforeAll(async () => {
  server = await startLoopbackServer(kbs)
  origin = server.baseUrl
  teeKey = await generateTeeKeyPair('P-256')
})
afterAll(() => server.close())
afterEach(() => {
  vi.useRealTimers()
  log.length = 0
  token = LONG_TOKEN
  kbsClockOffset = 0
})

/** Attest options whose evidence callback records that the challenge was accepted. */
function attestOptions(reached: string[]): KbsAttestOptions {
  return {
    tee: 'snp',
    teeKey,
    evidence: () => {
      reached.push('evidence')
      return Promise.resolve({ attestation_report: {} })
    },
  }
}

const inSeconds = (s: number): string => new Date(Date.now() + s * 1000).toUTCString()

/** The refusal (`ERR_KBS_SESSION_COOKIE`) of an `/auth` answer setting `set`, before any evidence. */
async function refusedOnAuth(set: string, url = origin): Promise<InitguardError> {
  cookies = { auth: [set], attest: [] }
  const reached: string[] = []
  const error = await rejected(new KbsClient({ url }).attest(attestOptions(reached)))
  expect([set, error.code, reached]).toEqual([set, 'ERR_KBS_SESSION_COOKIE', []])
  return error
}

/**
 * Attest at `url` with `auth` and `attest` as the answers' Set-Cookie, then get a resource; the
 * requests as `path cookie=… bearer=…`, for a cookie that is taken and sent back.
 */
async function taken(url: string, auth: string, attest?: string): Promise<string[]> {
  cookies = { auth: [auth], attest: attest === undefined ? [] : [attest] }
  log.length = 0
  const client = new KbsClient({ url })
  await client.attest(attestOptions([]))
  expect(await client.getResource('a/b/c')).toEqual(SECRET)
  return log.map((line) => line.split(' ').slice(1).join(' '))
}

/** The requests {@link taken} makes when the cookie is sent back, under `prefix`. */
const sentBack = (prefix = ''): string[] => [
  `${prefix}/kbs/v0/auth cookie=- bearer=-`,
  `${prefix}/kbs/v0/attest cookie=${ID} bearer=-`,
  `${prefix}/kbs/v0/resource/a/b/c cookie=${ID} bearer=-`,
]

/** The refusal (`ERR_KBS_SESSION_COOKIE`) of an `/attest` answer setting `set`: no session kept. */
async function refusedOnAttest(set: string): Promise<InitguardError> {
  cookies = { auth: [`kbs-session-id=${ID}`], attest: [set] }
  const client = new KbsClient({ url: origin })
  const error = await rejected(client.attest(attestOptions([])))
  expect([set, error.code]).toEqual([set, 'ERR_KBS_SESSION_COOKIE'])
  expect(error.message).toContain('/kbs/v0/attest')
  expect(client.session).toBeUndefined()
  return error
}

describe('the session cookie lifetime', () => {
  it('refuses an /auth answer that deletes the session cookie, before any evidence is made', async () => {
    for (const deletion of [
      `kbs-session-id=${ID}; Max-Age=0`,
      `kbs-session-id=${ID}; Max-Age=-1`,
      `kbs-session-id=; Max-Age=0`,
      `kbs-session-id=${ID}; Expires=${inSeconds(-60)}`,
      `kbs-session-id=${ID}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
      // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
      `kbs-session-id=${ID}; Expires=${inSeconds(300)}; max-age=0`,
    ]) {
      cookies = { auth: [deletion], attest: [] }
      const reached: string[] = []
      const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions(reached)))
      expect([deletion, error.code]).toEqual([deletion, 'ERR_KBS_SESSION_DELETED'])
      expect(error.message).toContain('/kbs/v0/auth')
      expect(error.message).toContain('deletes')
      expect(reached).toEqual([])
    }
    // Nothing but /auth was asked.
    expect(log.every((line) => line.startsWith('POST /kbs/v0/auth '))).toBe(true)
  })

  it("takes Trustee's cookie (Expires in the future), and a Max-Age that outlives a past Expires", async () => {
    for (const set of [
      `kbs-session-id=${ID}; Expires=${inSeconds(300)}`,
      `kbs-session-id=${ID}; Expires=${inSeconds(-60)}; Max-Age=300`,
      `kbs-session-id=${ID}`,
    ]) {
      cookies = { auth: [set], attest: [] }
      log.length = 0
      const client = new KbsClient({ url: origin })
      await client.attest(attestOptions([]))
      expect(await client.getResource('a/b/c')).toEqual(SECRET)
      expect(log.map((line) => line.split(' ').slice(1).join(' '))).toEqual([
        '/kbs/v0/auth cookie=- bearer=-',
        `/kbs/v0/attest cookie=${ID} bearer=-`,
        `/kbs/v0/resource/a/b/c cookie=${ID} bearer=-`,
      ])
    }
  })

  it("judges Expires by the KBS's own Date, so a guest clock an hour off still attests", async () => {
    const HOUR = 3600_000
    for (const offset of [-HOUR, HOUR]) {
      kbsClockOffset = offset
      // Trustee's cookie: Expires = the KBS's now + 5 minutes, by the KBS's clock.
      const expires = new Date(Date.now() + offset + 300_000).toUTCString()
      cookies = { auth: [`kbs-session-id=${ID}; Expires=${expires}`], attest: [] }
      log.length = 0
      const client = new KbsClient({ url: origin })
      const session = await client.attest(attestOptions([]))
      expect(session.cookie).toBe(ID)
      // About 5 minutes from now on this clock (the Date header counts whole seconds).
      expect(session.cookieExpiresAt).toBeGreaterThan(Date.now() + 298_000)
      expect(session.cookieExpiresAt).toBeLessThanOrEqual(Date.now() + 301_000)
      expect(await client.getResource('a/b/c')).toEqual(SECRET)
      expect(log.at(-1)).toBe(`GET /kbs/v0/resource/a/b/c cookie=${ID} bearer=-`)
    }
    // An Expires in the past of the KBS's own clock is a deletion, wherever this clock is.
    kbsClockOffset = -HOUR
    const past = new Date(Date.now() - HOUR - 60_000).toUTCString()
    cookies = { auth: [`kbs-session-id=${ID}; Expires=${past}`], attest: [] }
    const deleted = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
    expect(deleted.code).toBe('ERR_KBS_SESSION_DELETED')
  })

  it('judges Expires by this clock when the answer has no Date header (RFC 6265)', async () => {
    kbsClockOffset = 'none'
    cookies = { auth: [`kbs-session-id=${ID}; Expires=${inSeconds(-60)}`], attest: [] }
    const deleted = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
    expect(deleted.code).toBe('ERR_KBS_SESSION_DELETED')
    cookies = { auth: [`kbs-session-id=${ID}; Expires=${inSeconds(300)}`], attest: [] }
    const session = await new KbsClient({ url: origin }).attest(attestOptions([]))
    expect(session.cookie).toBe(ID)
  })

  it('does not send the cookie once the /attest answer deleted it', async () => {
    for (const deletion of [`kbs-session-id=${ID}; Max-Age=0`, `kbs-session-id=; Max-Age=-5`]) {
      cookies = { auth: [`kbs-session-id=${ID}; Max-Age=300`], attest: [deletion] }
      log.length = 0
      const client = new KbsClient({ url: origin })
      const session = await client.attest(attestOptions([]))
      expect(session.cookie).toBeUndefined()
      expect(await client.getResource('a/b/c')).toEqual(SECRET)
      // The token is the one credential left.
      expect(log.at(-1)).toBe('GET /kbs/v0/resource/a/b/c cookie=- bearer=yes')
    }
  })

  it('takes the lifetime the /attest answer gives, as Trustee sets the cookie again there', async () => {
    cookies = {
      auth: [`kbs-session-id=${ID}; Max-Age=300`],
      attest: [`kbs-session-id=${ID}; Expires=${inSeconds(30)}`],
    }
    const client = new KbsClient({ url: origin })
    const session = await client.attest(attestOptions([]))
    expect(session.cookie).toBe(ID)
    expect(session.cookieExpiresAt).toBeGreaterThan(Date.now() + 20_000)
    expect(session.cookieExpiresAt).toBeLessThanOrEqual(Date.now() + 30_000)
  })

  it('does not send the cookie past its lifetime', async () => {
    cookies = { auth: [`kbs-session-id=${ID}; Max-Age=60`], attest: [] }
    const client = new KbsClient({ url: origin })
    await client.attest(attestOptions([]))
    expect(await client.getResource('a/b/c')).toEqual(SECRET)
    expect(log.at(-1)).toBe(`GET /kbs/v0/resource/a/b/c cookie=${ID} bearer=-`)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    expect(await client.getResource('a/b/c')).toEqual(SECRET)
    expect(log.at(-1)).toBe('GET /kbs/v0/resource/a/b/c cookie=- bearer=yes')
  })

  it('attests again when the KBS cannot read (431) the long token sent once the cookie expired', async () => {
    // The KBS's session ended with its cookie; a header it cannot read (431) is no way back in.
    token = HUGE_TOKEN
    cookies = { auth: [`kbs-session-id=${ID}; Max-Age=60`], attest: [] }
    const client = new KbsClient({ url: origin })
    await client.attest(attestOptions([]))
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 61_000)
    log.length = 0
    expect(await client.getResource('a/b/c')).toEqual(SECRET)
    // The 431 comes from Node's parser, before the stand-in logs the request.
    expect(log.map((line) => line.split(' ').slice(1).join(' '))).toEqual([
      '/kbs/v0/auth cookie=- bearer=-',
      `/kbs/v0/attest cookie=${ID} bearer=-`,
      `/kbs/v0/resource/a/b/c cookie=${ID} bearer=-`,
    ])
    // A caller that shares one re-handshake (retryUnauthorized: false, as the agent) is told
    // ERR_KBS_UNAUTHORIZED, which is what makes it attest again.
    vi.setSystemTime(Date.now() + 61_000)
    log.length = 0
    const error = await rejected(client.getResource('a/b/c', { retryUnauthorized: false }))
    expect(error.code).toBe('ERR_KBS_UNAUTHORIZED')
    expect(error.message).toContain('cookie expired or was deleted')
    expect(log).toEqual([])
  })

  it('refuses (ERR_KBS_TOKEN_TOO_LONG) a 431 that persists after the one new handshake', async () => {
    // A KBS that deletes the cookie on every /attest answer and cannot read the long token: a new
    // handshake brings no cookie either, so the 431 is no refused authorization to retry.
    token = HUGE_TOKEN
    cookies = {
      auth: [`kbs-session-id=${ID}; Max-Age=300`],
      attest: [`kbs-session-id=; Max-Age=0`],
    }
    const client = new KbsClient({ url: origin })
    await client.attest(attestOptions([]))
    log.length = 0
    const error = await rejected(client.getResource('a/b/c'))
    expect(error.code).toBe('ERR_KBS_TOKEN_TOO_LONG')
    expect(error.category).toBe('unavailable')
    expect(error.details).toMatchObject({ status: 431 })
    expect(error.message).toContain('HTTP 431')
    expect(error.message).toContain('after a new handshake')
    expect(error.message).toContain('deleted the kbs-session-id cookie on /kbs/v0/attest')
    expect(error.hint).toContain('keep the kbs-session-id cookie')
    // One new handshake, not more: the 431s come from Node's parser, before the stand-in logs.
    expect(log.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
      'POST /kbs/v0/auth',
      'POST /kbs/v0/attest',
    ])
    // A caller that re-handshakes itself (the agent) is told the first 431 as ERR_KBS_UNAUTHORIZED,
    // and the one after its own new handshake as ERR_KBS_TOKEN_TOO_LONG.
    const first = await rejected(client.getResource('a/b/c', { retryUnauthorized: false }))
    expect(first.code).toBe('ERR_KBS_UNAUTHORIZED')
    const after = await rejected(
      client.getResource('a/b/c', { retryUnauthorized: false, reattested: true }),
    )
    expect(after.code).toBe('ERR_KBS_TOKEN_TOO_LONG')
    // `reattested` alone: no further handshake here either.
    log.length = 0
    const alone = await rejected(client.getResource('a/b/c', { reattested: true }))
    expect([alone.code, log]).toEqual(['ERR_KBS_TOKEN_TOO_LONG', []])
  })

  it('does not send /attest a cookie that expired while the evidence was made', async () => {
    cookies = { auth: [`kbs-session-id=${ID}; Max-Age=10`], attest: [] }
    vi.useFakeTimers({ toFake: ['Date'] })
    const client = new KbsClient({ url: origin })
    const error = await rejected(
      client.attest({
        ...attestOptions([]),
        evidence: () => {
          vi.setSystemTime(Date.now() + 11_000)
          return Promise.resolve({ attestation_report: {} })
        },
      }),
    )
    expect(error.code).toBe('ERR_KBS_SESSION_EXPIRED')
    expect(log.map((line) => line.split(' ')[1])).toEqual(['/kbs/v0/auth'])
  })

  it('refuses a session cookie whose lifetime it cannot read, or that gives it twice', async () => {
    for (const [set, said] of [
      [`kbs-session-id=${ID}; Max-Age=5s`, 'a Max-Age of "5s"'],
      [`kbs-session-id=${ID}; Max-Age=`, 'a Max-Age of ""'],
      [`kbs-session-id=${ID}; Max-Age=+5`, 'a Max-Age of "+5"'],
      [`kbs-session-id=${ID}; Expires=tomorrow`, 'an Expires of "tomorrow"'],
      [`kbs-session-id=${ID}; Expires=Sun, 31 Feb 2027 10:00:00 GMT`, 'an Expires of'],
      [`kbs-session-id=${ID}; Max-Age=60; Max-Age=0`, 'Max-Age twice'],
      [`kbs-session-id=${ID}; Expires=${inSeconds(60)}; expires=${inSeconds(90)}`, 'Expires twice'],
    ] as const)
      expect((await refusedOnAuth(set)).message).toContain(said)
    // The same on the /attest answer: no session is kept.
    await refusedOnAttest(`kbs-session-id=${ID}; Max-Age=1e3`)
  })

  it('refuses an answer that both sets and deletes the cookie', async () => {
    cookies = {
      auth: [`kbs-session-id=${ID}; Max-Age=300`, `kbs-session-id=${ID}; Max-Age=0`],
      attest: [],
    }
    const error = await rejected(new KbsClient({ url: origin }).attest(attestOptions([])))
    expect(error.code).toBe('ERR_KBS_SESSION_COOKIE')
  })
})

describe("the session cookie's Domain and Path (RFC 6265 §5.3, §5.4)", () => {
  it("refuses a cookie whose Domain the KBS's host does not domain-match, before any evidence", async () => {
    for (const domain of ['other.example', '.example.com', '127.0.0.2', '0.0.1', '1.127.0.0.1']) {
      const error = await refusedOnAuth(`kbs-session-id=${ID}; Domain=${domain}`)
      expect(error.message).toContain('/kbs/v0/auth')
      expect(error.message).toContain(`Domain ${JSON.stringify(domain)}`)
      expect(error.message).toContain('127.0.0.1')
      expect(error.hint).toContain('without Domain')
    }
    expect(log.every((line) => line.startsWith('POST /kbs/v0/auth '))).toBe(true)
    // The same on the /attest answer: no session is kept.
    await refusedOnAttest(`kbs-session-id=${ID}; Domain=kbs.example`)
  })

  it('refuses a cookie whose Path does not cover every route the client sends it to', async () => {
    for (const [path, uncovered] of [
      ['/other', '/kbs/v0/attest'],
      ['/kbs/v', '/kbs/v0/attest'],
      ['/KBS/v0', '/kbs/v0/attest'],
      ['/kbs/v0/attest', '/kbs/v0/resource/'],
      ['/kbs/v0/resource', '/kbs/v0/attest'],
    ] as const) {
      const error = await refusedOnAuth(`kbs-session-id=${ID}; Path=${path}`)
      expect(error.message).toContain(`Path ${JSON.stringify(path)}`)
      expect(error.message).toContain(`does not cover ${uncovered}`)
    }
    // On the /attest answer, the resources are all it is sent to from then on.
    const error = await refusedOnAttest(`kbs-session-id=${ID}; Path=/kbs/v0/attest`)
    expect(error.message).toContain('does not cover /kbs/v0/resource/')
  })

  it('refuses a cookie that gives Domain or Path twice', async () => {
    for (const [set, said] of [
      [`kbs-session-id=${ID}; Path=/kbs/v0; path=/`, 'Path twice'],
      [`kbs-session-id=${ID}; Domain=127.0.0.1; DOMAIN=127.0.0.1`, 'Domain twice'],
    ] as const)
      expect((await refusedOnAuth(set)).message).toContain(said)
  })

  it("takes Trustee's cookie, this project's KBS's, and any Domain and Path that cover the KBS", async () => {
    for (const [auth, attest] of [
      // Trustee: no Domain, no Path (the default Path is /kbs/v0, the directory of /kbs/v0/auth).
      [`kbs-session-id=${ID}; Expires=${inSeconds(300)}`, `kbs-session-id=${ID}`],
      // This project's KBS (packages/kbs/src/server/session-cookie.ts).
      [`kbs-session-id=${ID}; Expires=${inSeconds(300)}; Path=/kbs/v0; HttpOnly; SameSite=Strict`],
      [`kbs-session-id=${ID}; Path=/`],
      [`kbs-session-id=${ID}; Path=/kbs/v0/`],
      [`kbs-session-id=${ID}; Path=/kbs`],
      [`kbs-session-id=${ID}; Domain=127.0.0.1; Path=/kbs/v0`],
      // A leading dot is dropped (§5.2.3); an empty Domain, a Path not starting with / is the
      // default Path (§5.2.4).
      [`kbs-session-id=${ID}; Domain=.127.0.0.1`],
      [`kbs-session-id=${ID}; Domain=; Path=kbs`],
      // From the /attest answer on, the resources are what it is sent to.
      [`kbs-session-id=${ID}`, `kbs-session-id=${ID}; Path=/kbs/v0/resource`],
    ] as const)
      expect([auth, await taken(origin, auth, attest)]).toEqual([auth, sentBack()])
  })

  it('takes a cookie that covers the path prefix of the KBS URL, and refuses one that does not', async () => {
    for (const [url, set] of [
      // Trustee behind a proxy at /prefix: the default Path is /prefix/kbs/v0.
      [`${origin}/prefix`, `kbs-session-id=${ID}; Expires=${inSeconds(300)}`],
      [`${origin}/prefix/`, `kbs-session-id=${ID}; Path=/prefix/kbs/v0; HttpOnly`],
      [`${origin}/prefix`, `kbs-session-id=${ID}; Path=/prefix`],
    ] as const)
      expect([set, await taken(url, set)]).toEqual([set, sentBack('/prefix')])
    // This project's KBS behind a proxy at /prefix that does not rewrite its cookie's Path: a
    // browser, or CoCo's reqwest cookie store, would not send it to /prefix/kbs/v0/attest.
    const error = await refusedOnAuth(
      `kbs-session-id=${ID}; Path=/kbs/v0; HttpOnly`,
      `${origin}/prefix`,
    )
    expect(error.message).toContain('Path "/kbs/v0"')
    expect(error.message).toContain('does not cover /prefix/kbs/v0/attest')
    expect(error.hint).toContain('proxy_cookie_path /kbs/v0 /prefix/kbs/v0')
  })
})

describe("the session cookie's Secure attribute (RFC 6265 §5.4)", () => {
  it('refuses a Secure cookie from a plain-http KBS URL, before any evidence: it could not be sent back', async () => {
    for (const set of [
      // This project's KBS over HTTPS, seen through a plain-http proxy.
      `kbs-session-id=${ID}; Expires=${inSeconds(300)}; Path=/kbs/v0; HttpOnly; SameSite=Strict; Secure`,
      `kbs-session-id=${ID}; secure`,
      `kbs-session-id=${ID}; SECURE=1`,
    ]) {
      const error = await refusedOnAuth(set)
      expect(error.message).toContain('/kbs/v0/auth')
      expect(error.message).toContain('kbs-session-id cookie marked Secure')
      expect(error.message).toContain(`plain http (${origin}/)`)
      expect(error.message).toContain('/kbs/v0/attest')
      expect(error.hint).toContain('https://')
      expect(error.hint).toContain('--insecure-http')
    }
    expect(log.every((line) => line.startsWith('POST /kbs/v0/auth '))).toBe(true)
    // The same on the /attest answer: no session is kept, and nothing is sent with it.
    log.length = 0
    const error = await refusedOnAttest(`kbs-session-id=${ID}; Secure`)
    expect(error.message).toContain('/kbs/v0/resource/')
    expect(log.map((line) => line.split(' ')[1])).toEqual(['/kbs/v0/auth', '/kbs/v0/attest'])
  })

  it('takes a cookie without Secure over plain http, as Trustee and --insecure-http set it', async () => {
    for (const set of [
      `kbs-session-id=${ID}; Expires=${inSeconds(300)}`,
      `kbs-session-id=${ID}; Expires=${inSeconds(300)}; Path=/kbs/v0; HttpOnly; SameSite=Strict`,
      // Not the attribute Secure (§5.2: the attribute name is the part before "=").
      `kbs-session-id=${ID}; Securely`,
    ])
      expect([set, await taken(origin, set)]).toEqual([set, sentBack()])
  })
})

describe('parseCookieDate (RFC 6265 §5.1.1)', () => {
  it('reads the IMF-fixdate, RFC 850 and asctime forms', () => {
    const at = Date.UTC(2026, 11, 6, 10, 30, 5)
    expect(parseCookieDate('Sun, 06 Dec 2026 10:30:05 GMT')).toBe(at)
    expect(parseCookieDate('Sunday, 06-Dec-26 10:30:05 GMT')).toBe(at)
    expect(parseCookieDate('Sun Dec  6 10:30:05 2026')).toBe(at)
    expect(parseCookieDate('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0)
    expect(parseCookieDate('Wed, 01 Jan 1969 00:00:00 GMT')).toBe(Date.UTC(1969, 0, 1))
    // Two-digit years: 70–99 are 19xx, 00–69 are 20xx.
    expect(parseCookieDate('01-Jan-70 00:00:00')).toBe(0)
    expect(parseCookieDate('01-Jan-69 00:00:00')).toBe(Date.UTC(2069, 0, 1))
  })

  it('fails where the algorithm fails', () => {
    for (const text of [
      '',
      'tomorrow',
      'Sun, 06 Dec 2026 GMT',
      'Sun, 06 2026 10:30:05 GMT',
      'Sun, Dec 2026 10:30:05 GMT',
      'Sun, 32 Dec 2026 10:30:05 GMT',
      'Sun, 00 Dec 2026 10:30:05 GMT',
      'Sun, 31 Apr 2026 10:30:05 GMT',
      'Sun, 06 Dec 1600 10:30:05 GMT',
      'Sun, 06 Dec 2026 24:00:00 GMT',
      'Sun, 06 Dec 2026 10:60:00 GMT',
      'Sun, 06 Dec 2026 10:30:60 GMT',
    ])
      expect([text, parseCookieDate(text)]).toEqual([text, undefined])
  })
})
