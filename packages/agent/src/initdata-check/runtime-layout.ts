/**
 * What the runtime directory holds for a set of verified documents (the layouts of
 * `runtime-files.ts`), as one tree that is both written and, when an agent restarts, compared:
 *
 * ```text
 * verified   initdata.toml, <key>…                     files 0600
 * unbound    UNBOUND, unbound/{initdata.toml, <key>…}  files 0600, unbound/ 0700
 * ```
 *
 * {@link holdsLayout} is the restart check: the directory an earlier run of the agent wrote for the
 * same documents is taken as it is, so a restarted agent (after a crash, or a supervisor's
 * restart) comes back instead of refusing its own directory. It must hold exactly the tree: the
 * same names and nothing else, real directories 0700 and regular files 0600 with one link each,
 * owned by the agent's user, with the same bytes. Anything else (one byte, a mode, an extra or
 * missing name, a symbolic link, the other layout) is not taken, and the writer refuses it as
 * before.
 *
 * @module
 */
import { constants } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { stringToUtf8 } from '@initguard/core'
import { INITDATA_DOCUMENT_FILE, type VerifiedDocuments } from './verified-documents.ts'

/** The marker file of the unbound layout, at the top of the runtime directory. */
export const UNBOUND_MARKER_FILE = 'UNBOUND'
/** The directory of the unbound layout that holds the documents. */
export const UNBOUND_DOCUMENTS_DIR = 'unbound'

/** A file of the layout (written 0600) or a directory (0700). */
export type LayoutEntry =
  | { readonly kind: 'file'; readonly bytes: Uint8Array; readonly what: string }
  | { readonly kind: 'dir'; readonly entries: Layout }

/** Names to entries, in the order they are written. */
export type Layout = ReadonlyMap<string, LayoutEntry>

/** The tree the runtime directory holds for `documents` (see the module). */
export function runtimeLayout(documents: VerifiedDocuments): Layout {
  const files = new Map<string, LayoutEntry>([
    [
      INITDATA_DOCUMENT_FILE,
      { kind: 'file', bytes: documents.document(), what: 'initdata document' },
    ],
  ])
  for (const key of documents.keys()) {
    const bytes = documents.get(key)
    if (bytes !== undefined) files.set(key, { kind: 'file', bytes, what: `[data] "${key}"` })
  }
  if (documents.verified) return files
  const reason = `${documents.unboundReason ?? 'running unbound'}\n`
  return new Map<string, LayoutEntry>([
    [UNBOUND_MARKER_FILE, { kind: 'file', bytes: stringToUtf8(reason), what: 'unbound marker' }],
    [UNBOUND_DOCUMENTS_DIR, { kind: 'dir', entries: files }],
  ])
}

const ownedByUs = (owner: number): boolean => {
  const uid = process.getuid?.()
  return uid === undefined || owner === uid
}

/**
 * True when `dir` holds exactly `layout` (see the module); false for anything else, including a
 * path that is missing or cannot be read. Never throws.
 */
export async function holdsLayout(dir: string, layout: Layout): Promise<boolean> {
  try {
    return await directoryHolds(dir, layout)
  } catch {
    return false
  }
}

async function directoryHolds(dir: string, layout: Layout): Promise<boolean> {
  const info = await lstat(dir)
  if (!info.isDirectory() || (info.mode & 0o777) !== 0o700 || !ownedByUs(info.uid)) return false
  const names = (await readdir(dir)).sort()
  const wanted = [...layout.keys()].sort()
  if (names.length !== wanted.length || names.some((name, i) => name !== wanted[i])) return false
  for (const [name, entry] of layout) {
    const path = join(dir, name)
    const holds =
      entry.kind === 'dir'
        ? await directoryHolds(path, entry.entries)
        : await fileHolds(path, entry.bytes)
    if (!holds) return false
  }
  return true
}

/** A regular file of ours, 0600, one link, exactly `bytes`; opened without following a link. */
async function fileHolds(path: string, bytes: Uint8Array): Promise<boolean> {
  // O_NONBLOCK: a FIFO in a file's place must not hang the check (it fails isFile below).
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const info = await handle.stat()
    if (!info.isFile() || (info.mode & 0o777) !== 0o600 || info.nlink !== 1) return false
    if (!ownedByUs(info.uid) || info.size !== bytes.length) return false
    const found = new Uint8Array(bytes.length + 1)
    let filled = 0
    while (filled < found.length) {
      const { bytesRead } = await handle.read(found, filled, found.length - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    return filled === bytes.length && Buffer.from(bytes).equals(found.subarray(0, filled))
  } finally {
    await handle.close()
  }
}
