import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { resolveKbsServerConfig } from '../server/config.ts'
import { createKbsServices } from './kbs-services.ts'

const roots: string[] = []
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true })
})

async function config(masterKeyFile?: string): Promise<ReturnType<typeof resolveKbsServerConfig>> {
  const root = await mkdtemp(join(tmpdir(), 'kbs-services-'))
  roots.push(root)
  return resolveKbsServerConfig({
    dataDir: join(root, 'data'),
    listen: '127.0.0.1:0',
    adminPublicKey: ['admin.pub'],
    insecureHttp: true,
    ...(masterKeyFile === undefined ? {} : { masterKeyFile }),
  })
}

describe('the master key', () => {
  it('is generated on first run, or read from --master-key-file or the environment', async () => {
    const generated = await createKbsServices(await config(), { online: false })
    expect(generated.masterKeySource).toBe('generated')
    await generated.store.close()
    const dir = await mkdtemp(join(tmpdir(), 'kbs-key-'))
    roots.push(dir)
    const keyFile = join(dir, 'master.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 })
    const fromFile = await createKbsServices(await config(keyFile), { online: false })
    expect(fromFile.masterKeySource).toBe('file')
    await fromFile.store.close()
    const fromEnv = await createKbsServices(await config(), {
      online: false,
      masterKeyEnv: randomBytes(32).toString('base64'),
    })
    expect(fromEnv.masterKeySource).toBe('env')
    await fromEnv.store.close()
  })

  it('refuses a key file others may read, and a file and the environment at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kbs-key-'))
    roots.push(dir)
    const keyFile = join(dir, 'master.key')
    await writeFile(keyFile, randomBytes(32).toString('hex'), { mode: 0o644 })
    expect((await rejected(createKbsServices(await config(keyFile), { online: false }))).code).toBe(
      'ERR_KBS_MASTER_KEY_MODE',
    )
    await writeFile(join(dir, 'ok.key'), randomBytes(32).toString('hex'), { mode: 0o600 })
    const both = createKbsServices(await config(join(dir, 'ok.key')), {
      online: false,
      masterKeyEnv: randomBytes(32).toString('hex'),
    })
    expect((await rejected(both)).code).toBe('ERR_KBS_MASTER_KEY_SOURCES')
  })
})

describe('the database', () => {
  it('names where it is and the migrations this start applied: all at the first, none after', async () => {
    const first = await config()
    const created = await createKbsServices(first, { online: false })
    await created.store.close()
    expect(created.database.location).toBe(join(first.dataDir, 'kbs.sqlite'))
    const applied = created.database.appliedMigrations
    expect([applied.length, applied[0], applied.at(-1)]).toEqual([
      8,
      '001-initial',
      '008-audit-commit-order',
    ])
    const again = await createKbsServices(first, { online: false })
    await again.store.close()
    expect(again.database.appliedMigrations).toEqual([])
  })
})
