/**
 * The common shape of appraisal: every rule a piece of evidence fails is collected, then reported
 * as one {@link ExpectationError} whose code is the first failure's and whose message names them
 * all, each with expected and actual values.
 *
 * @module
 */
import { ExpectationError, type ErrorCode, type ErrorDetails } from './errors.ts'

/** One failed appraisal rule. */
export interface AppraisalFailure {
  readonly code: ErrorCode
  /** What was expected and what was found. */
  readonly message: string
  /** How to fix it, when there is one thing to say. */
  readonly hint?: string
}

/**
 * Throw when any rule failed; return when none did.
 *
 * @param subject - what was appraised, for the message ("report", "quote").
 * @param details - extra facts for `details` (the failed codes are added as `failed`).
 * @throws {@link ExpectationError} with the first failure's code and hint.
 */
export function throwIfAppraisalFailed(
  failures: readonly AppraisalFailure[],
  subject: string,
  details: ErrorDetails = {},
): void {
  const first = failures[0]
  if (first === undefined) return
  throw new ExpectationError(
    first.code,
    failures.length === 1
      ? first.message
      : `the ${subject} fails ${failures.length} rules: ${failures.map((f) => f.message).join('; ')}`,
    {
      details: { ...details, failed: failures.map((f) => f.code) },
      ...(first.hint === undefined ? {} : { hint: first.hint }),
    },
  )
}
