import { chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { openKbsStore } from './open-store.ts'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')

describe('openKbsStore', () => {
  it('creates the data directory (0700) and the database (0600, WAL) on first run', async () => {
    const dataDir = join(await temporaryDir(), 'data')
    const store = await openTestStore({ dataDir, masterKey: randomMasterKey() })
    expect(store.location).toBe(join(dataDir, 'kbs.sqlite'))
    expect(store.appliedMigrations).toEqual([
      '001-initial',
      '002-workload-mac',
      '003-audit-session',
      '004-session-row-inline',
      '005-resource-generation',
      '006-signing-key-mac',
      '007-audit-prune-mark',
      '008-audit-commit-order',
    ])
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    expect((await stat(store.location)).mode & 0o777).toBe(0o600)
    await store.ping()
    const raw = new BetterSqlite3(store.location, { readonly: true })
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      raw.close()
    }
  })

  it('keeps everything across a reopen, and migrating again is a no-op', async () => {
    const dataDir = await temporaryDir()
    const masterKey = randomMasterKey()
    const first = await openKbsStore({ dataDir, masterKey })
    await first.resources.put('default/key/one', new Uint8Array([1, 2, 3]), at)
    await first.workloads.put('web', { tee: ['snp'] }, at)
    await first.audit.append({ at, action: 'admin', outcome: 'changed', detail: 'put' })
    await first.signingKeys.add({ kid: 'k1', privateJwk: { kty: 'EC', d: 'x' }, createdAt: at })
    await first.close()
    const second = await openTestStore({ dataDir, masterKey })
    expect(second.appliedMigrations).toEqual([])
    expect(await second.resources.get('default/key/one')).toEqual(new Uint8Array([1, 2, 3]))
    expect((await second.workloads.get('web'))?.definition).toEqual({ tee: ['snp'] })
    expect(await second.audit.list({ limit: 10 })).toHaveLength(1)
    expect((await second.signingKeys.list())[0]?.privateJwk).toEqual({ kty: 'EC', d: 'x' })
  })

  it('refuses to open a database under another master key, saying so', async () => {
    const dataDir = await temporaryDir()
    await (await openKbsStore({ dataDir, masterKey: randomMasterKey() })).close()
    const error = await rejected(openKbsStore({ dataDir, masterKey: randomMasterKey() }))
    expect(error.code).toBe('ERR_KBS_MASTER_KEY_WRONG')
    expect(error.message).toContain(join(dataDir, 'kbs.sqlite'))
  })

  it('rolls back a migration that fails half way on SQLite, so the next start runs it whole', async () => {
    const dataDir = join(await temporaryDir(), 'data')
    const masterKey = randomMasterKey()
    // What 001-initial creates last is already there: it fails after creating the other tables.
    await openTestStore({ dataDir, masterKey }).then((store) => store.close())
    const file = join(dataDir, 'kbs.sqlite')
    const fresh = (): void => {
      const raw = new BetterSqlite3(file)
      try {
        const tables = raw
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
          )
          .all() as { name: string }[]
        raw.exec('PRAGMA foreign_keys = OFF')
        for (const { name } of tables) raw.exec(`DROP TABLE "${name}"`)
        raw.exec('CREATE TABLE signing_key (kid text)')
      } finally {
        raw.close()
      }
    }
    fresh()
    const failed = await rejected(openKbsStore({ dataDir, masterKey }))
    expect(failed.code).toBe('ERR_KBS_STORE_MIGRATION')
    const raw = new BetterSqlite3(file)
    try {
      expect(
        raw
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all(),
      ).toEqual([{ name: 'signing_key' }])
      raw.exec('DROP TABLE signing_key')
    } finally {
      raw.close()
    }
    const store = await openKbsStore({ dataDir, masterKey })
    expect(store.appliedMigrations).toContain('001-initial')
    await store.close()
  })

  it('refuses a database a newer version has migrated', async () => {
    const dataDir = await temporaryDir()
    const masterKey = randomMasterKey()
    const store = await openKbsStore({ dataDir, masterKey })
    const location = store.location
    await store.close()
    const raw = new BetterSqlite3(location)
    raw
      .prepare('INSERT INTO kysely_migration (name, timestamp) VALUES (?, ?)')
      .run('999-future', at.toISOString())
    raw.close()
    const error = await rejected(openKbsStore({ dataDir, masterKey }))
    expect(error.code).toBe('ERR_KBS_STORE_NEWER')
    expect(error.message).toContain('999-future')
  })

  it('refuses a data directory open to group or others, and a file that is not a database', async () => {
    const dataDir = await temporaryDir()
    await chmod(dataDir, 0o755)
    expect(await rejectedCode(openKbsStore({ dataDir, masterKey: randomMasterKey() }))).toBe(
      'ERR_KBS_DATA_DIR_MODE',
    )
    await chmod(dataDir, 0o700)
    const { writeFile } = await import('node:fs/promises')
    await writeFile(
      join(dataDir, 'kbs.sqlite'),
      'not a database, just some text that is long enough '.repeat(20),
    )
    const error = await rejected(openKbsStore({ dataDir, masterKey: randomMasterKey() }))
    expect(['ERR_KBS_STORE_OPEN', 'ERR_KBS_STORE_MIGRATION']).toContain(error.code)
    expect(error.category).toBe('io')
  })

  it('refuses a master key of the wrong length', async () => {
    const dataDir = await temporaryDir()
    expect(await rejectedCode(openKbsStore({ dataDir, masterKey: new Uint8Array(31) }))).toBe(
      'ERR_KBS_MASTER_KEY_LENGTH',
    )
  })
})
