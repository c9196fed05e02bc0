/**
 * Exit codes, one per error category (see the README's table). Stable: scripts depend on them.
 *
 * @module
 */
import type { ErrorCategory } from '@initguard/core'

/** Success. */
export const EXIT_OK = 0

/** The exit code for each error category. */
export const EXIT_CODES: Readonly<Record<ErrorCategory, number>> = {
  internal: 1,
  usage: 2,
  malformed: 3,
  verification: 4,
  expectation: 5,
  unavailable: 6,
  io: 7,
}
