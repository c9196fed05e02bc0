/**
 * Admin routes on the real parts: refusals of bad credentials change nothing, uploads of raw
 * bytes, workloads (validated, versioned) and the audit log's paging.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import { testAdminKey, testAdminToken } from './admin-auth-test-support.ts'
import {
  PREFIX,
  admin,
  auth,
  closeTestApps,
  now,
  snapshot,
  testApp,
} from './routes-test-support.ts'

/** A valid workload definition without its name (the path gives it). */
const WEB_WORKLOAD = {
  tees: ['snp'],
  initdata: ['version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n'],
  resources: ['default/web/*'],
  snp: { measurements: ['ab'.repeat(48)] },
}

afterEach(closeTestApps)

describe('admin routes refuse bad credentials and change nothing', () => {
  it('401 AdminAuthAccess for no token, alg none, a wrong key, expired, wrong audience, no role', async () => {
    const { app: built, store } = await testApp()
    const { audit: _none, ...before } = (await snapshot(store)) as Record<string, unknown>
    const stranger = testAdminKey('EdDSA')
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'admin', aud: ['KBS'], exp: 2e9 })).toString('base64url')}.`
    const credentials: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${none}` },
      { authorization: `Bearer ${await testAdminToken(stranger, now)}` },
      {
        authorization: `Bearer ${await testAdminToken(admin, new Date(now.getTime() - 3_600_000))}`,
      },
      await auth({ aud: ['elsewhere'] }),
      await auth({ role: undefined }),
    ]
    const calls = [
      { method: 'POST', url: '/kbs/v0/resource/r/k/t', payload: 'secret' },
      { method: 'DELETE', url: '/kbs/v0/resource/r/k/t' },
      { method: 'PUT', url: '/kbs/v0/admin/workloads/w', payload: { tees: ['snp'] } },
      { method: 'DELETE', url: '/kbs/v0/admin/workloads/w' },
      { method: 'POST', url: '/kbs/v0/admin/signing-keys/rotate' },
      { method: 'GET', url: '/kbs/v0/admin/audit' },
      { method: 'GET', url: '/kbs/v0/admin/resources' },
      { method: 'POST', url: '/kbs/v0/admin/audit/prune', payload: { throughId: 1 } },
    ] as const
    // The last three are signed by the admin key: audited, within the rate limit (20 a second).
    const signed = credentials.slice(3)
    let audited = 0
    for (const headers of credentials) {
      for (const call of calls) {
        const response = await built.inject({ ...call, headers })
        const limited = signed.includes(headers) && response.statusCode === 429
        expect(response.statusCode, `${call.method} ${call.url}`).toBe(limited ? 429 : 401)
        expect(response.json()).toMatchObject({
          type: `${PREFIX}${limited ? 'TooManyRequests' : 'AdminAuthAccess'}`,
        })
        if (signed.includes(headers) && !limited) audited++
      }
    }
    const { audit, ...after } = (await snapshot(store)) as { audit: { action: string }[] }
    expect(after).toEqual(before)
    // 20 unless the one-second window turned on a slow machine; the bound has its own test.
    expect(audited).toBeGreaterThanOrEqual(20)
    expect(audit).toHaveLength(audited)
    expect(audit.every((entry) => entry.action === 'admin')).toBe(true)
  })
})

describe('admin resources', () => {
  it('stores the raw bytes whatever the content type, lists sizes only, deletes, audits', async () => {
    const { app: built, store } = await testApp()
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x7b])
    for (const type of ['application/octet-stream', 'application/json', 'text/plain']) {
      const put = await built.inject({
        method: 'POST',
        url: '/kbs/v0/resource/default/key/one',
        payload: bytes,
        headers: { ...(await auth()), 'content-type': type },
      })
      expect(put.statusCode).toBe(200)
      expect(put.body).toBe('')
      expect(await store.resources.get('default/key/one')).toEqual(new Uint8Array(bytes))
    }
    const listed = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/resources',
      headers: await auth(),
    })
    expect(listed.json()).toEqual({
      resources: [{ path: 'default/key/one', size: 5, updatedAt: now.toISOString() }],
    })
    expect(
      (
        await built.inject({
          method: 'DELETE',
          url: '/kbs/v0/resource/default/key/one',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(200)
    const again = await built.inject({
      method: 'DELETE',
      url: '/kbs/v0/resource/default/key/one',
      headers: await auth(),
    })
    expect(again.statusCode).toBe(404)
    expect(again.json()).toMatchObject({ type: `${PREFIX}ResourceNotFound` })
    const entries = (await store.audit.list({ limit: 10 })).map((e) => [
      e.action,
      e.outcome,
      e.resource,
    ])
    // Three writes and one delete.
    expect(entries).toEqual(Array<unknown>(4).fill(['admin', 'changed', 'default/key/one']))
  })

  it('refuses invalid path segments (400) and bodies over the limit (413)', async () => {
    const { app: built, store } = await testApp({ bodyLimit: '1KiB' })
    for (const url of [
      '/kbs/v0/resource/.hidden/k/t',
      '/kbs/v0/resource/a/b',
      '/kbs/v0/resource/a/b/c/d',
    ]) {
      const response = await built.inject({
        method: 'POST',
        url,
        payload: 'x',
        headers: { ...(await auth()), 'content-type': 'text/plain' },
      })
      expect(response.statusCode, url).toBe(400)
      expect(response.json()).toMatchObject({ type: `${PREFIX}InvalidRequestPath` })
    }
    const big = await built.inject({
      method: 'POST',
      url: '/kbs/v0/resource/a/b/c',
      payload: Buffer.alloc(2048),
      headers: { ...(await auth()), 'content-type': 'application/octet-stream' },
    })
    expect(big.statusCode).toBe(413)
    expect(big.json()).toMatchObject({ type: `${PREFIX}PayloadTooLarge` })
    expect(await store.resources.list()).toEqual([])
  })
})

