import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import { STORE_CALL_DEADLINE_MS } from '../server/store-availability.ts'
import {
  POSTGRES_LARGEST_INLINE_ROW,
  POSTGRES_STATEMENT_TIMEOUT_MS,
  connectPostgres,
} from './dialect-postgres.ts'
import { openKbsStore } from './open-store.ts'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')

describe('openKbsStore on PostgreSQL', () => {
  let cluster: PostgresCluster
  beforeAll(async () => {
    cluster = await startPostgresCluster()
  }, 120_000)
  afterAll(() => cluster.stop())

  it('has three replicas starting at once on a fresh database migrate it exactly once', async () => {
    const url = await cluster.createDatabase('concurrent')
    const masterKey = randomMasterKey()
    const stores = await Promise.all(
      [1, 2, 3].map(async () =>
        openTestStore({
          dataDir: await temporaryDir(),
          masterKey,
          database: { kind: 'postgres', url },
        }),
      ),
    )
    expect(stores.map((s) => s.appliedMigrations.length).sort()).toEqual([0, 0, 4])
    expect(stores.every((s) => s.kind === 'postgres')).toBe(true)
    await stores[0]?.workloads.put('web', { v: 1 }, at)
    expect((await stores[2]?.workloads.get('web'))?.version).toBe(1)
  })

  it('keeps a session row with its ~3 kB token whole in the table, none of it in TOAST', async () => {
    const url = await cluster.createDatabase('session_inline')
    const store = await openTestStore({
      dataDir: await temporaryDir(),
      masterKey: randomMasterKey(),
      database: { kind: 'postgres', url },
    })
    const connection = await connectPostgres({ url })
    try {
      const expires = new Date(Date.now() + 300_000)
      // Random base64url, as a token is: PostgreSQL's compression does not shrink it.
      const token = randomBytes(2400).toString('base64url')
      for (let n = 0; n < 20; n++) {
        const challenge = store.sessions.issueChallenge('snp', expires)
        const entry = { at, action: 'attest', outcome: 'issued' } as const
        expect(await store.sessions.recordAttested(challenge, token, entry)).toBe(true)
      }
      const { rows } = await connection.executor.execute(
        `SELECT c.reloptions, pg_relation_size(c.reltoastrelid) AS toast,
           (SELECT count(*) FROM rcar_session) AS sessions
         FROM pg_class c WHERE c.relname = 'rcar_session'`,
        [],
      )
      expect(rows).toEqual([
        {
          reloptions: [`toast_tuple_target=${String(POSTGRES_LARGEST_INLINE_ROW)}`],
          toast: '0',
          sessions: '20',
        },
      ])
    } finally {
      await connection.db.destroy()
      await store.close()
    }
  })

  it('sets a statement timeout on its connections, by default under the store-call deadline', async () => {
    expect(POSTGRES_STATEMENT_TIMEOUT_MS).toBeLessThan(STORE_CALL_DEADLINE_MS)
    const url = await cluster.createDatabase('statement_timeout')
    for (const [options, shown] of [
      [{}, '4s'],
      [{ statementTimeoutMs: 1500 }, '1500ms'],
    ] as const) {
      const connection = await connectPostgres({ url, ...options })
      try {
        const { rows } = await connection.executor.execute('SHOW statement_timeout', [])
        expect(rows).toEqual([{ statement_timeout: shown }])
      } finally {
        await connection.db.destroy()
      }
    }
  })

  it('names the database without its password, and refuses another master key', async () => {
    const url = await cluster.createDatabase('fingerprint')
    const dataDir = await temporaryDir()
    const store = await openKbsStore({
      dataDir,
      masterKey: randomMasterKey(),
      database: { kind: 'postgres', url },
    })
    expect(store.location).not.toContain(cluster.password)
    expect(store.location).toBe(url.replace(cluster.password, 'xxxxx'))
    await store.close()
    const error = await rejected(
      openKbsStore({ dataDir, masterKey: randomMasterKey(), database: { kind: 'postgres', url } }),
    )
    expect(error.code).toBe('ERR_KBS_MASTER_KEY_WRONG')
    expect(error.message).not.toContain(cluster.password)
  })

  it('says the database is unavailable (without the password) when it cannot be reached', async () => {
    const dataDir = await temporaryDir()
    const wrongPassword = cluster.url().replace(cluster.password, 'not-the-password')
    const refused = await rejected(
      openKbsStore({
        dataDir,
        masterKey: randomMasterKey(),
        database: { kind: 'postgres', url: wrongPassword },
      }),
    )
    expect([refused.code, refused.category]).toEqual(['ERR_KBS_STORE_UNAVAILABLE', 'unavailable'])
    expect(refused.message).toMatch(/password authentication failed/)
    expect(JSON.stringify(refused.toJSON())).not.toContain('not-the-password')
    const closedPort = `postgres://initguard:secret-word@127.0.0.1:1/postgres`
    const down = await rejected(
      openKbsStore({
        dataDir,
        masterKey: randomMasterKey(),
        database: { kind: 'postgres', url: closedPort, connectTimeoutMs: 2000 },
      }),
    )
    expect(down.code).toBe('ERR_KBS_STORE_UNAVAILABLE')
    expect(down.message).not.toContain('secret-word')
  })

  it('refuses a URL of another scheme and a pool bound that is not a positive integer', async () => {
    const dataDir = await temporaryDir()
    const masterKey = randomMasterKey()
    const mysql = await rejected(
      openKbsStore({
        dataDir,
        masterKey,
        database: { kind: 'postgres', url: 'mysql://u:hunter2@127.0.0.1/kbs' },
      }),
    )
    expect(mysql.code).toBe('ERR_KBS_DATABASE_URL')
    expect(mysql.message).not.toContain('hunter2')
    for (const poolSize of [0, -1, 1.5, Number.NaN]) {
      const error = await rejected(
        openKbsStore({
          dataDir,
          masterKey,
          database: { kind: 'postgres', url: cluster.url(), poolSize },
        }),
      )
      expect(error.code, String(poolSize)).toBe('ERR_KBS_DATABASE_POOL')
    }
  })
})
