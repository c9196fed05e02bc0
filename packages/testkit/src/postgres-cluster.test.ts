import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_TEST_ROLE, postgresBinDir, startPostgresCluster } from './postgres-cluster.ts'
import type { PostgresCluster } from './postgres-cluster.ts'

const run = promisify(execFile)

/** psql over TCP with a password, as a client would connect. */
async function query(cluster: PostgresCluster, database: string, sql: string, password?: string) {
  const result = await run(
    join(await postgresBinDir(), 'psql'),
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.port),
      '-U',
      POSTGRES_TEST_ROLE,
      '-d',
      database,
    ].concat(['-tAc', sql]),
    { env: { ...process.env, PGPASSWORD: password ?? cluster.password } },
  )
  return result.stdout.trim()
}

describe('startPostgresCluster', () => {
  let cluster: PostgresCluster
  beforeAll(async () => {
    cluster = await startPostgresCluster()
  }, 120_000)
  afterAll(() => cluster.stop())

  it('serves a password-protected database over TCP on 127.0.0.1', async () => {
    const url = await cluster.createDatabase('first')
    expect(url).toBe(cluster.url('first'))
    expect(new URL(url).hostname).toBe('127.0.0.1')
    expect(await query(cluster, 'first', 'SELECT current_database()')).toBe('first')
    await expect(query(cluster, 'first', 'SELECT 1', 'wrong')).rejects.toThrow(/password/)
    await expect(cluster.createDatabase('Bad-Name')).rejects.toThrow(/not a test database name/)
  })

  it('keeps the data across a server restart on the same port', async () => {
    await cluster.createDatabase('kept')
    await query(cluster, 'kept', 'CREATE TABLE t (v int); INSERT INTO t VALUES (42)')
    await cluster.stopServer()
    await expect(query(cluster, 'kept', 'SELECT v FROM t')).rejects.toThrow()
    await cluster.startServer()
    expect(await query(cluster, 'kept', 'SELECT v FROM t')).toBe('42')
  })

  it('is throwaway and without TLS by default: no fsync, no ssl', async () => {
    expect(await query(cluster, 'postgres', 'SHOW fsync')).toBe('off')
    expect(await query(cluster, 'postgres', 'SHOW ssl')).toBe('off')
  })

  it('removes its directory on stop, and stop is idempotent; crash-safe when asked', async () => {
    const other = await startPostgresCluster({ durability: 'crash-safe' })
    expect(await query(other, 'postgres', 'SHOW fsync')).toBe('on')
    expect(await query(other, 'postgres', 'SHOW full_page_writes')).toBe('on')
    expect(await query(other, 'postgres', 'SHOW synchronous_commit')).toBe('off')
    const dataDir = await query(other, 'postgres', 'SHOW data_directory')
    expect(existsSync(dataDir)).toBe(true)
    await other.stop()
    await other.stop()
    expect(existsSync(dataDir)).toBe(false)
  }, 120_000)
})
