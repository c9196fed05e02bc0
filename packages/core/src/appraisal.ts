/**
 * The common shape of appraisal: every rule a piece of evidence fails is collected (with the rules
 * SEV-SNP and DCAP appraisal share: an exact value, an allow-list, a minimum), then reported
 * as one {@link AppraisalError} whose code is the first failure's, whose message names them all
 * (each with expected and actual values), and which carries the list and, once the verifier adds
 * them, the claims of the evidence that failed.
 *
 * @module
 */
import { constantTimeEqual, constantTimeIncludes } from './constant-time.ts'
import { bytesToHex } from './encoding.ts'
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

/**
 * The failures of one appraisal, rule by rule. Each rule names its failure's `code`, the field as
 * the evidence's specification names it (`name`: `HOST_DATA`, `MRTD`) and how to fix it (`hint`).
 * A rule whose expected value is `undefined` is one the policy does not set: it passes.
 *
 * @example
 * ```ts
 * const failures = new AppraisalFailures<`ERR_SNP_${string}`>()
 * failures.exact('ERR_SNP_HOST_DATA_MISMATCH', 'HOST_DATA', report.hostData, expected, hint)
 * throwIfAppraisalFailed(failures.list, 'report')
 * ```
 */
export class AppraisalFailures<C extends ErrorCode = ErrorCode> {
  /** Every failure so far, in the order the rules were checked. */
  readonly list: (AppraisalFailure & { readonly code: C })[] = []

  /** Record the failure of a rule the caller checked itself; `undefined` when it passed. */
  add(failure: (AppraisalFailure & { readonly code: C }) | undefined): void {
    if (failure !== undefined) this.list.push(failure)
  }

  /** `actual` must be exactly `expected` (compared in constant time). */
  exact(
    code: C,
    name: string,
    actual: Uint8Array,
    expected: Uint8Array | undefined,
    hint: string,
  ): void {
    if (expected === undefined || constantTimeEqual(actual, expected)) return
    const message = `${name} is ${bytesToHex(actual)}, expected ${bytesToHex(expected)}`
    this.list.push({ code, message, hint })
  }

  /** `actual` must be one of `allowed` (each compared in constant time). */
  oneOf(
    code: C,
    name: string,
    actual: Uint8Array,
    allowed: readonly Uint8Array[] | undefined,
    hint: string,
  ): void {
    if (allowed === undefined || constantTimeIncludes(allowed, actual)) return
    const message = `${name} ${bytesToHex(actual)} is not one of the ${allowed.length} expected`
    this.list.push({ code, message, hint })
  }

  /** `actual` must be at least `minimum`. */
  atLeast(code: C, name: string, actual: number, minimum: number | undefined, hint: string): void {
    if (minimum === undefined || actual >= minimum) return
    this.list.push({ code, message: `${name} is ${actual}, expected at least ${minimum}`, hint })
  }
}
