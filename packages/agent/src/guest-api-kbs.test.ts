/**
 * The guest API's KBS session under trouble, real parts only: a KBS stand-in on loopback that
 * accepts TLS and never answers, a KBS that is down and then comes up (a TCP relay on a fixed
 * port in front of a real KBS), concurrent 401s, an expired pinned certificate, and a TEE whose
 * init-time field changes while the agent runs.
 */
import { getEventListeners } from 'node:events'
import {
  createServer as createHttpServer,
  request as httpRequest,
  type ServerResponse,
} from 'node:http'
import { createServer as createTcpServer, connect, type Server as TcpServer } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { generateSelfSignedTls } from '@initguard/kbs'
import type { GuestTee } from '@initguard/tee'
import { closedPort } from '../../http/src/http-test-support.ts'
import { startTestKbs as startProtocolKbs } from '../../kbs-protocol/src/client-test-support.ts'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../kbs/src/service/kbs-test-support.ts'
import { launchGuest, verifyInitdata } from './agent-test-support.ts'
import { get, kbsInitdataToml } from './guest-api-test-support.ts'
import { serveGuestApi, type RunningGuestApi } from './guest-api-server.ts'
import { tampered } from './initdata-check/launched-guest-test-support.ts'
import { VerifiedDocuments } from './initdata-check/verified-documents.ts'
import { openAgentKbs } from './kbs-access.ts'

const SECRET = 'the database password'
const RESOURCE = '/cdh/resource/default/app/password'
let kbs: TestKbs
const running: RunningGuestApi[] = []
const servers: (TcpServer | TlsServer)[] = []
const loopbacks: LoopbackServer[] = []

beforeAll(async () => {
  kbs = await startTestKbs()
  expect(await uploadResource(kbs, 'default/app/password', SECRET)).toBe(200)
})

afterAll(async () => {
  for (const api of running) await api.close()
  for (const server of servers) server.close()
  for (const server of loopbacks) await server.close()
  await kbs.stop()
})

/** Accept every workload launched with one of `documents`. */
async function acceptOnly(documents: readonly string[]): Promise<void> {
  const workload = simulatorWorkload(documents)
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
}

/** An agent for a guest launched with `document` (its TEE passed through `wrap`). */
async function agent(
  document: string,
  options: { totalTimeoutMs?: number; wrap?: (tee: GuestTee) => GuestTee } = {},
): Promise<RunningGuestApi> {
  const launched = await launchGuest(kbs.simulator.dir, document)
  const initdata = await verifyInitdata(launched, document)
  const tee = options.wrap?.(launched) ?? launched
  const { access } = openAgentKbs({
    initdata,
    tee,
    clock: () => kbs.now(),
    ...(options.totalTimeoutMs === undefined ? {} : { totalTimeoutMs: options.totalTimeoutMs }),
  })
  const api = await serveGuestApi({
    state: { initdata, documents: new VerifiedDocuments(initdata), tee, kbs: access },
    listen: { host: '127.0.0.1', port: 0 },
  })
  running.push(api)
  return api
}

/** Events of `action` with `outcome` in the KBS's audit log. */
async function audited(action: string, outcome: string): Promise<number> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  const entries = (json as { entries: Record<string, unknown>[] }).entries
  return entries.filter((e) => e['action'] === action && e['outcome'] === outcome).length
}

/** A TLS server on loopback that completes handshakes and then never says a word. */
async function silentKbs(certPem: string, keyPem: string): Promise<string> {
  const server = createTlsServer({ cert: certPem, key: keyPem }, () => undefined)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `https://127.0.0.1:${address.port}`
}

