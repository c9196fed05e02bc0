/**
 * The stored workloads, compiled, as this process last read them through the `WorkloadStore`
 * port: every `/attest` matches against all of them and every `GET /resource` checks one, and
 * reading and re-validating them from the database each time cost about as much as the report's
 * signature check.
 *
 * Staleness bound: a snapshot is used for at most `maxAgeMs` (monotonic time) after the read that
 * made it began, so a workload changed through another replica on the same database is seen here
 * within `maxAgeMs`. A change made through this process ({@link WorkloadSnapshot.invalidate},
 * called by the admin routes after each write) is seen by the next request: the snapshot and any
 * read in flight are dropped, so no read that began before the write is served after it.
 * `maxAgeMs` 0 reads the store for every request (concurrent requests may share one read).
 *
 * @module
 */
import { isInitguardError } from '@initguard/core'
import type { StoredWorkload, UnusableWorkload, WorkloadStore } from '../ports.ts'
import { WorkloadCompiler, type CompiledWorkload } from '../workloads/compiled-workload.ts'

/** The default staleness bound of a snapshot (across replicas): 2 s. */
export const DEFAULT_WORKLOAD_CACHE_MS = 2000

/**
 * One stored workload and its compiled form, or why it cannot be used: its stored definition does
 * not compile, or its row does not authenticate.
 */
export interface SnapshotWorkload {
  readonly stored: StoredWorkload | UnusableWorkload
  readonly compiled?: CompiledWorkload
  /** Set when the workload cannot be used. */
  readonly invalid?: string
}

/** The workloads at one read of the store. */
export interface WorkloadsAtRead {
  readonly byName: ReadonlyMap<string, SnapshotWorkload>
  readonly compiled: readonly CompiledWorkload[]
  /** One reason per workload that cannot be used (invalid definition, row that does not authenticate). */
  readonly invalid: readonly string[]
}

/** Options of {@link WorkloadSnapshot}. */
export interface WorkloadSnapshotOptions {
  /** How long a read may be served, in ms (0 to 60 000); default {@link DEFAULT_WORKLOAD_CACHE_MS}. */
  readonly maxAgeMs?: number
  /** Monotonic milliseconds; default `performance.now`. */
  readonly monotonicMs?: () => number
  /** Where compiled forms are cached; default a private one. */
  readonly compiler?: WorkloadCompiler
}

/** Compiled workloads read through `store`, reused for at most `maxAgeMs`. */
export class WorkloadSnapshot {
  readonly #store: WorkloadStore
  readonly #maxAgeMs: number
  readonly #now: () => number
  readonly #compiler: WorkloadCompiler
  #current: { readonly startedAt: number; readonly read: Promise<WorkloadsAtRead> } | undefined

  constructor(store: WorkloadStore, options: WorkloadSnapshotOptions = {}) {
    const maxAgeMs = options.maxAgeMs ?? DEFAULT_WORKLOAD_CACHE_MS
    if (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0 || maxAgeMs > 60_000)
      throw new RangeError(`maxAgeMs must be an integer from 0 to 60000 (got ${String(maxAgeMs)})`)
    this.#store = store
    this.#maxAgeMs = maxAgeMs
    this.#now = options.monotonicMs ?? (() => performance.now())
    this.#compiler = options.compiler ?? new WorkloadCompiler()
  }

  /** The workloads as read at most `maxAgeMs` ago (a read in flight counts from when it began). */
  async current(): Promise<WorkloadsAtRead> {
    const current = this.#current
    if (current !== undefined && this.#now() - current.startedAt <= this.#maxAgeMs)
      return current.read
    return this.fresh()
  }

  /** The workloads as read now (used when a token names a version the snapshot does not have). */
  async fresh(): Promise<WorkloadsAtRead> {
    const startedAt = this.#now()
    const read = this.#read()
    const entry = { startedAt, read }
    this.#current = entry
    // A failed read is not kept: the next request tries again.
    read.catch(() => {
      if (this.#current === entry) this.#current = undefined
    })
    return read
  }

  /** Forget what was read: this process changed a workload. */
  invalidate(): void {
    this.#current = undefined
  }

  async #read(): Promise<WorkloadsAtRead> {
    const byName = new Map<string, SnapshotWorkload>()
    const compiled: CompiledWorkload[] = []
    const invalid: string[] = []
    for (const stored of await this.#store.list()) {
      if ('unusable' in stored) {
        // Out of use on its own; the others are still read and matched.
        const reason = `workload '${stored.name}': its stored version ${String(stored.version)} is not used (${stored.unusable.message})`
        invalid.push(reason)
        byName.set(stored.name, { stored, invalid: reason })
        continue
      }
      try {
        const workload = this.#compiler.compile(stored)
        compiled.push(workload)
        byName.set(stored.name, { stored, compiled: workload })
      } catch (error) {
        if (!isInitguardError(error)) throw error
        // With the fix: a rule made stricter since the put names what to change before putting again.
        const fix = error.hint === undefined ? '' : `; ${error.hint}`
        const reason = `workload '${stored.name}': its stored definition is invalid (${error.message}${fix}); put it again, changed so the KBS accepts it`
        invalid.push(reason)
        byName.set(stored.name, { stored, invalid: reason })
      }
    }
    return { byName, compiled, invalid }
  }
}
