/**
 * Writing the checked documents to the runtime directory, once, for components that read files
 * (as Kata's agent writes `/run/confidential-containers/initdata/{initdata.toml,aa.toml,cdh.toml}`).
 *
 * ```text
 * verified (the document matched the TEE launch):
 * DIR/                 mode 0700, ours
 *   initdata.toml      mode 0600, the whole document as checked
 *   <key>              mode 0600, one file per [data] key, its value in UTF-8
 *
 * unbound (--allow-unbound-initdata; nothing vouches for the documents):
 * DIR/                 mode 0700, ours
 *   UNBOUND            mode 0600, why nothing vouches for them (one line)
 *   unbound/           mode 0700
 *     initdata.toml    mode 0600, as above
 *     <key>            mode 0600, as above
 * ```
 *
 * DIR's parent directories must let nobody but the agent's user and root replace DIR (owned by one
 * of them, not writable by group or others unless sticky: `trusted-path.ts`): a reader of a DIR
 * that someone else can rename away and put back reads what they put there.
 *
 * The unbound layout differs on purpose: a reader that looks for `DIR/aa.toml` finds nothing
 * rather than configuration nothing vouches for, and one that lists the directory sees `UNBOUND`.
 *
 * All or nothing: every file is written (from the in-memory {@link VerifiedDocuments}, never
 * copied from the source) and flushed into a fresh 0700 staging directory beside DIR, which is
 * then renamed to DIR in one step. A reader, or a crash, sees either no DIR (or the empty one that
 * was there) or all of it. DIR may exist only as an empty directory of ours, mode 0700: rename(2)
 * itself refuses to replace a directory that holds anything, so nothing from an earlier document
 * is ever found beside this one, even if something appears there meanwhile.
 *
 * Restarts: DIR as an earlier run of the agent wrote it for the same documents (exactly this
 * layout, these bytes, these modes and owner, nothing else: `runtime-layout.ts`) is taken as it
 * is, without writing, so a restarted agent comes back. Anything else in DIR is refused as before.
 *
 * @module
 */
import { lstat, mkdir, mkdtemp, open, readdir, rename } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { LocalIoError } from '@initguard/core'
import { removeTree, writeNewFile } from '@initguard/files'
import { UNBOUND_DOCUMENTS_DIR, holdsLayout, runtimeLayout, type Layout } from './runtime-layout.ts'
import { INITDATA_DOCUMENT_FILE, type VerifiedDocuments } from './verified-documents.ts'
import { replaceableBy } from '../trusted-path.ts'

export { UNBOUND_DOCUMENTS_DIR, UNBOUND_MARKER_FILE } from './runtime-layout.ts'

/** Where {@link writeRuntimeFiles} put each document. */
export interface RuntimeFiles {
  readonly dir: string
  /** False when the documents were written in the unbound layout. */
  readonly verified: boolean
  /** The whole document's path. */
  readonly document: string
  /** Each `[data]` key's path, by key. */
  readonly data: ReadonlyMap<string, string>
}

/**
 * Write `documents` to `dir` in the layout their state calls for (see the module), all at once;
 * or take `dir` as it is when an earlier run wrote exactly that there (a restart).
 *
 * @throws {@link LocalIoError} `ERR_AGENT_RUNTIME_DIR` (cannot be inspected or created, not a
 *   directory, a symbolic link, owned by another user, open to group or others, in a directory
 *   another user could replace it in),
 *   `ERR_AGENT_RUNTIME_DIR_NOT_EMPTY`, `ERR_FILE_WRITE`; nothing is left behind on any of them.
 */
