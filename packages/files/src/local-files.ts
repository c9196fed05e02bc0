/**
 * Local files for the CLI and services: bounded reads with clear errors, and atomic writes so a
 * failed command never leaves a half-written file behind.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import {
  chmod,
  link,
  lstat,
  open,
  readdir,
  rename,
  rm,
  stat,
  type FileHandle,
} from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { LocalIoError, MalformedInputError, UsageError, type ErrorCode } from '@initguard/core'
import { refuseSharedPrivateFile } from './private-file.ts'

/** Default largest input file: 64 MiB. Initguard's inputs are documents, reports and manifests. */
export const DEFAULT_MAX_INPUT_SIZE: number = 64 * 1024 * 1024

/** Bytes read at a time by {@link readInput}. */
const READ_CHUNK_SIZE = 64 * 1024

/** Options for {@link readInput}. */
export interface ReadInputOptions {
  /** What the file is, for messages ("initdata document", "manifest"). */
  readonly what: string
  /** Largest accepted size in bytes; default {@link DEFAULT_MAX_INPUT_SIZE}. */
  readonly maxSize?: number
  /** Where `-` reads from; default the process's standard input. */
  readonly stdin?: NodeJS.ReadableStream
  /**
   * A private key: the file as opened is refused with this code unless owner-only and owned by
   * this process's user ({@link refuseSharedPrivateFile}); `-` is refused too, since standard input
   * has no file whose mode and owner could be checked.
   */
  readonly privateCode?: ErrorCode
}

/**
 * The standard-input streams {@link readInput} has read, each with what it was read as. A stream
 * is read to its end once: a second `-` would get nothing, so `build --aa - --cdh -` embedded an
 * empty cdh.toml without a word, and a second `-` elsewhere failed as "the document is empty".
 */
const stdinTaken = new WeakMap<object, string>()

function ioError(
  error: unknown,
  path: string,
  what: string,
  verb: 'read' | 'write',
  hint?: string,
): LocalIoError {
  const code = (error as { code?: unknown }).code
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EEXIST'
            ? 'it already exists'
            : code === 'ENOTDIR'
              ? 'a part of the path is not a directory'
              : code === 'ENOSPC'
                ? 'no space left on the device'
                : typeof code === 'string'
                  ? code
                  : 'unknown error'
  return new LocalIoError(
    verb === 'read' ? 'ERR_FILE_READ' : 'ERR_FILE_WRITE',
    `cannot ${verb} ${what} ${JSON.stringify(path)}: ${reason}`,
    {
      cause: error,
      details: { path, reason },
      ...(hint !== undefined ? { hint } : code === 'ENOENT' ? { hint: 'check the path' } : {}),
    },
  )
}

/**
 * Read a whole input file (or standard input for `-`), refusing files over `maxSize`. Standard
 * input is read once: a second `-` on the same stream is refused, never read as empty.
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ`; {@link MalformedInputError} `ERR_FILE_TOO_LARGE`;
 *   {@link UsageError} `ERR_STDIN_ALREADY_READ` for a second `-`.
 */
export async function readInput(path: string, options: ReadInputOptions): Promise<Uint8Array> {
  const maxSize = options.maxSize ?? DEFAULT_MAX_INPUT_SIZE
  const tooLarge = (): MalformedInputError =>
    new MalformedInputError(
      'ERR_FILE_TOO_LARGE',
      `${options.what} ${path === '-' ? 'on standard input' : JSON.stringify(path)} is larger than ${maxSize} bytes`,
      { details: { path, maxSize } },
    )
  if (path === '-' && options.privateCode !== undefined)
    throw new LocalIoError(
      options.privateCode,
      `the ${options.what} cannot be read from standard input: only a file's mode and owner can be checked`,
      { details: { path }, hint: `give the path of the ${options.what} (mode 600)` },
    )
  if (path === '-') {
    const stdin = options.stdin ?? process.stdin
    const first = stdinTaken.get(stdin)
    if (first !== undefined) {
      throw new UsageError(
        'ERR_STDIN_ALREADY_READ',
        `standard input is already read as the ${first}; it cannot also be the ${options.what}`,
        {
          details: { first, second: options.what },
          hint: 'give - for one input only, and the others as files',
        },
      )
    }
    stdinTaken.set(stdin, options.what)
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      if (size > maxSize) throw tooLarge()
      chunks.push(buffer)
    }
    return new Uint8Array(Buffer.concat(chunks))
  }
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    throw ioError(error, path, options.what, 'read')
  }
  try {
    // The size of the file opened (not of whatever the path names a moment later) refuses a
    // large regular file before reading; the count while reading bounds everything else: a pipe,
    // a device (/dev/zero never ends), a file that grows. Never more than maxSize + 1 is read.
    const info = await handle.stat()
    if (options.privateCode !== undefined)
      refuseSharedPrivateFile(info, path, options.what, options.privateCode)
    if (info.isFile() && info.size > maxSize) throw tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_SIZE, maxSize + 1 - size))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      size += bytesRead
      if (size > maxSize) throw tooLarge()
      chunks.push(chunk.subarray(0, bytesRead))
    }
    return new Uint8Array(Buffer.concat(chunks, size))
  } catch (error) {
    if (error instanceof MalformedInputError || error instanceof LocalIoError) throw error
    throw ioError(error, path, options.what, 'read')
  } finally {
    await handle.close()
  }
}

