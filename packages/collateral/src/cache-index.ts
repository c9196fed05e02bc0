/**
 * The bound on one cache area directory, enforced by one process: an index of the entries (their
 * allocated bytes and last use) kept in memory, so that a sweep after a download lists the directory
 * and `lstat`s only what it does not know yet, instead of every entry (4096 `lstat`s cost about
 * 100 ms of CPU per download). The index is reconciled with the directory at every sweep (entries
 * other processes wrote are added, entries they removed dropped), and rebuilt from the directory
 * at the first sweep and every {@link FULL_SCAN_MS}, which also takes in other processes' reads.
 *
 * @module
 */
import { lstat, readdir, unlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { basename, join } from 'node:path'
import { cacheError, type CheckedCacheBound } from './cache-directory.ts'

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
/** How often the whole directory is `lstat`ed again: other processes' reads, abandoned files. */
const FULL_SCAN_MS = 5 * 60 * 1000
/** `lstat`s at once: thousands together would queue ahead of all other thread-pool work. */
const LSTAT_BATCH = 64

const isMissing = (error: unknown): boolean => (error as { code?: unknown }).code === 'ENOENT'

/** What a file takes on disk (what a volume's size limit counts): whole blocks. */
export function allocatedBytes(info: Stats): number {
  return Math.max(info.size, info.blocks * 512)
}

/** The entries of one area directory and its bound, for one process. */
export class CacheDirectoryIndex {
  readonly #directory: string
  readonly #bound: CheckedCacheBound
  /** Entry name → allocated bytes and last use (ms). */
  readonly #entries = new Map<string, { bytes: number; usedMs: number }>()
  #fullScanMs = Number.NEGATIVE_INFINITY
  /** The sweep under way, and the sweeps asked for so far (a sweep covers those before it starts). */
  #sweep: Promise<void> | undefined
  #sweepsAsked = 0

  constructor(directory: string, bound: CheckedCacheBound) {
    this.#directory = directory
    this.#bound = bound
  }

  /** Entry `name` was read (a hit) at `now`. */
  used(name: string, now: Date): void {
    const known = this.#entries.get(name)
    if (known !== undefined) known.usedMs = now.getTime()
  }

  /** Entry `name` was (re)written: its size is read again at the next sweep. */
  written(name: string): void {
    this.#entries.delete(name)
  }

  /**
   * Evict the least recently used entries beyond the bound, after a write. Concurrent calls share a
   * sweep; a call during a sweep makes it run once more, so every write is swept after it.
   *
   * @throws {@link LocalIoError} `ERR_CACHE_UNUSABLE` when the directory cannot be listed or an
   *   entry cannot be removed: a bound that cannot be enforced is an error, not a growing cache.
   */
  enforce(now: Date): Promise<void> {
    this.#sweepsAsked += 1
    if (this.#sweep !== undefined) return this.#sweep
    const sweep = async (): Promise<void> => {
      try {
        let covered: number
        do {
          covered = this.#sweepsAsked
          await this.#sweepOnce(now)
        } while (this.#sweepsAsked !== covered)
      } finally {
        // In the same step as the last check: a call after it starts a sweep of its own.
        this.#sweep = undefined
      }
    }
    this.#sweep = sweep()
    return this.#sweep
  }

  async #sweepOnce(now: Date): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.#directory)
    } catch (error) {
      if (!isMissing(error)) throw cacheError(error, this.#directory, 'directory')
      names = []
    }
    const full = now.getTime() - this.#fullScanMs >= FULL_SCAN_MS
    const onDisk = new Set(names.filter((name) => ENTRY_NAME.test(name)))
    // Removed by another process (or never there): forgotten.
    for (const name of this.#entries.keys()) if (!onDisk.has(name)) this.#entries.delete(name)
    const unknown = names.filter((name) =>
      ENTRY_NAME.test(name) ? full || !this.#entries.has(name) : full && TEMPORARY_NAME.test(name),
    )
    const doomed = await this.#learn(unknown, now)
    if (full) this.#fullScanMs = now.getTime()
    doomed.push(...this.#beyondBound())
    for (const path of doomed) {
      await unlink(path).catch((error: unknown) => {
        if (!isMissing(error)) throw cacheError(error, path, 'entry')
      })
    }
  }

  /** `lstat` `names` into the index; returns the abandoned temporary files among them. */
  async #learn(names: readonly string[], now: Date): Promise<string[]> {
    const abandoned: string[] = []
    for (let start = 0; start < names.length; start += LSTAT_BATCH) {
      const paths = names.slice(start, start + LSTAT_BATCH).map((n) => join(this.#directory, n))
      const infos = await Promise.all(
        paths.map((path) =>
          lstat(path).catch((error: unknown) => {
            if (isMissing(error)) return undefined
            throw cacheError(error, path, 'entry')
          }),
        ),
      )
      paths.forEach((path, i) => {
        const info = infos[i]
        if (!info?.isFile()) return
        const name = basename(path)
        if (!ENTRY_NAME.test(name)) {
          if (now.getTime() - info.mtimeMs > ABANDONED_TEMPORARY_MS) abandoned.push(path)
          return
        }
        // A write sets both times, a read the atime; a use this process saw counts too (its
        // touch of the atime may have failed).
        const usedMs = Math.max(info.atimeMs, info.mtimeMs, this.#entries.get(name)?.usedMs ?? 0)
        this.#entries.set(name, { bytes: allocatedBytes(info), usedMs })
      })
    }
    return abandoned
  }

  /** Removes from the index, and returns, the paths of the least recently used beyond the bound. */
  #beyondBound(): string[] {
    let total = 0
    for (const { bytes } of this.#entries.values()) total += bytes
    if (this.#entries.size <= this.#bound.maxEntries && total <= this.#bound.maxBytes) return []
    const newestFirst = [...this.#entries].sort(([, a], [, b]) => b.usedMs - a.usedMs)
    const doomed: string[] = []
    let kept = 0
    let keptBytes = 0
    let full = false
    for (const [name, { bytes }] of newestFirst) {
      // Keep the most recently used while both bounds hold; everything older goes.
      full ||= kept >= this.#bound.maxEntries || keptBytes + bytes > this.#bound.maxBytes
      if (full) {
        this.#entries.delete(name)
        doomed.push(join(this.#directory, name))
      } else {
        kept += 1
        keptBytes += bytes
      }
    }
    return doomed
  }
}
