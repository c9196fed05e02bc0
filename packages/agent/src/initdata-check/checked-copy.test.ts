/**
 * The checked copy's path and write: refused before the check when it could not hold the copy
 * safely (a directory, a symbolic link, a FIFO, a directory another user could replace it in),
 * and written 0600 in one rename, replacing an older copy, leaving no temporary file behind.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { checkCopyTarget, writeCheckedCopy } from './checked-copy.ts'

const base = mkdtempSync(join(tmpdir(), 'initguard-checked-copy-'))
afterAll(() => {
  rmSync(base, { recursive: true, force: true })
})
let count = 0
function directory(mode = 0o755): string {
  const dir = join(base, `d${String(++count)}`)
  mkdirSync(dir)
  chmodSync(dir, mode)
  return dir
}

describe('checkCopyTarget', () => {
  it('takes a path not made yet, or a regular file, in directories only we and root can write', async () => {
    await checkCopyTarget(join(directory(), 'initdata.toml'))
    await checkCopyTarget(join(directory(0o1777), 'initdata.toml'))
    const existing = join(directory(), 'initdata.toml')
    writeFileSync(existing, 'old')
    await checkCopyTarget(existing)
  })

  it('refuses a directory, a symbolic link or a FIFO at the path, and leaves it alone', async () => {
    const dir = directory()
    const target = join(dir, 'real.toml')
    writeFileSync(target, 'theirs')
    mkdirSync(join(dir, 'sub'))
    symlinkSync(target, join(dir, 'link.toml'))
    execFileSync('mkfifo', [join(dir, 'fifo')])
    for (const [name, kind] of [
      ['sub', 'a directory'],
      ['link.toml', 'a symbolic link'],
      ['fifo', 'not a regular file'],
    ] as const) {
      const error = await rejected(checkCopyTarget(join(dir, name)))
      expect([error.code, error.category], name).toEqual(['ERR_AGENT_CHECKED_COPY', 'io'])
      expect(error.message, name).toContain(kind)
    }
    expect(readFileSync(target, 'utf8')).toBe('theirs')
    expect(lstatSync(join(dir, 'link.toml')).isSymbolicLink()).toBe(true)
  })

  it('refuses a copy whose directory does not exist yet (another user could make it in a sticky parent)', async () => {
    // /tmp-like: sticky and world-writable; a directory made there later by someone else would
    // be theirs, and the copy written into it theirs to swap.
    const missing = join(directory(0o1777), 'not-made', 'initdata.toml')
    const error = await rejected(checkCopyTarget(missing))
    expect([error.code, error.category]).toEqual(['ERR_AGENT_CHECKED_COPY', 'io'])
    expect(error.message).toContain('does not exist')
    expect(error.hint).toContain('create')
  })

  it('refuses a path in a directory others may write (not sticky)', async () => {
    const error = await rejected(checkCopyTarget(join(directory(0o777), 'initdata.toml')))
    expect(error.code).toBe('ERR_AGENT_CHECKED_COPY')
    expect(error.message).toContain('could be replaced by another user')
    expect(error.message).toContain('not sticky')
  })
})

describe('writeCheckedCopy', () => {
  it('writes the bytes 0600 over an older copy in one rename, nothing else left', async () => {
    const dir = directory()
    const target = join(dir, 'initdata.toml')
    writeFileSync(target, 'an older copy', { mode: 0o644 })
    const bytes = new TextEncoder().encode('version = "0.1.0"\n')
    await writeCheckedCopy(target, bytes)
    expect(readFileSync(target)).toEqual(Buffer.from(bytes))
    expect(lstatSync(target).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['initdata.toml'])
  })
})
