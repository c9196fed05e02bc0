/**
 * The on-disk side of the collateral cache: one file per entry (`<cache-dir>/<area>/<sha256 of the
 * key>`, a JSON envelope `{"headers": {…}, "body": "<base64>"}`, written atomically by
 * `writeFileAtomic`), its last use kept in the file's atime (its mtime stays the download time,
 * which freshness reads), and a bound on each area directory enforced after every write by evicting
 * the least recently used entries.
 *
 * The bound matters because a cache key can come from evidence that is not yet verified: a KBS
 * client can invent one (chip ID, reported TCB) pair after another, each answered by AMD KDS, and
 * without a bound every one stays on disk until the volume fills (on Kubernetes, the pod's
 * `emptyDir` `sizeLimit`, whose overrun evicts the pod).
 *
 * Several processes may share a directory: every step tolerates an entry that another process
 * removed (a miss, downloaded again), and nothing here removes a file another process is writing.
 *
 * @module
 */
import { lstat, open, readdir, unlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { LocalIoError, UsageError } from '@initguard/core'
import type { Downloaded } from './cached-download.ts'

/** How much one cache area directory (`kds`, `pcs`) may hold; the least recently used go first. */
export interface CacheBound {
  /** Most entries kept; default {@link DEFAULT_CACHE_MAX_ENTRIES}. */
  readonly maxEntries?: number
  /** Most bytes kept (allocated on disk, so small files count whole blocks); default {@link DEFAULT_CACHE_MAX_BYTES}. */
  readonly maxBytes?: number
}

/**
 * 4096 entries per area. A VCEK is about 1.4 kB of DER, about 1.9 kB in its base64 envelope and one
 * 4 KiB block on disk, so 4096 VCEKs hold 16 MiB: a fleet of a few thousand (chip, TCB) pairs
 * stays cached, and a client inventing pairs only recycles the oldest. The count also bounds the
 * work of each sweep (one `lstat` per entry, after a download only).
 */
export const DEFAULT_CACHE_MAX_ENTRIES = 4096

/**
 * 32 MiB per area. CRLs, TCB infos and QE identities are a few kB to hundreds of kB (16 MiB at most
 * per document, 21.4 MiB in its envelope), so the byte bound is what holds when large documents
 * fill the cache. The two areas (`kds`, `pcs`) then hold at most 64 MiB, plus what concurrent
 * downloads write before their sweep: a quarter of the 256 MiB `emptyDir` the Kubernetes
 * Deployment gives the data directory.
 */
export const DEFAULT_CACHE_MAX_BYTES: number = 32 * 1024 * 1024

/** A bound with its defaults filled in and checked. */
export interface CheckedCacheBound {
  readonly maxEntries: number
  readonly maxBytes: number
}

/**
 * The bound with its defaults, refused when malformed (a bound that is not a whole number of at
 * least 1 is never read as "no bound").
 *
 * @throws {@link UsageError} `ERR_CACHE_BOUND`.
 */
export function checkCacheBound(bound: CacheBound = {}): CheckedCacheBound {
  const checked = (value: number | undefined, name: string, fallback: number): number => {
    if (value === undefined) return fallback
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new UsageError(
        'ERR_CACHE_BOUND',
        `the download cache's ${name} ${String(value)} is not a whole number of at least 1`,
        { details: { [name]: String(value) }, hint: `give ${name} as a whole number ≥ 1` },
      )
    }
    return value
  }
  return {
    maxEntries: checked(bound.maxEntries, 'maxEntries', DEFAULT_CACHE_MAX_ENTRIES),
    maxBytes: checked(bound.maxBytes, 'maxBytes', DEFAULT_CACHE_MAX_BYTES),
  }
}

/**
 * The cache cannot be used: a directory on its path is a file, an entry is a directory, or access
 * is denied. Exit 7 naming the path, rather than a download that silently goes uncached.
 */
export function cacheError(
  error: unknown,
  path: string,
  what: 'directory' | 'entry',
): LocalIoError {
  const code = (error as { code?: unknown }).code
  const reason =
    code === 'ENOTDIR' || code === 'EEXIST'
      ? 'a part of the path is a file, not a directory'
      : code === 'EISDIR'
        ? 'the cache entry is a directory, not a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : typeof code === 'string'
            ? code
            : String(error)
  return new LocalIoError(
    'ERR_CACHE_UNUSABLE',
    `cannot use the download cache ${what} ${JSON.stringify(path)}: ${reason}`,
    {
      cause: error,
      details: { path, reason },
      hint: 'the cache (--cache-dir, else $XDG_CACHE_HOME/initguard) must be a directory Initguard can write: remove or move what is in the way, or choose another --cache-dir',
    },
  )
}

