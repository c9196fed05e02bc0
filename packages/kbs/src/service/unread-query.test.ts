/**
 * The guest routes read no query string (`unread-query.ts`): a query on `/auth`, `/attest` or a
 * resource GET is refused with 400 and audited, never ignored. A Trustee client whose `kbs://`
 * URI carries a query for a plugin would otherwise get the plain resource as if the query had
 * been honoured. A resource GET reads no body either, and is refused with one likewise.
 */
import { request } from 'node:https'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditsOf, ACCEPTED, SECRET, startHandshakeKbs } from './handshake-test-support.ts'
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

describe('a query string on a guest route', () => {
  it('is refused on a resource GET with a valid token, and nothing is released', async () => {
    const session = await kbs.client().attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    const bearer = { authorization: `Bearer ${session.token}` }
    const refused = await send('GET', '/kbs/v0/resource/default/app/password?version=1', bearer)
    expect(refused.status).toBe(400)
    expect(refused.text).toContain('SerdeError')
    expect(refused.text).toContain('reads no query string')
    expect(refused.text).not.toContain(SECRET)
    expect((await auditsOf(kbs, 1))[0]).toMatchObject({
      action: 'resource',
      outcome: 'denied',
      resource: 'default/app/password',
      reason: 'ERR_KBS_QUERY_UNREAD',
    })
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

/** A resource GET with a body, over https pinned to the KBS's certificate (fetch sends none). */
function getWithBody(
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      `${kbs.kbs.url}${path}`,
      {
        method: 'GET',
        // Node frames no GET body of its own accord: without a length it would be a new request.
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ca: kbs.kbs.tls?.certPem,
      },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, text })
        })
      },
    )
    sent.on('error', reject)
    sent.end(body)
  })
}

describe('a body on a resource GET', () => {
  it('is refused with a valid token, whatever its type, audited, and nothing is released', async () => {
    const session = await kbs.client().attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    const bearer = { authorization: `Bearer ${session.token}` }
    const path = '/kbs/v0/resource/default/app/password'
    for (const [type, body] of [
      ['application/json', '{"plugin":"sealed-secret"}'],
      ['application/json', '{{{'],
      ['text/plain', 'x'],
    ] as const) {
      const refused = await getWithBody(path, { ...bearer, 'content-type': type }, body)
      expect(refused.status).toBe(400)
      expect(refused.text).toContain('SerdeError')
      expect(refused.text).toContain('reads no body')
      expect(refused.text).not.toContain(SECRET)
      expect((await auditsOf(kbs, 1))[0]).toMatchObject({
        action: 'resource',
        outcome: 'denied',
        resource: 'default/app/password',
        reason: 'ERR_KBS_BODY_UNREAD',
      })
    }
    // The same request without a body is released: the token was good.
    expect((await send('GET', path, bearer)).status).toBe(200)
  })
})