describe('a KBS that accepts TLS and never answers', () => {
  const tls = generateSelfSignedTls('127.0.0.1', new Date())

  it('a request ends with a 503 saying so once the total timeout passes', async () => {
    const url = await silentKbs(tls.certPem, tls.keyPem)
    const api = await agent(kbsInitdataToml(url, tls.certPem, 'silent'), { totalTimeoutMs: 700 })
    const started = Date.now()
    const response = await get({ base: api.url }, RESOURCE)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(response.status).toBe(503)
    expect(response.json()).toMatchObject({ code: 'ERR_KBS_TIMEOUT' })
    expect(response.json()['message']).toMatch(/did not complete a handshake within 700 ms/)
  })

  it('close() aborts the requests in flight and returns at once', async () => {
    const url = await silentKbs(tls.certPem, tls.keyPem)
    const api = await agent(kbsInitdataToml(url, tls.certPem, 'silent, stopped'))
    const pending = [
      get({ base: api.url }, RESOURCE),
      get({ base: api.url }, '/aa/token?token_type=kbs'),
    ]
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = Date.now()
    await api.close()
    expect(Date.now() - started).toBeLessThan(3_000)
    for (const response of await Promise.all(pending)) {
      expect(response.status).toBe(503)
      expect(response.json()).toMatchObject({ code: 'ERR_AGENT_STOPPING' })
    }
  })
})

describe('re-handshakes', () => {
  it('concurrent 401s share one re-handshake', async () => {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'concurrent 401')
    await acceptOnly([document])
    const api = await agent(document)
    expect((await get({ base: api.url }, RESOURCE)).status).toBe(200)
    const before = await audited('attest', 'issued')
    // A new workload version: the tokens issued before no longer open resources (401).
    await acceptOnly([document, kbsInitdataToml(kbs.kbs.url, undefined, 'v2')])
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => get({ base: api.url }, RESOURCE)))
    expect(answers.map((a) => [a.status, a.body.toString('utf8')])).toEqual(
      new Array(5).fill([200, SECRET]),
    )
    expect(await audited('attest', 'issued')).toBe(before + 1)
  })

  it('the signing key revoked (rotate with revokePrevious): 401, one re-handshake, the secret', async () => {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'key revoked')
    await acceptOnly([document])
    const api = await agent(document)
    expect((await get({ base: api.url }, RESOURCE)).status).toBe(200)
    const before = await audited('attest', 'issued')
    const rotated = await kbs.adminCall('POST', '/kbs/v0/admin/signing-keys/rotate', {
      revokePrevious: true,
    })
    expect(rotated.status).toBe(200)
    const again = await get({ base: api.url }, RESOURCE)
    expect([again.status, again.body.toString('utf8')]).toEqual([200, SECRET])
    expect(await audited('attest', 'issued')).toBe(before + 1)
  })

  it('a re-handshake refused: the stale token is dropped, /aa/token does not hand it out', async () => {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'refused later')
    await acceptOnly([document])
    const api = await agent(document)
    const first = await get({ base: api.url }, '/aa/token?token_type=kbs')
    expect(first.status).toBe(200)
    // The workload no longer accepts this guest: its token gets 401, the new handshake 403.
    await acceptOnly([kbsInitdataToml(kbs.kbs.url, undefined, 'someone else')])
    const secret = await get({ base: api.url }, RESOURCE)
    expect([secret.status, secret.json()['code']]).toEqual([403, 'ERR_KBS_FORBIDDEN'])
    const token = await get({ base: api.url }, '/aa/token?token_type=kbs')
    expect([token.status, token.json()['code']]).toEqual([403, 'ERR_KBS_FORBIDDEN'])
  })

  it('the KBS down, then up: the failed handshake is not kept', async () => {
    const port = await closedPort()
    const document = kbsInitdataToml(`https://127.0.0.1:${port}`, kbs.kbs.tls?.certPem, 'down, up')
    await acceptOnly([document])
    const api = await agent(document)
    const down = await get({ base: api.url }, RESOURCE)
    expect([down.status, down.json()['code']]).toEqual([503, 'ERR_KBS_UNREACHABLE'])
    // Up: a relay on the port the document names, to the real KBS.
    const target = new URL(kbs.kbs.url)
    const relay = createTcpServer((socket) => {
      const upstream = connect(Number(target.port), target.hostname)
      socket.pipe(upstream).pipe(socket)
      socket.on('error', () => upstream.destroy())
      upstream.on('error', () => socket.destroy())
    })
    servers.push(relay)
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve))
    const up = await get({ base: api.url }, RESOURCE)
    expect([up.status, up.body.toString('utf8')]).toEqual([200, SECRET])
  })
})

