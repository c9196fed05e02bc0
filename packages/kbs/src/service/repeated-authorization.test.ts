/**
 * A request with more than one `Authorization` header is refused, on the guest resource route
 * (401, audited) and the admin routes (401). Node keeps the first such header and drops the rest
 * unseen, so `Authorization: Bearer <good>` then `Authorization: <anything>` was served on the
 * first alone: a second credential ignored, and a proxy in front that reads the last one would
 * judge another credential than the KBS (RFC 9110 §5.3: Authorization is not a list).
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testAdminToken } from '../server/admin-auth-test-support.ts'
import { auditsOf, ACCEPTED, SECRET, startHandshakeKbs } from './handshake-test-support.ts'
import type { TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs
beforeAll(async () => {
  kbs = await startHandshakeKbs({ insecureHttp: true })
})
afterAll(async () => {
  await kbs.stop()
})

/** A GET over plain http with each of `authorizations` as its own header line. */
function get(
  path: string,
  authorizations: readonly string[],
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      `${kbs.kbs.url}${path}`,
      // Raw header lines, sent as given (so Host too).
      {
        headers: [
          'host',
          new URL(kbs.kbs.url).host,
          ...authorizations.flatMap((value) => ['authorization', value]),
        ],
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
    sent.end()
  })
}

describe('two Authorization headers', () => {
  it('are refused on a resource GET, even when the first is a good token; audited, nothing released', async () => {
    const session = await kbs.client().attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    const good = `Bearer ${session.token}`
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
      expect((await auditsOf(kbs, 1))[0]).toMatchObject({
        action: 'resource',
        outcome: 'denied',
        resource: 'default/app/password',
        reason: 'ERR_KBS_TOKEN_INVALID',
      })
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
