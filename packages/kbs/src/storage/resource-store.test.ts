import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

const t1 = new Date('2026-12-01T10:00:00.000Z')
const t2 = new Date('2026-12-01T11:00:00.000Z')
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

async function store() {
  return openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
}

describe('SqlResourceStore', () => {
  it('puts, gets, replaces, lists (without values) and deletes', async () => {
    const { resources } = await store()
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

  it('stores values encrypted: the plaintext is nowhere in the database file', async () => {
    const s = await store()
    const secret = 'plaintext-that-must-not-appear-on-disk'
    await s.resources.put('default/key/one', bytes(secret), t1)
    await s.close()
    const { readFile } = await import('node:fs/promises')
    for (const file of [s.location, `${s.location}-wal`]) {
      const content = await readFile(file).catch(() => Buffer.alloc(0))
      expect(content.includes(Buffer.from(secret))).toBe(false)
    }
  })

  it('refuses a sealed value swapped between rows, and a tampered one', async () => {
    const s = await store()
    await s.resources.put('default/key/one', bytes('one'), t1)
    await s.resources.put('default/key/two', bytes('two'), t1)
    const raw = new BetterSqlite3(s.location)
    try {
      raw
        .prepare(
          "UPDATE resource SET sealed = (SELECT sealed FROM resource WHERE path = 'default/key/two') WHERE path = 'default/key/one'",
        )
        .run()
      expect(await rejectedCode(s.resources.get('default/key/one'))).toBe(
        'ERR_KBS_ENVELOPE_INTEGRITY',
      )
      const row = raw
        .prepare("SELECT sealed FROM resource WHERE path = 'default/key/two'")
        .get() as { sealed: Buffer }
      row.sealed.writeUInt8(
        row.sealed.readUInt8(row.sealed.length - 1) ^ 0x80,
        row.sealed.length - 1,
      )
      raw.prepare("UPDATE resource SET sealed = ? WHERE path = 'default/key/two'").run(row.sealed)
      expect(await rejectedCode(s.resources.get('default/key/two'))).toBe(
        'ERR_KBS_ENVELOPE_INTEGRITY',
      )
    } finally {
      raw.close()
    }
  })

  it('refuses malformed paths', async () => {
    const { resources } = await store()
    for (const path of ['a/b', 'a/b/c/d', '../b/c', 'a//c', 'a/b/.c', 'a/b/c d', '']) {
      expect(await rejectedCode(resources.put(path, bytes('x'), t1)), path).toBe(
        'ERR_KBS_RESOURCE_PATH',
      )
      expect(await rejectedCode(resources.get(path)), path).toBe('ERR_KBS_RESOURCE_PATH')
    }
  })
})
