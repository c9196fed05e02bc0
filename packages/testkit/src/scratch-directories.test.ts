import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ScratchDirectories } from './scratch-directories.ts'

describe('ScratchDirectories', () => {
  it('makes fresh directories under the temporary directory and removes them with their content', () => {
    const scratch = new ScratchDirectories()
    const first = scratch.make('initguard-scratch-test-')
    const second = scratch.make('initguard-scratch-test-')
    expect(first).not.toBe(second)
    expect(dirname(first)).toBe(tmpdir())
    expect(basename(first)).toMatch(/^initguard-scratch-test-.{6}$/)
    expect(readdirSync(first)).toEqual([])
    mkdirSync(join(first, 'nested'))
    writeFileSync(join(first, 'nested', 'file'), 'x')
    scratch.removeAll()
    expect(existsSync(first)).toBe(false)
    expect(existsSync(second)).toBe(false)
  })

  it('tolerates a directory the test removed itself, and removes each only once', () => {
    const scratch = new ScratchDirectories()
    const gone = scratch.make('initguard-scratch-test-')
    const kept = scratch.make('initguard-scratch-test-')
    rmSync(gone, { recursive: true })
    scratch.removeAll()
    expect(existsSync(kept)).toBe(false)
    // A directory that reappears under the same name after removeAll is not the set's any more.
    mkdirSync(kept)
    scratch.removeAll()
    expect(existsSync(kept)).toBe(true)
    rmSync(kept, { recursive: true })
  })
})
