import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { STORE_ENGINES, testDatabases } from './store-test-support.ts'

const t = (minute: number): Date => new Date(Date.UTC(2026, 11, 1, 10, minute))

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
