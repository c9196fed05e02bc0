/**
 * The hot statements survive a newer replica's additive migration: they name their columns, and
 * a named statement PostgreSQL no longer accepts (0A000, 26000) is prepared again once.
 */
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { openTestStore, randomMasterKey, testDatabases } from './store-test-support.ts'
import { connectPostgres } from './dialect-postgres.ts'

// The real time: sessions are recorded only within the grace of the database's clock.
const at = new Date()

describe('prepared statements on PostgreSQL', () => {
  const databases = testDatabases('postgres')

  it('keep working after another process adds a column to every table they read', async () => {
    const fresh = await databases.fresh()
    const { kind, url } = fresh.database as { kind: 'postgres'; url: string }
    expect(kind).toBe('postgres')
    const store = await openTestStore({ ...fresh, masterKey: randomMasterKey() })
    const challenge = store.sessions.issueChallenge('snp', new Date(at.getTime() + 60_000))
    // Prepared on the pool's connections before the migration.
    await store.audit.append({ at, action: 'admin', outcome: 'changed' })
    await store.workloads.put('web', { v: 1 }, at)
    await store.workloads.get('web')
    await store.workloads.list()
    await store.sessions.recordAttested(challenge, 't', { at, action: 'attest', outcome: 'issued' })
    await store.sessions.get(challenge.id)
    const other = new pg.Client({ connectionString: url })
    await other.connect()
    for (const table of ['audit_entry', 'workload_version', 'rcar_session', 'resource'])
      await other.query(`ALTER TABLE ${table} ADD COLUMN extra_from_newer_replica text`)
    await other.end()
    expect((await store.audit.append({ at, action: 'admin', outcome: 'changed' })).id).toBe(3)
    expect((await store.workloads.get('web'))?.version).toBe(1)
    expect(await store.workloads.list()).toHaveLength(1)
    expect((await store.sessions.get(challenge.id))?.nonce).toBe(challenge.nonce)
    const next = store.sessions.issueChallenge('snp', new Date(at.getTime() + 60_000))
    expect(
      await store.sessions.recordRefused(next, { at, action: 'attest', outcome: 'denied' }),
    ).toBe(true)
  })

  it('prepares a statement again under a new name when PostgreSQL refuses the old one', async () => {
    const { url } = (await databases.fresh()).database as { url: string }
    const connection = await connectPostgres({ url, poolSize: 1 })
    try {
      await connection.executor.execute('CREATE TABLE t (id text PRIMARY KEY, v text)', [])
      await connection.executor.execute("INSERT INTO t VALUES ('a', 'b')", [])
      const select = 'SELECT * FROM t WHERE id = $1'
      expect((await connection.executor.execute(select, ['a'])).rows).toEqual([{ id: 'a', v: 'b' }])
      // SELECT * changes its result type: PostgreSQL answers 0A000 to the old prepared statement.
      await connection.executor.execute('ALTER TABLE t ADD COLUMN w text', [])
      for (let i = 0; i < 3; i++)
        expect((await connection.executor.execute(select, ['a'])).rows).toEqual([
          { id: 'a', v: 'b', w: null },
        ])
    } finally {
      await connection.db.destroy()
    }
  })
})
