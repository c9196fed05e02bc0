/**
 * `kbs keygen` never loses a private key: not to the public key written over it (one path for
 * both), and not to a new pair written over an existing one unless `--replace` says so.
 */
import { lstatSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess } from '../cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const keygen = (priv: string, pub: string, ...extra: string[]) =>
  runInProcess(['kbs', 'keygen', '--out-private', priv, '--out-public', pub, ...extra])

describe('initguard kbs keygen', () => {
  it('refuses one path for both keys (the public key would replace the private one)', async () => {
    const dir = scratch.make('initguard-keygen-')
    const same = join(dir, 'admin.key')
    expectRefused(await keygen(same, join(dir, '.', 'admin.key')), 2, 'ERR_USAGE')
    expect(() => lstatSync(same)).toThrow()
  })

  it('refuses to replace an existing private or public key, and writes neither half', async () => {
    const dir = scratch.make('initguard-keygen-')
    const [priv, pub] = [join(dir, 'admin.key'), join(dir, 'admin.pub')]
    expect((await keygen(priv, pub)).code).toBe(0)
    const [oldPriv, oldPub] = [readFileSync(priv, 'utf8'), readFileSync(pub, 'utf8')]

    const again = await keygen(priv, join(dir, 'other.pub'))
    expectRefused(again, 2, 'ERR_FILE_EXISTS')
    expect(again.stderr).toContain('--replace')
    expect(readFileSync(priv, 'utf8')).toBe(oldPriv)
    expect(() => lstatSync(join(dir, 'other.pub'))).toThrow()

    expectRefused(await keygen(join(dir, 'other.key'), pub), 2, 'ERR_FILE_EXISTS')
    expect(readFileSync(pub, 'utf8')).toBe(oldPub)
    expect(() => lstatSync(join(dir, 'other.key'))).toThrow()
  })

  it('replaces both with --replace, the private key 0600 again', async () => {
    const dir = scratch.make('initguard-keygen-')
    const [priv, pub] = [join(dir, 'admin.key'), join(dir, 'admin.pub')]
    writeFileSync(priv, 'old', { mode: 0o644 })
    writeFileSync(pub, 'old')
    const run = await keygen(priv, pub, '--replace')
    expect(run.code, run.stderr).toBe(0)
    expect(readFileSync(priv, 'utf8')).toContain('BEGIN PRIVATE KEY')
    expect(lstatSync(priv).mode & 0o777).toBe(0o600)
    expect(readFileSync(pub, 'utf8')).toContain('BEGIN PUBLIC KEY')
  })
})
