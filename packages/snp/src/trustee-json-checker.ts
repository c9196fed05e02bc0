/**
 * A JSON walker for untrusted evidence documents that collects every problem with its JSON path
 * instead of stopping at the first, so one error lists all that is wrong with a document.
 *
 * @module
 * @internal
 */
import { isJsonObject, jsonKind, type JsonObject } from '@initguard/core'
export const U8_MAX = 0xff
export const U32_MAX = 0xffff_ffff
export const U64_MAX: bigint = (1n << 64n) - 1n
export const MAX_PROBLEMS = 50
export const MAX_KEY_SHOWN = 40

export function child(path: string, key: string): string {
  // Field names are the only input that reaches a message: cut long ones, quote unusual ones.
  const shown = key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(shown)) return `${path}.${shown}`
  return `${path}[${JSON.stringify(shown)}]`
}

/** True for a JSON integer from 0 to `max`, as serde reads an unsigned type: no fraction, no -0. */
function isUnsignedUpTo(value: unknown, max: number): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    !Object.is(value, -0) &&
    value >= 0 &&
    value <= max
  )
}

/** The problem with a value {@link isUnsignedUpTo} refused. */
function notUnsignedProblem(value: unknown, max: number): string {
  return `expected an integer from 0 to ${max}, got ${typeof value === 'number' ? 'another number' : jsonKind(value)}`
}

/**
 * Walks the JSON, collecting every problem with its path instead of stopping at the first. Each
 * reader returns a stand-in (zero, zero bytes) for a bad value, so the walk goes on; the caller
 * throws when `total` is not zero before it uses any value.
 */
export class JsonChecker {
  readonly problems: { readonly path: string; readonly problem: string }[] = []
  #total = 0

  add(path: string, problem: string): void {
    this.#total++
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ path, problem })
  }

  /** How many problems were found (only the first {@link MAX_PROBLEMS} are kept). */
  get total(): number {
    return this.#total
  }

  /** An object with only `keys` (others are reported); undefined (and reported) if not an object. */
  object(value: unknown, path: string, keys: readonly string[]): JsonObject | undefined {
    if (!isJsonObject(value)) {
      this.add(path, `expected an object, got ${jsonKind(value)}`)
      return undefined
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.add(child(path, key), 'unknown field')
    }
    return value
  }

  /** A required field read with `read`; `fallback` (and a problem) when it is missing. */
  field<T>(
    obj: JsonObject,
    key: string,
    path: string,
    read: (value: unknown, path: string) => T,
    fallback: T,
  ): T {
    if (!Object.hasOwn(obj, key)) {
      this.add(child(path, key), 'missing')
      return fallback
    }
    return read(obj[key], child(path, key))
  }

  /** True when an optional (serde `Option`) field is missing or null. */
  absent(obj: JsonObject, key: string): boolean {
    return !Object.hasOwn(obj, key) || obj[key] === null
  }

  integer(value: unknown, path: string, max: number): number {
    if (!isUnsignedUpTo(value, max)) {
      this.add(path, notUnsignedProblem(value, max))
      return 0
    }
    return value
  }

  u8(obj: JsonObject, key: string, path: string): number {
    return this.field(obj, key, path, (v, p) => this.integer(v, p, U8_MAX), 0)
  }

  u32(obj: JsonObject, key: string, path: string): number {
    return this.field(obj, key, path, (v, p) => this.integer(v, p, U32_MAX), 0)
  }

  u64Value(value: unknown, path: string): bigint {
    if (typeof value === 'bigint') {
      if (value >= 0n && value <= U64_MAX) return value
      this.add(path, 'expected an integer from 0 to 2^64-1')
      return 0n
    }
    if (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) {
      this.add(
        path,
        'a JSON number above 2^53-1 cannot be read exactly; parse the JSON with bigint support',
      )
      return 0n
    }
    return BigInt(this.integer(value, path, Number.MAX_SAFE_INTEGER))
  }

  u64(obj: JsonObject, key: string, path: string): bigint {
    return this.field(obj, key, path, (v, p) => this.u64Value(v, p), 0n)
  }

  /** A JSON array of byte values; `length` undefined means any non-zero length. */
  byteArray(value: unknown, path: string, length: number | undefined): Uint8Array {
    if (!Array.isArray(value)) {
      this.add(path, `expected an array of bytes, got ${jsonKind(value)}`)
      return new Uint8Array(length ?? 0)
    }
    const items = value as readonly unknown[]
    if (length === undefined ? items.length === 0 : items.length !== length) {
      this.add(
        path,
        length === undefined
          ? 'expected at least one byte, got none'
          : `expected ${length} bytes, got ${items.length}`,
      )
      return new Uint8Array(length ?? 0)
    }
    const out = new Uint8Array(items.length)
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (!isUnsignedUpTo(item, U8_MAX)) {
        // One problem per array: a bad array of thousands of items must not flood the report.
        this.add(`${path}[${i}]`, notUnsignedProblem(item, U8_MAX))
        break
      }
      out[i] = item
    }
    return out
  }

  bytes(obj: JsonObject, key: string, path: string, length: number): Uint8Array {
    return this.field(
      obj,
      key,
      path,
      (v, p) => this.byteArray(v, p, length),
      new Uint8Array(length),
    )
  }
}