export async function writeRuntimeFiles(
  dir: string,
  documents: VerifiedDocuments,
): Promise<RuntimeFiles> {
  const target = resolve(dir)
  const parent = dirname(target)
  // Before anything is made, so that a refused path leaves nothing behind in a shared directory.
  await checkTrusted(target, dir)
  await makeParents(parent, dir)
  // And again once every directory on the way exists: the first check passes over a directory
  // that does not exist yet, and another user may make it (in a sticky parent such as /tmp)
  // before the agent does. Once all of them are trusted, only root can change that.
  await checkTrusted(target, dir)
  await checkTarget(target, dir)
  const layout = runtimeLayout(documents)
  if (await holdsLayout(target, layout)) return runtimeFiles(dir, documents)
  const staging = await attempt(
    () => mkdtemp(join(parent, `.${basename(target)}.staging-`)), // mode 0700
    {
      path: parent,
      doing: 'create a staging directory beside',
      dir,
      hint: 'make the parent writable',
    },
  )
  try {
    await writeLayout(staging, layout, dir)
    await moveIntoPlace(staging, target, dir)
  } catch (error) {
    // removeTree never throws: the error that stopped the writing is the one reported.
    await removeTree(staging)
    throw error
  }
  // The rename is done; this makes it survive a crash.
  await syncDirectory(parent, dir)
  return runtimeFiles(dir, documents)
}

/** Refuse `target` when another user could replace it (`trusted-path.ts`). */
async function checkTrusted(target: string, dir: string): Promise<void> {
  const replaceable = await replaceableBy(target)
  if (replaceable !== undefined)
    throw runtimeDirError(
      `the runtime directory ${JSON.stringify(dir)} could be replaced by another user: ${replaceable}`,
      dir,
      'give a --runtime-dir whose parent directories only the agent’s user and root can write (e.g. under /run), or make the shared one sticky',
    )
}

/**
 * Make the directories missing on the way to `parent`, outermost first, one `mkdir` each (mode
 * 0700, ours). One that exists by then (made meanwhile by someone else) is left as it is: the check
 * that follows refuses it unless it is ours or root's and closed to others. Directories made here
 * are not removed on that refusal: the way to them goes through a directory another user controls.
 */
async function makeParents(parent: string, dir: string): Promise<void> {
  const missing: string[] = []
  for (let at = parent; ; at = dirname(at)) {
    const exists = await lstat(at).then(
      () => true,
      (cause: unknown) => {
        if (codeOf(cause) === 'ENOENT') return false
        throw runtimeDirError(
          `cannot inspect ${JSON.stringify(at)} (runtime directory ${JSON.stringify(dir)}): ${reasonOf(cause)}`,
          dir,
          'give a --runtime-dir whose parents are directories the agent can search',
          cause,
        )
      },
    )
    if (exists || dirname(at) === at) break
    missing.unshift(at)
  }
  for (const at of missing) {
    await attempt(
      () =>
        mkdir(at, { mode: 0o700 }).catch((cause: unknown) => {
          if (codeOf(cause) !== 'EEXIST') throw cause
        }),
      {
        path: at,
        doing: 'create the parent directory',
        dir,
        hint: 'give a --runtime-dir whose parent the agent can create or write to',
      },
    )
  }
}

/** Where each document of `documents` is in `dir`. */
function runtimeFiles(dir: string, documents: VerifiedDocuments): RuntimeFiles {
  const where = documents.verified ? dir : join(dir, UNBOUND_DOCUMENTS_DIR)
  const data = new Map(documents.keys().map((key) => [key, join(where, key)]))
  return {
    dir,
    verified: documents.verified,
    document: join(where, INITDATA_DOCUMENT_FILE),
    data,
  }
}

/** Write `layout` into the existing directory `at` (files 0600, directories 0700), then flush it. */
async function writeLayout(at: string, layout: Layout, dir: string): Promise<void> {
  for (const [name, entry] of layout) {
    const path = join(at, name)
    if (entry.kind === 'file') {
      await writeRuntimeFile(path, entry.bytes, entry.what)
      continue
    }
    await attempt(() => mkdir(path, { mode: 0o700 }), {
      path,
      doing: 'create',
      dir,
      hint: 'check the parent directory’s file system',
    })
    await writeLayout(path, entry.entries, dir)
  }
  await syncDirectory(at, dir)
}