describe('a KBS that cannot read the long token and keeps no cookie for it', () => {
  it('is told as an upstream failure (502) after one new handshake, not as a refusal (403)', async () => {
    // Trustee-like on /auth, but /attest deletes the cookie and issues a token longer than the
    // stand-in's (Node's) 16 KiB of request headers: every resource request gets 431.
    const routes: string[] = []
    const token = `eyJhbGciOiJFUzI1NiJ9.${'e'.repeat(20 * 1024)}.c2ln`
    const server = await startLoopbackServer((req, res) => {
      req.resume()
      routes.push(req.url ?? '')
      const json = { 'content-type': 'application/json' }
      if (req.url === '/kbs/v0/auth')
        return void res
          .writeHead(200, { ...json, 'set-cookie': `kbs-session-id=${'a'.repeat(32)}` })
          .end('{"nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","extra-params":""}')
      if (req.url === '/kbs/v0/attest')
        return void res
          .writeHead(200, { ...json, 'set-cookie': 'kbs-session-id=; Max-Age=0' })
          .end(JSON.stringify({ token }))
      res.writeHead(500).end()
    })
    loopbacks.push(server)
    const api = await agent(kbsInitdataToml(server.baseUrl, undefined, '431 persists'))
    const response = await get({ base: api.url }, RESOURCE)
    expect([response.status, response.json()['code']]).toEqual([502, 'ERR_KBS_TOKEN_TOO_LONG'])
    expect(response.json()['message']).toContain('HTTP 431')
    expect(response.json()['hint']).toContain('keep the kbs-session-id cookie')
    // The first handshake and one new one, then the refusal: no loop. (The 431s come from
    // Node's parser, before the stand-in sees the request.)
    expect(routes).toEqual(['/kbs/v0/auth', '/kbs/v0/attest', '/kbs/v0/auth', '/kbs/v0/attest'])
  })
})

describe("a caller's abort signal", () => {
  it('keeps no listener once the shared handshake answered', async () => {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'signal listeners')
    await acceptOnly([document])
    const tee = await launchGuest(kbs.simulator.dir, document)
    const initdata = await verifyInitdata(tee, document)
    const { access } = openAgentKbs({ initdata, tee, clock: () => kbs.now() })
    if (access.kind !== 'session') throw new Error(access.reason.message)
    const signal = new AbortController().signal
    const tokens = await Promise.all([0, 1, 2].map(() => access.session.token(signal)))
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1)
    expect(access.session.handshakes).toBe(1)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })
})

describe("a guest clock off from the KBS's", () => {
  /** A session for a fresh guest whose wall clock is `offsetMs()` off the KBS's. */
  async function session(name: string, offsetMs: () => number, monotonicMs?: () => number) {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, name)
    await acceptOnly([document])
    const tee = await launchGuest(kbs.simulator.dir, document)
    const initdata = await verifyInitdata(tee, document)
    const clock = (): Date => new Date(kbs.now().getTime() + offsetMs())
    const { access } = openAgentKbs({
      initdata,
      tee,
      clock,
      ...(monotonicMs === undefined ? {} : { monotonicMs }),
    })
    if (access.kind !== 'session') throw new Error(access.reason.message)
    return access.session
  }

  it('an hour behind: the token is not reused past its lifetime by the KBS', async () => {
    const guest = await session('an hour behind', () => -3_600_000)
    const first = await guest.token()
    // The KBS's 5-minute token has expired there; by the guest's clock it has 65 minutes left.
    kbs.advance(5 * 60_000)
    const second = await guest.token()
    expect(guest.handshakes).toBe(2)
    expect(second.token).not.toBe(first.token)
  })

  it('an hour ahead: the token is reused, not one handshake per request', async () => {
    const guest = await session('an hour ahead', () => 3_600_000)
    const first = await guest.token()
    kbs.advance(60_000)
    expect((await guest.token()).token).toBe(first.token)
    expect(guest.handshakes).toBe(1)
  })

  it('stepped back an hour after the token came: its age is counted on the monotonic clock', async () => {
    let offset = 0
    let monotonic = 0
    const guest = await session(
      'stepped back',
      () => offset,
      () => monotonic,
    )
    await guest.token()
    offset = -3_600_000
    kbs.advance(5 * 60_000)
    monotonic += 5 * 60_000
    await guest.token()
    expect(guest.handshakes).toBe(2)
  })
})

