/**
 * Workload versions are authenticated: whoever can write the database but lacks the master key
 * cannot change, rename, renumber or undelete a workload; rows without a MAC are refused.
 */
import { describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const t = (minute: number): Date => new Date(Date.UTC(2026, 11, 1, 10, minute))
const INTEGRITY = 'ERR_KBS_WORKLOAD_INTEGRITY'

describe.each(STORE_ENGINES)('workload version MACs on %s', (engine) => {
  const databases = testDatabases(engine)

  async function withWorkloads() {
    const at = await databases.fresh()
    const store = await openTestStore({ ...at, masterKey: randomMasterKey() })
    await store.workloads.put('web', { v: 1 }, t(1))
    await store.workloads.put('db', { v: 1 }, t(2))
    return { at, store, raw: (text: string) => databases.raw(at, text) }
  }

  it('refuses a definition changed behind the store on get, list and history', async () => {
    const { store, raw } = await withWorkloads()
    expect((await store.workloads.get('web'))?.definition).toEqual({ v: 1 })
    await raw(`UPDATE workload_version SET definition = '{"v":666}' WHERE name = 'web'`)
    const error = await rejected(store.workloads.get('web'))
    expect(error.code).toBe(INTEGRITY)
    expect(error.category).toBe('verification')
    expect(error.message).toContain('workload web v1')
    // Listed as unusable, without its definition, and the other workload still listed.
    const [db, web] = await store.workloads.list()
    expect(db).toMatchObject({ name: 'db', version: 1, definition: { v: 1 } })
    expect(web).toEqual({
      name: 'web',
      version: 1,
      unusable: expect.objectContaining({ code: INTEGRITY }) as unknown,
    })
    // The history lists the row as unusable, never its definition.
    expect(await store.workloads.history('web')).toEqual([web])
  })

  it('history isolates a row that does not authenticate: the other versions are still listed', async () => {
    const { store, raw } = await withWorkloads()
    await store.workloads.put('web', { v: 2 }, t(3))
    await store.workloads.put('web', { v: 3 }, t(4))
    await raw(
      `UPDATE workload_version SET definition = '{"v":666}' WHERE name = 'web' AND version = 2`,
    )
    const unusable = {
      name: 'web',
      version: 2,
      unusable: expect.objectContaining({ code: INTEGRITY }) as unknown,
    }
    const history = await store.workloads.history('web')
    expect(history).toEqual([
      expect.objectContaining({ version: 1, definition: { v: 1 } }),
      unusable,
      expect.objectContaining({ version: 3, definition: { v: 3 } }),
    ])
    expect(history[1]).not.toHaveProperty('definition')
    // A delete marks the bad row without blessing it: it is still unusable in the history.
    expect(await store.workloads.delete('web', t(5))).toBe(true)
    const deletedAt = t(5).toISOString()
    expect(await store.workloads.history('web')).toEqual([
      expect.objectContaining({ version: 1, definition: { v: 1 }, deletedAt }),
      { ...unusable, deletedAt },
      expect.objectContaining({ version: 3, definition: { v: 3 }, deletedAt }),
    ])
  })

  it('refuses a row renamed, renumbered or undeleted behind the store', async () => {
    const renamed = await withWorkloads()
    await renamed.raw(`DELETE FROM workload_version WHERE name = 'db'`)
    await renamed.raw(`UPDATE workload_version SET name = 'db' WHERE name = 'web'`)
    expect(await rejectedCode(renamed.store.workloads.get('db'))).toBe(INTEGRITY)

    const renumbered = await withWorkloads()
    await renumbered.raw(`UPDATE workload_version SET version = 7 WHERE name = 'web'`)
    expect(await rejectedCode(renumbered.store.workloads.get('web'))).toBe(INTEGRITY)

    const undeleted = await withWorkloads()
    expect(await undeleted.store.workloads.delete('web', t(3))).toBe(true)
    expect(await undeleted.store.workloads.get('web')).toBeUndefined()
    await undeleted.raw(`UPDATE workload_version SET deleted_at = NULL WHERE name = 'web'`)
    expect(await rejectedCode(undeleted.store.workloads.get('web'))).toBe(INTEGRITY)
  })

  it('refuses a deleted row replayed with the MAC it had before the delete (no undelete)', async () => {
    const { store, raw } = await withWorkloads()
    const [before] = await raw(
      `SELECT deleted_at, mac FROM workload_version WHERE name = 'web' AND version = 1`,
    )
    expect(before?.['deleted_at']).toBeNull()
    expect(await store.workloads.delete('web', t(3))).toBe(true)
    // A database writer without the master key puts the old row back, MAC and all.
    await raw(
      `UPDATE workload_version SET deleted_at = NULL, mac = '${String(before?.['mac'])}' WHERE name = 'web' AND version = 1`,
    )
    expect(await store.workloads.get('web')).toBeUndefined()
    expect(await store.workloads.inspect('web')).toBeUndefined()
    expect((await store.workloads.list()).map((w) => w.name)).toEqual(['db'])
    // A later put still continues above every version, the deleted one included.
    expect((await store.workloads.put('web', { v: 2 }, t(4))).version).toBeGreaterThan(1)
  })

  it('a name deleted before tombstones gets one, audited, when deleted again, and then stays deleted', async () => {
    const { store, raw } = await withWorkloads()
    const [before] = await raw(`SELECT mac FROM workload_version WHERE name = 'web'`)
    expect(await store.workloads.delete('web', t(3))).toBe(true)
    // What an older KBS left: the version marked deleted, no tombstone.
    await raw(`DELETE FROM workload_version WHERE name = 'web' AND version = 2`)
    const change = (detail: string) =>
      ({ at: t(4), action: 'admin', outcome: 'changed', detail, workload: 'web' }) as const
    expect(await store.workloads.delete('web', t(4), change('tombstone added'))).toBe(true)
    expect(await store.workloads.delete('web', t(5), change('nothing to do'))).toBe(false)
    const details = (await store.audit.list({ limit: 10 })).map((entry) => entry.detail)
    expect(details).toContain('tombstone added')
    expect(details).not.toContain('nothing to do')
    const versions = await raw(`SELECT version FROM workload_version WHERE name = 'web'`)
    expect(versions.map((row) => Number(row['version'])).sort()).toEqual([1, 2])
    await raw(
      `UPDATE workload_version SET deleted_at = NULL, mac = '${String(before?.['mac'])}' WHERE name = 'web' AND version = 1`,
    )
    expect(await store.workloads.get('web')).toBeUndefined()
    expect((await store.workloads.list()).map((w) => w.name)).toEqual(['db'])
  })

  it('refuses a MAC made under another master key', async () => {
    const first = await withWorkloads()
    const second = await withWorkloads()
    const [row] = await first.raw(`SELECT mac FROM workload_version WHERE name = 'web'`)
    expect(row?.['mac']).toMatch(/^[0-9a-f]{64}$/)
    await second.raw(
      `UPDATE workload_version SET mac = '${String(row?.['mac'])}' WHERE name = 'web'`,
    )
    expect(await rejectedCode(second.store.workloads.get('web'))).toBe(INTEGRITY)
  })

  it('refuses a row without a MAC (written before migration 002) until the workload is put again', async () => {
    const { store, raw } = await withWorkloads()
    await raw(`UPDATE workload_version SET mac = NULL WHERE name = 'web'`)
    const error = await rejected(store.workloads.get('web'))
    expect(error.code).toBe(INTEGRITY)
    expect(error.message).toContain('has no MAC')
    expect(error.hint).toContain('workload put --name web')
    const again = await store.workloads.put('web', { v: 1 }, t(5))
    expect(again.version).toBe(2)
    expect(await store.workloads.get('web')).toEqual(again)
    expect((await store.workloads.list()).map((w) => w.name)).toEqual(['db', 'web'])
  })

  it('inspect answers a row that does not authenticate with why and its stored text, never a definition', async () => {
    const { store, raw } = await withWorkloads()
    // An authentic row: what get answers.
    expect(await store.workloads.inspect('db')).toEqual(await store.workloads.get('db'))
    expect(await store.workloads.inspect('none')).toBeUndefined()

    await raw(`UPDATE workload_version SET mac = NULL WHERE name = 'web'`)
    const noMac = await store.workloads.inspect('web')
    expect(noMac).toEqual({
      name: 'web',
      version: 1,
      unusable: {
        code: INTEGRITY,
        message: expect.stringContaining('has no MAC') as unknown,
        hint: expect.stringContaining('workload put --name web') as unknown,
      },
      unauthenticatedDefinition: '{"v":1}',
    })
    expect(noMac).not.toHaveProperty('definition')

    // Changed behind the store: the changed bytes, as stored (not parsed: they need not be JSON).
    await raw(`UPDATE workload_version SET definition = 'not JSON {' WHERE name = 'db'`)
    expect(await store.workloads.inspect('db')).toEqual({
      name: 'db',
      version: 1,
      unusable: expect.objectContaining({
        code: INTEGRITY,
        message: expect.stringContaining('does not authenticate') as unknown,
      }) as unknown,
      unauthenticatedDefinition: 'not JSON {',
    })
    // The list, which the appraiser reads, never carries the text.
    const listed = await store.workloads.list()
    expect(listed.map((w) => w.name)).toEqual(['db', 'web'])
    for (const each of listed)
      expect(each).toEqual({
        name: each.name,
        version: 1,
        unusable: expect.objectContaining({ code: INTEGRITY }) as unknown,
      })
    // get, for a decision, still refuses it.
    expect(await rejectedCode(store.workloads.get('web'))).toBe(INTEGRITY)
  })

  it('inspect: a deleted name is not found; one undeleted behind the store is shown unusable', async () => {
    const { store, raw } = await withWorkloads()
    expect(await store.workloads.delete('web', t(3))).toBe(true)
    expect(await store.workloads.inspect('web')).toBeUndefined()
    await raw(`UPDATE workload_version SET deleted_at = NULL WHERE name = 'web'`)
    // The newest row is the delete's tombstone (version 2), whose mark was cleared too.
    expect(await store.workloads.inspect('web')).toMatchObject({
      name: 'web',
      version: 2,
      unusable: { code: INTEGRITY },
      unauthenticatedDefinition: '',
    })
  })

  it('a put repairs a row that does not authenticate with a version above it, never below', async () => {
    const { store, raw } = await withWorkloads()
    await raw(`UPDATE workload_version SET version = 6, mac = NULL WHERE name = 'web'`)
    expect(await store.workloads.inspect('web')).toMatchObject({ version: 6, unusable: {} })
    const again = await store.workloads.put('web', { v: 1 }, t(5))
    expect(again.version).toBe(7)
    expect(await store.workloads.inspect('web')).toEqual(again)
    expect((await store.workloads.list()).find((w) => w.name === 'web')).toEqual(again)
    // The history still holds the bad row, listed as unusable next to the repair.
    expect(await store.workloads.history('web')).toEqual([
      {
        name: 'web',
        version: 6,
        unusable: expect.objectContaining({ code: INTEGRITY }) as unknown,
      },
      again,
    ])
  })
})
