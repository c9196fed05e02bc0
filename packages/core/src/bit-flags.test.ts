import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bitFlagDecoder, bitMask, setBitsOutside } from './bit-flags.ts'
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