describe('a token whose iat gives no lifetime a KBS gives', () => {
  /**
   * Two `token()` calls of a guest whose wall and monotonic clocks both move `passedMs` between
   * them, against a KBS whose tokens carry `claims`: the handshakes, and whether the token was
   * reused.
   */
  async function across(passedMs: number, claims: (now: number) => Record<string, unknown>) {
    const peer = await startProtocolKbs()
    peer.tokenClaims = claims
    try {
      const document = kbsInitdataToml(peer.origin, undefined, 'odd iat')
      const tee = await launchGuest(kbs.simulator.dir, document)
      const initdata = await verifyInitdata(tee, document)
      let passed = 0
      const { access } = openAgentKbs({
        initdata,
        tee,
        clock: () => new Date(Date.now() + passed),
        monotonicMs: () => passed,
      })
      if (access.kind !== 'session') throw new Error(access.reason.message)
      const first = await access.session.token()
      passed = passedMs
      const second = await access.session.token()
      return { handshakes: access.session.handshakes, reused: second.token === first.token }
    } finally {
      await peer.close()
    }
  }

  it('an iat far before exp (0, beyond a day before it) does not keep a token past exp', async () => {
    for (const before of [Number.POSITIVE_INFINITY, 1e308, 86_401])
      expect(
        await across(10 * 60_000, (now) => ({
          exp: now + 300,
          iat: Number.isFinite(before) ? now + 300 - before : 0,
        })),
        String(before),
      ).toEqual({ handshakes: 2, reused: false })
  })

  it('an iat at or after exp is read as none: the token is reused by exp on the guest clock, not attested per request', async () => {
    for (const after of [0, 300])
      expect(
        await across(60_000, (now) => ({ exp: now + 300, iat: now + 300 + after })),
        String(after),
      ).toEqual({ handshakes: 1, reused: true })
  })
})

describe('a resource that streams slowly but steadily', () => {
  it('arrives within the total timeout: timeoutMs bounds a stall, not the whole fetch', async () => {
    // A small RCAR peer over plain http, behind a proxy that sends a resource's headers at once
    // and its body 16 bytes every 40 ms: never a stall of timeoutMs, but longer than it in all.
    const peer = await startProtocolKbs()
    peer.resources.set('default/app/password', new TextEncoder().encode(SECRET))
    const upstream = new URL(peer.origin)
    const proxy = createHttpServer((req, res) => {
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          res.flushHeaders()
          if (!(req.url ?? '').startsWith('/kbs/v0/resource/')) return void answer.pipe(res)
          const parts: Buffer[] = []
          answer.on('data', (part: Buffer) => parts.push(part))
          answer.on('end', () => {
            let rest = Buffer.concat(parts)
            const drip = setInterval(() => {
              res.write(rest.subarray(0, 16))
              rest = rest.subarray(16)
              if (rest.length === 0) {
                clearInterval(drip)
                res.end()
              }
            }, 40)
          })
        },
      )
      req.pipe(forward)
    })
    servers.push(proxy)
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const address = proxy.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    try {
      const document = kbsInitdataToml(`http://127.0.0.1:${address.port}`, undefined, 'slow body')
      const tee = await launchGuest(kbs.simulator.dir, document)
      const initdata = await verifyInitdata(tee, document)
      const { access } = openAgentKbs({ initdata, tee, timeoutMs: 400, totalTimeoutMs: 10_000 })
      if (access.kind !== 'session') throw new Error(access.reason.message)
      const started = Date.now()
      const secret = await access.session.resource('default/app/password')
      expect(new TextDecoder().decode(secret)).toBe(SECRET)
      // It took longer than timeoutMs: the body really was slow.
      expect(Date.now() - started).toBeGreaterThan(400)
    } finally {
      proxy.closeAllConnections()
      await peer.close()
    }
  })
})

