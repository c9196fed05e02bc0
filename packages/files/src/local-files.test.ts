/**
 * Local files: bounded reads (also of pipes and devices, which have no size to check first) and
 * writes that are atomic and durable (the file flushed, then its directory after the rename).
 */
import { execFileSync } from 'node:child_process'
import {
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import type * as FsPromises from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

/** Every `open` of node:fs/promises, and every `sync` of a handle it gave. */
const opened = vi.hoisted(() => ({ paths: [] as string[], synced: [] as string[] }))
/** Paths a rename onto fails (EIO), for a failure after the checks and the temporary files. */
const failRenameTo = vi.hoisted(() => new Set<string>())

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof FsPromises>()
  const tracedOpen = async (...args: Parameters<typeof fs.open>) => {
    const handle = await fs.open(...args)
    const path = String(args[0])
    opened.paths.push(path)
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      opened.synced.push(path)
      await sync()
    }
    return handle
  }
  const failingRename = async (...args: Parameters<typeof fs.rename>) => {
    if (failRenameTo.has(String(args[1])))
      throw Object.assign(new Error('injected rename failure'), { code: 'EIO' })
    await fs.rename(...args)
  }
  return { ...fs, open: tracedOpen, rename: failingRename }
})

const { readInput, writeFileAtomic, writeFilesAtomic, writeNewFile } =
  await import('./local-files.ts')

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-files-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    return (error as { code?: string }).code
  }
  return undefined
}

describe('readInput', () => {
  it('reads a file within the limit and refuses one over it', async () => {
    const path = join(root, 'doc')
    await writeFile(path, 'x'.repeat(100))
    expect((await readInput(path, { what: 'doc', maxSize: 100 })).length).toBe(100)
    expect(await codeOf(readInput(path, { what: 'doc', maxSize: 99 }))).toBe('ERR_FILE_TOO_LARGE')
    expect(await codeOf(readInput(join(root, 'absent'), { what: 'doc' }))).toBe('ERR_FILE_READ')
    expect(await codeOf(readInput(root, { what: 'doc' }))).toBe('ERR_FILE_READ')
  })

  it(
    'stops reading a pipe once it passes the limit (no size to check first, no end in sight)',
    { timeout: 10_000 },
    async () => {
      const fifo = join(root, 'fifo')
      execFileSync('mkfifo', [fifo])
      // The writer sends more than the limit and keeps the pipe open: a reader that waits for
      // the end before counting never returns (and a device like /dev/zero never ends at all).
      const writer = open(fifo, 'w')
      const read = codeOf(readInput(fifo, { what: 'doc', maxSize: 1024 }))
      const handle = await writer
      try {
        await handle.write(new Uint8Array(4096))
        expect(await read).toBe('ERR_FILE_TOO_LARGE')
      } finally {
        await handle.close()
      }
    },
  )
})

describe('readInput of standard input', () => {
  it('reads it once: a second - is refused, naming both inputs, never read as empty', async () => {
    const stdin = Readable.from([Buffer.from('[a]\n')])
    expect(new TextDecoder().decode(await readInput('-', { what: 'aa.toml', stdin }))).toBe('[a]\n')
    let message = ''
    try {
      await readInput('-', { what: 'cdh.toml', stdin })
    } catch (error) {
      message = String(error)
      expect((error as { code?: string }).code).toBe('ERR_STDIN_ALREADY_READ')
      expect((error as { category?: string }).category).toBe('usage')
    }
    expect(message).toContain('already read as the aa.toml')
    expect(message).toContain('cdh.toml')
    // Another stream (another command run) is its own.
    const other = Readable.from([Buffer.from('x')])
    expect((await readInput('-', { what: 'doc', stdin: other })).length).toBe(1)
  })
})

