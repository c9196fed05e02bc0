/**
 * `kbs serve --data-dir` naming a file is the user's error (exit 7, what is in the way and what
 * to give instead), never an internal error with a stack trace.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess } from '../cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('initguard kbs serve --data-dir', () => {
  it('refuses a file, or a path under one, as a local file error naming it', async () => {
    const dir = scratch.make('initguard-kbs-data-dir-')
    const [priv, pub] = [join(dir, 'admin.key'), join(dir, 'admin.pub')]
    expect(
      (await runInProcess(['kbs', 'keygen', '--out-private', priv, '--out-public', pub])).code,
    ).toBe(0)
    const file = join(dir, 'not-a-dir')
    writeFileSync(file, 'x')
    for (const dataDir of [file, join(file, 'kbs')]) {
      const run = await runInProcess([
        ...['kbs', 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
        ...['--admin-public-key', pub, '--insecure-http'],
      ])
      expectRefused(run, 7, 'ERR_KBS_DATA_DIR')
      expect(run.stderr).toContain('is in the way')
      expect(run.stderr).not.toMatch(/\n\s+at /)
    }
  })
})
