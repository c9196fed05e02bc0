import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import { resolveKbsServerConfig } from '../server/config.ts'
import { createKbsServices } from './kbs-services.ts'

const roots: string[] = []
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true })
})

async function config(database: string) {
  const root = await mkdtemp(join(tmpdir(), 'kbs-services-pg-'))
  roots.push(root)
  return resolveKbsServerConfig({
    dataDir: join(root, 'data'),
    listen: '127.0.0.1:0',
    adminPublicKey: ['admin.pub'],
    insecureHttp: true,
    database,
  })
}

describe('the KBS services on PostgreSQL', () => {
  let cluster: PostgresCluster
  beforeAll(async () => {
    cluster = await startPostgresCluster()
  }, 120_000)
  afterAll(() => cluster.stop())

  it('refuse to generate a master key per replica', async () => {
    const url = await cluster.createDatabase('no_key')
    const error = await rejected(createKbsServices(await config(url), { online: false }))
    expect(error.code).toBe('ERR_KBS_MASTER_KEY_REQUIRED')
    expect(error.hint).toContain('INITGUARD_KBS_MASTER_KEY')
  })

  it('let replicas with the same key share the database, and refuse one with another key', async () => {
    const url = await cluster.createDatabase('shared')
    const masterKeyEnv = randomBytes(32).toString('base64')
    const first = await createKbsServices(await config(url), { online: false, masterKeyEnv })
    const second = await createKbsServices(await config(url), { online: false, masterKeyEnv })
    try {
      await first.store.resources.put('default/key/one', new Uint8Array([7]), new Date())
      expect(await second.store.resources.get('default/key/one')).toEqual(new Uint8Array([7]))
      const wrong = await rejected(
        createKbsServices(await config(url), {
          online: false,
          masterKeyEnv: randomBytes(32).toString('base64'),
        }),
      )
      expect(wrong.code).toBe('ERR_KBS_MASTER_KEY_WRONG')
      expect(wrong.message).not.toContain(cluster.password)
    } finally {
      await first.store.close()
      await second.store.close()
    }
  })
})