/** Options for {@link writeFileAtomic}. */
export interface WriteOptions {
  /** What the file is, for messages. */
  readonly what: string
  /** File mode for a new file; default 0o644. */
  readonly mode?: number
  /** What to do when the write fails, for the error; by default none (or "check the path"). */
  readonly hint?: string
  /**
   * {@link writeFileAtomic} and {@link writeFilesAtomic} only: false to refuse a path that exists (any kind of file, a symbolic
   * link too) rather than replace it, atomically (the new file is linked into place, which fails
   * on an existing name, where a rename would replace it). Default true.
   */
  readonly replace?: boolean
  /**
   * {@link writeFileAtomic} and {@link writeFilesAtomic} only: true to replace a FIFO, socket or
   * device at the path like a file
   * (for a name the program owns, such as a cache entry); by default they are refused.
   */
  readonly replaceSpecialFiles?: boolean
}

/**
 * Flush the directory `dir` to disk, so a name just created or renamed in it survives a crash
 * (fsync of the file makes its data durable, not the directory entry that names it). Best effort:
 * a file system that cannot flush a directory (EINVAL) has nothing more to offer; the write itself
 * has succeeded by then and is not reported as failed.
 */
export async function flushDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // see above: nothing a caller could do about it
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

/** Create `path` (it must not exist) with `mode`, write `bytes` and flush them to disk. */
async function createFlushed(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Create `path`, which must not exist, write `bytes` and flush them (and then the directory) to
 * disk: for files written once into a directory being built (an existing file, or a symbolic link,
 * is an error, never overwritten or followed).
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE` (also when `path` exists).
 */
export async function writeNewFile(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions,
): Promise<void> {
  try {
    await createFlushed(path, bytes, options.mode ?? 0o644)
  } catch (error) {
    throw ioError(error, path, options.what, 'write', options.hint)
  }
  await flushDirectory(dirname(path))
}

/**
 * Write `bytes` to `path` atomically: write a temporary file beside it, flush it to disk, rename
 * it over `path`, then flush the directory. Readers see the old file or the new one, never a
 * part, and after a crash the name holds one of them. The new file has `mode` (default 0o644)
 * whatever the old one had; a symbolic link at `path` is replaced, not followed. With `replace:
 * false` an existing `path` is left as it is and refused. Only a regular file (or a link to one)
 * is replaced: a directory, and unless `replaceSpecialFiles` a device, a FIFO or a socket at `path`
 * (`/dev/null`, `/dev/stdout`), is refused, since the rename would put a plain file in its place
 * (as root, in /dev itself).
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE`; `ERR_FILE_EXISTS` with `replace: false`;
 *   `ERR_FILE_NOT_REGULAR`.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteOptions,
): Promise<void> {
  await writeFilesAtomic([{ path, bytes, options }])
}

/** One file of {@link writeFilesAtomic}. */
export interface FileToWrite {
  readonly path: string
  readonly bytes: Uint8Array
  readonly options: WriteOptions
}

/** A file of {@link writeFilesAtomic} with the temporary file that holds its bytes. */
interface StagedFile {
  readonly file: FileToWrite
  readonly temporary: string
}

/**
 * Write files that belong together (a key pair) as {@link writeFileAtomic} writes one, and all of
 * them or none: every temporary file is written and flushed before any is put in place. A failure
 * while writing (a directory that does not exist, no space, no permission) leaves every path as
 * it was and no temporary file behind, and so does a path refused as {@link writeFileAtomic}
 * refuses one (a directory, a device, FIFO or socket), checked before anything is written. The
 * files with `replace: false` are linked into place first: a link fails on an existing name, and
 * one made here is taken back when a later file fails, so a refused file (`ERR_FILE_EXISTS`)
 * leaves every path as it was. Only a rename (of a file that may replace another) can still fail
 * after another file is in place, in directories just written to.
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE`, naming the file that failed; `ERR_FILE_EXISTS`
 *   for a file with `replace: false` whose path exists; `ERR_FILE_NOT_REGULAR`.
 */
