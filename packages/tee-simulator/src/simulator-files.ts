/**
 * Reading the simulator directory's files with the checks a key store needs: the directory not
 * writable by others, private keys regular files (no symbolic links) readable by their owner
 * only, every file the size of a small document. Modes are read from the open file descriptor
 * (`fstat`), so the file checked is the file read. All failures are {@link LocalIoError}s (exit 7:
 * the simulator directory is unusable) with a code per cause.
 *
 * @module
 */
import { constants } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import { LocalIoError } from '@initguard/core'

/** The largest file of a simulator directory read (certificates, keys, collateral: a few KiB). */
export const SIMULATOR_FILE_MAX_SIZE: number = 1024 * 1024

/** A {@link LocalIoError} about the simulator directory. */
export function simDirError(
  code: `ERR_SIM_${string}`,
  message: string,
  path: string,
  hint: string,
  cause?: unknown,
): LocalIoError {
  return new LocalIoError(code, message, {
    details: { path },
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}

/** A {@link simDirError} for a failed file-system call on `path`: what failed, then the errno. */
export function simIoError(
  code: `ERR_SIM_${string}`,
  failed: string,
  path: string,
  hint: string,
  cause: unknown,
): LocalIoError {
  const message = `${failed} ${JSON.stringify(path)}: ${errnoOf(cause) ?? 'unknown error'}`
  return simDirError(code, message, path, hint, cause)
}

/**
 * The `code` of a Node.js system error (`ENOENT`, …), if it has one. Shared with the guest's TEE
 * interfaces (`@initguard/tee`).
 */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Refuse a file or directory another user owns: only its owner may hold the simulator's keys. */
function checkOwner(info: Stats, path: string, what: string, code: `ERR_SIM_${string}`): void {
  const uid = process.getuid?.()
  if (uid !== undefined && info.uid !== uid) {
    throw simDirError(
      code,
      `${what} ${JSON.stringify(path)} belongs to user ${info.uid}, not to this user (${uid})`,
      path,
      'use a simulator directory of your own; its keys must be yours alone',
    )
  }
}

/**
 * The simulator directory's status, checked: a directory, owned by this user, not writable by
 * group or others (who could otherwise swap its roots or keys).
 *
 * @throws {@link LocalIoError} `ERR_SIM_DIR_MISSING`, `ERR_SIM_DIR_NOT_A_DIRECTORY`,
 *   `ERR_SIM_DIR_OWNER`, `ERR_SIM_DIR_MODE`, `ERR_SIM_DIR_READ`.
 */
export async function checkSimulatorDirectory(dir: string): Promise<Stats> {
  let info: Stats
  try {
    info = await stat(dir)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw simDirError(
        'ERR_SIM_DIR_MISSING',
        `there is no simulator directory ${JSON.stringify(dir)}`,
        dir,
        'create one with `initguard sim init --sim-dir DIR`',
        error,
      )
    }
    throw simIoError(
      'ERR_SIM_DIR_READ',
      'cannot read the simulator directory',
      dir,
      'check the path and its permissions',
      error,
    )
  }
  if (!info.isDirectory()) {
    throw simDirError(
      'ERR_SIM_DIR_NOT_A_DIRECTORY',
      `${JSON.stringify(dir)} is not a directory`,
      dir,
      'give the directory `initguard sim init` created',
    )
  }
  checkOwner(info, dir, 'the simulator directory', 'ERR_SIM_DIR_OWNER')
  if ((info.mode & 0o022) !== 0) {
    throw simDirError(
      'ERR_SIM_DIR_MODE',
      `the simulator directory ${JSON.stringify(dir)} is writable by others (mode ${(info.mode & 0o777).toString(8)}): its keys and roots could have been replaced`,
      dir,
      `if you trust its content, run \`chmod 700 ${dir}\`; otherwise make a new one with \`initguard sim init\``,
    )
  }
  return info
}

/**
 * Read one file of the simulator directory. A private key must be a regular file owned by this
 * user with no permission for group or others (like ssh, a key others can read is refused).
 *
 * @throws {@link LocalIoError} `ERR_SIM_FILE_MISSING` (or `options.missing()`), `ERR_SIM_FILE_READ`,
 *   `ERR_SIM_FILE_TOO_LARGE`, `ERR_SIM_KEY_MODE`, `ERR_SIM_KEY_OWNER`.
 */
export async function readSimulatorFile(
  dir: string,
  name: string,
  options: {
    readonly private: boolean
    readonly maxSize?: number
    /** The error for a file that does not exist, instead of `ERR_SIM_FILE_MISSING`. */
    readonly missing?: () => LocalIoError | Promise<LocalIoError>
  },
): Promise<Uint8Array> {
  const path = join(dir, name)
  const maxSize = options.maxSize ?? SIMULATOR_FILE_MAX_SIZE
  let handle
  try {
    // O_NOFOLLOW: a key file replaced by a link to some other file is refused, not followed.
    handle = await open(path, constants.O_RDONLY | (options.private ? constants.O_NOFOLLOW : 0))
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT') {
      if (options.missing !== undefined) throw await options.missing()
      throw simDirError(
        'ERR_SIM_FILE_MISSING',
        `the simulator directory ${JSON.stringify(dir)} has no ${name}`,
        path,
        'the directory is incomplete or was changed; make a new one with `initguard sim init --sim-dir NEW_DIR`',
        error,
      )
    }
    throw simDirError(
      'ERR_SIM_FILE_READ',
      `cannot read ${JSON.stringify(path)}: ${errno === 'ELOOP' ? 'it is a symbolic link' : (errno ?? 'unknown error')}`,
      path,
      'check the file and its permissions',
      error,
    )
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) {
      throw simDirError(
        'ERR_SIM_FILE_READ',
        `${JSON.stringify(path)} is not a regular file`,
        path,
        'the directory was changed; make a new one with `initguard sim init --sim-dir NEW_DIR`',
      )
    }
    if (options.private) checkPrivateKeyFile(info, path)
    if (info.size > maxSize) {
      throw simDirError(
        'ERR_SIM_FILE_TOO_LARGE',
        `${JSON.stringify(path)} is larger than ${maxSize} bytes: not a file the simulator wrote`,
        path,
        'the directory was changed; make a new one with `initguard sim init --sim-dir NEW_DIR`',
      )
    }
    const bytes = await handle.readFile()
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  } catch (error) {
    if (error instanceof LocalIoError) throw error
    throw simIoError(
      'ERR_SIM_FILE_READ',
      'cannot read',
      path,
      'check the file and its permissions',
      error,
    )
  } finally {
    await handle.close()
  }
}

function checkPrivateKeyFile(info: Stats, path: string): void {
  checkOwner(info, path, 'the private key', 'ERR_SIM_KEY_OWNER')
  if ((info.mode & 0o077) !== 0) {
    throw simDirError(
      'ERR_SIM_KEY_MODE',
      `the private key ${JSON.stringify(path)} is accessible to others (mode ${(info.mode & 0o777).toString(8)}); it must be 600 or stricter`,
      path,
      `if nobody else can have read it, run \`chmod 600 ${path}\`; otherwise make a new simulator with \`initguard sim init\``,
    )
  }
}