const isMissing = (error: unknown): boolean => (error as { code?: unknown }).code === 'ENOENT'

/**
 * A cached entry and its age (ms since it was downloaded), or `undefined` for a miss: absent,
 * removed meanwhile by another process's eviction, or damaged. A hit is marked used (atime now).
 *
 * @throws {@link LocalIoError} `ERR_CACHE_UNUSABLE` when the entry exists but cannot be read.
 */
export async function readCached(
  file: string,
  now: Date,
): Promise<{ entry: Downloaded; ageMs: number } | undefined> {
  let text: string
  let modified: Date
  try {
    // One open file for the read, its times and the touch: an eviction or a replacement between
    // them cannot mix one file's content with another's times.
    const handle = await open(file, 'r')
    try {
      text = await handle.readFile('utf8')
      modified = (await handle.stat()).mtime
      // Recency only (the mtime, the download time, is kept): a touch that fails (a file another
      // user owns) leaves the entry older in the eviction order, never unreadable.
      await handle.utimes(now, modified).catch(() => undefined)
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (isMissing(error)) return undefined
    throw cacheError(error, file, 'entry')
  }
  try {
    const envelope = JSON.parse(text) as { headers: Record<string, string>; body: string }
    return {
      entry: {
        headers: envelope.headers,
        body: new Uint8Array(Buffer.from(envelope.body, 'base64')),
      },
      ageMs: now.getTime() - modified.getTime(),
    }
  } catch {
    // A damaged cache entry is a miss, not an error: it is downloaded again.
    return undefined
  }
}

/** An entry's name: the hex SHA-256 of its key. */
const ENTRY_NAME = /^[0-9a-f]{64}$/
/** A `writeFileAtomic` temporary file of an entry: `.<entry>.<random>.tmp`. */
const TEMPORARY_NAME = /^\.[0-9a-f]{64}\.[0-9a-f]{12}\.tmp$/
/**
 * A temporary file older than this was left by a writer that died (a write is one flushed file of
 * at most 21.4 MiB): removed, so crashes cannot fill the directory past the bound either. Younger
 * ones may be another process's write in progress and are left alone.
 */
const ABANDONED_TEMPORARY_MS = 60 * 60 * 1000

const LSTAT_BATCH = 64

interface EntryOnDisk {
  readonly path: string
  readonly bytes: number
  readonly usedMs: number
}

/**
 * Evict from `directory` the least recently used entries beyond `bound` (and abandoned temporary
 * files). Entries another process removes meanwhile are skipped.
 *
 * @throws {@link LocalIoError} `ERR_CACHE_UNUSABLE` when the directory cannot be listed or an entry
 *   cannot be removed: a bound that cannot be enforced is an error, not a silently growing cache.
 */
export async function evictBeyondBound(
  directory: string,
  bound: CheckedCacheBound,
  now: Date,
): Promise<void> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch (error) {
    if (isMissing(error)) return
    throw cacheError(error, directory, 'directory')
  }
  const entries: EntryOnDisk[] = []
  const doomed: string[] = []
  const paths = names
    .filter((name) => ENTRY_NAME.test(name) || TEMPORARY_NAME.test(name))
    .map((name) => join(directory, name))
  // In batches: thousands of `lstat`s at once would queue ahead of all other thread-pool work.
  for (let start = 0; start < paths.length; start += LSTAT_BATCH) {
    const batch = paths.slice(start, start + LSTAT_BATCH)
    const infos = await Promise.all(
      batch.map((path) =>
        lstat(path).catch((error: unknown) => {
          if (isMissing(error)) return undefined
          throw cacheError(error, path, 'entry')
        }),
      ),
    )
    batch.forEach((path, i) => {
      const info = infos[i]
      if (!info?.isFile()) return
      if (basename(path).startsWith('.')) {
        if (now.getTime() - info.mtimeMs > ABANDONED_TEMPORARY_MS) doomed.push(path)
        return
      }
      // A write sets both times; a read sets the atime.
      const usedMs = Math.max(info.atimeMs, info.mtimeMs)
      entries.push({ path, bytes: Math.max(info.size, info.blocks * 512), usedMs })
    })
  }
  entries.sort((a, b) => b.usedMs - a.usedMs)
  let kept = 0
  let keptBytes = 0
  let full = false
  for (const entry of entries) {
    // Keep the most recently used while both bounds hold; everything older goes.
    full ||= kept >= bound.maxEntries || keptBytes + entry.bytes > bound.maxBytes
    if (full) doomed.push(entry.path)
    else {
      kept += 1
      keptBytes += entry.bytes
    }
  }
  for (const path of doomed) {
    await unlink(path).catch((error: unknown) => {
      if (!isMissing(error)) throw cacheError(error, path, 'entry')
    })
  }
}
