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
})
