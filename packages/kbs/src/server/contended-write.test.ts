/**
 * A resource put or delete that keeps losing the race for its row (another replica's write lands
 * between each read and write) changes nothing and is refused with `ERR_KBS_RESOURCE_CONTENDED`.
 * The client must be able to tell that from a bug: a 503 that says so and when to retry, not the
 * generic 500. The race is made certain with a database trigger that drops every update of the
 * row, so each of the store's attempts finds its write did not land, as when another write won.
 *
 * @module
 */
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestKbs, type TestKbs } from '../service/kbs-test-support.ts'
import { SQLITE_FILE_NAME } from '../storage/dialect.ts'
import { testAdminToken } from './admin-auth-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

const PATH = '/kbs/v0/resource/default/key/one'

/** An admin write of the resource at {@link PATH}: the answer's status, Retry-After and body. */
async function write(
  running: TestKbs,
  method: 'POST' | 'DELETE',
  body?: string,
): Promise<{ status: number; retryAfter: string | null; json: Record<string, unknown> }> {
  const authorization = `Bearer ${await testAdminToken(running.admin, running.now())}`
  const init: RequestInit = { method, headers: { authorization } }
  if (body !== undefined) init.body = body
  const response = await fetch(`${running.kbs.url}${PATH}`, init)
  const text = await response.text()
  const json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
  return { status: response.status, retryAfter: response.headers.get('retry-after'), json }
}

/** Every later update of a resource row is dropped: each write attempt loses, as to a rival. */
function dropEveryUpdate(running: TestKbs): void {
  const db = new BetterSqlite3(join(running.config.dataDir, SQLITE_FILE_NAME))
  try {
    db.exec('CREATE TRIGGER always_lose BEFORE UPDATE ON resource BEGIN SELECT RAISE(IGNORE); END')
  } finally {
    db.close()
  }
}

describe('a resource write that keeps losing the race', () => {
  it('is answered 503 ServiceUnavailable with Retry-After and says to retry; nothing changes', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    expect((await write(kbs, 'POST', 'first')).status).toBe(200)
    const audited = (await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')).json
    dropEveryUpdate(kbs)
    for (const [method, body] of [
      ['POST', 'second'],
      ['DELETE', undefined],
    ] as const) {
      const answer = await write(kbs, method, body)
      expect({ method, status: answer.status }).toEqual({ method, status: 503 })
      expect(answer.retryAfter).toBe('1')
      expect(answer.json['type']).toMatch(/\/ServiceUnavailable$/)
      expect(answer.json['detail']).toMatch(
        /^resource default\/key\/one changed under 8 writes in a row.*nothing was changed.*retry/,
      )
    }
    // Nothing changed: the first value is listed, and no change was audited.
    const listed = (await kbs.adminCall('GET', '/kbs/v0/admin/resources')).json
    expect(listed).toMatchObject({ resources: [{ path: 'default/key/one', size: 5 }] })
    const after = (await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')).json as {
      entries: { action: string; outcome: string }[]
    }
    expect(after.entries.slice(0, (audited as { entries: unknown[] }).entries.length)).toEqual(
      (audited as { entries: unknown[] }).entries,
    )
    expect(after.entries.filter((e) => e.outcome === 'changed')).toHaveLength(1)
  })
})
