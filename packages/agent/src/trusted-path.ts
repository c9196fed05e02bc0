/**
 * Whether only the agent's user (and root) can replace what the agent puts at a path. A directory
 * entry can be renamed away and replaced by whoever may write the directory holding it, whatever
 * the entry's own mode: a runtime directory of mode 0700, or a socket of mode 0600, inside a
 * directory others may write protects nothing, since a reader or client finds whatever was put in
 * its place. So every directory from the path's parent up to `/` must be owned by the agent's user
 * or root, and writable by group or others only when sticky (then, as in `/tmp`, nobody else may
 * rename or remove what the agent made there). Both the path as given (each component, a symbolic
 * link being replaceable in its own directory) and the real path it leads to are checked.
 *
 * @module
 */
import type { Stats } from 'node:fs'
import { lstat, realpath } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/** Why `dir` lets someone else replace its entries, or undefined. */
function openTo(dir: string, info: Stats, uid: number | undefined): string | undefined {
  if (uid !== undefined && info.uid !== uid && info.uid !== 0)
    return `${dir} belongs to uid ${info.uid}`
  if (info.isSymbolicLink()) return undefined // its target is checked through the real path
  const sticky = (info.mode & 0o1000) !== 0
  if ((info.mode & 0o022) !== 0 && !sticky)
    return `${dir} is writable by group or others (mode ${(info.mode & 0o7777).toString(8)}) and not sticky`
  return undefined
}

/** The directories from `path`'s parent up to `/`. */
function ancestors(path: string): string[] {
  const dirs: string[] = []
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    dirs.push(dir)
    if (dirname(dir) === dir) return dirs
  }
}

/**
 * A path in the real directory of `path`'s deepest existing ancestor (symbolic links resolved), so
 * that its ancestors are the real directories on the way; undefined when none resolves.
 */
async function realChild(path: string): Promise<string | undefined> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const real = await realpath(dir).catch(() => undefined)
    if (real !== undefined) return resolve(real, 'x')
    if (dirname(dir) === dir) return undefined
  }
}

/**
 * The first directory on the way to `path` (see the module) that lets another user replace its
 * entries, as a sentence naming it; undefined when there is none. A directory that cannot be
 * inspected is reported too; one that does not exist yet is not (whoever makes it owns it).
 */
export async function replaceableBy(path: string): Promise<string | undefined> {
  const uid = process.getuid?.()
  const given = resolve(path)
  const real = await realChild(given)
  const dirs = [...ancestors(given), ...(real === undefined ? [] : ancestors(real))]
  for (const dir of new Set(dirs)) {
    let info: Stats
    try {
      info = await lstat(dir)
    } catch (cause) {
      if ((cause as { code?: unknown } | null)?.code === 'ENOENT') continue // made by us, later
      return `${dir} cannot be inspected (${cause instanceof Error ? cause.message : String(cause)})`
    }
    const problem = openTo(dir, info, uid)
    if (problem !== undefined) return problem
  }
  return undefined
}
