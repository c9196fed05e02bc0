/**
 * Refusals that release nothing but are still audited, within the per-client rate limit: every
 * refused `/kbs/v0/auth` (a body refused before the route's handler ran included), and a guest
 * GET under `/kbs/v0/resource/` with another number of path segments than three. A flood from one
 * client gets 429 before it reaches the log: the log grows by at most `rate-limit.max` entries per
 * window and route, whatever the client sends.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import { auditEntriesOf, startTestKbs, type TestKbs } from '../service/kbs-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

const AUTH_OK = { version: '0.4.0', tee: 'snp', 'extra-params': '' }

/** A request without credentials; the status and the problem's detail (when JSON). */
async function send(
  running: TestKbs,
  method: 'GET' | 'POST',
  path: string,
  body?: { readonly text: string | Uint8Array; readonly type: string },
): Promise<{ status: number; detail: unknown }> {
  const response = await fetch(`${running.kbs.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: body.text, headers: { 'content-type': body.type } }),
  })
  const text = await response.text()
  const detail = text.startsWith('{') ? (JSON.parse(text) as { detail?: unknown }).detail : text
  return { status: response.status, detail }
}

const json = (value: unknown): { text: string; type: string } => ({
  text: typeof value === 'string' ? value : JSON.stringify(value),
  type: 'application/json',
})

describe('refused /kbs/v0/auth requests', () => {
  it('are audited with their code and the detail the client was told; a challenge writes nothing', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    expect((await send(kbs, 'POST', '/kbs/v0/auth', json(AUTH_OK))).status).toBe(200)
    const refused = [
      json({ ...AUTH_OK, version: '0.1.1' }),
      json({ ...AUTH_OK, tee: 'az-snp-vtpm' }),
      json({ version: '0.4.0', tee: 'snp' }),
      json('{'),
      json('{"version":"0.4.0","version":"0.4.0","tee":"snp","extra-params":""}'),
      { text: JSON.stringify(AUTH_OK), type: 'application/xml' },
      // An é as one Latin-1 byte: not UTF-8.
      {
        text: Buffer.from('{"version":"0.4.0","tee":"snp","extra-params":"\u00e9"}', 'latin1'),
        type: 'application/json',
      },
      { text: JSON.stringify(AUTH_OK), type: 'application/json; charset=utf-16' },
      // UTF-8, but a surrogate escaped alone: no text.
      json('{"version":"0.4.0","tee":"snp","extra-params":"\\ud800"}'),
    ]
    const told: unknown[] = []
    for (const body of refused) {
      const answer = await send(kbs, 'POST', '/kbs/v0/auth', body)
      expect({ body: body.text, status: answer.status }).toEqual({ body: body.text, status: 400 })
      told.push(answer.detail)
    }
    const entries = await auditEntriesOf(kbs)
    expect(entries.map((e) => [e['action'], e['outcome'], e['reason']])).toEqual([
      ['auth', 'denied', 'ERR_KBS_PROTOCOL_VERSION'],
      ['auth', 'denied', 'ERR_KBS_TEE_UNSUPPORTED'],
      ['auth', 'denied', 'ERR_KBS_MESSAGE_INVALID'],
      ['auth', 'denied', 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ['auth', 'denied', 'ERR_KBS_JSON_DUPLICATE_KEY'],
      ['auth', 'denied', 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
      ['auth', 'denied', 'ERR_KBS_JSON_UTF8'],
      ['auth', 'denied', 'ERR_KBS_JSON_CHARSET'],
      ['auth', 'denied', 'ERR_KBS_JSON_LONE_SURROGATE'],
    ])
    // The entry says what the client was told, nothing more.
    expect(entries.map((e) => e['detail'])).toEqual(told)
  })
})

describe('a refused /kbs/v0/attest body', () => {
  it('is audited when refused before the handler, once when the handler refused it', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    expect((await send(kbs, 'POST', '/kbs/v0/attest', json('{'))).status).toBe(400)
    expect((await send(kbs, 'POST', '/kbs/v0/attest', json({}))).status).toBe(401)
    expect((await auditEntriesOf(kbs)).map((e) => [e['action'], e['reason']])).toEqual([
      ['attest', 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ['attest', 'ERR_KBS_SESSION_MISSING'],
    ])
  })
})

describe('a guest GET with another number of resource path segments than three', () => {
  it('is answered 400 InvalidRequestPath and audited, naming the path asked for', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const asked = ['a/b', 'a/b/c/d', '', 'a', 'a/b/c/']
    for (const path of asked) {
      const answer = await send(kbs, 'GET', `/kbs/v0/resource/${path}`)
      expect({ path, status: answer.status }).toEqual({ path, status: 400 })
    }
    const entries = await auditEntriesOf(kbs)
    expect(entries).toEqual(
      asked.map((path) => ({
        action: 'resource',
        outcome: 'denied',
        reason: 'ERR_KBS_RESOURCE_PATH_INVALID',
        detail: `a resource path is <repository>/<type>/<tag>, each matching ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$ (asked for ${JSON.stringify(path)})`,
      })),
    )
  })
})

describe('a flood of refusals from one client', () => {
  it('gets 429 once over the rate limit: the audit log grows by at most the limit per route', async () => {
    kbs = await startTestKbs({
      insecureHttp: true,
      config: { 'rate-limit': { max: 5, window: '10m' } },
    })
    const running = kbs
    const statuses = async (requests: (() => Promise<{ status: number }>)[]): Promise<number[]> => {
      const answers: number[] = []
      // In parallel, as a flood comes: the limit must hold for concurrent requests too.
      for (const answer of await Promise.all(requests.map((request) => request())))
        answers.push(answer.status)
      return answers.sort()
    }
    const flood = 200
    const auth = await statuses(
      Array.from(
        { length: flood },
        (_, i) => () =>
          send(running, 'POST', '/kbs/v0/auth', i % 2 === 0 ? json('{') : json({ version: 1 })),
      ),
    )
    const paths = ['a/b', 'a/b/c/d', 'a', 'a/b/c/d/e/f']
    const resource = await statuses(
      Array.from(
        { length: flood },
        (_, i) => () => send(running, 'GET', `/kbs/v0/resource/${paths[i % paths.length] ?? ''}`),
      ),
    )
    const expected = [...Array<number>(5).fill(400), ...Array<number>(flood - 5).fill(429)]
    expect(auth).toEqual(expected)
    expect(resource).toEqual(expected)
    // Another GET under the resource route shares that route's counter: refused 429, not audited.
    expect((await send(running, 'GET', '/kbs/v0/resource/a/b/c')).status).toBe(429)
    expect((await send(running, 'GET', '/kbs/v0/resource/a/b/%zz')).status).toBe(429)
    const entries = await auditEntriesOf(running)
    expect(entries.filter((e) => e['action'] === 'auth')).toHaveLength(5)
    expect(entries.filter((e) => e['action'] === 'resource')).toHaveLength(5)
    expect(entries).toHaveLength(10)
  })
})
