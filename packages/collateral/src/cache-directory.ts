/**
 * The on-disk side of the collateral cache: one file per entry (`<cache-dir>/<area>/<sha256 of the
 * key>`, a JSON envelope `{"headers": {…}, "body": "<base64>"}`, written atomically by
 * `writeFileAtomic`), its last use kept in the file's atime (its mtime stays the download time,
 * which freshness reads), and the bound on each area directory that `CacheDirectoryIndex` enforces
 * after every write by evicting the least recently used entries.
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
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { LocalIoError, UsageError, base64ToBytes, isJsonObject } from '@initguard/core'
import type { Downloaded } from './cached-download.ts'

/** Largest collateral document accepted: 16 MiB (CRLs and TCB infos are kilobytes to a few MiB). */
export const MAX_COLLATERAL_SIZE: number = 16 * 1024 * 1024

/**
 * Largest cache entry read: the envelope of a {@link MAX_COLLATERAL_SIZE} body (base64, 4/3 of it)
 * plus room for the kept headers (each response's headers are bounded by the HTTP client's 16 KiB
 * or so). A larger file was not written here and is not read into memory.
 */
const MAX_ENTRY_BYTES = Math.ceil(MAX_COLLATERAL_SIZE / 3) * 4 + 1024 * 1024

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
 * index each process keeps and the directory listing each sweep reads.
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

/** The file is not there (never was, or another process removed it): a miss, not an error. */
export const isMissing = (error: unknown): boolean =>
  (error as { code?: unknown }).code === 'ENOENT'

/**
 * The envelope `{"headers": {name: string…}, "body": "<padded base64>"}` as written by the
 * downloader, or `undefined` for anything else: a cache entry is read back only in the exact shape
 * it was written in, so no other value (a `null` header map, a number for a header, a body that is
 * not canonical base64) reaches the collateral clients.
 */
function parseEnvelope(text: string): Downloaded | undefined {
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isJsonObject(envelope)) return undefined
  const { headers, body } = envelope
  if (!isJsonObject(headers) || typeof body !== 'string') return undefined
  if (!Object.values(headers).every((value) => typeof value === 'string')) return undefined
  try {
    return { headers: { ...(headers as Record<string, string>) }, body: base64ToBytes(body) }
  } catch {
    return undefined
  }
}

/**
 * A cached entry and its age (ms since it was downloaded), or `undefined` for a miss: absent,
 * removed meanwhile by another process's eviction, or damaged (not a regular file, such as a
 * symbolic link, a FIFO, a socket or a device, which is never followed or read; larger than any
 * entry written here; not the envelope in its exact shape). A damaged entry is downloaded again,
 * and the download replaces it. A hit is marked used (atime now).
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
    // them cannot mix one file's content with another's times. No symbolic link is followed, and
    // opening a FIFO does not wait for a writer.
    const handle = await open(
      file,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    )
    try {
      const info = await handle.stat()
      // A directory is read, and its EISDIR reported: a download could not replace it.
      if (!info.isDirectory() && (!info.isFile() || info.size > MAX_ENTRY_BYTES)) return undefined
      text = await handle.readFile('utf8')
      modified = info.mtime
      // Recency only (the mtime, the download time, is kept): a touch that fails (a file another
      // user owns) leaves the entry older in the eviction order, never unreadable.
      await handle.utimes(now, modified).catch(() => undefined)
    } finally {
      await handle.close()
    }
  } catch (error) {
    // ELOOP: a symbolic link (O_NOFOLLOW); ENXIO: a socket, or a device without its driver. Not
    // regular files, so misses, which the download replaces.
    const code = (error as { code?: unknown }).code
    if (isMissing(error) || code === 'ELOOP' || code === 'ENXIO') return undefined
    throw cacheError(error, file, 'entry')
  }
  // A damaged cache entry is a miss, not an error: it is downloaded again.
  const entry = parseEnvelope(text)
  return entry === undefined ? undefined : { entry, ageMs: now.getTime() - modified.getTime() }
}
