/**
 * Admin tokens bound to one KBS (`admin-audience`): a staging and a production KBS that share an
 * admin key each take only the tokens minted for them. A token for another KBS is refused (401,
 * a detail that says whose it is), changes nothing, and is audited: a configured admin key signed
 * it, so its holder, and no unauthenticated caller, adds the entry; within the per-client rate
 * limit, so a flood of them grows the log by at most `rate-limit.max` entries per window.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import { auditEntriesOf, startTestKbs, type TestKbs } from '../service/kbs-test-support.ts'
import { testAdminKey, testAdminToken, type TestAdminKey } from './admin-auth-test-support.ts'

const running: TestKbs[] = []
afterEach(async () => {
  for (const kbs of running.splice(0)) await kbs.stop()
})

async function start(options: Parameters<typeof startTestKbs>[0]): Promise<TestKbs> {
  const kbs = await startTestKbs({ insecureHttp: true, ...options })
  running.push(kbs)
  return kbs
}

/** One call with a token for `aud` signed by `key`; the status and the problem's detail. */
async function call(
  kbs: TestKbs,
  key: TestAdminKey,
  aud: unknown,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; detail: unknown }> {
  const token = await testAdminToken(key, kbs.now(), { aud })
  const response = await fetch(`${kbs.kbs.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body }),
  })
  const text = await response.text()
  return {
    status: response.status,
    detail: text === '' ? undefined : (JSON.parse(text) as { detail?: unknown }).detail,
  }
}

describe('admin tokens bound to one KBS', () => {
  it('a token minted for staging is refused by production, which shares the admin key: 401, why, an audit entry', async () => {
    const admin = testAdminKey('EdDSA')
    const staging = await start({ admin, config: { 'admin-audience': 'kbs-staging' } })
    const production = await start({ admin, config: { 'admin-audience': 'kbs-production' } })
    const write = ['POST', '/kbs/v0/resource/default/app/key', 'stolen'] as const
    expect((await call(staging, admin, ['kbs-staging'], ...write)).status).toBe(200)
    const replayed = await call(production, admin, ['kbs-staging'], ...write)
    expect(replayed.status).toBe(401)
    expect(replayed.detail).toContain(
      `the token is for ["kbs-staging"], not for this KBS's admin audience "kbs-production"`,
    )
    // Trustee's fixed audience is no longer enough either.
    expect((await call(production, admin, ['KBS'], ...write)).status).toBe(401)
    expect((await production.adminCall('GET', '/kbs/v0/admin/resources')).json).toEqual({
      resources: [],
    })
    const fingerprint = admin.admin.fingerprint.slice(0, 16)
    expect(await auditEntriesOf(production)).toEqual([
      {
        action: 'admin',
        outcome: 'denied',
        reason: 'ERR_KBS_ADMIN_AUDIENCE',
        detail: `POST /kbs/v0/resource/default/app/key refused: admin authentication failed: the token is for ["kbs-staging"], not for this KBS's admin audience "kbs-production": sign it for that audience (initguard kbs admin --admin-audience) (signed by admin key ${fingerprint}, sub "test-admin")`,
      },
      {
        action: 'admin',
        outcome: 'denied',
        reason: 'ERR_KBS_ADMIN_AUDIENCE',
        detail: `POST /kbs/v0/resource/default/app/key refused: admin authentication failed: the token is for ["KBS"], not for this KBS's admin audience "kbs-production": sign it for that audience (initguard kbs admin --admin-audience) (signed by admin key ${fingerprint}, sub "test-admin")`,
      },
    ])
    // And production's own token works there, not on staging.
    expect((await call(production, admin, ['kbs-production'], ...write)).status).toBe(200)
    expect(
      (await call(staging, admin, ['kbs-production'], 'GET', '/kbs/v0/admin/audit')).status,
    ).toBe(401)
  })

  it('audits signed refusals within the per-client rate limit, and never a token no admin key signed', async () => {
    const kbs = await start({
      config: { 'admin-audience': 'kbs-production', 'rate-limit': { max: 3, window: '10m' } },
    })
    const flood = 60
    const answers = await Promise.all(
      Array.from({ length: flood }, () =>
        call(kbs, kbs.admin, ['kbs-staging'], 'DELETE', '/kbs/v0/admin/workloads/web'),
      ),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([
      ...Array<number>(3).fill(401),
      ...Array<number>(flood - 3).fill(429),
    ])
    const stranger = testAdminKey('EdDSA')
    for (const aud of [['kbs-production'], ['kbs-staging']])
      expect((await call(kbs, stranger, aud, 'GET', '/kbs/v0/admin/audit')).status).toBe(401)
    // The admin with the right token is not locked out by the flood.
    expect(
      (await call(kbs, kbs.admin, ['kbs-production'], 'GET', '/kbs/v0/admin/audit')).status,
    ).toBe(200)
    const entries = await auditEntriesOf(kbs)
    expect(entries).toHaveLength(3)
    expect(entries.every((e) => e['reason'] === 'ERR_KBS_ADMIN_AUDIENCE')).toBe(true)
  })
})
