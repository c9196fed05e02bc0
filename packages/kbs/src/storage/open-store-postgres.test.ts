import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { POSTGRES_TEST_ROLE, rejected, startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import { parseDatabaseSetting } from '../server/config-database.ts'
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
    expect(stores.map((s) => s.appliedMigrations.length).sort()).toEqual([0, 0, 8])
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
    // The URL's own settings and the role's default must not lift it: they win over a
    // connection parameter, so the KBS SETs it on each connection.
    const sep = url.includes('?') ? '&' : '?'
    const lifting = [
      `${url}${sep}statement_timeout=0`,
      `${url}${sep}options=${encodeURIComponent('-c statement_timeout=0')}`,
    ]
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      await admin.query(
        `ALTER ROLE ${POSTGRES_TEST_ROLE} IN DATABASE statement_timeout SET statement_timeout = 0`,
      )
    } finally {
      await admin.end()
    }
    for (const [connect, shown] of [
      [{ url }, '4s'],
      [{ url, statementTimeoutMs: 1500 }, '1500ms'],
      ...lifting.map((lifted) => [{ url: lifted }, '4s'] as const),
    ] as const) {
      const connection = await connectPostgres(connect)
      try {
        // More than one query, so that more than one pooled connection is opened and checked.
        const shownBy = await Promise.all(
          [0, 1, 2].map(() => connection.executor.execute('SHOW statement_timeout', [])),
        )
        for (const { rows } of shownBy)
          expect(rows, connect.url).toEqual([{ statement_timeout: shown }])
      } finally {
        await connection.db.destroy()
      }
    }
    // A timeout PostgreSQL would refuse (its settings are 32-bit) is refused before connecting.
    const tooLong = await rejected(connectPostgres({ url, statementTimeoutMs: 2 ** 31 }))
    expect(tooLong.code).toBe('ERR_KBS_DATABASE_POOL')
  })

  it('connects over the Unix socket, a local transport that needs no TLS', async () => {
    const url = await cluster.createDatabase('unix_socket')
    const socket = `postgres:///unix_socket?host=${encodeURIComponent(cluster.socketDir)}&port=${String(cluster.port)}&user=${POSTGRES_TEST_ROLE}`
    expect(parseDatabaseSetting(socket, '--database')).toEqual({ kind: 'postgres', url: socket })
    const connection = await connectPostgres({ url: socket })
    try {
      const { rows } = await connection.executor.execute(
        'SELECT current_database() AS db, inet_server_addr() AS addr',
        [],
      )
      // No server address: the connection came over the socket, not TCP.
      expect(rows).toEqual([{ db: 'unix_socket', addr: null }])
    } finally {
      await connection.db.destroy()
    }
    expect(url).toContain('/unix_socket')
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
