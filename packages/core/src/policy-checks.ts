/**
 * Checks of an appraisal policy's own values, made before any rule is evaluated. A policy is an
 * API call's argument: a bound that is NaN, a fraction, negative or wider than the field it bounds
 * would compare false (or true) against every report and so read as "no bound". Appraisal refuses
 * such a policy instead, with a {@link UsageError} (exit 2: the call itself is wrong, not the
 * evidence).
 *
 * @module
 */
import { UsageError, type ErrorCode } from './errors.ts'

/** Collects what is wrong with a policy, then throws once naming every fault. */
export class PolicyChecker {
  readonly #faults: string[] = []
  readonly #code: ErrorCode
  readonly #subject: string

  /**
   * @param code - the error code to throw, e.g. `ERR_SNP_POLICY_INVALID`.
   * @param subject - what the policy is for, for the message ("SEV-SNP appraisal policy").
   */
  constructor(code: ErrorCode, subject: string) {
    this.#code = code
    this.#subject = subject
  }

  /** When given, `value` must be a whole number from `min` to `max` (inclusive). */
  integer(field: string, value: unknown, min: number, max: number): void {
    if (value === undefined) return
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.#faults.push(
        `${field} must be a whole number from ${min} to ${max}; got ${describePolicyValue(value)}`,
      )
    }
  }

  /** When given, `value` must be a byte array of exactly `length` bytes. */
  bytes(field: string, value: unknown, length: number): void {
    if (value === undefined) return
    if (!(value instanceof Uint8Array) || value.length !== length) {
      this.#faults.push(
        `${field} must be ${length} bytes; got ${value instanceof Uint8Array ? `${value.length} bytes` : describePolicyValue(value)}`,
      )
    }
  }

  /** When given, `value` must be an array of byte arrays of exactly `length` bytes each. */
  byteList(field: string, value: unknown, length: number): void {
    if (value === undefined) return
    if (!Array.isArray(value)) {
      this.#faults.push(
        `${field} must be a list of ${length}-byte values; got ${describePolicyValue(value)}`,
      )
      return
    }
    value.forEach((item: unknown, i) => {
      this.bytes(`${field}[${i}]`, item, length)
    })
  }

  /** When given, `value` must be a boolean (a string "false" would otherwise read as true). */
  boolean(field: string, value: unknown): void {
    if (value !== undefined && typeof value !== 'boolean')
      this.#faults.push(`${field} must be true or false; got ${describePolicyValue(value)}`)
  }

  /** Each field of `policy` named in `lengths`, when given, must be a byte array of that length. */
  byteFields<P extends object>(policy: P, lengths: { readonly [K in keyof P]?: number }): void {
    for (const [field, length] of fieldEntries(lengths)) this.bytes(field, policy[field], length)
  }

  /** Each field of `policy` named in `lengths`, when given, must be a list of such byte arrays. */
  byteListFields<P extends object>(policy: P, lengths: { readonly [K in keyof P]?: number }): void {
    for (const [field, length] of fieldEntries(lengths)) this.byteList(field, policy[field], length)
  }

  /** Each field of `policy` named in `ranges`, when given, must be a whole number in its range. */
  integerFields<P extends object>(
    policy: P,
    ranges: { readonly [K in keyof P]?: readonly [min: number, max: number] },
  ): void {
    for (const [field, [min, max]] of fieldEntries(ranges))
      this.integer(field, policy[field], min, max)
  }

  /** Each field of `policy` named in `fields`, when given, must be a boolean. */
  booleanFields<P extends object>(policy: P, fields: readonly (keyof P & string)[]): void {
    for (const field of fields) this.boolean(field, policy[field])
  }

  /**
   * The policy itself must be an object whose every key is one of `known`. A misspelt option
   * (`mrtd` for `mrTd`) would otherwise bound nothing, and a policy that is not an object (a
   * string, an array, null) would read as "no rules".
   *
   * @returns whether `policy` is an object, so that its fields can be checked.
   */
  options(policy: unknown, known: readonly string[]): policy is Readonly<Record<string, unknown>> {
    if (!isPolicyRecord(policy)) {
      this.#faults.push(
        `the policy must be an object of options; got ${describePolicyValue(policy)}`,
      )
      return false
    }
    for (const key of Object.keys(policy)) {
      if (!known.includes(key))
        this.#faults.push(`${key} is not an option (known: ${known.join(', ')})`)
    }
    return true
  }

  /**
   * An object option (a minimum of several components) must be an object with exactly `required`
   * (and `optional`) keys: a missing component would compare false against every report and be
   * refused with the wrong reason, blaming the evidence, and an unknown one (a misspelling) would
   * bound nothing.
   *
   * @returns whether `value` is an object, so that its components can be checked.
   */
  object(
    field: string,
    value: unknown,
    required: readonly string[],
    optional: readonly string[] = [],
  ): value is Readonly<Record<string, unknown>> {
    if (!isPolicyRecord(value)) {
      this.#faults.push(
        `${field} must be an object with ${required.join(', ')}; got ${describePolicyValue(value)}`,
      )
      return false
    }
    for (const key of required) {
      if (value[key] === undefined)
        this.#faults.push(`${field}.${key} is missing; give every component`)
    }
    for (const key of Object.keys(value)) {
      if (!required.includes(key) && !optional.includes(key)) {
        this.#faults.push(
          `${field}.${key} is not a component of ${field} (known: ${[...required, ...optional].join(', ')})`,
        )
      }
    }
    return true
  }

  /** Record a fault found by the caller's own check. */
  fault(message: string): void {
    this.#faults.push(message)
  }

  /**
   * Throw when any check failed.
   *
   * @throws {@link UsageError} with the checker's code; `details.faults` lists each fault.
   */
  done(): void {
    if (this.#faults.length === 0) return
    throw new UsageError(
      this.#code,
      `the ${this.#subject} is invalid: ${this.#faults.join('; ')}`,
      {
        details: { faults: [...this.#faults] },
        hint: 'a bound that is not a valid value would read as no bound; fix the policy values',
      },
    )
  }
}

/** The entries of a table keyed by a policy's fields, in the table's order. */
function fieldEntries<P, V>(table: { readonly [K in keyof P]?: V }): [keyof P & string, V][] {
  return Object.entries(table) as [keyof P & string, V][]
}

/** A plain object of named values: not null, an array or a byte array. */
export function isPolicyRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  )
}

/** A policy value as a message names it: a number or a short string as is, else its kind. */
export function describePolicyValue(value: unknown): string {
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return `a byte array`
  return `a value of type ${typeof value}`
}
