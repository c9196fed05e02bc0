/**
 * Writing the verified documents to the runtime directory, once, for components that read files
 * (as Kata's agent writes `/run/confidential-containers/initdata/{initdata.toml,aa.toml,cdh.toml}`).
 *
 * ```text
 * DIR/                 mode 0700, created if absent; must be empty if present
 *   initdata.toml      mode 0600, the whole document as checked
 *   <key>              mode 0600, one file per [data] key, its value in UTF-8
 * ```
 *
 * Every file is written atomically from the in-memory {@link VerifiedDocuments}, never copied from
 * the source. A directory that already holds files is refused, so nothing from an earlier
 * document is ever found beside this one.
 *
 * @module
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { INITDATA_DOCUMENT_FILE, type VerifiedDocuments } from './verified-documents.ts'

/** Where {@link writeRuntimeFiles} put each document. */
export interface RuntimeFiles {
  readonly dir: string
  /** The whole document's path. */
  readonly document: string
  /** Each `[data]` key's path, by key. */
  readonly data: ReadonlyMap<string, string>
}

/**
 * Write `documents` to `dir` (mode 0700) as 0600 files.
 *
 * @throws {@link LocalIoError} `ERR_AGENT_RUNTIME_DIR` (not a directory, a symbolic link, open to
 *   group or others, cannot be created), `ERR_AGENT_RUNTIME_DIR_NOT_EMPTY`, `ERR_FILE_WRITE`.
 */
export async function writeRuntimeFiles(
  dir: string,
  documents: VerifiedDocuments,
): Promise<RuntimeFiles> {
  await prepareDirectory(dir)
  const document = join(dir, INITDATA_DOCUMENT_FILE)
  const data = new Map<string, string>()
  const written: string[] = []
  try {
    await writeFileAtomic(document, documents.document(), {
      what: 'verified initdata document',
      mode: 0o600,
    })
    written.push(document)
    for (const key of documents.keys()) {
      const path = join(dir, key)
      const bytes = documents.get(key)
      if (bytes === undefined) continue
      await writeFileAtomic(path, bytes, { what: `verified initdata [data] "${key}"`, mode: 0o600 })
      written.push(path)
      data.set(key, path)
    }
  } catch (error) {
    // All or nothing: a reader must never find some of the documents without the others.
    await Promise.all(written.map((path) => rm(path, { force: true })))
    throw error
  }
  return { dir, document, data }
}

async function prepareDirectory(dir: string): Promise<void> {
  const refuse = (message: string, hint: string, cause?: unknown): LocalIoError =>
    new LocalIoError('ERR_AGENT_RUNTIME_DIR', message, {
      details: { path: dir },
      hint,
      ...(cause === undefined ? {} : { cause }),
    })
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (cause) {
    throw refuse(
      `cannot create the runtime directory ${JSON.stringify(dir)}: ${cause instanceof Error ? cause.message : String(cause)}`,
      'give a --runtime-dir the agent can create (its parent must exist and be writable)',
      cause,
    )
  }
  const info = await lstat(dir)
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw refuse(
      `the runtime directory ${JSON.stringify(dir)} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`,
      'give the path of a real directory (or of one to create)',
    )
  }
  if ((info.mode & 0o077) !== 0) {
    throw refuse(
      `the runtime directory ${JSON.stringify(dir)} is open to group or others (mode ${(info.mode & 0o777).toString(8)})`,
      `chmod 700 ${dir}, or let the agent create it`,
    )
  }
  const entries = await readdir(dir)
  if (entries.length > 0) {
    throw new LocalIoError(
      'ERR_AGENT_RUNTIME_DIR_NOT_EMPTY',
      `the runtime directory ${JSON.stringify(dir)} already holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}; the verified documents are written once, into an empty directory`,
      {
        details: { path: dir, entries: entries.slice(0, 10) },
        hint: 'remove what an earlier run left there, or give another --runtime-dir',
      },
    )
  }
}