describe('writeFileAtomic and writeNewFile', () => {
  it('flush the file, then the directory the rename (or creation) changed', async () => {
    const path = join(root, 'secret')
    opened.paths.length = 0
    opened.synced.length = 0
    await writeFileAtomic(path, new TextEncoder().encode('one'), { what: 'secret', mode: 0o600 })
    expect(await readFile(path, 'utf8')).toBe('one')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    // The temporary file first, then the directory, after the rename made the name point at it.
    expect(opened.synced).toHaveLength(2)
    expect(opened.synced[0]).toMatch(/\/\.secret\.[0-9a-f]+\.tmp$/)
    expect(opened.synced[1]).toBe(root)

    opened.synced.length = 0
    const fresh = join(root, 'fresh')
    await writeNewFile(fresh, new TextEncoder().encode('two'), { what: 'file' })
    expect(opened.synced).toEqual([fresh, root])
    expect(await codeOf(writeNewFile(fresh, new Uint8Array(1), { what: 'file' }))).toBe(
      'ERR_FILE_WRITE',
    )
  })
})

describe('writeFilesAtomic', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

  it('writes every file, each with its mode, or none when one cannot be written', async () => {
    const dir = await mkdtemp(join(root, 'pair-'))
    const [one, two] = [join(dir, 'one.key'), join(dir, 'two.pub')]
    await writeFilesAtomic([
      { path: one, bytes: bytes('private'), options: { what: 'private key', mode: 0o600 } },
      { path: two, bytes: bytes('public'), options: { what: 'public key' } },
    ])
    expect(await readFile(one, 'utf8')).toBe('private')
    expect((await stat(one)).mode & 0o777).toBe(0o600)
    expect(await readFile(two, 'utf8')).toBe('public')
    // The second cannot be written (no such directory): the first is left as it was.
    const refused = writeFilesAtomic([
      { path: one, bytes: bytes('new private'), options: { what: 'private key', mode: 0o600 } },
      { path: join(dir, 'missing', 'two.pub'), bytes: bytes('x'), options: { what: 'public key' } },
    ])
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_FILE_WRITE',
      message: expect.stringContaining('public key') as unknown,
    })
    expect(await readFile(one, 'utf8')).toBe('private')
    expect((await readdir(dir)).sort()).toEqual(['one.key', 'two.pub'])
  })
})

describe('writeFileAtomic with replace: false', () => {
  it('creates a new file, and refuses an existing file or link without touching it', async () => {
    const path = join(root, 'once')
    await writeFileAtomic(path, new TextEncoder().encode('first'), {
      what: 'key',
      mode: 0o600,
      replace: false,
    })
    expect(await readFile(path, 'utf8')).toBe('first')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(
      await codeOf(
        writeFileAtomic(path, new TextEncoder().encode('second'), { what: 'key', replace: false }),
      ),
    ).toBe('ERR_FILE_EXISTS')
    expect(await readFile(path, 'utf8')).toBe('first')
    const dangling = join(root, 'dangling')
    await symlink(join(root, 'nowhere'), dangling)
    expect(
      await codeOf(writeFileAtomic(dangling, new Uint8Array(1), { what: 'key', replace: false })),
    ).toBe('ERR_FILE_EXISTS')
    // No temporary file is left beside them.
    expect((await readdir(root)).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })
})

describe('writeFilesAtomic with replace: false', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
  const noClobber = (path: string, text: string, what: string) => ({
    path,
    bytes: bytes(text),
    options: { what, replace: false },
  })

  it('refuses when any path exists and then writes none of the files', async () => {
    const dir = await mkdtemp(join(root, 'no-clobber-'))
    const [one, two] = [join(dir, 'one.key'), join(dir, 'two.pub')]
    await writeFile(two, 'old public')
    // The first is linked into place before the second is refused: it is taken back.
    const refused = writeFilesAtomic([
      noClobber(one, 'new private', 'private key'),
      noClobber(two, 'new public', 'public key'),
    ])
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_FILE_EXISTS',
      message: expect.stringContaining('public key') as unknown,
    })
    expect(await readFile(two, 'utf8')).toBe('old public')
    expect(await readdir(dir)).toEqual(['two.pub'])
    // The other way round: the existing one is first.
    await expect(
      writeFilesAtomic([noClobber(two, 'x', 'public key'), noClobber(one, 'y', 'private key')]),
    ).rejects.toMatchObject({ code: 'ERR_FILE_EXISTS' })
    expect(await readdir(dir)).toEqual(['two.pub'])
  })

  it('takes back a file it linked when a file that may replace cannot be renamed', async () => {
    const dir = await mkdtemp(join(root, 'mixed-'))
    const [one, two] = [join(dir, 'one.key'), join(dir, 'two.pub')]
    await writeFile(two, 'old public')
    failRenameTo.add(two)
    try {
      const refused = writeFilesAtomic([
        noClobber(one, 'new', 'private key'),
        { path: two, bytes: bytes('x'), options: { what: 'public key' } },
      ])
      await expect(refused).rejects.toMatchObject({ code: 'ERR_FILE_WRITE' })
    } finally {
      failRenameTo.delete(two)
    }
    expect(await readFile(two, 'utf8')).toBe('old public')
    expect(await readdir(dir)).toEqual(['two.pub'])
  })

  it('writes every file when none exists, each with its mode', async () => {
    const dir = await mkdtemp(join(root, 'fresh-'))
    const [one, two] = [join(dir, 'one.key'), join(dir, 'two.pub')]
    await writeFilesAtomic([
      { path: one, bytes: bytes('private'), options: { what: 'k', mode: 0o600, replace: false } },
      noClobber(two, 'public', 'public key'),
    ])
    expect(await readFile(one, 'utf8')).toBe('private')
    expect((await stat(one)).mode & 0o777).toBe(0o600)
    expect(await readFile(two, 'utf8')).toBe('public')
    expect((await readdir(dir)).sort()).toEqual(['one.key', 'two.pub'])
  })
})