interface Attempt {
  /** The path the operation was on. */
  readonly path: string
  /** What was being done to it, e.g. "create". */
  readonly doing: string
  /** The runtime directory, as given. */
  readonly dir: string
  readonly hint: string
}

const reasonOf = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)
const codeOf = (cause: unknown): unknown => (cause as { code?: unknown } | null)?.code

function runtimeDirError(
  message: string,
  dir: string,
  hint: string,
  cause?: unknown,
): LocalIoError {
  return new LocalIoError('ERR_AGENT_RUNTIME_DIR', message, {
    details: { path: dir },
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Run a file-system step, turning its failure into `ERR_AGENT_RUNTIME_DIR` naming the path. */
async function attempt<T>(step: () => Promise<T>, what: Attempt): Promise<T> {
  try {
    return await step()
  } catch (cause) {
    throw runtimeDirError(
      `cannot ${what.doing} ${JSON.stringify(what.path)} (runtime directory ${JSON.stringify(what.dir)}): ${reasonOf(cause)}`,
      what.dir,
      what.hint,
      cause,
    )
  }
}

/** The target must be absent, or an empty directory of ours that nobody else can enter. */
async function checkTarget(target: string, dir: string): Promise<void> {
  let info
  try {
    info = await lstat(target)
  } catch (cause) {
    if (codeOf(cause) === 'ENOENT') return
    throw runtimeDirError(
      `cannot inspect the runtime directory ${JSON.stringify(dir)}: ${reasonOf(cause)}`,
      dir,
      'give a --runtime-dir whose parents are directories the agent can search',
      cause,
    )
  }
  const quoted = JSON.stringify(dir)
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw runtimeDirError(
      `the runtime directory ${quoted} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      dir,
      'give the path of a real directory (or of one to create)',
    )
  }
  const uid = process.getuid?.()
  if (uid !== undefined && info.uid !== uid) {
    throw runtimeDirError(
      `the runtime directory ${quoted} is owned by uid ${info.uid}, not by the agent (uid ${uid}): its owner could read or replace the documents`,
      dir,
      `remove ${dir} and let the agent create it, or give a --runtime-dir of the agent's own`,
    )
  }
  if ((info.mode & 0o077) !== 0) {
    throw runtimeDirError(
      `the runtime directory ${quoted} is open to group or others (mode ${(info.mode & 0o777).toString(8)})`,
      dir,
      `chmod 700 ${dir}, or let the agent create it`,
    )
  }
}

/** Create `path` (it must not exist), write `bytes`, flush them, mode 0600. */
async function writeRuntimeFile(path: string, bytes: Uint8Array, what: string): Promise<void> {
  await writeNewFile(path, bytes, {
    what: `the ${what}`,
    mode: 0o600,
    hint: 'check the runtime directory’s file system (space, name and path length limits)',
  })
}

async function syncDirectory(path: string, dir: string): Promise<void> {
  await attempt(
    async () => {
      const handle = await open(path, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    { path, doing: 'flush', dir, hint: 'check the runtime directory’s file system' },
  )
}

/** rename(2) replaces an empty directory and refuses one that holds anything. */
async function moveIntoPlace(staging: string, target: string, dir: string): Promise<void> {
  try {
    await rename(staging, target)
  } catch (cause) {
    const code = codeOf(cause)
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      throw runtimeDirError(
        `cannot move the documents into ${JSON.stringify(dir)}: ${reasonOf(cause)}`,
        dir,
        'check the runtime directory’s parent (it must be writable, on one file system)',
        cause,
      )
    }
    const entries = await readdir(target).catch(() => [])
    throw new LocalIoError(
      'ERR_AGENT_RUNTIME_DIR_NOT_EMPTY',
      `the runtime directory ${JSON.stringify(dir)} already holds ${entries.length === 0 ? 'entries' : `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`}; the documents are written once, into an empty or new directory`,
      {
        cause,
        details: { path: dir, entries: entries.slice(0, 10) },
        hint: 'remove what an earlier run left there, or give another --runtime-dir',
      },
    )
  }
}
