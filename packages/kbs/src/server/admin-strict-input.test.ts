/**
 * Admin calls take exactly the input their route reads: a query string only on the audit log
 * (whose parameters are checked there), a body only on the resource upload, the workload put, the
 * audit prune and the rotation (`{"revokePrevious": <boolean>}` and nothing else: see
 * `service/revoke-signing-key.test.ts`).
 * Anything else was ignored: `GET /kbs/v0/admin/workloads?name=web` listed every workload as if
 * filtered, a rotation with `{"algorithm": …}` rotated with the default, a delete with
 * `?version=1` deleted whatever was there. Now refused (400, changing nothing) after the admin
 * check, so an unauthenticated caller still learns nothing but 401. And a JSON body is read as
 * UTF-8 strictly: bytes that are not, or a charset that is not, are refused, not decoded lossily.
 *
 * @module
 */
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  type TestKbs,
} from '../service/kbs-test-support.ts'
import { testAdminToken } from './admin-auth-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

/** A request with an admin token (none when `signed` is false); the status and the problem. */
async function send(
  running: TestKbs,
  method: string,
  path: string,
  options: { readonly body?: string; readonly type?: string; readonly signed?: boolean } = {},
): Promise<{ status: number; problem: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  if (options.signed !== false)
    headers['authorization'] = `Bearer ${await testAdminToken(running.admin, running.now())}`
  if (options.type !== undefined) headers['content-type'] = options.type
  const response = await fetch(`${running.kbs.url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  })
  const text = await response.text()
  return {
    status: response.status,
    problem: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/** What an admin call could change: resources, workloads, the token-signing keys. */
async function state(running: TestKbs): Promise<unknown> {
  const jwks = await fetch(`${running.kbs.url}/.well-known/jwks.json`)
  return {
    resources: (await running.adminCall('GET', '/kbs/v0/admin/resources')).json,
    workloads: (await running.adminCall('GET', '/kbs/v0/admin/workloads')).json,
    jwks: await jwks.json(),
  }
}

const JSON_TYPE = 'application/json'

describe('admin input a route does not read', () => {
  it('a query string or a body is refused with 400 SerdeError, naming it; nothing changes', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const workload = JSON.stringify(simulatorWorkload([initdataToml('a')]))
    expect(
      (await send(kbs, 'POST', '/kbs/v0/resource/default/app/one', { body: 's' })).status,
    ).toBe(200)
    expect(
      (await send(kbs, 'PUT', '/kbs/v0/admin/workloads/web', { body: workload, type: JSON_TYPE }))
        .status,
    ).toBe(200)
    const before = await state(kbs)
    const refused: [string, string, { body?: string; type?: string }, RegExp][] = [
      ['GET', '/kbs/v0/admin/workloads?name=web', {}, /query string "name=web"/],
      ['GET', '/kbs/v0/admin/resources?path=default/app/one', {}, /query string/],
      ['GET', '/kbs/v0/admin/workloads/web?version=1', {}, /query string/],
      ['DELETE', '/kbs/v0/resource/default/app/one?version=1', {}, /query string/],
      ['DELETE', '/kbs/v0/admin/workloads/web?version=1', {}, /query string/],
      ['POST', '/kbs/v0/resource/default/app/one?ttl=60', { body: 'x' }, /query string/],
      [
        'PUT',
        '/kbs/v0/admin/workloads/web?dry-run=1',
        { body: workload, type: JSON_TYPE },
        /query string/,
      ],
      [
        'POST',
        '/kbs/v0/admin/signing-keys/rotate',
        { body: '{"algorithm":"ES384"}', type: JSON_TYPE },
        /"algorithm" is not read, so it would be ignored/,
      ],
      ['DELETE', '/kbs/v0/resource/default/app/one', { body: 'x', type: 'text/plain' }, /no body/],
      ['DELETE', '/kbs/v0/admin/workloads/web', { body: '{}', type: JSON_TYPE }, /no body/],
    ]
    const answers = []
    for (const [method, path, options] of refused)
      answers.push({ call: `${method} ${path}`, ...(await send(kbs, method, path, options)) })
    expect(answers.map(({ call, status }) => ({ call, status }))).toEqual(
      answers.map(({ call }) => ({ call, status: 400 })),
    )
    answers.forEach(({ problem }, i) => {
      expect(problem['type']).toMatch(/\/SerdeError$/)
      expect(problem['detail']).toMatch(refused[i]?.[3] ?? /never/)
    })
    expect(await state(kbs)).toEqual(before)
    // Without a token: 401 first, as for every admin call.
    expect((await send(kbs, 'GET', '/kbs/v0/admin/workloads?x=1', { signed: false })).status).toBe(
      401,
    )
    // What the routes do read is still taken.
    expect((await send(kbs, 'GET', '/kbs/v0/admin/audit?limit=5')).status).toBe(200)
    expect((await send(kbs, 'POST', '/kbs/v0/admin/signing-keys/rotate')).status).toBe(200)
    expect((await send(kbs, 'DELETE', '/kbs/v0/admin/workloads/web')).status).toBe(200)
    expect((await send(kbs, 'DELETE', '/kbs/v0/resource/default/app/one')).status).toBe(200)
  })
})

describe('a JSON body that is not UTF-8', () => {
  it('is refused with 400, not stored with U+FFFD in place of its bytes; a charset other than UTF-8 too', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const workload = JSON.stringify(simulatorWorkload([initdataToml('caf\u00e9')]))
    // The same workload with the é as one Latin-1 byte: not UTF-8.
    const latin1 = Buffer.from(workload, 'latin1')
    const refused: [Buffer | string, string, RegExp][] = [
      [latin1, JSON_TYPE, /not valid UTF-8/],
      [latin1, `${JSON_TYPE}; charset=iso-8859-1`, /charset "iso-8859-1".*UTF-8/],
      [workload, `${JSON_TYPE}; charset=utf-16`, /charset "utf-16".*UTF-8/],
    ]
    for (const [body, type, detail] of refused) {
      const authorization = `Bearer ${await testAdminToken(kbs.admin, kbs.now())}`
      const response = await fetch(`${kbs.kbs.url}/kbs/v0/admin/workloads/web`, {
        method: 'PUT',
        headers: { authorization, 'content-type': type },
        body,
      })
      const problem = (await response.json()) as Record<string, unknown>
      expect({ type, status: response.status }).toEqual({ type, status: 400 })
      expect(problem['type']).toMatch(/\/SerdeError$/)
      expect(problem['detail']).toMatch(detail)
    }
    expect((await kbs.adminCall('GET', '/kbs/v0/admin/workloads')).json).toEqual({ workloads: [] })
    // UTF-8, declared or not, is taken, the é intact.
    for (const type of [JSON_TYPE, `${JSON_TYPE}; charset=UTF-8`]) {
      const authorization = `Bearer ${await testAdminToken(kbs.admin, kbs.now())}`
      const response = await fetch(`${kbs.kbs.url}/kbs/v0/admin/workloads/web`, {
        method: 'PUT',
        headers: { authorization, 'content-type': type },
        body: workload,
      })
      expect({ type, status: response.status }).toEqual({ type, status: 200 })
    }
    const stored = (await kbs.adminCall('GET', '/kbs/v0/admin/workloads/web')).json as {
      definition: { initdata: string[] }
    }
    expect(stored.definition.initdata[0]).toContain('caf\u00e9')
  })
})

describe('a body with a Content-Encoding', () => {
  it('is refused with 400, not stored as its encoded bytes; identity is taken', async () => {
    const running = await startTestKbs({ insecureHttp: true })
    kbs = running
    const upload = async (
      headers: Record<string, string>,
      body: Uint8Array | string,
    ): Promise<{ status: number; problem: Record<string, unknown> }> => {
      const authorization = `Bearer ${await testAdminToken(running.admin, running.now())}`
      const response = await fetch(`${running.kbs.url}/kbs/v0/resource/default/app/zipped`, {
        method: 'POST',
        headers: { authorization, ...headers },
        body,
      })
      const text = await response.text()
      return {
        status: response.status,
        problem: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {},
      }
    }
    const secret = 'the database password'
    // Fastify decodes none of them: the secret was stored as its compressed bytes (200).
    for (const coding of ['gzip', 'deflate', 'br', 'gzip, identity']) {
      const refused = await upload({ 'content-encoding': coding }, gzipSync(secret))
      expect({ coding, status: refused.status }).toEqual({ coding, status: 400 })
      expect(refused.problem['type']).toMatch(/\/SerdeError$/)
      expect(refused.problem['detail']).toContain('Content-Encoding')
    }
    expect((await running.adminCall('GET', '/kbs/v0/admin/resources')).json).toEqual({
      resources: [],
    })
    expect((await upload({ 'content-encoding': 'identity' }, secret)).status).toBe(200)
  })
})
