import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const t = (minute: number): Date => new Date(Date.UTC(2026, 11, 1, 10, minute))
const change = (detail: string) =>
  ({ at: t(0), action: 'admin', outcome: 'changed', detail, workload: 'web' }) as const
/** The entry of a put, naming the version it took. */
const stored = (name: string) => (version: number) => change(`${name} ${String(version)}`)

describe.each(STORE_ENGINES)('SqlWorkloadStore on %s', (engine) => {
  const databases = testDatabases(engine)

  it('versions every put, returns the newest, and keeps the history', async () => {
    const { workloads } = await databases.open()
    expect(await workloads.get('web')).toBeUndefined()
    const v1 = await workloads.put('web', { v: 1 }, t(1))
    const v2 = await workloads.put('web', { v: 2 }, t(2))
    await workloads.put('db', { v: 1 }, t(3))
    expect(v1).toEqual({
      name: 'web',
      version: 1,
      definition: { v: 1 },
      updatedAt: t(1).toISOString(),
    })
    expect(v2.version).toBe(2)
    expect(await workloads.get('web')).toEqual(v2)
    expect((await workloads.list()).map((w) => `${w.name}@${String(w.version)}`)).toEqual([
      'db@1',
      'web@2',
    ])
    expect(
      (await workloads.history('web')).map((w) => ('definition' in w ? w.definition : w.unusable)),
    ).toEqual([{ v: 1 }, { v: 2 }])
  })

  it('hides a deleted workload but keeps its history; a later put continues the numbering', async () => {
    const { workloads } = await databases.open()
    await workloads.put('web', { v: 1 }, t(1))
    await workloads.put('web', { v: 2 }, t(2))
    expect(await workloads.delete('web', t(3))).toBe(true)
    expect(await workloads.delete('web', t(4))).toBe(false)
    expect(await workloads.delete('never', t(4))).toBe(false)
    expect(await workloads.get('web')).toBeUndefined()
    expect(await workloads.list()).toEqual([])
    const history = await workloads.history('web')
    expect(history.map((w) => [w.version, w.deletedAt])).toEqual([
      [1, t(3).toISOString()],
      [2, t(3).toISOString()],
    ])
    // The delete took version 3 for its tombstone, which the history leaves out.
    const v3 = await workloads.put('web', { v: 3 }, t(5))
    expect(v3.version).toBe(4)
    expect(await workloads.get('web')).toEqual(v3)
    expect(await workloads.list()).toEqual([v3])
  })

  it('gives concurrent puts from two handles distinct versions', async () => {
    const { first, second } = await databases.twoHandles()
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? first : second).workloads.put('web', { i }, t(i)),
      ),
    )
    expect(results.map((w) => w.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ])
    expect((await second.workloads.get('web'))?.version).toBe(10)
  })

  it('puts and deletes with the audit entry in the same write, and not at all when it fails', async () => {
    const at = await databases.fresh()
    const { workloads, audit } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    const details = async () => (await audit.list({ limit: 10 })).map((entry) => entry.detail)
    const rows = () =>
      databases.raw(at, 'SELECT name, version, deleted_at FROM workload_version ORDER BY 1, 2')
    expect(await workloads.put('web', { v: 1 }, t(1), stored('web'))).toMatchObject({
      version: 1,
      definition: { v: 1 },
    })
    await workloads.put('db', { v: 1 }, t(1), stored('db'))
    expect(await workloads.delete('never', t(2), change('not there'))).toBe(false)
    expect(await details()).toEqual(['web 1', 'db 1'])
    const before = await rows()
    // The audit log cannot be written: no change is made, the delete's tombstone included.
    await databases.failAuditAppends(at)
    await expect(workloads.put('web', { v: 2 }, t(3), stored('web'))).rejects.toThrow(
      /the audit log cannot be written/,
    )
    await expect(workloads.put('new', { v: 1 }, t(3), stored('new'))).rejects.toThrow(
      /the audit log cannot be written/,
    )
    await expect(workloads.delete('db', t(3), change('db deleted'))).rejects.toThrow(
      /the audit log cannot be written/,
    )
    expect(await rows()).toEqual(before)
    expect((await workloads.get('web'))?.definition).toEqual({ v: 1 })
    expect((await workloads.get('db'))?.version).toBe(1)
    await databases.allowAuditAppends(at)
    expect(await workloads.delete('db', t(4), change('db deleted'))).toBe(true)
    expect(await workloads.get('db')).toBeUndefined()
    expect((await workloads.history('db')).map((w) => [w.version, w.deletedAt])).toEqual([
      [1, t(4).toISOString()],
    ])
    // Deleted again: nothing to delete, nothing audited; a put continues after the tombstone.
    expect(await workloads.delete('db', t(5), change('db again'))).toBe(false)
    expect((await workloads.put('db', { v: 3 }, t(6), stored('db'))).version).toBe(3)
    expect(await details()).toEqual(['web 1', 'db 1', 'db deleted', 'db 3'])
  })

  it('gives concurrent audited puts from two handles distinct versions, one entry each', async () => {
    const { first, second } = await databases.twoHandles()
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? first : second).workloads.put('web', { i }, t(i), stored('web')),
      ),
    )
    expect(results.map((w) => w.version).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ])
    // Each entry names the version its put took.
    const details = (await first.audit.list({ limit: 100 })).map((entry) => entry.detail)
    expect(details.sort()).toEqual(results.map((w) => `web ${String(w.version)}`).sort())
  })

  it('refuses bad names and a definition that is not JSON', async () => {
    const { workloads } = await databases.open()
    for (const name of ['', '.hidden', 'a b', 'x'.repeat(129), 'a/b']) {
      expect(await rejectedCode(workloads.put(name, {}, t(1))), name).toBe('ERR_KBS_WORKLOAD_NAME')
    }
    expect(await rejectedCode(workloads.put('web', undefined, t(1)))).toBe(
      'ERR_KBS_WORKLOAD_DEFINITION',
    )
  })
})
