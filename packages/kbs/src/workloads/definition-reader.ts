/**
 * Strict reading of a workload definition's JSON: every refusal is one
 * `MalformedInputError` `ERR_KBS_WORKLOAD_INVALID` naming the JSON path (`$.snp.measurements[1]`)
 * and how to fix it. Unknown keys are refused, never ignored.
 *
 * @module
 */
import { MalformedInputError, isJsonObject, jsonKind, type JsonObject } from '@initguard/core'

/** The one error code of an invalid workload definition. */
export const WORKLOAD_INVALID = 'ERR_KBS_WORKLOAD_INVALID'

/** The code of a well-formed rule that could never take effect on the workload's TEEs. */
export const WORKLOAD_RULE_INAPPLICABLE = 'ERR_KBS_WORKLOAD_RULE_INAPPLICABLE'

/**
 * A rule that could never take effect on the workload (given for a TEE it does not run on, say):
 * refused, never stored as a rule that reads as a guarantee and checks nothing.
 */
export function inapplicable(
  path: string,
  problem: string,
  hint: string,
  details: Readonly<Record<string, unknown>> = {},
): MalformedInputError {
  return new MalformedInputError(
    WORKLOAD_RULE_INAPPLICABLE,
    `workload definition: ${path} ${problem}`,
    { details: { path, ...details }, hint },
  )
}

/** An invalid definition: what is wrong at `path`, and how to fix it. */
export function invalid(path: string, problem: string, hint: string): MalformedInputError {
  return new MalformedInputError(WORKLOAD_INVALID, `workload definition: ${path} ${problem}`, {
    details: { path },
    hint,
  })
}

/** `value` as a plain object whose keys are all in `allowed`. */
export function objectAt(value: unknown, path: string, allowed: readonly string[]): JsonObject {
  if (!isJsonObject(value)) {
    throw invalid(path, `must be an object (it is ${jsonKind(value)})`, objectHint(allowed))
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw invalid(
        `${path}.${key}`,
        'is not a known key',
        `remove it; the keys here are ${allowed.join(', ')}`,
      )
    }
  }
  return value
}

function objectHint(allowed: readonly string[]): string {
  return `write a JSON object with the keys ${allowed.join(', ')}`
}

/** The own member `key`, or `undefined`. */
export function memberOf(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

/** A required member. */
export function required(obj: JsonObject, key: string, path: string, hint: string): unknown {
  const value = memberOf(obj, key)
  if (value === undefined) throw invalid(`${path}.${key}`, 'is missing', hint)
  return value
}

/** How to read a list: the hint for a wrong one, how to read each element, whether repeats are refused. */
export interface ListSpec<T> {
  readonly hint: string
  /** Read one element (`elementPath` is `path[i]`). */
  readonly item: (element: unknown, elementPath: string) => T
  /** Refuse an entry equal (`===`, after `item` normalised it) to an earlier one. */
  readonly distinct?: boolean
}

/** A non-empty array of items, each read by `spec.item`. */
export function nonEmptyList<T>(value: unknown, path: string, spec: ListSpec<T>): T[] {
  const { hint, item } = spec
  if (!Array.isArray(value)) {
    throw invalid(path, `must be a non-empty array (it is ${jsonKind(value)})`, hint)
  }
  if (value.length === 0) throw invalid(path, 'must not be empty', hint)
  const list = (value as unknown[]).map((element, i) => item(element, `${path}[${i}]`))
  if (spec.distinct === true) {
    const seen = new Set<T>()
    list.forEach((entry, i) => {
      if (seen.has(entry)) {
        throw invalid(`${path}[${i}]`, 'repeats an earlier entry', 'give each entry once')
      }
      seen.add(entry)
    })
  }
  return list
}

/** The required top-level list `$.key` (see {@link nonEmptyList}). */
export function requiredList<T>(obj: JsonObject, key: string, spec: ListSpec<T>): T[] {
  return nonEmptyList(required(obj, key, '$', spec.hint), `$.${key}`, spec)
}

/** A string. */
export function stringAt(value: unknown, path: string, hint: string): string {
  if (typeof value !== 'string') {
    throw invalid(path, `must be a string (it is ${jsonKind(value)})`, hint)
  }
  return value
}

/** A boolean, or `fallback` when absent. */
export function booleanAt(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw invalid(
      path,
      `must be true or false (it is ${jsonKind(value)})`,
      `write ${path.split('.').at(-1) ?? 'it'}: ${String(fallback)} or leave it out (default ${String(fallback)})`,
    )
  }
  return value
}

/** An integer in `[min, max]`. */
export function integerAt(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(
      path,
      `must be an integer from ${min} to ${max} (it is ${typeof value === 'number' ? String(value) : jsonKind(value)})`,
      'write a whole number in that range, without quotes',
    )
  }
  return value
}

const HEX = /^[0-9A-Fa-f]*$/

/** Hex of exactly `length` bytes, returned lower-case. */
export function hexAt(value: unknown, path: string, length: number, what: string): string {
  const hint = `give ${what} as ${length * 2} hex digits (${length} bytes), without 0x`
  const text = stringAt(value, path, hint)
  if (!HEX.test(text)) throw invalid(path, 'is not hex', hint)
  if (text.length !== length * 2) {
    throw invalid(
      path,
      `has ${text.length} hex digits, but ${what} is ${length} bytes (${length * 2} digits)`,
      hint,
    )
  }
  return text.toLowerCase()
}

/** One of `values`. */
export function oneOfAt<T extends string>(
  value: unknown,
  path: string,
  values: readonly T[],
  what: string,
): T {
  const hint = `${what} is one of ${values.map((v) => JSON.stringify(v)).join(', ')}`
  const text = stringAt(value, path, hint)
  if (!(values as readonly string[]).includes(text)) {
    throw invalid(path, `is ${JSON.stringify(text.slice(0, 40))}, not a known ${what}`, hint)
  }
  return text as T
}
