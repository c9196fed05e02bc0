/**
 * The checked copy of `agent check-initdata --out FILE`: the document exactly as it was digested
 * and matched, for scripts. A script that reads the source again after the check reads whatever
 * is there by then (a host can change the initdata block device, or a file, between the two
 * reads): check-then-use. The copy is what was checked, written only after the match.
 *
 * - Before anything is read: FILE's directory must exist, and FILE be absent or a regular file (a directory, a device, a FIFO
 *   or a symbolic link is refused rather than replaced or followed), in directories only the
 *   agent's user and root can replace it in (`trusted-path.ts`, as for `agent start
 *   --runtime-dir`): a copy someone else can swap is no better than the source.
 * - After the match: written to a temporary file beside FILE, mode 0600, flushed, renamed over
 *   FILE in one step: a reader sees the old file or the whole copy, never a part. On any failure
 *   (a mismatch included) FILE is left as it was.
 *
 * @module
 */
import { lstat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LocalIoError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { replaceableBy } from '../trusted-path.ts'

function outError(message: string, path: string, hint: string, cause?: unknown): LocalIoError {
  return new LocalIoError('ERR_AGENT_CHECKED_COPY', message, {
    details: { path },
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Refuse `path` when another user could replace it (`trusted-path.ts`). */
async function checkTrusted(path: string): Promise<void> {
  const replaceable = await replaceableBy(resolve(path))
  if (replaceable !== undefined)
    throw outError(
      `the checked copy ${JSON.stringify(path)} could be replaced by another user: ${replaceable}`,
      path,
      'write the copy where only this user and root can write (e.g. under /run), or make the shared directory sticky',
    )
}

/**
 * Check that the checked copy may be written at `path` (see the module); call it before the
 * check, so a path that cannot take the copy fails before the TEE or the document is read.
 *
 * @throws {@link LocalIoError} `ERR_AGENT_CHECKED_COPY`.
 */
export async function checkCopyTarget(path: string): Promise<void> {
  const quoted = JSON.stringify(path)
  await checkTrusted(path)
  // The directory must exist now: nothing on this path makes it, and one made between this check
  // and the write by another user (in a sticky parent such as /tmp) would be theirs.
  const directory = dirname(resolve(path))
  const parentInfo = await lstat(directory).catch(() => undefined)
  if (parentInfo?.isDirectory() !== true)
    throw outError(
      `the directory of the checked copy ${quoted} does not exist (or is not a directory): ${directory}`,
      path,
      'create the directory first, writable only by this user and root (e.g. under /run), then give --out again',
    )
  // Again, now that the directory is known to exist: the first check passes over one that does
  // not exist yet, and another user may have made it since.
  await checkTrusted(path)
  let info
  try {
    info = await lstat(path)
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === 'ENOENT') return
    throw outError(
      `cannot inspect the checked copy ${quoted}: ${cause instanceof Error ? cause.message : String(cause)}`,
      path,
      'give a path in a directory this user can search and write',
      cause,
    )
  }
  if (!info.isFile())
    throw outError(
      `the checked copy ${quoted} exists and is ${info.isSymbolicLink() ? 'a symbolic link' : info.isDirectory() ? 'a directory' : 'not a regular file'}`,
      path,
      'give the path of a regular file (or of one to create); links are neither followed nor replaced',
    )
}

/**
 * Write `bytes`, the document as checked, to `path`: mode 0600, atomically (see the module).
 *
 * @throws {@link LocalIoError} `ERR_FILE_WRITE`.
 */
export async function writeCheckedCopy(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes, {
    what: 'checked copy of the init-data document',
    mode: 0o600,
    hint: 'check the directory of the copy (space, permissions)',
  })
}
