/**
 * Upgrading a database that an OLD release wrote, not one the current code built to look old:
 * `packages/kbs/testdata/` holds a SQLite database and a plain-SQL `pg_dump` written by the real
 * `initguard kbs serve` of commit 5254a34 (schema `001-initial` only; see that folder's README for
 * what was done to them). Each test opens a copy with the current code, as an operator's upgrade
 * does, and checks the state docs/production.md promises: every resource opens with its bytes,
 * the workloads written without a MAC are listed as unusable and refused until put again (and a
 * TDX one that pins no kernel, as the old release allowed, is not used until put with the pins), a
 * workload deleted before tombstones is deleted again, the signing keys without a MAC are not
 * used, and the audit log reads back entry for entry, goes on from there and can be pruned.
 */
import { execFile } from 'node:child_process'
import { chmod, copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { POSTGRES_TEST_ROLE, postgresBinDir, rejectedCode, thrown } from '@initguard/testkit'
import { startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import type { UnauthenticatedWorkload } from '../ports.ts'
import { WorkloadCompiler } from '../workloads/compiled-workload.ts'
import { loadMasterKey } from './master-key.ts'
import { openTestStore, temporaryDir } from './store-test-support.ts'
import type { SqlKbsStore } from './open-store.ts'

const TESTDATA = fileURLToPath(new URL('../../testdata/', import.meta.url))
const run = promisify(execFile)
const at = new Date('2026-12-07T10:00:00.000Z')
const text = (value: string): Uint8Array => new TextEncoder().encode(value)

/** The 64 random bytes each old database holds at default/web/key (from its README). */
const WEB_KEY = {
  sqlite:
    '3290d361395a24ca3859684393ae866e7bcad805c302b68072888d7ae70c6733ccd7c30a94f7fcf5f021a4ac182d945f58227ea0a56ea0838d3dba67321a61d8',
  postgres:
    '7710da77577f02074d5e9fbe35af63894fb30dc7a81a08f40b9f04499ead631b24179152a0b42327d5e6af06b578ef63995f635da973ab1dce70cc20d654a9ea',
} as const

/** The old release's RCAR sessions: four attested (a token each), then two burnt by refusals. */
const SESSIONS = {
  sqlite: [
    '12a5a2b94769b3a20a2cdaeb525aa097',
    '8afa676cc5d9afb5d050ad720114b126',
    '1d9c3258339d4492eac6bd2b4f8a61f2',
    '1c272f365f51d0c2f3a7cc0e1374ca35',
    '16ffb234e42db31074c7b56b66e28a8d',
    'dbb970c644b06c79ad9204a3e9714f34',
  ],
  postgres: [
    'fd17da78ca42982b4bba9689ce9a0c18',
    '080f3c498ab670bd438c12547d487761',
    '6a37df31d26682028be68923d7620b5a',
    '58bd864d20807194639c1d2bd5d4324c',
    'ad585e9b31ae4e2c853f81581f058e90',
    '25b52e1fb951fb2bac86f34beb1f10a6',
  ],
} as const

/** The old release's audit log, as its `kbs admin audit` listed it: id, action, outcome, workload. */
const OLD_AUDIT: readonly (readonly [number, string, string, string | undefined])[] = [
  [1, 'admin', 'changed', 'app'],
  [2, 'admin', 'changed', 'app'],
  [3, 'admin', 'changed', 'web'],
  [4, 'admin', 'changed', 'gone'],
  [5, 'admin', 'changed', 'gone'],
  ...[6, 7, 8, 9, 10, 11].map((id) => [id, 'admin', 'changed', undefined] as const),
  [12, 'attest', 'issued', 'app'],
  [13, 'resource', 'released', 'app'],
  [14, 'attest', 'issued', 'app'],
  [15, 'resource', 'released', 'app'],
  [16, 'attest', 'issued', 'web'],
  [17, 'resource', 'released', 'web'],
  [18, 'admin', 'changed', undefined],
  [19, 'attest', 'issued', 'app'],
  [20, 'resource', 'released', 'app'],
  [21, 'attest', 'denied', undefined],
  [22, 'attest', 'denied', undefined],
]

const MIGRATED = [
  '002-workload-mac',
  '003-audit-session',
  '004-session-row-inline',
  '005-resource-generation',
  '006-signing-key-mac',
  '007-audit-prune-mark',
  '008-audit-commit-order',
]

/** A copy of the fixture's master key in `dir` (0600, as the KBS demands), loaded as `kbs serve` does. */
async function masterKeyFrom(fixture: string, dir: string): Promise<Uint8Array> {
  const file = join(dir, 'master.key')
  await copyFile(join(TESTDATA, fixture, 'master.key'), file)
  await chmod(file, 0o600)
  return (await loadMasterKey({ dataDir: dir, file })).key
}

/** Everything an operator checks after the upgrade, on either engine. */
function describeUpgradedState(open: () => Promise<SqlKbsStore>, engine: 'sqlite' | 'postgres') {
  it('applies migrations 002 to 008 at open', async () => {
    const store = await open()
    expect(store.appliedMigrations).toEqual(MIGRATED)
  })

  it('opens every resource with the bytes the old release stored; the deleted one stays absent', async () => {
    const store = await open()
    expect((await store.resources.list()).map(({ path, size }) => [path, size])).toEqual([
      ['default/app/over', 20],
      ['default/app/password', 25],
      ['default/web/key', 64],
    ])
    expect(await store.resources.get('default/app/password')).toEqual(
      text('hunter2 is not a password'),
    )
    // Put twice by the old release: the second value.
    expect(await store.resources.get('default/app/over')).toEqual(text('second, longer value'))
    expect(await store.resources.get('default/web/key')).toEqual(
      new Uint8Array(Buffer.from(WEB_KEY[engine], 'hex')),
    )
    expect(await store.resources.get('default/app/deleted')).toBeUndefined()
    // A row from before generations can be put over and deleted.
    await store.resources.put('default/app/over', text('third'), at)
    expect(await store.resources.get('default/app/over')).toEqual(text('third'))
    expect(await store.resources.delete('default/app/password')).toBe(true)
    expect(await store.resources.get('default/app/password')).toBeUndefined()
  })

  it('lists the workloads without a MAC as unusable and refuses them, until each is put again', async () => {
    const store = await open()
    const listed = await store.workloads.list()
    expect(listed.map((w) => [w.name, w.version, 'unusable' in w && w.unusable.code])).toEqual([
      ['app', 2, 'ERR_KBS_WORKLOAD_INTEGRITY'],
      ['web', 1, 'ERR_KBS_WORKLOAD_INTEGRITY'],
    ])
    for (const workload of listed) {
      expect('unusable' in workload && workload.unusable.message).toMatch(/has no MAC/)
    }
    expect(await rejectedCode(store.workloads.get('app'))).toBe('ERR_KBS_WORKLOAD_INTEGRITY')
    const shown = (await store.workloads.inspect('app')) as UnauthenticatedWorkload
    const definition: unknown = JSON.parse(shown.unauthenticatedDefinition)
    // The old release's second put of app (snp and tdx), not its first (snp only).
    expect(definition).toMatchObject({ name: 'app', tees: ['snp', 'tdx'] })
    // Its tdx block pins no kernel (no rtmr1, rtmr2), which the old release took: put back as it
    // was, the row authenticates but the KBS does not use it (nor would its admin API take it).
    const put = await store.workloads.put('app', definition, at)
    expect(put.version).toBe(3)
    expect((await store.workloads.get('app'))?.definition).toEqual(definition)
    const unpinned = thrown(() => new WorkloadCompiler().compile(put))
    expect(unpinned).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.tdx' } })
    expect((unpinned as Error).message).toContain('$.tdx pins no kernel')
    // Put again with the kernel pinned, it is used.
    const tdx = (definition as { tdx: Record<string, unknown> }).tdx
    const pinned = { ...tdx, rtmr1: ['11'.repeat(48)], rtmr2: ['22'.repeat(48)] }
    const repaired = await store.workloads.put(
      'app',
      { ...(definition as object), tdx: pinned },
      at,
    )
    expect(new WorkloadCompiler().compile(repaired).version).toBe(4)
    expect((await store.workloads.list()).map((w) => [w.name, 'unusable' in w])).toEqual([
      ['app', false],
      ['web', true],
    ])
  })

  it('keeps a workload the old release deleted deleted; deleting it again adds the tombstone', async () => {
    const store = await open()
    expect(await store.workloads.inspect('gone')).toBeUndefined()
    expect(await store.workloads.get('gone')).toBeUndefined()
    expect(await store.workloads.delete('gone', at)).toBe(true)
    expect(await store.workloads.delete('gone', at)).toBe(false)
    expect(await store.workloads.get('gone')).toBeUndefined()
  })

  it('uses neither of the old signing keys (no MAC), warns of each, and takes a new one', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    try {
      const store = await open()
      expect(await store.signingKeys.list()).toEqual([])
      const codes = warn.mock.calls.map(([, options]) =>
        typeof options === 'object' ? options.code : options,
      )
      expect(codes).toEqual(['ERR_KBS_SIGNING_KEY_INTEGRITY', 'ERR_KBS_SIGNING_KEY_INTEGRITY'])
      await store.signingKeys.rotate({
        kid: 'new',
        privateJwk: { kty: 'EC', d: 'x' },
        createdAt: at,
      })
      expect((await store.signingKeys.list()).map((key) => key.kid)).toEqual(['new'])
    } finally {
      warn.mockRestore()
    }
  })

  it('reads the old sessions back: four attested with their tokens, two consumed', async () => {
    const store = await open()
    const sessions = await Promise.all(SESSIONS[engine].map((id) => store.sessions.get(id)))
    expect(
      sessions.map((s) => [s?.state, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(s?.token ?? '')]),
    ).toEqual([
      ...[1, 2, 3, 4].map(() => ['attested', true]),
      ['consumed', false],
      ['consumed', false],
    ])
  })

  it('reads the old audit log back entry for entry, and appends after it', async () => {
    const store = await open()
    const entries = await store.audit.list({ limit: 100 })
    expect(entries.map((e) => [e.id, e.action, e.outcome, e.workload])).toEqual(OLD_AUDIT)
    expect(entries.every((e) => e.session === undefined)).toBe(true)
    expect(entries.filter((e) => e.outcome === 'denied').map((e) => e.reason)).toEqual([
      'ERR_KBS_NO_WORKLOAD',
      'ERR_KBS_NO_WORKLOAD',
    ])
    const next = await store.audit.append({ at, action: 'admin', outcome: 'changed', detail: 'x' })
    expect(next.id).toBe(23)
    // Migration 008: the old entries first, in id order, then the new one (a reader that had
    // paged the old release's log to its end goes on from there).
    expect((await store.audit.list({ limit: 100 })).map((e) => e.id)).toEqual([
      ...OLD_AUDIT.map(([id]) => id),
      23,
    ])
    expect((await store.audit.list({ afterId: 22, limit: 100 })).map((e) => e.id)).toEqual([23])
  })

  it('prunes the old audit log once migrated: through entry 11, recorded as entry 23', async () => {
    const store = await open()
    const result = await store.audit.prune({
      throughId: 11,
      now: new Date('2100-01-01T00:00:00.000Z'),
      olderThan: new Date('2100-01-01T00:00:00.000Z'),
      expectedCount: 11,
      recorded: (pruned) => ({
        at,
        action: 'admin',
        outcome: 'changed',
        detail: String(pruned.count),
      }),
    })
    expect([result.count, result.entryId]).toEqual([11, 23])
    const left = await store.audit.list({ limit: 100 })
    expect(left.map((e) => e.id)).toEqual([...OLD_AUDIT.slice(11).map(([id]) => id), 23])
    expect(
      await rejectedCode(
        store.audit.prune({
          throughId: 23,
          now: at,
          olderThan: at,
          recorded: () => ({ at, action: 'admin', outcome: 'changed' }),
        }),
      ),
    ).toBe('ERR_KBS_AUDIT_PRUNE_NEWEST')
  })
}

describe('a SQLite database written by 5254a34 (schema 001)', () => {
  const open = async (): Promise<SqlKbsStore> => {
    const dataDir = join(await temporaryDir(), 'data')
    await mkdir(dataDir, { mode: 0o700 })
    await copyFile(join(TESTDATA, 'sqlite-5254a34', 'kbs.sqlite'), join(dataDir, 'kbs.sqlite'))
    await chmod(join(dataDir, 'kbs.sqlite'), 0o600)
    return openTestStore({ dataDir, masterKey: await masterKeyFrom('sqlite-5254a34', dataDir) })
  }
  describeUpgradedState(open, 'sqlite')
})

describe('a PostgreSQL database written by 5254a34 (schema 001), restored from its pg_dump', () => {
  let cluster: PostgresCluster
  let databases = 0
  beforeAll(async () => {
    cluster = await startPostgresCluster()
  }, 120_000)
  afterAll(() => cluster.stop())

  const restored = async (): Promise<string> => {
    databases += 1
    const name = `old_${String(databases)}`
    const url = await cluster.createDatabase(name)
    const psql = join(await postgresBinDir(), 'psql')
    const target = ['-h', cluster.socketDir, '-p', String(cluster.port), '-U', POSTGRES_TEST_ROLE]
    await run(
      psql,
      [...target, '-d', name, '-q', '-v', 'ON_ERROR_STOP=1', '-f', 'postgres-5254a34/dump.sql'],
      { cwd: TESTDATA, timeout: 60_000 },
    )
    return url
  }

  const open = async (): Promise<SqlKbsStore> => {
    const url = await restored()
    const dataDir = await temporaryDir()
    const masterKey = await masterKeyFrom('postgres-5254a34', dataDir)
    return openTestStore({ dataDir, masterKey, database: { kind: 'postgres', url } })
  }
  describeUpgradedState(open, 'postgres')

  it('two replicas starting at once on it migrate it once, and both read the resources', async () => {
    const url = await restored()
    const replica = async (): Promise<SqlKbsStore> => {
      const dataDir = await temporaryDir()
      const masterKey = await masterKeyFrom('postgres-5254a34', dataDir)
      return openTestStore({ dataDir, masterKey, database: { kind: 'postgres', url } })
    }
    const [first, second] = await Promise.all([replica(), replica()])
    expect([first.appliedMigrations, second.appliedMigrations].sort()).toEqual([[], MIGRATED])
    for (const store of [first, second]) {
      expect(await store.resources.get('default/app/password')).toEqual(
        text('hunter2 is not a password'),
      )
    }
  })
})
