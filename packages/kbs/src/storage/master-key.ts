/**
 * The KBS master key: 32 bytes that wrap every per-row data key (see `envelope.ts`). It comes from
 * an environment value, a given file, or `<dataDir>/master.key`, generated on first run.
 *
 * Key file layout: either the 32 raw bytes (what we generate; a 32-byte file of printable ASCII
 * counts as text), or text holding them as 64 hex characters or padded standard base64
 * (44 characters), surrounding whitespace ignored. An
 * environment value is text only (hex or base64).
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { link, lstat, mkdir, open, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import {
  LocalIoError,
  MalformedInputError,
  UsageError,
  base64ToBytes,
  hexToBytes,
  utf8ToString,
} from '@initguard/core'
import { refuseSharedPrivateFile } from '@initguard/files'
import { SQLITE_FILE_NAME } from './dialect.ts'

/** The length of the master key in bytes (AES-256). */
export const MASTER_KEY_LENGTH = 32

/** The file name of the generated master key inside the data directory. */
export const MASTER_KEY_FILE_NAME = 'master.key'

/** Where to take the master key from. At most one of `file` and `env` may be given. */
export interface MasterKeyOptions {
  /** The data directory; the key is generated there (`master.key`) when no source is given. */
  readonly dataDir: string
  /** A key file (mode 0600 or stricter): raw 32 bytes, or hex/base64 text. */
  readonly file?: string
  /** An environment variable's value (hex or base64 text), passed in by the caller. */
  readonly env?: string
  /** The variable's name, for messages (default `the master key environment value`). */
  readonly envName?: string
}

/** A loaded master key and where it came from (for the startup log). */
export interface MasterKey {
  readonly key: Uint8Array
  readonly source: 'generated' | 'file' | 'env'
  /** The key file, when the key came from one. */
  readonly path?: string
}

/**
 * Load the master key: from `env`, from `file`, or from `<dataDir>/master.key`, which is created
 * (mode 0600, exclusively, written atomically) with 32 random bytes when it does not exist.
 *
 * @throws {@link UsageError} `ERR_KBS_MASTER_KEY_SOURCES` when both `file` and `env` are given.
 * @throws {@link LocalIoError} `ERR_KBS_MASTER_KEY_MODE` when the file is readable or writable by
 *   group or others, or owned by another user than this process's (as the TLS private key file),
 *   `ERR_KBS_MASTER_KEY_READ` / `ERR_KBS_MASTER_KEY_WRITE` on file errors.
 * @throws {@link MalformedInputError} `ERR_KBS_MASTER_KEY_FORMAT` for a wrong length or encoding.
 */
export async function loadMasterKey(options: MasterKeyOptions): Promise<MasterKey> {
  if (options.file !== undefined && options.env !== undefined) {
    throw new UsageError(
      'ERR_KBS_MASTER_KEY_SOURCES',
      `the master key is given both as a file (${options.file}) and as an environment value`,
      { hint: 'give the master key one way only' },
    )
  }
  if (options.env !== undefined) {
    const where = options.envName ?? 'the master key environment value'
    return { key: decodeKeyText(options.env, where), source: 'env' }
  }
  if (options.file !== undefined) {
    return { key: await readKeyFile(options.file), source: 'file', path: options.file }
  }
  const path = join(options.dataDir, MASTER_KEY_FILE_NAME)
  const existing = await readKeyFileIfPresent(path)
  if (existing !== undefined) return { key: existing, source: 'file', path }
  await refuseIfDatabaseExists(options.dataDir, path)
  const created = await createKeyFile(options.dataDir, path)
  return created.won
    ? { key: created.key, source: 'generated', path }
    : { key: await readKeyFile(path), source: 'file', path }
}

/**
 * Make the data directory (mode 0700) when it does not exist.
 *
 * @throws {@link LocalIoError} `ERR_KBS_DATA_DIR`, saying why (a file is in the way, no parent,
 *   no permission).
 */
export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const inTheWay = code === 'EEXIST' || code === 'ENOTDIR'
    throw new LocalIoError(
      'ERR_KBS_DATA_DIR',
      `cannot create the data directory ${dataDir}: ${inTheWay ? 'a file that is not a directory is in the way' : typeof code === 'string' ? code : 'unknown error'}`,
      {
        cause: error,
        details: { path: dataDir },
        hint: inTheWay
          ? 'give --data-dir a directory, or a path that does not exist yet'
          : 'check that the parent directory exists and is writable',
      },
    )
  }
}

