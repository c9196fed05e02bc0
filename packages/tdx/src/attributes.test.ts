import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeSgxAttributes, decodeTdAttributes, decodeXsaveFeatures } from './attributes.ts'

const TD_BITS = {
  debug: 0,
  hgsPlusProf: 4,
  perfProf: 5,
  pmtProf: 6,
  icssd: 16,
  lass: 27,
  septVeDisable: 28,
  migratable: 29,
  pks: 30,
  keyLocker: 31,
  tpa: 62,
  perfmon: 63,
} as const

const XSAVE_BITS = [
  'x87',
  'sse',
  'avx',
  'mpxBndregs',
  'mpxBndcsr',
  'avx512Opmask',
  'avx512ZmmHi256',
  'avx512Hi16Zmm',
  'pt',
  'pkru',
  'pasid',
  'cetUser',
  'cetSupervisor',
  'hdc',
  'uintr',
  'lbr',
  'hwp',
  'amxTilecfg',
  'amxTiledata',
  'apx',
] as const

const SGX_BITS = {
  init: 0,
  debug: 1,
  mode64Bit: 2,
  provisionKey: 4,
  einitTokenKey: 5,
  cet: 6,
  kss: 7,
  aexNotify: 10,
} as const

describe('decodeTdAttributes', () => {
  it('decodes each named bit alone', () => {
    for (const [name, position] of Object.entries(TD_BITS)) {
      const a = decodeTdAttributes(1n << BigInt(position))
      for (const other of Object.keys(TD_BITS)) {
        expect(a[other as keyof typeof TD_BITS], `${name} → ${other}`).toBe(other === name)
      }
      expect(a.unknownBits).toEqual([])
    }
  })

  it('decodes the values of the real quotes (README: spr-v4 0x40000000 = PKS; v4-claims DEBUG + SEPT_VE_DISABLE)', () => {
    expect(decodeTdAttributes(0x40000000n)).toMatchObject({
      pks: true,
      debug: false,
      unknownBits: [],
    })
    expect(decodeTdAttributes(0x10000001n)).toMatchObject({
      debug: true,
      septVeDisable: true,
      pks: false,
    })
  })

  it('says the TD is under debug for any bit of the TUD group (7:0), and for no other bit', () => {
    for (let bit = 0; bit < 64; bit += 1) {
      expect(decodeTdAttributes(1n << BigInt(bit)).underDebug, `bit ${bit}`).toBe(bit < 8)
    }
    // The real quotes: spr-v4 (PKS) is not, v4-claims (DEBUG + SEPT_VE_DISABLE) is.
    expect(decodeTdAttributes(0x40000000n).underDebug).toBe(false)
    expect(decodeTdAttributes(0x10000001n).underDebug).toBe(true)
  })

  it('lists reserved bits instead of failing, and keeps only 64 bits', () => {
    const a = decodeTdAttributes((1n << 1n) | (1n << 7n) | (1n << 32n) | (1n << 61n) | 1n)
    expect(a.debug).toBe(true)
    expect(a.unknownBits).toEqual([1, 7, 32, 61])
    expect(decodeTdAttributes(0xffffffffffffffffn).unknownBits).toHaveLength(64 - 12)
    expect(decodeTdAttributes(1n << 64n).raw).toBe(0n)
  })
})

describe('decodeXsaveFeatures', () => {
  it('decodes bits 0–19 by name', () => {
    XSAVE_BITS.forEach((name, position) => {
      const x = decodeXsaveFeatures(1n << BigInt(position))
      for (const other of XSAVE_BITS) expect(x[other], `${name} → ${other}`).toBe(other === name)
      expect(x.unknownBits).toEqual([])
    })
  })

  it('decodes the XFAM of the real quotes', () => {
    // v4-claims: 0x642e7 = x87 SSE AVX, AVX-512 (5–7), PKRU, UINTR, AMX.
    expect(decodeXsaveFeatures(0x642e7n)).toMatchObject({
      x87: true,
      sse: true,
      avx: true,
      avx512Opmask: true,
      avx512ZmmHi256: true,
      avx512Hi16Zmm: true,
      pkru: true,
      uintr: true,
      amxTilecfg: true,
      amxTiledata: true,
      cetUser: false,
      pt: false,
      unknownBits: [],
    })
    // spr-v4: 0x61ae7 adds CET user and supervisor.
    expect(decodeXsaveFeatures(0x61ae7n)).toMatchObject({ cetUser: true, cetSupervisor: true })
  })

  it('lists bits 20–63', () => {
    expect(decodeXsaveFeatures((1n << 20n) | (1n << 63n) | 3n).unknownBits).toEqual([20, 63])
  })
})

describe('decodeSgxAttributes', () => {
  it('decodes each named FLAGS bit alone and XFRM', () => {
    for (const [name, position] of Object.entries(SGX_BITS)) {
      const a = decodeSgxAttributes(1n << BigInt(position), 0x3n)
      for (const other of Object.keys(SGX_BITS)) {
        expect(a[other as keyof typeof SGX_BITS], `${name} → ${other}`).toBe(other === name)
      }
      expect(a.unknownFlagBits).toEqual([])
      expect(a.xfrm).toMatchObject({ raw: 3n, x87: true, sse: true, avx: false })
    }
  })

  it('decodes the real values: v3-a 0x5, the debug Occlum enclave 0x7, the QE 0x15', () => {
    expect(decodeSgxAttributes(0x5n, 0xe7n)).toMatchObject({
      init: true,
      mode64Bit: true,
      debug: false,
    })
    expect(decodeSgxAttributes(0x7n, 0xe7n).debug).toBe(true)
    expect(decodeSgxAttributes(0x15n, 0x3n).provisionKey).toBe(true)
  })

  it('lists unknown FLAGS bits', () => {
    expect(decodeSgxAttributes((1n << 3n) | (1n << 8n) | (1n << 63n), 0n).unknownFlagBits).toEqual([
      3, 8, 63,
    ])
  })

  it('never throws and round-trips raw values for any 64-bit inputs', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (a, b) => {
          expect(decodeTdAttributes(a).raw).toBe(a)
          expect(decodeXsaveFeatures(a).raw).toBe(a)
          const s = decodeSgxAttributes(a, b)
          expect([s.flags, s.xfrm.raw]).toEqual([a, b])
          // Every set bit is either named (true) or listed.
          const td = decodeTdAttributes(a)
          const named = Object.values(TD_BITS).filter((p) => ((a >> BigInt(p)) & 1n) === 1n)
          expect(named.length + td.unknownBits.length).toBe(a.toString(2).split('1').length - 1)
        },
      ),
    )
  })
})
