/**
 * The one decoder of hardware flag words (SEV-SNP guest policy and platform info, TDX ATTRIBUTES,
 * XFAM, SGX ATTRIBUTES): a table of names and bit positions gives named booleans, and every set
 * bit the table does not name is listed, so a report from newer hardware still decodes and the
 * appraisal decides what to make of it.
 *
 * @module
 */
import { InternalError } from './errors.ts'

/** Names and their bit positions, e.g. `{ debug: 0, migratable: 29 }`. */
export type BitTable = Readonly<Record<string, number>>

/** The flags a {@link BitTable} names, and the set bits it does not. */
export type DecodedBits<T extends BitTable> = { readonly [K in keyof T]: boolean } & {
  /** Positions of set bits neither the table nor `alsoKnown` names, ascending. */
  readonly unknownBits: readonly number[]
}

/** The mask of the given bit positions. */
export function bitMask(positions: Iterable<number>): bigint {
  let mask = 0n
  for (const position of positions) mask |= 1n << BigInt(position)
  return mask
}

/** Positions of the set bits of `value` that are not in `known`, ascending. */
export function setBitsOutside(value: bigint, known: bigint): number[] {
  const bits: number[] = []
  let rest = value & ~known
  for (let position = 0; rest !== 0n; position++, rest >>= 1n) {
    if ((rest & 1n) === 1n) bits.push(position)
  }
  return bits
}

/**
 * A decoder for `table`: one boolean per name, in the table's order, then `unknownBits`.
 * `alsoKnown` marks bits that are read elsewhere (a version number in the low byte) and so are not
 * unknown. The table is read once, here, so decoding on a hot path costs a few shifts.
 *
 * @example
 * ```ts
 * const decodeTd = bitFlagDecoder({ debug: 0, migratable: 29 })
 * decodeTd(0x1_0000_0001n) // { debug: true, migratable: false, unknownBits: [32] }
 * ```
 */
export function bitFlagDecoder<const T extends BitTable>(
  table: T,
  alsoKnown = 0n,
): (value: bigint) => DecodedBits<T> {
  const entries = Object.entries(table)
  for (const [name, position] of entries) {
    if (!Number.isInteger(position) || position < 0 || position > 63) {
      // The tables are our own constants: a position outside the word is a bug.
      throw new InternalError(
        'ERR_BIT_TABLE',
        `flag ${name} is at bit ${position}: flag words have bits 0 to 63`,
      )
    }
  }
  const known = bitMask(Object.values(table)) | alsoKnown
  return (value) => {
    // Two 32-bit halves as numbers: flags are read on every report, and each bigint shift would
    // allocate. Every table position is 0–63 (checked when the decoder is made).
    const words = [Number(value & 0xffff_ffffn), Number((value >> 32n) & 0xffff_ffffn)]
    const flags: Record<string, boolean | readonly number[]> = {}
    for (const [name, position] of entries) {
      const word = words[position >> 5] ?? 0
      flags[name] = ((word >>> (position & 31)) & 1) === 1
    }
    flags['unknownBits'] = (value & ~known) === 0n ? [] : setBitsOutside(value, known)
    return flags as DecodedBits<T>
  }
}

/** Freeze `value` and the arrays and plain objects it holds, so a shared result cannot be changed. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/**
 * `decode`, remembering its results by input value: a flag word takes a handful of values on a
 * platform (every quote of a host has the same XFAM), and decoding one costs microseconds while a
 * look-up costs nanoseconds. The results are frozen (with everything they hold), because every
 * caller shares them. At most `maxEntries` values are kept; when full, the memory starts afresh.
 *
 * @example
 * ```ts
 * const decodeXfam = memoizedWordDecoder((raw) => ({ raw, ...decodeXsaveFlags(raw) }))
 * decodeXfam(0x61ae7n) === decodeXfam(0x61ae7n) // true
 * ```
 */
export function memoizedWordDecoder<R extends object>(
  decode: (value: bigint) => R,
  maxEntries = 256,
): (value: bigint) => R {
  const known = new Map<bigint, R>()
  return (value) => {
    let result = known.get(value)
    if (result === undefined) {
      result = deepFreeze(decode(value))
      if (known.size >= maxEntries) known.clear()
      known.set(value, result)
    }
    return result
  }
}