describe('admin workloads and audit', () => {
  it('validates, versions, reads, deletes', async () => {
    const { app: built, store } = await testApp()
    const bad = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: { tees: [] },
      headers: await auth(),
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ type: `${PREFIX}SerdeError` })
    expect(bad.json<{ detail: string }>().detail).toMatch(/^workload web: .*tees/)
    const mismatch = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: { ...WEB_WORKLOAD, name: 'api' },
      headers: await auth(),
    })
    expect(mismatch.statusCode).toBe(400)
    // A rule given twice is refused, not read as its last copy (which JSON.parse would keep).
    const resources = JSON.stringify(WEB_WORKLOAD.resources)
    const repeated = await built.inject({
      method: 'PUT',
      url: '/kbs/v0/admin/workloads/web',
      payload: JSON.stringify(WEB_WORKLOAD).replace(
        `"resources":${resources}`,
        `"resources":${resources},"resources":["*/*/*"]`,
      ),
      headers: { ...(await auth()), 'content-type': 'application/json' },
    })
    expect(repeated.statusCode).toBe(400)
    expect(repeated.json<{ detail: string }>().detail).toMatch(/duplicate key "resources"/)
    expect(await store.workloads.list()).toEqual([])
    for (const version of [1, 2]) {
      const put = await built.inject({
        method: 'PUT',
        url: '/kbs/v0/admin/workloads/web',
        payload: WEB_WORKLOAD,
        headers: await auth(),
      })
      expect(put.json()).toMatchObject({ name: 'web', version })
    }
    expect(
      (
        await built.inject({
          method: 'GET',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).json(),
    ).toMatchObject({ version: 2 })
    expect(
      (
        await built.inject({ method: 'GET', url: '/kbs/v0/admin/workloads', headers: await auth() })
      ).json<{ workloads: unknown[] }>().workloads,
    ).toHaveLength(1)
    expect(
      (
        await built.inject({
          method: 'DELETE',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(200)
    expect(
      (
        await built.inject({
          method: 'GET',
          url: '/kbs/v0/admin/workloads/web',
          headers: await auth(),
        })
      ).statusCode,
    ).toBe(404)
    const audit = await built.inject({
      method: 'GET',
      url: '/kbs/v0/admin/audit?after=1&limit=5',
      headers: await auth(),
    })
    expect(audit.json<{ entries: { id: number }[] }>().entries.map((e) => e.id)).toEqual([2, 3])
    for (const query of ['limit=0', 'limit=1001', 'after=-1', 'limit=abc', 'other=1'])
      expect(
        (
          await built.inject({
            method: 'GET',
            url: `/kbs/v0/admin/audit?${query}`,
            headers: await auth(),
          })
        ).statusCode,
        query,
      ).toBe(400)
    expect(await store.workloads.list()).toEqual([])
  })

  it('refuses an audit cursor that names no entry: 404 never there, 409 pruned since, each with its code', async () => {
    const { app: built, store } = await testApp()
    for (let i = 0; i < 4; i++)
      await store.audit.append({ at: now, action: 'admin', outcome: 'changed' })
    const far = new Date('2100-01-01T00:00:00.000Z')
    await store.audit.prune({
      throughId: 2,
      now: far,
      olderThan: far,
      recorded: () => ({ at: now, action: 'admin', outcome: 'changed' }),
    })
    const get = async (after: number) =>
      built.inject({
        method: 'GET',
        url: `/kbs/v0/admin/audit?after=${String(after)}`,
        headers: await auth(),
      })
    const unknown = await get(99)
    expect([unknown.statusCode, unknown.json()]).toEqual([
      404,
      expect.objectContaining({
        type: expect.stringMatching(/AuditEntryNotFound$/) as unknown,
        code: 'ERR_KBS_AUDIT_CURSOR_UNKNOWN',
      }),
    ])
    const pruned = await get(1)
    expect([pruned.statusCode, pruned.json()]).toEqual([
      409,
      expect.objectContaining({
        type: expect.stringMatching(/AuditCursorPruned$/) as unknown,
        code: 'ERR_KBS_AUDIT_CURSOR_PRUNED',
        detail: expect.stringMatching(/pruned through entry 2.*after=0/) as unknown,
      }),
    ])
    expect((await get(3)).json<{ entries: { id: number }[] }>().entries.map((e) => e.id)).toEqual([
      4, 5,
    ])
  })
})
