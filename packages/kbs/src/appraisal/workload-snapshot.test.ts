import { Environment } from '@marcbachmann/cel-js'
import { describe, expect, it, vi } from 'vitest'
import type { StoredWorkload, UnusableWorkload, WorkloadStore } from '../ports.ts'
import { twoHandles } from '../storage/store-test-support.ts'
import { MemoryWorkloadStore, webDefinition } from '../workloads/workload-test-support.ts'
import { WorkloadSnapshot } from './workload-snapshot.ts'

const at = new Date('2026-06-01T12:00:00Z')

/** `store` with its `list` calls counted (and failing while `failing` is set). */
function counted(store: WorkloadStore): WorkloadStore & { reads: number; failing: boolean } {
  const wrapper = {
    reads: 0,
    failing: false,
    put: (name: string, definition: unknown, now: Date) => store.put(name, definition, now),
    get: (name: string) => store.get(name),
    inspect: (name: string) => store.inspect(name),
    delete: (name: string, now: Date) => store.delete(name, now),
    async list(): Promise<readonly (StoredWorkload | UnusableWorkload)[]> {
      wrapper.reads++
      if (wrapper.failing) throw new Error('database unavailable')
      return store.list()
    },
  }
  return wrapper
}

const versionOf = async (snapshot: WorkloadSnapshot, read: 'current' | 'fresh' = 'current') =>
  (await snapshot[read]()).byName.get('web')?.stored.version

describe('WorkloadSnapshot', () => {
  it("compiles a workload's CEL expression once per read that finds it new or changed", async () => {
    const store = new MemoryWorkloadStore()
    const snapshot = new WorkloadSnapshot(store, { maxAgeMs: 0 })
    const parse = vi.spyOn(Environment.prototype, 'parse')
    try {
      await store.put('web', webDefinition({ cel: 'snp.vmpl == 0' }), at)
      expect((await snapshot.fresh()).invalid).toEqual([])
      expect(parse).toHaveBeenCalledTimes(1)
      // The same stored definition again: the compiled form is reused.
      await snapshot.fresh()
      expect(parse).toHaveBeenCalledTimes(1)
      await store.put('web', webDefinition({ cel: 'snp.vmpl <= 1' }), at)
      expect((await snapshot.fresh()).compiled[0]?.definition.cel).toBe('snp.vmpl <= 1')
      expect(parse).toHaveBeenCalledTimes(2)
    } finally {
      parse.mockRestore()
    }
  })

  it("serves one read for at most maxAgeMs, then sees another handle's write", async () => {
    const { first, second } = await twoHandles()
    const store = counted(second.workloads)
    let clock = 0
    const snapshot = new WorkloadSnapshot(store, { maxAgeMs: 2000, monotonicMs: () => clock })
    await first.workloads.put('web', webDefinition(), at)
    expect(await versionOf(snapshot)).toBe(1)
    await first.workloads.put('web', webDefinition({ resources: ['other/*/*'] }), at)
    clock = 2000
    expect(await versionOf(snapshot)).toBe(1)
    expect(store.reads).toBe(1)
    clock = 2001
    expect(await versionOf(snapshot)).toBe(2)
    expect(store.reads).toBe(2)
    const read = await snapshot.current()
    expect(read.compiled.map((w) => w.name)).toEqual(['web'])
    expect(read.byName.get('web')?.compiled?.mayRelease('other/a/b')).toBe(true)
  })

  it('reads again at once after invalidate, and on fresh', async () => {
    const { first, second } = await twoHandles()
    const snapshot = new WorkloadSnapshot(second.workloads, { monotonicMs: () => 0 })
    await first.workloads.put('web', webDefinition(), at)
    expect(await versionOf(snapshot)).toBe(1)
    await first.workloads.put('web', webDefinition(), at)
    expect(await versionOf(snapshot)).toBe(1)
    expect(await versionOf(snapshot, 'fresh')).toBe(2)
    await first.workloads.delete('web', at)
    snapshot.invalidate()
    expect(await versionOf(snapshot)).toBeUndefined()
  })

  it('does not serve a read that began before invalidate', async () => {
    const { first } = await twoHandles()
    const snapshot = new WorkloadSnapshot(first.workloads, { monotonicMs: () => 0 })
    const before = snapshot.current()
    await first.workloads.put('web', webDefinition(), at)
    snapshot.invalidate()
    await before
    expect(await versionOf(snapshot)).toBe(1)
  })

  it('lists an invalid stored definition as a reason and compiles nothing for it', async () => {
    const { first } = await twoHandles()
    await first.workloads.put('web', webDefinition({ name: 'not-web' }), at)
    const read = await new WorkloadSnapshot(first.workloads).current()
    expect(read.compiled).toEqual([])
    expect(read.invalid[0]).toMatch(/workload 'web': its stored definition is invalid/)
    expect(read.byName.get('web')?.compiled).toBeUndefined()
  })

  it('keeps no failed read, and refuses a bound it cannot keep', async () => {
    const { first } = await twoHandles()
    const store = counted(first.workloads)
    const snapshot = new WorkloadSnapshot(store, { monotonicMs: () => 0 })
    store.failing = true
    await expect(snapshot.current()).rejects.toThrow('database unavailable')
    store.failing = false
    await expect(snapshot.current()).resolves.toBeDefined()
    expect(store.reads).toBe(2)
    for (const maxAgeMs of [-1, 60_001, 1.5, Number.NaN])
      expect(() => new WorkloadSnapshot(store, { maxAgeMs })).toThrow(RangeError)
  })
})
