import { describe, expect, it } from 'vitest'
import { rejected, rejectedCode, thrown } from '@initguard/testkit'
import { Envelope } from './envelope.ts'
import { storedGeneration } from './resource-store.ts'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const t1 = new Date('2026-12-01T10:00:00.000Z')
const t2 = new Date('2026-12-01T11:00:00.000Z')
const PATH_FOR_GENERATION = 'default/key/one'
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe.each(STORE_ENGINES)('SqlResourceStore on %s', (engine) => {
  const databases = testDatabases(engine)

  it('puts, gets, replaces, lists (without values) and deletes', async () => {
    const { resources } = await databases.open()
    expect(await resources.get('default/key/one')).toBeUndefined()
    await resources.put('default/key/one', bytes('first'), t1)
    await resources.put('other/cert/a.pem', bytes('pem'), t1)
    await resources.put('default/key/one', bytes('second value'), t2)
    expect(await resources.get('default/key/one')).toEqual(bytes('second value'))
    expect(await resources.list()).toEqual([
      { path: 'default/key/one', size: 12, updatedAt: t2.toISOString() },
      { path: 'other/cert/a.pem', size: 3, updatedAt: t1.toISOString() },
    ])
    expect(await resources.delete('default/key/one')).toBe(true)
    expect(await resources.delete('default/key/one')).toBe(false)
    expect(await resources.get('default/key/one')).toBeUndefined()
  })

  it('releases with the audit entry appended in the same write; a missing one appends nothing', async () => {
    const { resources, audit } = await databases.open()
    const released = {
      at: t2,
      action: 'resource' as const,
      outcome: 'released' as const,
      resource: 'default/key/one',
      workload: 'w',
      simulated: true,
    }
    expect(await resources.release('default/key/one', released)).toBeUndefined()
    expect(await audit.list({ limit: 10 })).toEqual([])
    await resources.put('default/key/one', bytes('secret'), t1)
    const found = await resources.release('default/key/one', released)
    expect(found?.plaintext()).toEqual(bytes('secret'))
    expect(await audit.list({ limit: 10 })).toEqual([
      { id: found?.auditId, ...released, at: t2.toISOString() },
    ])
    expect(await rejectedCode(resources.release('../key/one', released))).toBe(
      'ERR_KBS_RESOURCE_PATH',
    )
  })

  it('puts and deletes with the audit entry in the same write, and not at all when it fails', async () => {
    const at = await databases.fresh()
    const { resources, audit } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    const change = (detail: string) =>
      ({
        at: t2,
        action: 'admin',
        outcome: 'changed',
        detail,
        resource: 'default/key/one',
      }) as const
    await resources.put('default/key/one', bytes('first'), t1, change('written'))
    expect(await resources.delete('default/key/gone', change('not there'))).toBe(false)
    expect((await audit.list({ limit: 10 })).map((entry) => entry.detail)).toEqual(['written'])
    // The audit log cannot be written: neither change is made.
    await databases.failAuditAppends(at)
    await expect(
      resources.put('default/key/one', bytes('second'), t2, change('replaced')),
    ).rejects.toThrow(/the audit log cannot be written/)
    await expect(
      resources.put('default/key/new', bytes('new'), t2, change('added')),
    ).rejects.toThrow(/the audit log cannot be written/)
    await expect(resources.delete('default/key/one', change('deleted'))).rejects.toThrow(
      /the audit log cannot be written/,
    )
    expect(await resources.get('default/key/one')).toEqual(bytes('first'))
    expect(await resources.list()).toEqual([
      { path: 'default/key/one', size: 5, updatedAt: t1.toISOString() },
    ])
    await databases.allowAuditAppends(at)
    expect(await resources.delete('default/key/one', change('deleted'))).toBe(true)
    expect(await resources.get('default/key/one')).toBeUndefined()
    expect((await audit.list({ limit: 10 })).map((entry) => entry.detail)).toEqual([
      'written',
      'deleted',
    ])
  })

  it('stores values encrypted: the plaintext is nowhere in the database', async () => {
    const at1 = await databases.fresh()
    const s = await openTestStore({ ...at1, masterKey: randomMasterKey() })
    const secret = 'plaintext-that-must-not-appear-on-disk'
    await s.resources.put('default/key/one', bytes(secret), t1)
    const rows = await databases.raw(at1, 'SELECT * FROM resource')
    expect(rows).toHaveLength(1)
    expect(JSON.stringify(rows)).not.toContain(secret)
    expect(Buffer.from(rows[0]?.['sealed'] as Uint8Array).includes(Buffer.from(secret))).toBe(false)
    await s.close()
    if (engine === 'sqlite') {
      const { readFile } = await import('node:fs/promises')
      for (const file of [s.location, `${s.location}-wal`]) {
        const content = await readFile(file).catch(() => Buffer.alloc(0))
        expect(content.includes(Buffer.from(secret))).toBe(false)
      }
    }
  })

  it('refuses a sealed value swapped between rows, and a tampered one', async () => {
    const at1 = await databases.fresh()
    const s = await openTestStore({ ...at1, masterKey: randomMasterKey() })
    await s.resources.put('default/key/one', bytes('one'), t1)
    await s.resources.put('default/key/two', bytes('two'), t1)
    await databases.raw(
      at1,
      "UPDATE resource SET sealed = (SELECT sealed FROM resource WHERE path = 'default/key/two') WHERE path = 'default/key/one'",
    )
    expect(await rejectedCode(s.resources.get('default/key/one'))).toBe(
      'ERR_KBS_ENVELOPE_INTEGRITY',
    )
    const [row] = await databases.raw(
      at1,
      "SELECT sealed FROM resource WHERE path = 'default/key/two'",
    )
    const sealed = Buffer.from(row?.['sealed'] as Uint8Array)
    sealed.writeUInt8(sealed.readUInt8(sealed.length - 1) ^ 0x80, sealed.length - 1)
    await databases.raw(at1, "UPDATE resource SET sealed = ? WHERE path = 'default/key/two'", [
      sealed,
    ])
    expect(await rejectedCode(s.resources.get('default/key/two'))).toBe(
      'ERR_KBS_ENVELOPE_INTEGRITY',
    )
    // The operator's problem (a 500), not the reader's: never a verification failure (a 401).
    expect(await rejected(s.resources.get('default/key/two'))).toMatchObject({
      code: 'ERR_KBS_ENVELOPE_INTEGRITY',
      category: 'internal',
    })
    const released = await s.resources.release('default/key/one', {
      at: t1,
      action: 'resource',
      outcome: 'released',
      resource: 'default/key/one',
    })
    expect(thrown(() => released?.plaintext())).toMatchObject({
      code: 'ERR_KBS_ENVELOPE_INTEGRITY',
      category: 'internal',
    })
  })

  it('reads a generation as stored by either engine, and refuses one that is not a safe integer', () => {
    expect(storedGeneration(PATH_FOR_GENERATION, 5)).toBe(5)
    expect(storedGeneration(PATH_FOR_GENERATION, '0')).toBe(0)
    expect(storedGeneration(PATH_FOR_GENERATION, '9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    for (const bad of [
      '9007199254740992',
      '9007199254740993',
      '9223372036854775807',
      9007199254740992,
      -1,
      '-1',
      1.5,
      '01',
      '1e3',
      '',
      null,
      undefined,
      2n ** 53n + 1n,
    ]) {
      expect(thrown(() => storedGeneration(PATH_FOR_GENERATION, bad)).code, String(bad)).toBe(
        'ERR_KBS_RESOURCE_GENERATION',
      )
    }
  })

  it('refuses malformed paths', async () => {
    const { resources } = await databases.open()
    for (const path of ['a/b', 'a/b/c/d', '../b/c', 'a//c', 'a/b/.c', 'a/b/c d', '']) {
      expect(await rejectedCode(resources.put(path, bytes('x'), t1)), path).toBe(
        'ERR_KBS_RESOURCE_PATH',
      )
      expect(await rejectedCode(resources.get(path)), path).toBe('ERR_KBS_RESOURCE_PATH')
    }
  })

  describe('a row written back from an earlier copy (rollback), by whoever can write the database', () => {
    const PATH = 'default/key/one'
    const entry = { at: t2, action: 'resource', outcome: 'released', resource: PATH } as const

    /** A store and its database, with `copy` keeping the resource table as it is now. */
    async function withCopies() {
      const at = await databases.fresh()
      const masterKey = randomMasterKey()
      const store = await openTestStore({ ...at, masterKey })
      let copies = 0
      return {
        at,
        masterKey,
        store,
        copy: async (): Promise<string> => {
          const name = `resource_copy_${String((copies += 1))}`
          await databases.raw(at, `CREATE TABLE ${name} AS SELECT * FROM resource`)
          return name
        },
        restore: async (name: string): Promise<void> => {
          await databases.raw(at, 'DELETE FROM resource')
          await databases.raw(at, `INSERT INTO resource SELECT * FROM ${name}`)
        },
      }
    }

    /** Each replica refuses the path's row as a rollback, at get and at release. */
    async function expectRollbackRefused(
      replicas: readonly Awaited<ReturnType<typeof openTestStore>>[],
    ): Promise<void> {
      for (const replica of replicas) {
        expect(await rejectedCode(replica.resources.get(PATH))).toBe('ERR_KBS_RESOURCE_ROLLBACK')
        const released = await replica.resources.release(PATH, entry)
        expect(thrown(() => released?.plaintext()).code).toBe('ERR_KBS_RESOURCE_ROLLBACK')
      }
    }

    it('an older value: refused by a replica that has seen the newer one, at get and release', async () => {
      const { store, copy, restore } = await withCopies()
      await store.resources.put(PATH, bytes('old, leaked'), t1)
      const old = await copy()
      await store.resources.put(PATH, bytes('rotated'), t2)
      expect(await store.resources.get(PATH)).toEqual(bytes('rotated'))
      await restore(old)
      expect(await rejected(store.resources.get(PATH))).toMatchObject({
        code: 'ERR_KBS_RESOURCE_ROLLBACK',
        category: 'internal',
      })
      const released = await store.resources.release(PATH, entry)
      expect(thrown(() => released?.plaintext())).toMatchObject({
        code: 'ERR_KBS_RESOURCE_ROLLBACK',
        category: 'internal',
      })
    })

    it('a deleted value: refused by the replica that deleted it, and by one that read the tombstone', async () => {
      const { at, masterKey, store, copy, restore } = await withCopies()
      const other = await openTestStore({ ...at, masterKey })
      await store.resources.put(PATH, bytes('revoked'), t1)
      expect(await other.resources.get(PATH)).toEqual(bytes('revoked'))
      const live = await copy()
      expect(await store.resources.delete(PATH)).toBe(true)
      expect(await store.resources.list()).toEqual([])
      // The other replica's release finds the tombstone: nothing released, nothing audited.
      const before = (await other.audit.list({ limit: 100 })).length
      expect(await other.resources.release(PATH, entry)).toBeUndefined()
      expect((await other.audit.list({ limit: 100 })).length).toBe(before)
      await restore(live)
      await expectRollbackRefused([store, other])
    })

    it('a tombstone does not block a put again, which is a newer generation for every replica', async () => {
      const { at, masterKey, store } = await withCopies()
      const other = await openTestStore({ ...at, masterKey })
      await store.resources.put(PATH, bytes('one'), t1)
      expect(await store.resources.delete(PATH)).toBe(true)
      expect(await other.resources.get(PATH)).toBeUndefined()
      expect(await store.resources.delete(PATH)).toBe(false)
      await other.resources.put(PATH, bytes('two'), t2)
      expect(await store.resources.get(PATH)).toEqual(bytes('two'))
      expect(await store.resources.list()).toEqual([
        { path: PATH, size: 3, updatedAt: t2.toISOString() },
      ])
      const rows = await databases.raw(at, 'SELECT generation, deleted FROM resource')
      expect(rows.map((row) => Number(row['deleted']))).toEqual([0])
      expect(Number(rows[0]?.['generation'])).toBeGreaterThan(2)
    })

    it('a changed generation or tombstone mark does not open', async () => {
      const { at, store } = await withCopies()
      await store.resources.put(PATH, bytes('one'), t1)
      await databases.raw(at, 'UPDATE resource SET generation = 7')
      expect(await rejectedCode(store.resources.get(PATH))).toBe('ERR_KBS_ENVELOPE_INTEGRITY')
      await databases.raw(at, 'UPDATE resource SET generation = 1, deleted = 1')
      expect(await rejectedCode(store.resources.get(PATH))).toBe('ERR_KBS_ENVELOPE_INTEGRITY')
    })

    it('concurrent puts from two replicas each get their own generation; the last one wins', async () => {
      const { at, masterKey, store } = await withCopies()
      const other = await openTestStore({ ...at, masterKey })
      const before = Date.now()
      await Promise.all(
        Array.from({ length: 6 }, (_, n) =>
          (n % 2 === 0 ? store : other).resources.put(PATH, bytes(`v${String(n)}`), t1),
        ),
      )
      // Each put at least one above the one before it: six puts, none lost to another.
      const [row] = await databases.raw(at, 'SELECT generation FROM resource')
      expect(Number(row?.['generation'])).toBeGreaterThanOrEqual(before + 5)
      const value = await store.resources.get(PATH)
      expect(await other.resources.get(PATH)).toEqual(value)
    })

    it('a row from before migration 005 (generation 0, sealed without one) opens; its next put is above it', async () => {
      const { at, masterKey, store } = await withCopies()
      await store.resources.put(PATH, bytes('placeholder'), t1)
      // What an older KBS wrote: the path alone in the AAD, the migration's default generation.
      const legacy = new Envelope(masterKey).seal({ kind: 'resource', id: PATH }, bytes('kept'))
      await databases.raw(at, 'UPDATE resource SET sealed = ?, generation = 0', [legacy])
      const fresh = await openTestStore({ ...at, masterKey })
      expect(await fresh.resources.get(PATH)).toEqual(bytes('kept'))
      const before = Date.now()
      await fresh.resources.put(PATH, bytes('next'), t2)
      const [row] = await databases.raw(at, 'SELECT generation FROM resource')
      expect(Number(row?.['generation'])).toBeGreaterThanOrEqual(before)
      expect(await fresh.resources.get(PATH)).toEqual(bytes('next'))
    })

    it('a row removed outright (not a tombstone) and put again through a replica that never read it: a copy of the removed row written back is older for every replica that saw the put', async () => {
      const { at, masterKey, store, copy, restore } = await withCopies()
      for (let n = 1; n <= 5; n++) await store.resources.put(PATH, bytes(`old ${String(n)}`), t1)
      const old = await copy()
      await databases.raw(at, 'DELETE FROM resource')
      // Puts in a burst run ahead of the clock (one each); the put again comes later than that, as
      // an operator's would (within those milliseconds it would not be above: see the module doc).
      const [removed] = await databases.raw(at, `SELECT generation FROM ${old}`)
      while (Date.now() <= Number(removed?.['generation'])) {
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      const other = await openTestStore({ ...at, masterKey })
      await other.resources.put(PATH, bytes('put again'), t2)
      // The replica that saw the removed row's generation takes the new put (no rollback)...
      expect(await store.resources.get(PATH)).toEqual(bytes('put again'))
      expect(await other.resources.get(PATH)).toEqual(bytes('put again'))
      await restore(old)
      // ...and neither replica takes the removed row written back as newer.
      await expectRollbackRefused([store, other])
    })

    it('a generation above Number.MAX_SAFE_INTEGER in the database is refused, not rounded', async () => {
      const { at, masterKey, store } = await withCopies()
      await store.resources.put(PATH, bytes('one'), t1)
      await databases.raw(at, 'UPDATE resource SET generation = 9007199254740993')
      const fresh = await openTestStore({ ...at, masterKey })
      for (const replica of [store, fresh]) {
        expect(await rejected(replica.resources.get(PATH))).toMatchObject({
          code: 'ERR_KBS_RESOURCE_GENERATION',
          category: 'internal',
        })
        const released = await replica.resources.release(PATH, entry)
        expect(thrown(() => released?.plaintext()).code).toBe('ERR_KBS_RESOURCE_GENERATION')
        expect(await rejectedCode(replica.resources.put(PATH, bytes('two'), t2))).toBe(
          'ERR_KBS_RESOURCE_GENERATION',
        )
        expect(await rejectedCode(replica.resources.delete(PATH))).toBe(
          'ERR_KBS_RESOURCE_GENERATION',
        )
      }
    })

    it('a stored generation at Number.MAX_SAFE_INTEGER: put and delete name the stored value, not the next one', async () => {
      const { at, masterKey, store } = await withCopies()
      await store.resources.put(PATH, bytes('one'), t1)
      const max = String(Number.MAX_SAFE_INTEGER)
      await databases.raw(at, `UPDATE resource SET generation = ${max}`)
      const fresh = await openTestStore({ ...at, masterKey })
      for (const write of [
        () => fresh.resources.put(PATH, bytes('two'), t2),
        () => fresh.resources.delete(PATH),
      ]) {
        const error = await rejected(write())
        // The operator looks for the row that is stored, with the value that is stored.
        expect(error.message).toContain(`${PATH} has generation ${max}`)
        expect(error.message).not.toContain(String(Number.MAX_SAFE_INTEGER + 1))
        expect(error).toMatchObject({
          code: 'ERR_KBS_RESOURCE_GENERATION',
          category: 'internal',
          details: { resource: PATH, generation: max },
        })
        expect(error.hint).toMatch(/delete the row in the database .* then put the resource again/)
      }
      // Nothing was written.
      const [row] = await databases.raw(at, 'SELECT generation, deleted FROM resource')
      expect([String(row?.['generation']), Number(row?.['deleted'])]).toEqual([max, 0])
    })

    it('a replica that has written generation Number.MAX_SAFE_INTEGER, the row since removed: the error names the generation it saw, and a restart clears it', async () => {
      const { at, masterKey, store } = await withCopies()
      await store.resources.put(PATH, bytes('one'), t1)
      const max = String(Number.MAX_SAFE_INTEGER)
      await databases.raw(
        at,
        `UPDATE resource SET generation = ${String(Number.MAX_SAFE_INTEGER - 1)}`,
      )
      const replica = await openTestStore({ ...at, masterKey })
      // The next generation is the highest there is: written, and remembered by this replica.
      await replica.resources.put(PATH, bytes('two'), t2)
      await databases.raw(at, 'DELETE FROM resource')
      const error = await rejected(replica.resources.put(PATH, bytes('three'), t2))
      expect(error.message).toContain(`seen generation ${max} of resource ${PATH}`)
      expect(error.message).toContain('the database now has no row')
      expect(error.message).not.toContain(String(Number.MAX_SAFE_INTEGER + 1))
      expect(error).toMatchObject({
        code: 'ERR_KBS_RESOURCE_GENERATION',
        details: { resource: PATH, generation: max, stored: 'none' },
      })
      expect(error.hint).toMatch(/restart each replica/)
      // As the hint says: a replica started afresh puts the resource again.
      const restarted = await openTestStore({ ...at, masterKey })
      await restarted.resources.put(PATH, bytes('three'), t2)
      expect(await restarted.resources.get(PATH)).toEqual(bytes('three'))
    })

    it('what remains: a replica that has not read the path since it started takes the old row', async () => {
      const { at, masterKey, store, copy, restore } = await withCopies()
      await store.resources.put(PATH, bytes('old'), t1)
      const old = await copy()
      await store.resources.put(PATH, bytes('new'), t2)
      await restore(old)
      const fresh = await openTestStore({ ...at, masterKey })
      expect(await fresh.resources.get(PATH)).toEqual(bytes('old'))
    })
  })
})
