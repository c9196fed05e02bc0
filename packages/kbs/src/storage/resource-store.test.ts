import { describe, expect, it } from 'vitest'
import { rejected, rejectedCode, thrown } from '@initguard/testkit'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const t1 = new Date('2026-12-01T10:00:00.000Z')
const t2 = new Date('2026-12-01T11:00:00.000Z')
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

  it('refuses malformed paths', async () => {
    const { resources } = await databases.open()
    for (const path of ['a/b', 'a/b/c/d', '../b/c', 'a//c', 'a/b/.c', 'a/b/c d', '']) {
      expect(await rejectedCode(resources.put(path, bytes('x'), t1)), path).toBe(
        'ERR_KBS_RESOURCE_PATH',
      )
      expect(await rejectedCode(resources.get(path)), path).toBe('ERR_KBS_RESOURCE_PATH')
    }
  })
})
