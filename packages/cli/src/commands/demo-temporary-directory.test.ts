/**
 * `demo --out DIR` takes a new or empty directory only: a file is a usage error (never an internal
 * one with a stack trace), and a directory that holds anything is refused before the demo writes
 * its fixed file names over what is there.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess } from '../cli-test-support.ts'
import { withDemoDirectory } from './demo-temporary-directory.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('initguard demo --out', () => {
  it('refuses a file (exit 2), without a stack trace', async () => {
    const file = join(scratch.make('initguard-demo-out-'), 'initdata.toml')
    writeFileSync(file, 'mine')
    const run = await runInProcess(['demo', '--out', file])
    expectRefused(run, 2, 'ERR_DEMO_OUT_NOT_A_DIRECTORY')
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(readFileSync(file, 'utf8')).toBe('mine')
  })

  it('refuses a directory that holds anything, and writes nothing there', async () => {
    const dir = scratch.make('initguard-demo-out-')
    writeFileSync(join(dir, 'initdata.toml'), 'mine')
    const run = await runInProcess(['demo', '--out', dir])
    expectRefused(run, 2, 'ERR_DEMO_OUT_NOT_EMPTY')
    expect(readdirSync(dir)).toEqual(['initdata.toml'])
    expect(readFileSync(join(dir, 'initdata.toml'), 'utf8')).toBe('mine')
  })

  it('refuses arguments: the demo takes options only', async () => {
    expectRefused(await runInProcess(['demo', 'stray']), 2, 'ERR_USAGE')
  })

  it('runs in a new directory (made, parents too) or an empty one, and keeps it', async () => {
    const base = scratch.make('initguard-demo-out-')
    const fresh = join(base, 'a', 'b')
    const empty = join(base, 'empty')
    mkdirSync(empty)
    for (const dir of [fresh, empty]) {
      const seen: (string | undefined)[] = []
      const code = await withDemoDirectory(dir, (out, kept) => {
        seen.push(out, kept)
        return Promise.resolve(0)
      })
      expect(code).toBe(0)
      expect(seen).toEqual([dir, dir])
      expect(readdirSync(dir)).toEqual([])
    }
  })
})
