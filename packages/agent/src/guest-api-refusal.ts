/**
 * The guest API's refused state: once the TEE's init-time field differs from the one verified at
 * start-up (`ERR_AGENT_INITDATA_FIELD_CHANGED`), this is not the guest whose init-data was checked,
 * so nothing it serves, the verified documents included, may be trusted. The first such error
 * latches; from then on every route answers 503 with it, and the agent stops.
 *
 * @module
 */
import { isInitguardError, type InitguardError } from '@initguard/core'

/** Codes that mean the agent can no longer vouch for anything it serves. */
const REFUSING_CODES: ReadonlySet<string> = new Set(['ERR_AGENT_INITDATA_FIELD_CHANGED'])

/** A one-way latch (see the module comment). */
export class GuestApiRefusal {
  #reason: InitguardError | undefined
  readonly #refused: Promise<InitguardError>
  #resolve: ((reason: InitguardError) => void) | undefined

  constructor() {
    this.#refused = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  /** Why the agent refuses to serve, once it does. */
  get reason(): InitguardError | undefined {
    return this.#reason
  }

  /** Settles with the reason when the latch closes (never otherwise). */
  get refused(): Promise<InitguardError> {
    return this.#refused
  }

  /** Latch when `error` is one that refuses (see {@link REFUSING_CODES}); true if latched now or before. */
  consider(error: unknown): boolean {
    if (this.#reason === undefined && isInitguardError(error) && REFUSING_CODES.has(error.code)) {
      this.#reason = error
      this.#resolve?.(error)
    }
    return this.#reason !== undefined
  }
}