async function readKeyFileIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    await lstat(path)
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined
    throw readError(path, error)
  }
  return readKeyFile(path)
}

async function readKeyFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    const handle = await open(path, 'r')
    try {
      const stats = await handle.stat()
      if (!stats.isFile()) throw new Error('not a regular file')
      refuseSharedPrivateFile(stats, path, 'master key file', 'ERR_KBS_MASTER_KEY_MODE')
      if (stats.size > 4096) throw new Error(`${String(stats.size)} bytes is too large`)
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (error instanceof LocalIoError) throw error
    throw readError(path, error)
  }
  // 32 random bytes are all printable ASCII with odds ~1e-14: such a file is text (say hex of a
  // 16-byte key) and is decoded, and refused, as text rather than taken as a raw key.
  if (bytes.length === MASTER_KEY_LENGTH && !bytes.every(isPrintableAscii))
    return new Uint8Array(bytes)
  return decodeKeyText(utf8ToString(bytes, { field: path }), path)
}

function decodeKeyText(text: string, where: string): Uint8Array {
  const trimmed = text.trim()
  let key: Uint8Array
  try {
    key = /^[0-9a-fA-F]+$/.test(trimmed)
      ? hexToBytes(trimmed, { field: where })
      : base64ToBytes(trimmed, { field: where })
  } catch (error) {
    throw formatError(where, 'is neither hex nor padded base64', error)
  }
  if (key.length !== MASTER_KEY_LENGTH) {
    throw formatError(
      where,
      `decodes to ${String(key.length)} bytes, not ${String(MASTER_KEY_LENGTH)}`,
    )
  }
  return key
}

/** Writes a temporary file, then links it to `path`: atomic and exclusive (a link never replaces). */
async function createKeyFile(
  dataDir: string,
  path: string,
): Promise<{ readonly won: boolean; readonly key: Uint8Array }> {
  await ensureDataDir(dataDir)
  let key = new Uint8Array(randomBytes(MASTER_KEY_LENGTH))
  // Never write a key that would read back as text (see readKeyFile); odds ~1e-14 per draw.
  while (key.every(isPrintableAscii)) key = new Uint8Array(randomBytes(MASTER_KEY_LENGTH))
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temporary, 'wx', 0o600)
    try {
      await handle.writeFile(key)
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await link(temporary, path)
      return { won: true, key }
    } catch (error) {
      // Another process created it first: use theirs.
      if (isCode(error, 'EEXIST')) return { won: false, key: new Uint8Array(0) }
      throw error
    }
  } catch (error) {
    throw new LocalIoError(
      'ERR_KBS_MASTER_KEY_WRITE',
      `cannot create the master key file ${path}`,
      {
        cause: error,
        details: { path },
        hint: 'check that the data directory is writable by this user',
      },
    )
  } finally {
    await rm(temporary, { force: true })
  }
}

/** A database without its key cannot be read: generating a new key would only hide the loss. */
async function refuseIfDatabaseExists(dataDir: string, path: string): Promise<void> {
  const database = join(dataDir, SQLITE_FILE_NAME)
  const exists = await lstat(database).then(
    () => true,
    (error: unknown) => !isCode(error, 'ENOENT'),
  )
  if (exists) {
    throw new LocalIoError(
      'ERR_KBS_MASTER_KEY_MISSING',
      `the master key file ${path} is missing but the database ${database} exists`,
      {
        details: { path },
        hint: 'restore master.key from a backup, or give the key with the file or environment option',
      },
    )
  }
}

function readError(path: string, error: unknown): LocalIoError {
  return new LocalIoError('ERR_KBS_MASTER_KEY_READ', `cannot read the master key file ${path}`, {
    cause: error,
    details: { path },
    hint: 'check the path and that this user may read it',
  })
}

function formatError(where: string, what: string, cause?: unknown): MalformedInputError {
  return new MalformedInputError(
    'ERR_KBS_MASTER_KEY_FORMAT',
    `the master key in ${where} ${what}`,
    {
      cause,
      details: { path: where },
      hint: `give exactly ${String(MASTER_KEY_LENGTH)} bytes: raw, 64 hex characters or 44 base64 characters (openssl rand -base64 32)`,
    },
  )
}

function isPrintableAscii(byte: number): boolean {
  return byte >= 0x20 && byte < 0x7f
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code
}
