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
    const all = await first.audit.list({ limit: 100 })
    expect(all.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
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