describe('writeFileAtomic over what is not a regular file', () => {
  it('refuses a FIFO, a link to one (as /dev/stdout is) and a link to a directory, leaving them', async () => {
    const fifo = join(root, 'pipe')
    execFileSync('mkfifo', [fifo])
    const toFifo = join(root, 'stdout-like')
    await symlink(fifo, toFifo)
    const dir = join(root, 'a-dir')
    await mkdir(dir)
    const toDir = join(root, 'dir-link')
    await symlink(dir, toDir)
    const write = (path: string) =>
      codeOf(writeFileAtomic(path, new Uint8Array(1), { what: 'out' }))
    expect(await write(fifo)).toBe('ERR_FILE_NOT_REGULAR')
    expect((await lstat(fifo)).isFIFO()).toBe(true)
    expect(await write(toFifo)).toBe('ERR_FILE_NOT_REGULAR')
    expect((await lstat(toFifo)).isSymbolicLink()).toBe(true)
    expect(await write(toDir)).toBe('ERR_FILE_WRITE')
    expect((await lstat(toDir)).isSymbolicLink()).toBe(true)
    expect(await write(dir)).toBe('ERR_FILE_WRITE')
  })
})

describe('writeFilesAtomic over what is not a regular file', () => {
  it('refuses a FIFO before anything is written, leaving it and writing none of the files', async () => {
    const dir = await mkdtemp(join(root, 'special-'))
    const [one, fifo] = [join(dir, 'one.key'), join(dir, 'pipe')]
    execFileSync('mkfifo', [fifo])
    const refused = writeFilesAtomic([
      { path: one, bytes: new Uint8Array(1), options: { what: 'private key', replace: false } },
      { path: fifo, bytes: new Uint8Array(1), options: { what: 'public key' } },
    ])
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_FILE_NOT_REGULAR',
      message: expect.stringContaining('public key') as unknown,
    })
    expect((await lstat(fifo)).isFIFO()).toBe(true)
    expect(await readdir(dir)).toEqual(['pipe'])
  })
})

describe('writeFileAtomic under a file', () => {
  it('says a part of the path is not a directory (ERR_FILE_WRITE), never a bare ENOTDIR', async () => {
    const file = join(root, 'plain')
    await writeFile(file, 'x')
    let error: unknown
    try {
      await writeFileAtomic(join(file, 'out'), new Uint8Array(1), { what: 'out' })
    } catch (caught) {
      error = caught
    }
    expect((error as { code?: string }).code).toBe('ERR_FILE_WRITE')
    expect(String(error)).toContain('a part of the path is not a directory')
  })
})
