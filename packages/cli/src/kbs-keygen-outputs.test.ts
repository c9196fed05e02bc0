/**
 * `kbs keygen`'s outputs: one path given for both keys, a directory that does not exist, files
 * that exist. Both keys are written or neither; the private key is never lost to the public one;
 * an existing pair is refused and left as it was unless --replace, and replacing it is said.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { jsonError, kbsKeygen, runInProcess, type CliRun } from './cli-test-support.ts'

const dir = await mkdtemp(join(tmpdir(), 'kbs-keygen-'))
const at = (name: string): string => join(dir, name)
afterAll(async () => rm(dir, { recursive: true, force: true }))

const keygen = (priv: string, pub: string, ...more: string[]): Promise<CliRun> =>
  runInProcess(['kbs', 'keygen', '--out-private', priv, '--out-public', pub, ...more])

describe('kbs keygen outputs', () => {
  it('refuses one path for both keys: the private key would be overwritten by the public one', async () => {
    const run = await keygen(at('same'), at('same'), '--json')
    expect(run.code).toBe(2)
    expect(jsonError(run).code).toBe('ERR_USAGE')
    expect(jsonError(run).message).toMatch(/--out-private and --out-public name the same file/)
    await expect(stat(at('same'))).rejects.toThrow()
    // Spelt differently, the same file all the same.
    const other = await keygen(at('same2'), `${dir}/./same2`)
    expect(other.code).toBe(2)
    await expect(stat(at('same2'))).rejects.toThrow()
  })

  it('writes both keys or neither: a public key that cannot be written leaves the private key as it was', async () => {
    await kbsKeygen(at('kept'))
    const before = await readFile(at('kept.key'))
    const run = await keygen(at('kept.key'), at('missing/kept.pub'), '--replace')
    expect(run.code).toBe(7)
    expect(run.stderr).toContain('code: ERR_FILE_WRITE')
    expect(await readFile(at('kept.key'))).toEqual(before)
    // Without --replace, a new private key is not written either.
    const fresh = await keygen(at('fresh.key'), at('missing/fresh.pub'))
    expect(fresh.code).toBe(7)
    await expect(stat(at('fresh.key'))).rejects.toThrow()
    // No temporary file is left behind either.
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('refuses an existing key pair without --replace and leaves it as it was', async () => {
    await kbsKeygen(at('mine'))
    const [key, pub] = [await readFile(at('mine.key')), await readFile(at('mine.pub'))]
    const run = await keygen(at('mine.key'), at('mine.pub'), '--json')
    expect(run.code).toBe(2)
    expect(jsonError(run).code).toBe('ERR_FILE_EXISTS')
    expect(await readFile(at('mine.key'))).toEqual(key)
    expect(await readFile(at('mine.pub'))).toEqual(pub)
    expect((await stat(at('mine.key'))).mode & 0o777).toBe(0o600)
  })

  it('says so when --replace replaces an existing key pair (its admins are locked out of every KBS that trusts it)', async () => {
    await kbsKeygen(at('old'))
    const before = await readFile(at('old.key'), 'utf8')
    const text = await keygen(at('old.key'), at('old.pub'), '--replace')
    expect(text.code).toBe(0)
    expect(text.stderr).toMatch(/warning: replaced the existing admin private key .*old\.key/)
    expect(await readFile(at('old.key'), 'utf8')).not.toBe(before)
    expect((await stat(at('old.key'))).mode & 0o777).toBe(0o600)
    const json = await keygen(at('old.key'), at('old.pub'), '--replace', '--json')
    expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings).toEqual([
      expect.stringMatching(/replaced the existing admin private key/),
      expect.stringMatching(/replaced the existing admin public key/),
    ])
  })
})
