/**
 * Private key files (the KBS's master key, its TLS private key): only their owner may read or
 * write them, and that owner is the user this process runs as. Group or other bits mean someone
 * else may have read the key (or replaced it); another owner may read or replace it at any time
 * (as root, this process could read a key another user holds). Either is refused, never fixed:
 * a chmod here would hide that the key may be exposed.
 *
 * @module
 */
import { constants, type Stats } from 'node:fs'
import { LocalIoError, type ErrorCode } from '@initguard/core'

/** What {@link refuseSharedPrivateFile} reads of a file's stats (`FileHandle.stat()`). */
export type PrivateFileStats = Pick<Stats, 'mode' | 'uid'>

/**
 * Refuse a private key file that is not a regular file, that group or others may read or write, or
 * that another user owns.
 * Give the stats of the file as opened (`handle.stat()`), not of whatever its path names a moment
 * later.
 *
 * @param what the file, for messages ("master key file", "TLS private key file").
 * @param code the stable code of the refusal (`ERR_KBS_MASTER_KEY_MODE`, …).
 * @param uid this process's user; default `process.getuid()`. Where there is none (Windows),
 *   only the mode is checked.
 * @throws {@link LocalIoError} `code`, naming the file, its mode or owner, and the fix.
 */
export function refuseSharedPrivateFile(
  stats: PrivateFileStats,
  path: string,
  what: string,
  code: ErrorCode,
  uid: number | undefined = process.getuid?.(),
): void {
  const mode = (stats.mode & 0o777).toString(8)
  // A pipe's or device's mode and owner are not the key's (`/dev/stdin` on a pipe is 0600 and
  // this user's, whoever wrote into it): refused as standard input is.
  if ((stats.mode & constants.S_IFMT) !== constants.S_IFREG)
    throw new LocalIoError(
      code,
      `the ${what} ${path} is not a regular file, whose mode and owner say who may read it`,
      { details: { path }, hint: `give the path of the ${what} itself (mode 600)` },
    )
  if ((stats.mode & 0o077) !== 0)
    throw new LocalIoError(
      code,
      `the ${what} ${path} is accessible to group or others (mode ${mode})`,
      {
        details: { path, mode },
        hint: `run chmod 600 ${path} (and consider the key exposed)`,
      },
    )
  if (uid !== undefined && stats.uid !== uid)
    throw new LocalIoError(
      code,
      `the ${what} ${path} is owned by another user (uid ${String(stats.uid)}), not by the user this process runs as (uid ${String(uid)})`,
      {
        details: { path, owner: stats.uid, uid },
        hint: `run chown ${String(uid)} ${path}, or run as its owner (and consider the key exposed: its owner may read or replace it)`,
      },
    )
}
