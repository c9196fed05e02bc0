/**
 * Paths whose entries another user could replace: a parent or any ancestor writable by group or
 * others without the sticky bit, or owned by another user; reached as given or through a symbolic
 * link. Real directories and modes; the other-owner cases need root (chown).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { replaceableBy } from './trusted-path.ts'

const base = mkdtempSync(join(tmpdir(), 'initguard-trusted-path-'))
afterAll(() => {
  rmSync(base, { recursive: true, force: true })
})
let count = 0
/** A new directory under the test's base, with `mode` (umask aside). */
function directory(mode = 0o755, parent = base): string {
  const dir = join(parent, `d${String(++count)}`)
  mkdirSync(dir)
  chmodSync(dir, mode)
  return dir
}

describe('replaceableBy', () => {
  it('nothing for directories only the owner can write, sticky shared ones, or a path not made yet', async () => {
    expect(await replaceableBy(join(directory(0o755), 'run'))).toBeUndefined()
    expect(await replaceableBy(join(directory(0o700), 'agent.sock'))).toBeUndefined()
    expect(await replaceableBy(join(directory(0o1777), 'run'))).toBeUndefined()
    expect(await replaceableBy(join(directory(0o755), 'not', 'yet', 'run'))).toBeUndefined()
  })

  it('a parent or any ancestor writable by group or others, not sticky', async () => {
    for (const mode of [0o777, 0o775, 0o757, 0o722]) {
      const open = directory(mode)
      expect(await replaceableBy(join(open, 'run'))).toContain(`${open} is writable`)
      const deeper = directory(0o700, open)
      expect(await replaceableBy(join(deeper, 'run'))).toContain(`${open} is writable`)
    }
  })

  it('through a symbolic link: the link’s own directory, and where it leads', async () => {
    const open = directory(0o777)
    const target = directory(0o700, open)
    const link = join(directory(0o755), 'link')
    symlinkSync(target, link)
    expect(await replaceableBy(join(link, 'run'))).toContain(`${open} is writable`)
    const safe = directory(0o700)
    const inOpen = join(open, 'link')
    symlinkSync(safe, inOpen)
    expect(await replaceableBy(join(inOpen, 'run'))).toContain(`${open} is writable`)
    // Not made yet below the link: where it leads is still checked.
    expect(await replaceableBy(join(link, 'not', 'yet', 'run'))).toContain(`${open} is writable`)
  })

  it.runIf(process.getuid?.() === 0)('a directory of another user (not root)', async () => {
    const foreign = directory(0o700)
    chownSync(foreign, 4242, 4242)
    expect(await replaceableBy(join(foreign, 'run'))).toContain(`${foreign} belongs to uid 4242`)
    const inSticky = directory(0o755, directory(0o1777))
    chownSync(inSticky, 4242, 4242)
    expect(await replaceableBy(join(inSticky, 'run'))).toContain('belongs to uid 4242')
  })
})
