/**
 * `kbs serve` refuses a private key file that group or others may read or write, the TLS private
 * key (`--tls-key`) as the master key (`--master-key-file`): the same check, the same words, the
 * same exit (7, a local file error), before anything is served.
 */
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ensureGeneratedTlsIdentity } from '@initguard/kbs'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess } from '../cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('initguard kbs serve with a private key file others may read', () => {
  it('refuses --tls-key as it refuses --master-key-file: exit 7, the file, its mode, chmod 600', async () => {
    const dir = scratch.make('initguard-kbs-key-files-')
    const [priv, pub] = [join(dir, 'admin.key'), join(dir, 'admin.pub')]
    expect(
      (await runInProcess(['kbs', 'keygen', '--out-private', priv, '--out-public', pub])).code,
    ).toBe(0)
    const identity = await ensureGeneratedTlsIdentity(join(dir, 'made'), '127.0.0.1', new Date())
    const [tlsKey, masterKey] = [join(dir, 'tls.key'), join(dir, 'master.key')]
    copyFileSync(identity.keyFile, tlsKey)
    writeFileSync(masterKey, 'ab'.repeat(32), { mode: 0o600 })
    const serve = (dataDir: string): Promise<{ code: number; stderr: string }> =>
      runInProcess([
        ...['kbs', 'serve', '--data-dir', join(dir, dataDir), '--listen', '127.0.0.1:0'],
        ...['--admin-public-key', pub, '--master-key-file', masterKey],
        ...['--tls-cert', identity.certFile, '--tls-key', tlsKey],
      ])
    for (const [file, code, what] of [
      [tlsKey, 'ERR_KBS_TLS_KEY_MODE', 'TLS private key file'],
      [masterKey, 'ERR_KBS_MASTER_KEY_MODE', 'master key file'],
    ] as const) {
      chmodSync(file, 0o640)
      const run = await serve(`data-${what.split(' ')[0] ?? ''}`)
      expectRefused(run, 7, code)
      expect(run.stderr).toContain(
        `the ${what} ${file} is accessible to group or others (mode 640)`,
      )
      expect(run.stderr).toContain(`run chmod 600 ${file} (and consider the key exposed)`)
      expect(run.stderr).not.toMatch(/\n\s+at /)
      chmodSync(file, 0o600)
    }
  })
})
