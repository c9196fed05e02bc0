/**
 * Request input the KBS would ignore is refused, never ignored:
 * - the guest routes read no query string (`unread-query.ts`): a query on `/auth`, `/attest` or a
 *   resource GET is refused with 400 and audited. A Trustee client whose `kbs://` URI carries a
 *   query for a plugin would otherwise get the plain resource as if the query had been honoured.
 *   A resource GET reads no body either, and is refused with one likewise;
 * - more than one `Authorization` header (`repeated-authorization.ts`) is refused on a resource
 *   GET (401, audited) and on the admin routes (401). Node keeps the first and drops the rest
 *   unseen, so `Authorization: Bearer <good>` then `Authorization: <anything>` was served on the
 *   first alone: a credential ignored, and a proxy in front reading another copy would judge
 *   another credential than the KBS (RFC 9110 §5.3: Authorization is not a list).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testAdminToken } from '../server/admin-auth-test-support.ts'
import {
  auditsOf,
  ACCEPTED,
  SECRET,
  rawRequest,
  startHandshakeKbs,
} from './handshake-test-support.ts'
import type { TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs
beforeAll(async () => {
  kbs = await startHandshakeKbs()
})
afterAll(async () => {
  await kbs.stop()
})

/** A guest request over the pinned HTTPS client: status and body text. */
async function send(
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return kbs.http.request(
    {
      method,
      url: `${kbs.kbs.url}${path}`,
      what: path,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: new TextEncoder().encode(JSON.stringify(body)) }),
    },
    async (response) => ({
      status: response.status,
      text: await response.text({ maxBytes: 1 << 20 }),
    }),
  )
}

/** The Authorization header of a guest that attested with the ACCEPTED init-data. */
async function attestedBearer(): Promise<{ authorization: string }> {
  const session = await kbs.client().attest({
    tee: 'snp',
    evidence: kbs.guest('snp', ACCEPTED),
    initData: ACCEPTED,
  })
  return { authorization: `Bearer ${session.token}` }
}

/** The newest audit entry is the refusal of the resource GET for `reason`. */
async function expectResourceDenied(reason: string): Promise<void> {
  expect((await auditsOf(kbs, 1))[0]).toMatchObject({
    action: 'resource',
    outcome: 'denied',
    resource: 'default/app/password',
    reason,
  })
}

describe('a query string on a guest route', () => {
  it('is refused on a resource GET with a valid token, and nothing is released', async () => {
    const bearer = await attestedBearer()
    const refused = await send('GET', '/kbs/v0/resource/default/app/password?version=1', bearer)
    expect(refused.status).toBe(400)
    expect(refused.text).toContain('SerdeError')
    expect(refused.text).toContain('reads no query string')
    expect(refused.text).not.toContain(SECRET)
    await expectResourceDenied('ERR_KBS_QUERY_UNREAD')
    // The same request without the query is released: the token was good.
    expect((await send('GET', '/kbs/v0/resource/default/app/password', bearer)).status).toBe(200)
  })

  it('is refused on /auth and /attest, and audited', async () => {
    const auth = await send(
      'POST',
      '/kbs/v0/auth?tee=tdx',
      {},
      {
        version: '0.4.0',
        tee: 'snp',
        'extra-params': '',
      },
    )
    expect(auth.status).toBe(400)
    expect((await auditsOf(kbs, 1))[0]).toMatchObject({
      action: 'auth',
      outcome: 'denied',
      reason: 'ERR_KBS_QUERY_UNREAD',
    })
    const attest = await send('POST', '/kbs/v0/attest?x', {}, {})
    expect(attest.status).toBe(400)
    expect(attest.text).toContain('reads no query string')
    expect((await auditsOf(kbs, 1))[0]).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_KBS_QUERY_UNREAD',
    })
  })

  it('is not refused when empty: "?" alone asks for nothing', async () => {
    const auth = await send(
      'POST',
      '/kbs/v0/auth?',
      {},
      {
        version: '0.4.0',
        tee: 'snp',
        'extra-params': '',
      },
    )
    expect(auth.status).toBe(200)
  })
})

describe('a body on a resource GET', () => {
  it('is refused with a valid token, whatever its type, audited, and nothing is released', async () => {
    const bearer = await attestedBearer()
    const path = '/kbs/v0/resource/default/app/password'
    for (const [type, body] of [
      ['application/json', '{"plugin":"sealed-secret"}'],
      ['application/json', '{{{'],
      ['text/plain', 'x'],
    ] as const) {
      const headers = ['authorization', bearer.authorization, 'content-type', type]
      const refused = await rawRequest(kbs, 'GET', path, headers, body)
      expect(refused.status).toBe(400)
      expect(refused.text).toContain('SerdeError')
      expect(refused.text).toContain('reads no body')
      expect(refused.text).not.toContain(SECRET)
      await expectResourceDenied('ERR_KBS_BODY_UNREAD')
    }
    // The same request without a body is released: the token was good.
    expect((await send('GET', path, bearer)).status).toBe(200)
  })
})

describe('two Authorization headers', () => {
  /** A GET with each of `authorizations` as its own header line. */
  const get = (
    path: string,
    authorizations: readonly string[],
  ): Promise<{ status: number; text: string }> =>
    rawRequest(
      kbs,
      'GET',
      path,
      authorizations.flatMap((value) => ['authorization', value]),
    )

  it('are refused on a resource GET, even when the first is a good token; audited, nothing released', async () => {
    const good = (await attestedBearer()).authorization
    const path = '/kbs/v0/resource/default/app/password'
    for (const headers of [
      [good, 'Bearer x.y.z'],
      [good, good],
      ['Bearer x.y.z', good],
    ]) {
      const refused = await get(path, headers)
      expect(refused.status).toBe(401)
      expect(refused.text).toContain('TokenVerifierError')
      expect(refused.text).toContain('2 Authorization headers')
      expect(refused.text).not.toContain(SECRET)
      await expectResourceDenied('ERR_KBS_TOKEN_INVALID')
    }
    // One header with the same token is served.
    expect((await get(path, [good])).status).toBe(200)
  })

  it('are refused on an admin route, even when the first is a good admin token', async () => {
    const token = `Bearer ${await testAdminToken(kbs.admin, kbs.now())}`
    for (const headers of [
      [token, 'Bearer x.y.z'],
      [token, token],
    ]) {
      const refused = await get('/kbs/v0/admin/resources', headers)
      expect(refused.status).toBe(401)
      expect(refused.text).toContain('AdminAuthAccess')
      expect(refused.text).toContain('2 Authorization headers')
    }
    expect((await get('/kbs/v0/admin/resources', [token])).status).toBe(200)
  })
})
