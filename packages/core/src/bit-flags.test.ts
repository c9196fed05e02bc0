import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bitFlagDecoder, bitMask, memoizedWordDecoder, setBitsOutside } from './bit-flags.ts'
import { InternalError } from './errors.ts'

describe('bitFlagDecoder', () => {
  const decode = bitFlagDecoder({ debug: 0, migratable: 29, perfmon: 63 })

  it('names the bits of the table, in its order, and lists the others', () => {
    const flags = decode((1n << 63n) | (1n << 32n) | 1n)
    expect(flags).toEqual({ debug: true, migratable: false, perfmon: true, unknownBits: [32] })
    expect(Object.keys(flags)).toEqual(['debug', 'migratable', 'perfmon', 'unknownBits'])
  })

  it('refuses a table with a bit outside 0–63 when the decoder is made', () => {
    expect(() => bitFlagDecoder({ beyond: 64 })).toThrow(InternalError)
  })

  it('does not list bits marked as known elsewhere', () => {
    const withVersion = bitFlagDecoder({ smt: 16 }, 0xffffn)
    expect(withVersion(0x3_00ffn)).toEqual({ smt: true, unknownBits: [17] })
  })

  it('agrees with a bit-by-bit reading for any 64-bit value', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (value) => {
        const flags = decode(value)
        expect(flags.debug).toBe((value & 1n) === 1n)
        expect(flags.migratable).toBe(((value >> 29n) & 1n) === 1n)
        expect(flags.perfmon).toBe(value >> 63n === 1n)
        const known = bitMask([0, 29, 63])
        let rebuilt = value & known
        for (const position of flags.unknownBits) rebuilt |= 1n << BigInt(position)
        expect(rebuilt).toBe(value)
        expect(setBitsOutside(value, known)).toEqual(flags.unknownBits)
      }),
    )
  })
})

describe('memoizedWordDecoder', () => {
  const decode = bitFlagDecoder({ debug: 0, migratable: 29 })

  it('returns what the decoder returns, frozen through and through, shared between calls', () => {
    let calls = 0
    const memoized = memoizedWordDecoder((raw) => {
      calls += 1
      return { raw, ...decode(raw) }
    })
    const first = memoized(0x2000_0003n)
    expect(first).toEqual({ raw: 0x2000_0003n, ...decode(0x2000_0003n) })
    expect(memoized(0x2000_0003n)).toBe(first)
    expect(calls).toBe(1)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.unknownBits)).toBe(true)
    expect(() => {
      ;(first as { debug: boolean }).debug = false
    }).toThrow(TypeError)
  })

  it('keeps at most the given number of values, and still answers right after forgetting', () => {
    let calls = 0
    const memoized = memoizedWordDecoder((raw) => {
      calls += 1
      return decode(raw)
    }, 2)
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), (values) => {
        for (const value of values) expect(memoized(value)).toEqual(decode(value))
      }),
    )
    expect(calls).toBeGreaterThan(2)
  })
})
