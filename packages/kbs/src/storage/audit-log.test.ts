import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { SqlAuditLog } from './audit-log.ts'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')

describe.each(STORE_ENGINES)('SqlAuditLog on %s', (engine) => {
  const databases = testDatabases(engine)

  it('appends entries with increasing ids and lists them in pages', async () => {
    const { audit } = await databases.open()
    const input = {
      action: 'resource',
      outcome: 'released',
      workload: 'web',
      resource: 'default/key/one',
      tee: 'snp',
      evidenceDigest: 'ab'.repeat(32),
      simulated: true,
      session: '0123456789abcdef'.repeat(2),
    } as const
    const released = await audit.append({ at, ...input })
    expect(released).toEqual({ id: 1, at: at.toISOString(), ...input })
    const denied = await audit.append({
      at,
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_X',
      simulated: false,
      detail: 'no workload',
    })
    expect(denied).toEqual({
      id: 2,
      at: at.toISOString(),
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_X',
      simulated: false,
      detail: 'no workload',
    })
    for (let i = 0; i < 5; i++) await audit.append({ at, action: 'admin', outcome: 'changed' })
    const page1 = await audit.list({ limit: 3 })
    const page2 = await audit.list({ afterId: page1.at(-1)?.id ?? 0, limit: 3 })
    const page3 = await audit.list({ afterId: page2.at(-1)?.id ?? 0, limit: 3 })
    expect([...page1, ...page2, ...page3].map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7])
  })

  it('interleaves appends from two handles without losing any', async () => {
    const { first, second } = await databases.twoHandles()
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? first : second).audit.append({
          at,
          action: 'admin',
          outcome: 'changed',
          detail: String(i),
        }),
      ),
    )
    const all = (await first.audit.list({ limit: 100 })).map((e) => e.id)
    const ids = Array.from({ length: 20 }, (_, i) => i + 1)
    // Commit order: id order on SQLite; on PostgreSQL two inserts at once may commit either way.
    if (engine === 'sqlite') expect(all).toEqual(ids)
    expect([...all].sort((x, y) => x - y)).toEqual(ids)
  })

  it('is append-only in the database too: UPDATE, DELETE (and TRUNCATE) are refused', async () => {
    const at1 = await databases.fresh()
    const store = await openTestStore({ ...at1, masterKey: randomMasterKey() })
    await store.audit.append({ at, action: 'resource', outcome: 'denied', reason: 'ERR_POLICY' })
    const changes = ["UPDATE audit_entry SET outcome = 'released'", 'DELETE FROM audit_entry']
    if (engine === 'postgres') changes.push('TRUNCATE audit_entry')
    for (const change of changes) {
      await expect(databases.raw(at1, change), change).rejects.toThrow(/append-only/)
    }
    expect((await store.audit.list({ limit: 10 }))[0]?.outcome).toBe('denied')
  })

  it('has no way to change an entry, and prune is the only way to remove one', () => {
    const methods = Object.getOwnPropertyNames(SqlAuditLog.prototype).filter(
      (m) => m !== 'constructor',
    )
    expect(methods.sort()).toEqual(['append', 'list', 'prune'])
  })

  it('pages from after=0 as from the start, and refuses a cursor that names no entry', async () => {
    const { audit } = await databases.open()
    for (let i = 0; i < 5; i++) await audit.append({ at, action: 'admin', outcome: 'changed' })
    const all = (await audit.list({ limit: 10 })).map((entry) => entry.id)
    expect(all).toEqual([1, 2, 3, 4, 5])
    expect((await audit.list({ afterId: 0, limit: 10 })).map((entry) => entry.id)).toEqual(all)
    // Never there: not read as "entries above 99" (none), nor as "from the start".
    for (const afterId of [6, 99, 2 ** 31, Number.MAX_SAFE_INTEGER])
      expect(await rejectedCode(audit.list({ afterId, limit: 10 })), String(afterId)).toBe(
        'ERR_KBS_AUDIT_CURSOR_UNKNOWN',
      )
    const far = new Date('2100-01-01T00:00:00.000Z')
    await audit.prune({
      throughId: 2,
      now: far,
      olderThan: far,
      recorded: () => ({ at, action: 'admin', outcome: 'changed' }),
    })
    // Pruned since the reader took it: entries after it may be gone unread.
    for (const afterId of [1, 2])
      expect(await rejectedCode(audit.list({ afterId, limit: 10 })), String(afterId)).toBe(
        'ERR_KBS_AUDIT_CURSOR_PRUNED',
      )
    expect((await audit.list({ afterId: 3, limit: 10 })).map((entry) => entry.id)).toEqual([
      4, 5, 6,
    ])
    expect((await audit.list({ limit: 10 })).map((entry) => entry.id)).toEqual([3, 4, 5, 6])
  })

  it('refuses an unbounded or malformed page', async () => {
    const { audit } = await databases.open()
    for (const query of [
      { limit: 0 },
      { limit: 1001 },
      { limit: 1.5 },
      { limit: Number.NaN },
      { limit: 10, afterId: -1 },
    ]) {
      expect(await rejectedCode(audit.list(query)), JSON.stringify(query)).toBe(
        'ERR_KBS_AUDIT_QUERY',
      )
    }
  })
})
