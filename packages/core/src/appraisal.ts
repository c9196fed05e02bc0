/**
 * The common shape of appraisal: every rule a piece of evidence fails is collected, then reported
 * as one {@link AppraisalError} whose code is the first failure's, whose message names them all
 * (each with expected and actual values), and which carries the list and, once the verifier adds
 * them, the claims of the evidence that failed.
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
 * Genuine evidence that does not meet the policy (exit 5). `code` is the first failure's;
 * `failures` lists every one; `claims` are the evidence's claims when the verifier knows them, so
 * that a refusal can show what the evidence does say.
 */
export class AppraisalError extends ExpectationError {
  /** Every failed rule, in the order the rules were checked. */
  readonly failures: readonly AppraisalFailure[]
  /** The claims of the appraised evidence, when known. */
  readonly claims: object | undefined
  readonly #subject: string
  readonly #details: ErrorDetails

  constructor(
    failures: readonly [AppraisalFailure, ...AppraisalFailure[]],
    subject: string,
    details: ErrorDetails = {},
    claims?: object,
  ) {
    const first = failures[0]
    // One hint per distinct fix, so that the text output names every option that would help.
    const hints = [...new Set(failures.flatMap((f) => (f.hint === undefined ? [] : [f.hint])))]
    super(
      first.code,
      failures.length === 1
        ? first.message
        : `the ${subject} fails ${failures.length} rules: ${failures.map((f) => f.message).join('; ')}`,
      {
        details: { ...details, failed: failures.map((f) => f.code) },
        ...(hints.length === 0 ? {} : { hint: hints.join('; ') }),
      },
    )
    this.failures = failures
    this.claims = claims
    this.#subject = subject
    this.#details = details
  }

  /** The same refusal, carrying the claims of the evidence. */
  withClaims(claims: object): AppraisalError {
    const [first, ...rest] = this.failures
    if (first === undefined) return this
    return new AppraisalError([first, ...rest], this.#subject, this.#details, claims)
  }

  /** The JSON form, with every failure (code, message, hint). */
  override toJSON(): ReturnType<ExpectationError['toJSON']> & {
    failures: readonly AppraisalFailure[]
  } {
    return { ...super.toJSON(), failures: this.failures }
  }
}

/**
 * Throw when any rule failed; return when none did.
 *
 * @param subject - what was appraised, for the message ("report", "quote").
 * @param details - extra facts for `details` (the failed codes are added as `failed`).
 * @throws {@link AppraisalError} with the first failure's code, every failure and their hints.
 */
export function throwIfAppraisalFailed(
  failures: readonly AppraisalFailure[],
  subject: string,
  details: ErrorDetails = {},
): void {
  const [first, ...rest] = failures
  if (first === undefined) return
  throw new AppraisalError([first, ...rest], subject, details)
}
