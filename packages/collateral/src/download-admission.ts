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
}

/** The slots of one service's downloads in one process. */
export class DownloadAdmission {
  readonly #bound: AdmissionBound
  readonly #refuse: (why: AdmissionRefusal) => UnavailableError
  readonly #waiting: Waiter[] = []
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
    return this.#waiting.length
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
    if (this.#waiting.length >= this.#bound.maxQueued)
      return Promise.reject(this.#refuse('queue-full'))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        // The slot passes straight from the download that ends to this one: `#running` stays.
        admit: () => {
          clearTimeout(waiter.timer)
          resolve()
        },
        timer: setTimeout(() => {
          const index = this.#waiting.indexOf(waiter)
          if (index >= 0) this.#waiting.splice(index, 1)
          reject(this.#refuse('waited-too-long'))
        }, this.#bound.maxWaitMs),
      }
      // A waiter must not keep a process that is otherwise done (a CLI run) alive.
      waiter.timer.unref()
      this.#waiting.push(waiter)
    })
  }

  #release(): void {
    const next = this.#waiting.shift()
    if (next === undefined) this.#running--
    else next.admit()
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
