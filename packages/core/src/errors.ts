/**
 * One error base class for the whole of Initguard, with a stable `code` per failure.
 *
 * Callers switch on `code` (stable, documented) or on `category` (what kind of failure, which the
 * CLI maps to an exit code and the services to an HTTP status). Messages say what went wrong,
 * where, and how to fix it; they never carry secrets or raw input bytes, only field names,
 * offsets and lengths.
 *
 * @module
 */

/**
 * What kind of failure an error is. Each category maps to one CLI exit code:
 *
 * | category       | exit | meaning                                                        |
 * | -------------- | ---- | -------------------------------------------------------------- |
 * | `usage`        | 2    | the command line or API call itself is wrong                   |
 * | `malformed`    | 3    | input bytes do not parse or violate the format                 |
 * | `verification` | 4    | a signature, chain or binding does not verify                  |
 * | `expectation`  | 5    | input is valid but does not meet the expected values or policy |
 * | `unavailable`  | 6    | collateral, a network peer or a service cannot be reached      |
 * | `io`           | 7    | a local file cannot be read or written                         |
 * | `internal`     | 1    | a bug: an invariant of our own did not hold                    |
 */
export type ErrorCategory =
  'usage' | 'malformed' | 'verification' | 'expectation' | 'unavailable' | 'io' | 'internal'

/** A stable machine-readable error code, `ERR_<AREA>_<WHAT>`. */
export type ErrorCode = `ERR_${string}`

/** Structured, safe-to-log facts about a failure (field names, offsets, lengths, expected/actual). */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>

/** Options accepted by every Initguard error. */
export interface InitguardErrorOptions {
  /** The lower-level error that caused this one. */
  readonly cause?: unknown
  /** Structured facts for `--json` output and logs. */
  readonly details?: ErrorDetails
  /** One sentence on how to fix the problem. */
  readonly hint?: string
}

/**
 * Base class of every error Initguard throws on purpose.
 *
 * @example
 * ```ts
 * try { parseInitdata(bytes) } catch (e) {
 *   if (isInitguardError(e) && e.code === 'ERR_INITDATA_VERSION') { … }
 * }
 * ```
 */
export abstract class InitguardError extends Error {
  /** What kind of failure this is; decides the CLI exit code and HTTP status. */
  abstract readonly category: ErrorCategory
  /** Stable machine-readable code. */
  readonly code: ErrorCode
  /** Structured facts about the failure. */
  readonly details: ErrorDetails
  /** How to fix it, when we can tell. */
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options: InitguardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = options.details ?? {}
    this.hint = options.hint
  }

  /** A plain object for JSON output: code, category, message, hint and details. */
  toJSON(): {
    code: ErrorCode
    category: ErrorCategory
    message: string
    hint?: string
    details: ErrorDetails
  } {
    return {
      code: this.code,
      category: this.category,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      details: this.details,
    }
  }
}

/** The command line or API call is wrong (missing option, unknown value). Exit 2. */
export class UsageError extends InitguardError {
  readonly category = 'usage'
}

/** Input bytes do not parse, or violate the format they claim. Exit 3. */
export class MalformedInputError extends InitguardError {
  readonly category = 'malformed'
}

/** A signature, certificate chain or binding does not verify. Exit 4. */
export class VerificationError extends InitguardError {
  readonly category = 'verification'
}

/** Input is valid but does not meet an expected value or a policy. Exit 5. */
export class ExpectationError extends InitguardError {
  readonly category = 'expectation'
}

/** Collateral, a network peer or a service cannot be reached. Exit 6. */
export class UnavailableError extends InitguardError {
  readonly category = 'unavailable'
}

/** A local file cannot be read or written. Exit 7. */
export class LocalIoError extends InitguardError {
  readonly category = 'io'
}

/** An invariant of our own did not hold: a bug. Exit 1. */
export class InternalError extends InitguardError {
  readonly category = 'internal'
}

/** True when `value` is an error Initguard threw on purpose. */
export function isInitguardError(value: unknown): value is InitguardError {
  return value instanceof InitguardError
}
