/**
 * What the RCAR handshake tests share: a KBS over real HTTPS that accepts workload `app` (the
 * ACCEPTED init-data) and holds `default/app/password` (SECRET) and `other/app/key`, its audit
 * log's newest entries, and requests fetch will not send.
 *
 * @module
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { afterAll, beforeAll, expect } from 'vitest'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'

export const ACCEPTED = initdataToml('accepted')
export const OTHER = initdataToml('another, self-consistent')
export const SECRET = 'the database password'

/**
 * A started test KBS (`options` as {@link startTestKbs}'s) with workload `app` and its two
 * resources; the caller stops it.
 */
export async function startHandshakeKbs(
  options: Parameters<typeof startTestKbs>[0] = {},
): Promise<TestKbs> {
  const kbs = await startTestKbs(options)
  expect(
    (await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', simulatorWorkload([ACCEPTED])))
      .status,
  ).toBe(200)
  expect(await uploadResource(kbs, 'default/app/password', SECRET)).toBe(200)
  expect(await uploadResource(kbs, 'other/app/key', 'not for app')).toBe(200)
  return kbs
}

/** The newest `count` audit entries of `kbs`, oldest first. */
export async function auditsOf(kbs: TestKbs, count: number): Promise<Record<string, unknown>[]> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  return (json as { entries: Record<string, unknown>[] }).entries.slice(-count)
}

/**
 * A handshake KBS for one test file (`options` as {@link startTestKbs}'s), started before its tests
 * and stopped after them: the KBS (valid inside a test), and its newest audit entry.
 */
export function handshakeKbsForFile(options: Parameters<typeof startTestKbs>[0] = {}): {
  readonly kbs: () => TestKbs
  readonly lastAudit: () => Promise<Record<string, unknown>>
} {
  let started: TestKbs | undefined
  beforeAll(async () => {
    started = await startHandshakeKbs(options)
  })
  afterAll(async () => {
    await started?.stop()
  })
  const kbs = (): TestKbs => {
    if (started === undefined) throw new Error('the handshake KBS is used outside a test')
    return started
  }
  return { kbs, lastAudit: async () => (await auditsOf(kbs(), 1))[0] ?? {} }
}

/**
 * A request with exactly the header lines `headers` (names and values in turn; Host is put first),
 * over the test KBS's http, or https pinned to its certificate: what fetch will not send, a GET
 * with a body or a header twice. Its status and body text.
 */
export function rawRequest(
  kbs: TestKbs,
  method: string,
  path: string,
  headers: readonly string[],
  body?: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(`${kbs.kbs.url}${path}`)
  // Node frames no GET body of its own accord: without a length it would read as a new request.
  const length = body === undefined ? [] : ['content-length', String(Buffer.byteLength(body))]
  const options = { method, headers: ['host', url.host, ...headers, ...length] }
  return new Promise((resolve, reject) => {
    const answered = (response: IncomingMessage): void => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, text })
      })
    }
    const sent =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ca: kbs.kbs.tls?.certPem }, answered)
        : httpRequest(url, options, answered)
    sent.on('error', reject)
    sent.end(body)
  })
}
