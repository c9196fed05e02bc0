/**
 * A request path the router itself refuses (a segment too long, a malformed percent escape) is
 * answered like every other error: the KBS's `{type, detail}` body, 400 InvalidRequestPath, the
 * path not echoed; and a segment up to the 128 characters the admin API documents reaches the
 * route.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startTestKbs, type TestKbs } from '../service/kbs-test-support.ts'
import { testAdminToken } from './admin-auth-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

async function call(
  running: TestKbs,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const token = await testAdminToken(running.admin, running.now())
  const response = await fetch(`${running.kbs.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body }),
  })
  return { status: response.status, text: await response.text() }
}

describe('paths the router refuses', () => {
  it('answers 400 InvalidRequestPath in the KBS shape, echoing nothing', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const long = 'x'.repeat(129)
    for (const [method, path] of [
      ['POST', `/kbs/v0/resource/default/key/${long}`],
      ['GET', `/kbs/v0/resource/default/key/${long}`],
      ['GET', `/kbs/v0/admin/workloads/${long}`],
      ['POST', '/kbs/v0/resource/default/key/%zz'],
    ] as const) {
      const { status, text } = await call(kbs, method, path, method === 'POST' ? 'v' : undefined)
      expect({ path, status }).toEqual({ path, status: 400 })
      const body = JSON.parse(text) as Record<string, unknown>
      expect(Object.keys(body).sort()).toEqual(['detail', 'type'])
      expect(body['type']).toMatch(/\/InvalidRequestPath$/)
      expect(text).not.toContain('xxxxxxxxxx')
      expect(text).not.toContain('FST_')
    }
  })

  it('takes a segment or workload name of up to 128 characters, as documented', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const tag = 't'.repeat(128)
    expect((await call(kbs, 'POST', `/kbs/v0/resource/default/key/${tag}`, 'v')).status).toBe(200)
    const listed = await call(kbs, 'GET', '/kbs/v0/admin/resources')
    expect(listed.text).toContain(`default/key/${tag}`)
    expect((await call(kbs, 'GET', `/kbs/v0/admin/workloads/${'w'.repeat(128)}`)).status).toBe(404)
  })

  it('audits a guest GET under /kbs/v0/resource/ the router refuses, as the route does', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const long = 'x'.repeat(300)
    for (const path of [
      `/kbs/v0/resource/default/key/${long}`,
      '/kbs/v0/resource/default/key/%zz?q=1',
      // Not audited: an admin call, a path elsewhere.
      `/kbs/v0/admin/workloads/${long}`,
      '/other/%zz',
    ]) {
      const response = await fetch(`${kbs.kbs.url}${path}`)
      await response.arrayBuffer()
      expect({ path, status: response.status }).toEqual({ path, status: 400 })
    }
    expect((await call(kbs, 'POST', `/kbs/v0/resource/default/key/${long}`, 'v')).status).toBe(400)
    const { entries } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit')).json as {
      entries: Record<string, unknown>[]
    }
    const detail = (asked: string) =>
      `a resource path is <repository>/<type>/<tag>, each matching ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$ (asked for ${asked})`
    expect(entries.map(({ id: _id, at: _at, ...entry }) => entry)).toEqual([
      {
        action: 'resource',
        outcome: 'denied',
        reason: 'ERR_KBS_RESOURCE_PATH_INVALID',
        // Quoted and cut to 200 characters, as the route's own refusal.
        detail: detail(JSON.stringify(`default/key/${long}`.slice(0, 200))),
      },
      {
        action: 'resource',
        outcome: 'denied',
        reason: 'ERR_KBS_RESOURCE_PATH_INVALID',
        detail: detail('"default/key/%zz"'),
      },
    ])
  })

  it('counts those refusals in the resource route rate limit: the audit log grows no faster', async () => {
    kbs = await startTestKbs({
      insecureHttp: true,
      config: { 'rate-limit': { max: 3, window: '10m' } },
    })
    const get = async (path: string): Promise<number> => {
      const response = await fetch(`${kbs?.kbs.url ?? ''}${path}`)
      await response.arrayBuffer()
      return response.status
    }
    const bad = `/kbs/v0/resource/default/key/${'x'.repeat(129)}`
    // One routed GET (refused: no token) and two the router refuses use up the client's 3.
    expect(await get('/kbs/v0/resource/default/key/one')).toBe(401)
    expect(await get(bad)).toBe(400)
    expect(await get('/kbs/v0/resource/default/key/%zz')).toBe(400)
    expect(await get(bad)).toBe(429)
    expect(await get('/kbs/v0/resource/default/key/one')).toBe(429)
    const { entries } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit')).json as {
      entries: unknown[]
    }
    expect(entries).toHaveLength(3)
  })
})
