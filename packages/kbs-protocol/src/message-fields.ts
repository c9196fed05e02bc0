/**
 * The field checks every RCAR message parser shares: one error shape (`ERR_KBS_MESSAGE_INVALID`
 * naming the JSON path from `$`), objects whose members are exactly the expected ones, and results
 * built in the input's member order so a parsed message serialises back to the same JSON.
 *
 * @module
 */
import {
  asObject,
  fieldError,
  jsonKind,
  member,
  type JsonDocument,
  type JsonObject,
} from '@initguard/core'
import type { MalformedInputError } from '@initguard/core'
import { base64urlToBytes } from '@initguard/core'

/** The document every message error names. */
export const KBS_MESSAGE: JsonDocument = {
  name: 'KBS message',
  code: 'ERR_KBS_MESSAGE_INVALID',
  hint: 'send the RCAR 0.4.0 message shapes of Trustee KBS (kbs-types 0.18)',
}

/** A malformed-message error at `path`. */
export function messageError(path: string, problem: string): MalformedInputError {
  return fieldError(KBS_MESSAGE, path, problem)
}

/** Whether unknown members are refused or ignored (and dropped from the result). */
export type UnknownMembers = 'refuse' | 'ignore'

/**
 * `value` as an object with every `required` member and no member outside `required` and
 * `optional` (unless `unknown` is `'ignore'`).
 */
export function messageObject(
  value: unknown,
  path: string,
  members: { readonly required: readonly string[]; readonly optional?: readonly string[] },
  unknown: UnknownMembers,
): JsonObject {
  const obj = asObject(KBS_MESSAGE, value, path)
  for (const key of members.required)
    if (member(obj, key) === undefined) throw messageError(`${path}.${key}`, 'is missing')
  if (unknown === 'refuse') {
    const known = new Set([...members.required, ...(members.optional ?? [])])
    const extra = Object.keys(obj).find((key) => !known.has(key))
    if (extra !== undefined)
      throw messageError(
        `${path}.${shortKey(extra)}`,
        `is not a member of this object (it has exactly ${[...known].join(', ')})`,
      )
  }
  return obj
}

/** A key fit for a message: long or odd keys are cut and quoted. */
function shortKey(key: string): string {
  const shown = key.length > 32 ? `${key.slice(0, 32)}…` : key
  return /^[A-Za-z0-9_-]+$/.test(shown) ? shown : JSON.stringify(shown)
}

/**
 * The checked `values` as an object whose members come in `source`'s order; members of `source`
 * with no checked value (ignored unknown members) are left out.
 */
export function inSourceOrder<T extends object>(
  source: JsonObject,
  values: { readonly [K in keyof T]-?: T[K] | undefined },
): T {
  const entries = Object.keys(source)
    .map((key) => [key, Object.hasOwn(values, key) ? member(values, key) : undefined] as const)
    .filter(([, value]) => value !== undefined)
  return Object.fromEntries(entries) as T
}

/** A string member of at most `maxLength` characters, non-empty unless `allowEmpty`. */
export function messageString(
  obj: JsonObject,
  key: string,
  path: string,
  options: { readonly maxLength: number; readonly allowEmpty?: boolean },
): string {
  const value = member(obj, key)
  if (typeof value !== 'string')
    throw messageError(`${path}.${key}`, `must be a string (${jsonKind(value)})`)
  if (value === '' && options.allowEmpty !== true)
    throw messageError(`${path}.${key}`, 'must not be empty')
  if (value.length > options.maxLength)
    throw messageError(`${path}.${key}`, `is longer than ${options.maxLength} characters`)
  return value
}

/** An unpadded, canonical base64url string member, decoded; optionally of exactly `length` bytes. */
export function messageBase64url(
  obj: JsonObject,
  key: string,
  path: string,
  options: { readonly maxLength: number; readonly length?: number },
): { readonly text: string; readonly bytes: Uint8Array } {
  const text = messageString(obj, key, path, options)
  let bytes: Uint8Array
  try {
    bytes = base64urlToBytes(text)
  } catch {
    throw messageError(`${path}.${key}`, 'must be canonical unpadded base64url')
  }
  if (options.length !== undefined && bytes.length !== options.length)
    throw messageError(
      `${path}.${key}`,
      `must encode ${options.length} bytes (it has ${bytes.length})`,
    )
  return { text, bytes }
}
