/**
 * A replica waiting for another's migrations waits a bounded time, then says why (503-class), and
 * starts once the lock is free.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

/** The key `dialect-postgres.ts` locks (kept there, private: this is its wire contract). */
const MIGRATION_LOCK_KEY = 0x1a17_6a4d_6b62_73n.toString()

describe('the migration lock on PostgreSQL', () => {
  let cluster: PostgresCluster
  beforeAll(async () => {
    cluster = await startPostgresCluster()
  }, 120_000)
  afterAll(() => cluster.stop())

  it('gives up after migrationLockTimeoutMs with ERR_KBS_MIGRATION_LOCK_TIMEOUT, then starts once free', async () => {
    const url = await cluster.createDatabase('locked')
    const holder = new pg.Client({ connectionString: url })
    await holder.connect()
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
      const options = {
        masterKey: randomMasterKey(),
        database: { kind: 'postgres', url, migrationLockTimeoutMs: 600 } as const,
      }
      const started = performance.now()
      const error = await rejected(openTestStore({ ...options, dataDir: await temporaryDir() }))
      expect(error.code).toBe('ERR_KBS_MIGRATION_LOCK_TIMEOUT')
      expect(error.category).toBe('unavailable')
      expect(error.message).not.toContain(cluster.password)
      expect(performance.now() - started).toBeGreaterThanOrEqual(550)
      const opening = openTestStore({
        ...options,
        database: { ...options.database, migrationLockTimeoutMs: 10_000 },
        dataDir: await temporaryDir(),
      })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      expect((await opening).appliedMigrations).toEqual([
        '001-initial',
        '002-workload-mac',
        '003-audit-session',
        '004-session-row-inline',
        '005-resource-generation',
        '006-signing-key-mac',
        '007-audit-prune-mark',
        '008-audit-commit-order',
      ])
    } finally {
      await holder.end()
    }
  })
})
