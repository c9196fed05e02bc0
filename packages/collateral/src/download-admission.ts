/**
 * Admission of collateral downloads to the network: at most `maxConcurrent` at once, at most
 * `maxQueued` waiting (first come, first served), each waiting at most `maxWaitMs`; one more, or a
 * waiter past its bound, is refused at once. A KBS asks AMD KDS for a VCEK named by a report it has
 * not verified yet (the VCEK is what verifies it), so without this bound anyone who reaches
 * `/attest` could start any number of downloads, each holding a request open for minutes and
 * spending the KBS's share of KDS's per-address throttle that honest guests on new chips need.
 *
 * @module
 */
import { UnavailableError } from '@initguard/core'

/** The admission bound, checked (see {@link checkDownloadLimits}). */
export interface AdmissionBound {
  /** Downloads on the network at once, at least 1. */
  readonly maxConcurrent: number
  /** Downloads waiting for a slot, 0 for none. */
  readonly maxQueued: number
  /** The longest a download waits for a slot before it is refused. */
  readonly maxWaitMs: number
}

/** Why a download was refused: the queue was full, or it waited too long. */
export type AdmissionRefusal = 'queue-full' | 'waited-too-long'

interface Waiter {
  readonly admit: () => void
  readonly timer: ReturnType<typeof setTimeout>
  /** Set when it waited too long: it stays in the queue, and a release passes over it. */
  gaveUp: boolean
}

/**
 * Dead queue entries (admitted, or gave up) tolerated before the queue is compacted, if they also
 * outnumber the live waiters: compacting then costs at most twice the dead entries it drops.
 */
const COMPACT_AFTER_DEAD = 1024

/** The slots of one service's downloads in one process. */
export class DownloadAdmission {
  readonly #bound: AdmissionBound
  readonly #refuse: (why: AdmissionRefusal) => UnavailableError
  /**
   * The waiters, first come first: `#waiting[#head]` is the next one, unless it gave up. Taking
   * one moves `#head` and giving up sets a flag, so neither is O(queue) (the queue may hold up to
   * a million); the dead entries are dropped now and then (`#compactIfMostlyDead`).
   */
  #waiting: Waiter[] = []
  #head = 0
  /** The waiters in `#waiting` that have not given up: what `maxQueued` bounds. */
  #queued = 0
  #running = 0

  /**
   * @param bound - the checked bound.
   * @param refuse - the error a refused download fails with (`ERR_<area>_BUSY`).
   */
  constructor(bound: AdmissionBound, refuse: (why: AdmissionRefusal) => UnavailableError) {
    this.#bound = bound
    this.#refuse = refuse
  }

  /** Downloads holding a slot now. */
  get running(): number {
    return this.#running
  }

  /** Downloads waiting for a slot now. */
  get queued(): number {
    return this.#queued
  }

  /**
   * Run `work` in a slot, once one is free; the slot is released however `work` ends.
   *
   * @throws the `refuse` error when every slot is taken and the queue is full, or when no slot
   *   freed up within `maxWaitMs`; whatever `work` throws.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.#acquire()
    try {
      return await work()
    } finally {
      this.#release()
    }
  }

  #acquire(): Promise<void> {
    if (this.#running < this.#bound.maxConcurrent) {
      this.#running++
      return Promise.resolve()
    }
    if (this.#queued >= this.#bound.maxQueued) return Promise.reject(this.#refuse('queue-full'))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        // The slot passes straight from the download that ends to this one: `#running` stays.
        admit: () => {
          clearTimeout(waiter.timer)
          resolve()
        },
        timer: setTimeout(() => {
          waiter.gaveUp = true
          this.#queued--
          this.#compactIfMostlyDead()
          reject(this.#refuse('waited-too-long'))
        }, this.#bound.maxWaitMs),
        gaveUp: false,
      }
      // A waiter must not keep a process that is otherwise done (a CLI run) alive.
      waiter.timer.unref()
      this.#waiting.push(waiter)
      this.#queued++
    })
  }

  #release(): void {
    const next = this.#takeNextWaiter()
    if (next === undefined) this.#running--
    else next.admit()
  }

  /** The first waiter that has not given up, taken out of the queue; `undefined` if none. */
  #takeNextWaiter(): Waiter | undefined {
    let next: Waiter | undefined
    while (next === undefined && this.#head < this.#waiting.length) {
      const waiter = this.#waiting[this.#head++]
      if (waiter !== undefined && !waiter.gaveUp) next = waiter
    }
    if (next !== undefined) this.#queued--
    this.#compactIfMostlyDead()
    return next
  }

  /**
   * Drop the dead entries once there are many and they outnumber the live: each entry dies once,
   * so the copying costs O(1) amortised per entry.
   */
  #compactIfMostlyDead(): void {
    if (this.#head === this.#waiting.length) {
      this.#waiting = []
      this.#head = 0
      return
    }
    const dead = this.#waiting.length - this.#queued
    if (dead < COMPACT_AFTER_DEAD || dead <= this.#queued) return
    this.#waiting = this.#waiting.slice(this.#head).filter((waiter) => !waiter.gaveUp)
    this.#head = 0
  }
}

/**
 * The refusal of a download the slots cannot take: `ERR_<area>_BUSY`, transient (exit 6, HTTP 503
 * from the KBS), saying which bound was reached and how to raise it.
 */
export function busyError(
  service: string,
  area: string,
  why: AdmissionRefusal,
  bound: AdmissionBound,
): UnavailableError {
  const slots = `${bound.maxConcurrent} ${service} downloads at once`
  return new UnavailableError(
    `ERR_${area}_BUSY`,
    why === 'queue-full'
      ? `too many ${service} downloads: ${slots} are under way and ${bound.maxQueued} more are waiting, so this one was refused`
      : `no ${service} download slot freed up within ${bound.maxWaitMs} ms (${slots}), so this download was refused`,
    {
      details: { reason: why, ...bound },
      hint: "this is transient: try again shortly; if it persists under honest load, raise the bound (the KBS's [collateral-downloads] max-concurrent and max-queued; maxConcurrentDownloads and maxQueuedDownloads in code)",
    },
  )
}
