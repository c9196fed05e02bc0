/**
 * `POST /kbs/v0/admin/signing-keys/rotate` with `{"revokePrevious": true}` end to end: the tokens
 * of every previous key are refused at once (401), a guest's client attests again and gets its
 * secret, the rotation is audited naming the kids it revoked, and a body other than that (or
 * `false`, `{}`) is refused, changing nothing. A routine rotation keeps the previous key.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import {
  auditEntriesOf,
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'

const LAUNCHED = initdataToml('revoke')
const ROTATE = '/kbs/v0/admin/signing-keys/rotate'
let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

async function started(): Promise<TestKbs> {
  kbs = await startTestKbs()
  const put = await kbs.adminCall(
    'PUT',
    '/kbs/v0/admin/workloads/app',
    simulatorWorkload([LAUNCHED]),
  )
  expect(put.status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/key', 'secret')).toBe(200)
  return kbs
}

async function publishedKids(running: TestKbs): Promise<string[]> {
  const jwks = await running.http.request(
    { url: `${running.kbs.url}/.well-known/jwks.json`, what: 'jwks' },
    async (response) =>
      JSON.parse(await response.text({ maxBytes: 1 << 20 })) as { keys: { kid: string }[] },
  )
  return jwks.keys.map((key) => key.kid)
}

describe('a rotation that revokes the previous keys', () => {
  it('strands every live token at once (401), the client attests again, and is audited naming the kids', async () => {
    const running = await started()
    const attested = async () => {
      const client = running.client()
      await client.attest({
        tee: 'snp',
        evidence: running.guest('snp', LAUNCHED),
        initData: LAUNCHED,
      })
      expect(new TextDecoder().decode(await client.getResource('default/app/key'))).toBe('secret')
      return client
    }
    const retrying = await attested()
    const stale = await attested()
    const [old] = await publishedKids(running)
    const { status, json } = await running.adminCall('POST', ROTATE, { revokePrevious: true })
    expect(status).toBe(200)
    const { kid } = json as { kid: string }
    expect(json).toEqual({ kid, revoked: [old] })
    expect(await publishedKids(running)).toEqual([kid])
    const refused = await rejected(
      stale.getResource('default/app/key', { retryUnauthorized: false }),
    )
    expect(refused.code).toBe('ERR_KBS_UNAUTHORIZED')
    // The client that may attest again does so on the 401, with a token of the new key.
    expect(new TextDecoder().decode(await retrying.getResource('default/app/key'))).toBe('secret')
    const entries = await auditEntriesOf(running)
    expect(entries).toContainEqual(
      expect.objectContaining({
        action: 'admin',
        outcome: 'changed',
        detail: `token-signing key rotated; now signing with ${kid}; previous keys revoked with no grace (their tokens are refused from now on): ${String(old)}`,
      }),
    )
  })

  it('without it (no body, {}, or false) keeps the previous key published; any other body is 400 and changes nothing', async () => {
    const running = await started()
    for (const body of [undefined, {}, { revokePrevious: false }]) {
      const before = await publishedKids(running)
      const { status, json } = await running.adminCall('POST', ROTATE, body)
      expect(status).toBe(200)
      expect(Object.keys(json as object)).toEqual(['kid'])
      expect(await publishedKids(running)).toEqual([(json as { kid: string }).kid, ...before])
    }
    const before = { kids: await publishedKids(running), audit: await auditEntriesOf(running) }
    const refused: [unknown, RegExp][] = [
      [{ revokePrevious: 'true' }, /revokePrevious is string, not a boolean/],
      [{ revokePrevious: 1 }, /revokePrevious is number/],
      [{ revokePrevious: null }, /revokePrevious is object/],
      [{ revokePrevious: true, grace: 0 }, /"grace" is not read, so it would be ignored/],
      [{ revokeprevious: true }, /"revokeprevious" is not read/],
      [[true], /a JSON object \{"revokePrevious": true\|false\}/],
      [null, /a JSON object/],
      [true, /a JSON object/],
    ]
    for (const [body, detail] of refused) {
      const { status, json } = await running.adminCall('POST', ROTATE, body)
      expect({ body, status }).toEqual({ body, status: 400 })
      expect((json as { detail: string }).detail).toMatch(detail)
      expect((json as { type: string }).type).toMatch(/\/SerdeError$/)
    }
    expect({ kids: await publishedKids(running), audit: await auditEntriesOf(running) }).toEqual(
      before,
    )
  })
})