export async function writeFilesAtomic(files: readonly FileToWrite[]): Promise<void> {
  const staged: StagedFile[] = []
  const linked: StagedFile[] = []
  // Cleaning up must not hide why the write failed (under a file, rm fails too: ENOTDIR).
  const discard = async (): Promise<void> => {
    for (const made of linked)
      await unlinkIfSame(made.file.path, made.temporary).catch(() => undefined)
    for (const { temporary } of staged) await rm(temporary, { force: true }).catch(() => undefined)
  }
  // Before anything is written: a refused file leaves every path as it was.
  for (const file of files) await refuseToReplace(file)
  for (const file of files) {
    const { path, bytes, options } = file
    const temporary = join(
      dirname(path),
      `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`,
    )
    try {
      staged.push({ file, temporary })
      await createFlushed(temporary, bytes, options.mode ?? 0o644)
    } catch (error) {
      await discard()
      throw ioError(error, path, options.what, 'write', options.hint)
    }
  }
  for (const entry of staged.filter(({ file }) => file.options.replace === false)) {
    try {
      await link(entry.temporary, entry.file.path)
      linked.push(entry)
    } catch (error) {
      await discard()
      throw writeError(error, entry.file)
    }
  }
  for (const entry of staged.filter(({ file }) => file.options.replace !== false)) {
    try {
      await rename(entry.temporary, entry.file.path)
    } catch (error) {
      await discard()
      throw writeError(error, entry.file)
    }
  }
  for (const { temporary } of linked) await rm(temporary, { force: true })
  for (const dir of new Set(files.map(({ path }) => dirname(path)))) await flushDirectory(dir)
}

/**
 * Remove `path` if it is still the file linked there from `temporary` (the same inode), taking
 * back a link {@link writeFilesAtomic} made; anything else now at `path` is left alone.
 */
async function unlinkIfSame(path: string, temporary: string): Promise<void> {
  const [placed, ours] = await Promise.all([
    lstat(path).catch(() => undefined),
    lstat(temporary).catch(() => undefined),
  ])
  if (ours !== undefined && placed?.dev === ours.dev && placed.ino === ours.ino)
    await rm(path, { force: true })
}

/**
 * Refuse a path where the rename would put a plain file in place of something that is not one: a
 * directory (or a link to one, which the rename would replace) as the rename itself says it, and
 * unless `replaceSpecialFiles` a device, FIFO or socket (or a link to one).
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE` (a directory), `ERR_FILE_NOT_REGULAR`.
 */
async function refuseToReplace({ path, options }: FileToWrite): Promise<void> {
  const existing = await stat(path).catch(() => undefined)
  if (existing?.isDirectory() === true)
    throw ioError({ code: 'EISDIR' }, path, options.what, 'write', options.hint)
  if (existing !== undefined && !existing.isFile() && options.replaceSpecialFiles !== true) {
    throw new LocalIoError(
      'ERR_FILE_NOT_REGULAR',
      `cannot write ${options.what} ${JSON.stringify(path)}: it is ${fileKind(existing)}, not a regular file, and would be replaced by one`,
      {
        details: { path },
        hint: options.hint ?? 'give the path of a regular file (or of one to create)',
      },
    )
  }
}

/** The error for a file of {@link writeFilesAtomic} that could not be put in place. */
function writeError(error: unknown, file: FileToWrite): LocalIoError {
  const { path, options } = file
  const refused = ioError(error, path, options.what, 'write', options.hint)
  if ((error as { code?: unknown }).code !== 'EEXIST' || options.replace !== false) return refused
  return new LocalIoError('ERR_FILE_EXISTS', refused.message, {
    cause: error,
    details: refused.details,
    hint: options.hint ?? 'remove it first, or give another path',
  })
}

/** What a file that is not a regular one is, for messages. */
function fileKind(info: {
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
  isFIFO(): boolean
  isSocket(): boolean
}): string {
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device'
  if (info.isFIFO()) return 'a FIFO (named pipe)'
  if (info.isSocket()) return 'a socket'
  return 'a special file'
}

/**
 * Remove a directory tree that may hold read-only directories (an unpacked image applies the
 * image's modes, e.g. 0555): make every directory writable, then remove. Never throws; returns
 * whether the tree is gone, so a cleanup failure cannot hide the error that caused the cleanup.
 */
export async function removeTree(path: string): Promise<boolean> {
  const makeWritable = async (dir: string): Promise<void> => {
    await chmod(dir, 0o700)
    for (const name of await readdir(dir)) {
      const child = join(dir, name)
      if ((await lstat(child)).isDirectory()) await makeWritable(child)
    }
  }
  try {
    await rm(path, { recursive: true, force: true })
    return true
  } catch {
    try {
      await makeWritable(path)
      await rm(path, { recursive: true, force: true })
      return true
    } catch {
      return false
    }
  }
}
