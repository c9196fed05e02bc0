import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { runInProcess } from '../cli-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('a missing argument is a usage error (exit 2) in every command', () => {
  const dir = scratch.make('initguard-usage-')
  const doc = join(dir, 'initdata.toml')
  writeFileSync(doc, 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n')
  const cases: string[][] = [
    ['initdata', 'build'],
    ['initdata', 'build', '--aa'],
    ['initdata', 'digest'],
    ['initdata', 'digest', doc, '--tee'],
    ['initdata', 'digest', doc, '--encoding'],
    ['initdata', 'digest', doc, '--from'],
    ['initdata', 'encode'],
    ['initdata', 'decode'],
    ['initdata', 'decode', '--from-file'],
    ['initdata', 'image'],
    ['initdata', 'image', doc],
    ['initdata', 'image', doc, '-o'],
    ['initdata', 'read-image'],
    ['initdata', 'qemu-args'],
    ['initdata', 'qemu-args', doc],
    ['initdata', 'annotate'],
    ['initdata', 'annotate', doc],
    ['initdata', 'annotate', doc, '--initdata'],
    ['initdata', 'verify'],
    ['initdata', 'verify', doc],
    ['initdata', 'verify', doc, '--tee', 'snp'],
    ['initdata', 'verify', doc, '--tee', 'snp', '--expected'],
    ['initdata', 'verify', doc, '--tee', 'snp', '--expected', ''],
    ['initdata', 'verify', doc, '--tee', 'snp', '--expected', '  '],
    ['initdata', 'explain', doc, '--tee', 'snp'],
    ['initdata', 'explain', doc, '--tee', 'snp', '--expected', ''],
    ['evidence', 'inspect'],
    ['evidence', 'verify'],
    ['image', 'check'],
    ['image', 'pull'],
    ['demo', '--out'],
    ['initdata'],
    [],
  ]
  for (const args of cases) {
    it(`initguard ${args.join(' ').replace(doc, 'FILE')}`, async () => {
      const result = await runInProcess(args)
      expect(result.code, result.stderr).toBe(2)
      if (args.length > 1)
        expect(result.stderr).toMatch(/code: ERR_(USAGE|EXPECTED_MISSING|OPTION_VALUE)/)
    })
  }
})
