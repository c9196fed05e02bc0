/**
 * `POST /kbs/v0/admin/audit/prune` on the real parts: removes the entries up to the id and
 * records who did it, in the log; is idempotent; refuses a malformed body (400) and what the log's
 * state forbids (409, with the code), changing nothing; takes `[audit] min-retention`.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { KbsStore } from '../ports.ts'
import { REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'
import { PREFIX, auth, closeTestApps, now, snapshot, testApp } from './routes-test-support.ts'

afterEach(closeTestApps)

const PRUNE = '/kbs/v0/admin/audit/prune'
const day = (n: number): Date => new Date(Date.UTC(2026, 0, n, 10))

/** Entries 1…count on days 1…count of January 2026 (months before the app's clock). */
async function fill(store: KbsStore, count: number): Promise<void> {
  for (let n = 1; n <= count; n++)
    await store.audit.append({ at: day(n), action: 'admin', outcome: 'changed', detail: String(n) })
}

describe('POST /kbs/v0/admin/audit/prune', () => {
  it('removes the entries up to throughId and records the prune, naming the admin key; again: 0', async () => {
    const { app, store } = await testApp()
    await fill(store, 5)
    const headers = await auth()
    const payload = { throughId: 3, expectedCount: 3 }
    const first = await app.inject({ method: 'POST', url: PRUNE, headers, payload })
    expect(first.statusCode, first.body).toBe(200)
    expect(first.json()).toEqual({
      prunedThroughId: 3,
      pruned: 3,
      firstAt: day(1).toISOString(),
      lastAt: day(3).toISOString(),
      entryId: 6,
    })
    const entries = await store.audit.list({ limit: 100 })
    expect(entries.map((entry) => entry.id)).toEqual([4, 5, 6])
    expect(entries[2]).toMatchObject({ at: now.toISOString(), action: 'admin', outcome: 'changed' })
    expect(entries[2]?.detail).toMatch(
      new RegExp(
        `^audit log pruned through entry 3: 3 entries removed, at ${day(1).toISOString()} to ${day(3).toISOString()} \\(by admin key \\S{16}, sub "[^"]*"\\)$`,
      ),
    )
    const again = await app.inject({ method: 'POST', url: PRUNE, headers, payload })
    expect([again.statusCode, again.json()]).toEqual([200, { prunedThroughId: 3, pruned: 0 }])
    expect(await store.audit.list({ limit: 100 })).toEqual(entries)
  })

  it('refuses a malformed body (400) and what the log forbids (409, with its code); nothing changes', async () => {
    const { app, store } = await testApp()
    await fill(store, 3)
    // Entry 4 is as young as the clock; entry 5 is old again.
    await store.audit.append({ at: now, action: 'admin', outcome: 'changed' })
    await store.audit.append({ at: day(9), action: 'admin', outcome: 'changed' })
    const before = await snapshot(store)
    const headers = await auth()
    for (const payload of [
      {},
      { throughId: 0 },
      { throughId: '3' },
      { throughId: 1.5 },
      { throughId: 2 ** 53 },
      { throughId: 1, expectedCount: -1 },
      { throughId: 1, before: '2026-01-01' },
      [1],
    ]) {
      const response = await app.inject({ method: 'POST', url: PRUNE, headers, payload })
      expect(response.statusCode, JSON.stringify(payload)).toBe(400)
      expect(response.json()).toMatchObject({ type: `${PREFIX}SerdeError` })
    }
    const refusals = [
      [{ throughId: 5 }, 'ERR_KBS_AUDIT_PRUNE_NEWEST', /never emptied/],
      [{ throughId: 4 }, 'ERR_KBS_AUDIT_PRUNE_RETENTION', /min-retention/],
      [{ throughId: 2, expectedCount: 1 }, 'ERR_KBS_AUDIT_PRUNE_CHANGED', /archive again/],
    ] as const
    for (const [payload, code, detail] of refusals) {
      const response = await app.inject({ method: 'POST', url: PRUNE, headers, payload })
      expect(response.statusCode, code).toBe(409)
      expect(response.json()).toMatchObject({ type: `${PREFIX}AuditPruneRefused`, code })
      expect(response.json<{ detail: string }>().detail).toMatch(detail)
    }
    const query = await app.inject({
      method: 'POST',
      url: `${PRUNE}?throughId=2`,
      headers,
      payload: { throughId: 2 },
    })
    expect(query.statusCode).toBe(400)
    expect(await snapshot(store)).toEqual(before)
  })

  it('keeps every entry younger than [audit] min-retention', async () => {
    const { app, store } = await testApp({
      config: (resolved) => ({ ...resolved, auditMinRetentionMs: 3650 * 86_400_000 }),
    })
    await fill(store, 3)
    const response = await app.inject({
      method: 'POST',
      url: PRUNE,
      headers: await auth(),
      payload: { throughId: 1 },
    })
    expect([response.statusCode, response.json()]).toMatchObject([
      409,
      { code: 'ERR_KBS_AUDIT_PRUNE_RETENTION' },
    ])
    expect((await store.audit.list({ limit: 10 })).map((entry) => entry.id)).toEqual([1, 2, 3])
  })

  it("keeps an entry whose writer's clock may have been behind: min-retention plus the replica skew", async () => {
    const retention = 86_400_000
    const { app, store } = await testApp({
      config: (resolved) => ({ ...resolved, auditMinRetentionMs: retention }),
    })
    // Written by a replica up to REPLICA_CLOCK_SKEW_MS behind this one: its `at` understates its
    // age by as much, so one a second past min-retention on it may be 9 s short of it.
    const edge = now.getTime() - retention - REPLICA_CLOCK_SKEW_MS
    for (const at of [edge - 1, edge, edge + 1000])
      await store.audit.append({ at: new Date(at), action: 'admin', outcome: 'changed' })
    await store.audit.append({ at: now, action: 'admin', outcome: 'changed' })
    const prune = async (throughId: number) =>
      app.inject({ method: 'POST', url: PRUNE, headers: await auth(), payload: { throughId } })
    for (const throughId of [3, 2]) {
      const refused = await prune(throughId)
      expect([refused.statusCode, refused.json()]).toMatchObject([
        409,
        { code: 'ERR_KBS_AUDIT_PRUNE_RETENTION' },
      ])
    }
    expect((await prune(1)).json()).toMatchObject({ pruned: 1 })
  })
})
