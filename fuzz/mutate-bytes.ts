/**
 * Byte-level mutations: bit flips, byte insertion, deletion and duplication, splices between corpus
 * entries, interesting integers (at what look like length fields, or anywhere), truncation.
 *
 * @module
 */
import { concatBytes } from '@initguard/core'
import type { FuzzRandom } from './random.ts'

/** Values that break length and count checks: zero, one, sign and width boundaries. */
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff]
const INTERESTING_32 = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000,
  0xffff_ffff, 0xffff_fffe, 511, 512, 513, 1024, 4096,
]

/** Where a 16- or 32-bit little- or big-endian integer holds a value ≤ the input's length. */
const lengthFieldCache = new WeakMap<Uint8Array, number[]>()

function lengthFields(input: Uint8Array): number[] {
  let found = lengthFieldCache.get(input)
  if (found !== undefined) return found
  found = []
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength)
  for (let i = 0; i + 4 <= input.length && found.length < 4096; i++) {
    const le = view.getUint32(i, true)
    const be = view.getUint32(i, false)
    const le16 = view.getUint16(i, true)
    if ((le > 3 && le <= input.length) || (be > 3 && be <= input.length)) found.push(i)
    else if (le16 > 3 && le16 <= input.length && i % 2 === 0) found.push(i)
  }
  lengthFieldCache.set(input, found)
  return found
}

function range(random: FuzzRandom, length: number): [number, number] {
  const start = random.below(length)
  const size = Math.min(length - start, random.smallCount(Math.max(1, length >> 2)))
  return [start, start + size]
}

function insertAt(input: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length + bytes.length)
  out.set(input.subarray(0, at))
  out.set(bytes, at)
  out.set(input.subarray(at), at + bytes.length)
  return out
}

function writeInteger(input: Uint8Array, at: number, value: number, random: FuzzRandom): void {
  const width = random.pick([1, 2, 4, 8])
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength)
  if (at + width > input.length) return
  const little = random.chance(0.6)
  if (width === 1) view.setUint8(at, value & 0xff)
  else if (width === 2) view.setUint16(at, value & 0xffff, little)
  else if (width === 4) view.setUint32(at, value >>> 0, little)
  else
    view.setBigUint64(at, random.chance(0.5) ? BigInt(value >>> 0) : 0xffff_ffff_ffff_ffffn, little)
}

/** One byte-level mutation of `input` (never changed in place); `others` feed splices. */
export function mutateBytes(
  input: Uint8Array,
  random: FuzzRandom,
  others: readonly Uint8Array[],
): Uint8Array {
  if (input.length === 0) return Uint8Array.of(random.u32() & 0xff)
  const out = Uint8Array.from(input)
  switch (random.below(12)) {
    case 0: {
      const at = random.below(out.length)
      out[at] = (out[at] ?? 0) ^ (1 << random.below(8))
      return out
    }
    case 1:
      out[random.below(out.length)] = random.chance(0.5) ? random.pick(INTERESTING_8) : random.u32()
      return out
    case 2: {
      const bytes = new Uint8Array(random.smallCount(32))
      const fill = random.chance(0.5)
      for (let i = 0; i < bytes.length; i++) bytes[i] = fill ? (bytes[0] ?? 0) : random.u32()
      if (fill) bytes.fill(random.pick(INTERESTING_8))
      return insertAt(out, random.below(out.length + 1), bytes)
    }
    case 3: {
      const [start, end] = range(random, out.length)
      return concatBytes([out.subarray(0, start), out.subarray(end)])
    }
    case 4: {
      const [start, end] = range(random, out.length)
      const copies = random.chance(0.1) ? random.smallCount(64) : 1
      let result: Uint8Array = out
      for (let i = 0; i < copies; i++) result = insertAt(result, end, out.subarray(start, end))
      return result
    }
    case 5: {
      const other = others.length > 0 ? random.pick(others) : input
      const cut = random.below(out.length + 1)
      const from = random.below(other.length + 1)
      return concatBytes([out.subarray(0, cut), other.subarray(from)])
    }
    case 6:
    case 7: {
      const fields = lengthFields(input)
      const at =
        fields.length > 0 && random.chance(0.7) ? random.pick(fields) : random.below(out.length)
      const value = random.chance(0.2)
        ? input.length + random.below(3) - 1
        : random.pick(INTERESTING_32)
      writeInteger(out, at, value, random)
      return out
    }
    case 8:
      return out.subarray(0, random.below(out.length))
    case 9: {
      const other = others.length > 0 && random.chance(0.5) ? random.pick(others) : input
      const [start, end] = range(random, other.length)
      const at = random.below(out.length)
      const piece = other.subarray(start, Math.min(end, start + out.length - at))
      out.set(piece, at)
      return out
    }
    case 10: {
      const at = random.below(out.length)
      out[at] = (out[at] ?? 0) + random.below(35) - 17
      return out
    }
    default: {
      const [start, end] = range(random, out.length)
      out.fill(random.pick(INTERESTING_8), start, end)
      return out
    }
  }
}