/** A KBS stand-in over plain http that answers `/auth` with `auth`; its URL. */
async function misanswering(auth: (res: ServerResponse) => void): Promise<string> {
  const server = await startLoopbackServer((req, res) => {
    req.resume()
    if (req.url === '/kbs/v0/auth') auth(res)
    else res.writeHead(500).end()
  })
  loopbacks.push(server)
  return server.baseUrl
}

describe('a KBS that answers /auth wrongly', () => {
  it('is told as a bad answer (502) with the reason, not as a bad request or a refusal', async () => {
    const challenge = '{"nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","extra-params":""}'
    const scenarios: [string, (res: ServerResponse) => void, number, string][] = [
      [
        'deletes the session cookie',
        (res) =>
          res
            .writeHead(200, {
              'content-type': 'application/json',
              'set-cookie': `kbs-session-id=${'a'.repeat(32)}; Max-Age=0`,
            })
            .end(challenge),
        502,
        'ERR_KBS_SESSION_DELETED',
      ],
      [
        'is a proxy page',
        (res) =>
          res
            .writeHead(200, { 'content-type': 'text/html' })
            .end('<html><body>Please sign in</body></html>'),
        502,
        'ERR_KBS_CONTENT_TYPE',
      ],
      [
        "wants another protocol version (Trustee's words)",
        (res) =>
          res.writeHead(401).end(
            JSON.stringify({
              type: 'https://github.com/confidential-containers/kbs/errors/AttestationError',
              detail:
                'Attestation error: RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: expect =0.5.0 while the request is 0.4.0',
            }),
          ),
        502,
        'ERR_KBS_PROTOCOL_VERSION',
      ],
    ]
    for (const [what, auth, status, code] of scenarios) {
      const url = await misanswering(auth)
      const api = await agent(kbsInitdataToml(url, undefined, what))
      const response = await get({ base: api.url }, RESOURCE)
      expect([what, response.status, response.json()['code']]).toEqual([what, status, code])
    }
  })
})

describe('TLS failures', () => {
  it('an expired pinned certificate is told as what it is, not as another certificate', async () => {
    const expired = generateSelfSignedTls('127.0.0.1', new Date('2001-01-01T00:00:00Z'))
    const url = await silentKbs(expired.certPem, expired.keyPem)
    const api = await agent(kbsInitdataToml(url, expired.certPem, 'expired'))
    const response = await get({ base: api.url }, RESOURCE)
    expect(response.status).toBe(502)
    expect(response.json()).toMatchObject({ code: 'ERR_KBS_TLS' })
    expect(response.json()['message']).toMatch(/out of its validity period \(CERT_HAS_EXPIRED/)
    expect(response.json()['message']).not.toMatch(/did not present/)
    expect(response.json()['hint']).toMatch(/renew/)
  })
})

describe("the TEE's init-time field changes while the agent runs", () => {
  it('every path answers 503 with the reason from then on, and the API says it refused', async () => {
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'relaunched')
    await acceptOnly([document])
    let relaunched = false
    const api = await agent(document, {
      wrap: (tee) =>
        tampered(tee, (report) =>
          relaunched ? { ...report, initDataField: new Uint8Array(32).fill(7) } : report,
        ),
    })
    expect((await get({ base: api.url }, '/initdata/aa.toml')).status).toBe(200)
    relaunched = true
    const first = await get({ base: api.url }, RESOURCE)
    expect([first.status, first.json()['code']]).toEqual([503, 'ERR_AGENT_INITDATA_FIELD_CHANGED'])
    await expect(api.refused).resolves.toMatchObject({ code: 'ERR_AGENT_INITDATA_FIELD_CHANGED' })
    for (const path of ['/initdata/aa.toml', '/initdata', '/aa/evidence?runtime_data=x', '/nope']) {
      const response = await get({ base: api.url }, path)
      expect([path, response.status, response.json()['code']]).toEqual([
        path,
        503,
        'ERR_AGENT_INITDATA_FIELD_CHANGED',
      ])
    }
  })
})
