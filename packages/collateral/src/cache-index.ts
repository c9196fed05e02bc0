/**
 * The bound on one cache area directory, enforced by one process: an index of the entries (their
 * allocated bytes and last use) kept in memory, so that a sweep after a download lists the directory
 * and `lstat`s only what it does not know yet, instead of every entry (4096 `lstat`s cost about
 * 100 ms of CPU per download). The index is reconciled with the directory at every sweep (entries
 * other processes wrote are added, entries they removed dropped), and rebuilt from the directory
 * at the first sweep and every {@link FULL_SCAN_MS}, which also takes in other processes' reads;
 * the few entries chosen for eviction are `lstat`ed again just before, so one another process has
 * just read or rewritten is kept.
 *
 * @module
 */
import { lstat, readdir, unlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import { cacheError, isMissing, type CheckedCacheBound } from './cache-directory.ts'

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
  /** The sweep under way (for the callers that started it). */
  #running: Promise<void> | undefined
  /**
   * The sweep to run after it, shared by every caller that arrived while it runs: it starts after
   * their writes, so covers them, and they wait for no sweep after it (a steady stream of writes
   * cannot hold them back). Its time is the latest caller's.
   */
  #queued: { now: Date; settle: (sweep: Promise<void>) => void; done: Promise<void> } | undefined

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
   * Evict the least recently used entries beyond the bound, after a write. A call while no sweep
   * runs starts one; a call during a sweep waits for the next one, which all such calls share.
   *
   * @throws {@link LocalIoError} `ERR_CACHE_UNUSABLE` when the directory cannot be listed, or the
   *   entries that cannot be removed alone hold more than the bound: a bound that cannot be
   *   enforced is an error, not a growing cache.
   */
  enforce(now: Date): Promise<void> {
    if (this.#running === undefined) return this.#start(now)
    if (this.#queued === undefined) {
      let settle: (sweep: Promise<void>) => void = () => undefined
      const done = new Promise<void>((resolve) => {
        settle = resolve
      })
      this.#queued = { now, settle, done }
    } else this.#queued.now = now
    return this.#queued.done
  }

  #start(now: Date): Promise<void> {
    const sweep = this.#sweepOnce(now).finally(() => {
      // In the same step as the sweep's end: no call can slip between it and the next sweep.
      const queued = this.#queued
      this.#queued = undefined
      this.#running = undefined
      if (queued !== undefined) queued.settle(this.#start(queued.now))
    })
    this.#running = sweep
    return sweep
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
    const abandoned = await this.#learn(unknown, now)
    if (full) this.#fullScanMs = now.getTime()
    for (const path of abandoned) {
      await unlink(path).catch((error: unknown) => {
        if (!isMissing(error)) throw cacheError(error, path, 'entry')
      })
    }
    await this.#evict(now)
  }

  /**
   * Remove the least recently used entries until the bound holds. The candidates are `lstat`ed
   * first (another process may have read or rewritten them since this one looked) and ranked
   * again. An entry that cannot be removed stays counted and the next oldest goes instead: one
   * stuck entry must not fail every download, only a bound it makes impossible to keep.
   */
  async #evict(now: Date): Promise<void> {
    const stuck = new Map<string, unknown>()
    for (;;) {
      const refreshed = new Set<string>()
      let doomed = this.#beyondBound(stuck)
      for (let stale = doomed; stale.length > 0;) {
        await this.#learn(stale, now)
        for (const name of stale) refreshed.add(name)
        doomed = this.#beyondBound(stuck)
        stale = doomed.filter((name) => !refreshed.has(name))
      }
      if (doomed.length === 0) break
      for (const name of doomed) {
        try {
          await unlink(join(this.#directory, name))
          this.#entries.delete(name)
        } catch (error) {
          if (isMissing(error)) this.#entries.delete(name)
          else stuck.set(name, error)
        }
      }
    }
    const [name, error] = [...stuck][0] ?? []
    if (name !== undefined && !this.#withinBound()) {
      throw cacheError(error, join(this.#directory, name), 'entry')
    }
  }

  /**
   * `lstat` `names` into the index (forgetting those gone); returns the paths of the abandoned
   * temporary files among them.
   */
  async #learn(names: readonly string[], now: Date): Promise<string[]> {
    const abandoned: string[] = []
    for (let start = 0; start < names.length; start += LSTAT_BATCH) {
      const batch = names.slice(start, start + LSTAT_BATCH)
      const infos = await Promise.all(
        batch.map((name) =>
          lstat(join(this.#directory, name)).catch((error: unknown) => {
            if (isMissing(error)) return undefined
            throw cacheError(error, join(this.#directory, name), 'entry')
          }),
        ),
      )
      batch.forEach((name, i) => {
        const info = infos[i]
        if (!ENTRY_NAME.test(name)) {
          const old =
            info?.isFile() === true && now.getTime() - info.mtimeMs > ABANDONED_TEMPORARY_MS
          if (old) abandoned.push(join(this.#directory, name))
          return
        }
        if (info === undefined) {
          this.#entries.delete(name)
          return
        }
        // Whatever holds an entry's name counts (a directory there takes room too, and may be
        // what cannot be removed). A write sets both times, a read the atime; a use this process
        // saw counts too (its touch of the atime may have failed).
        const usedMs = Math.max(info.atimeMs, info.mtimeMs, this.#entries.get(name)?.usedMs ?? 0)
        this.#entries.set(name, { bytes: allocatedBytes(info), usedMs })
      })
    }
    return abandoned
  }

  #withinBound(): boolean {
    let total = 0
    for (const { bytes } of this.#entries.values()) total += bytes
    return this.#entries.size <= this.#bound.maxEntries && total <= this.#bound.maxBytes
  }

  /**
   * The names of the least recently used entries beyond the bound, oldest last; the `stuck` ones
   * (which could not be removed) are never among them and count as kept first.
   */
  #beyondBound(stuck: ReadonlyMap<string, unknown>): string[] {
    if (this.#withinBound()) return []
    let kept = 0
    let keptBytes = 0
    for (const name of stuck.keys()) {
      kept += 1
      keptBytes += this.#entries.get(name)?.bytes ?? 0
    }
    const newestFirst = [...this.#entries]
      .filter(([name]) => !stuck.has(name))
      .sort(([, a], [, b]) => b.usedMs - a.usedMs)
    const doomed: string[] = []
    let full = false
    for (const [name, { bytes }] of newestFirst) {
      // Keep the most recently used while both bounds hold; everything older goes.
      full ||= kept >= this.#bound.maxEntries || keptBytes + bytes > this.#bound.maxBytes
      if (full) {
        doomed.push(name)
      } else {
        kept += 1
        keptBytes += bytes
      }
    }
    return doomed
  }
}
