import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseDer } from './der-parse.ts'
import {
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerEnumerated,
  decodeDerInteger,
  decodeDerNull,
  decodeDerOctetString,
  decodeDerOid,
} from './der-primitives.ts'
import { ECDSA_SHA256, RSASSA_PSS, codeOf, hex, prim, thrown } from './der-test-support.ts'

/** Minimal two's-complement contents of an INTEGER, computed independently of der.ts. */
function integerContent(v: bigint): number[] {
  let len = 1
  while (v < -(1n << BigInt(8 * len - 1)) || v >= 1n << BigInt(8 * len - 1)) len += 1
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v
  const out: number[] = []
  for (let i = 0; i < len; i += 1) {
    out.unshift(Number(x & 0xffn))
    x >>= 8n
  }
  return out
}

function oidContent(arcs: readonly bigint[]): number[] {
  const [x = 0n, y = 0n, ...rest] = arcs
  const out: number[] = []
  for (const arc of [x * 40n + y, ...rest]) {
    const digits: number[] = []
    let v = arc
    do {
      digits.unshift(Number(v & 0x7fn))
      v >>= 7n
    } while (v > 0n)
    out.push(...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d)))
  }
  return out
}

describe('decodeDerInteger', () => {
  const vectors: readonly [string, bigint][] = [
    ['00', 0n],
    ['01', 1n],
    ['7f', 127n],
    ['00 80', 128n],
    ['01 00', 256n],
    ['ff', -1n],
    ['80', -128n],
    ['ff 7f', -129n],
    ['80 00', -32768n],
    ['00 ff ff ff ff ff ff ff ff', 2n ** 64n - 1n],
  ]
  for (const [content, value] of vectors) {
    it(`decodes ${content} as ${value}`, () => {
      expect(decodeDerInteger(parseDer(prim(2, hex(content))), 'n')).toBe(value)
    })
  }

  it('rejects empty and non-minimal encodings', () => {
    expect(codeOf(() => decodeDerInteger(parseDer(hex('02 00')), 'n'))).toBe(
      'ERR_DER_INTEGER_INVALID',
    )
    for (const content of ['00 00', '00 7f', 'ff 80', 'ff ff', '00 00 80']) {
      const err = thrown(() => decodeDerInteger(parseDer(prim(2, hex(content))), 'serialNumber'))
      expect(err.code).toBe('ERR_DER_INTEGER_NOT_MINIMAL')
      expect(err.details).toMatchObject({ field: 'serialNumber', offset: 0 })
    }
    expect(codeOf(() => decodeDerInteger(parseDer(hex('0a 01 01')), 'n'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('round-trips any integer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }), (v) => {
        expect(decodeDerInteger(parseDer(prim(2, integerContent(v))), 'n')).toBe(v)
      }),
    )
  })

  it('decodes ENUMERATED the same way', () => {
    expect(decodeDerEnumerated(parseDer(hex('0a 01 01')), 'reason')).toBe(1n)
    expect(codeOf(() => decodeDerEnumerated(parseDer(hex('0a 02 00 01')), 'reason'))).toBe(
      'ERR_DER_INTEGER_NOT_MINIMAL',
    )
    expect(codeOf(() => decodeDerEnumerated(parseDer(hex('02 01 01')), 'reason'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })
})

describe('decodeDerBoolean and decodeDerNull', () => {
  it('accepts only 0x00 and 0xFF', () => {
    expect(decodeDerBoolean(parseDer(hex('01 01 00')), 'b')).toBe(false)
    expect(decodeDerBoolean(parseDer(hex('01 01 ff')), 'b')).toBe(true)
    for (const bytes of ['01 01 01', '01 01 7f', '01 00', '01 02 ff ff', '01 02 00 00']) {
      expect(codeOf(() => decodeDerBoolean(parseDer(hex(bytes)), 'b'))).toBe(
        'ERR_DER_BOOLEAN_INVALID',
      )
    }
  })

  it('accepts only an empty NULL', () => {
    expect(decodeDerNull(parseDer(hex('05 00')), 'p')).toBeNull()
    expect(codeOf(() => decodeDerNull(parseDer(hex('05 01 00')), 'p'))).toBe('ERR_DER_NULL_INVALID')
  })
})

describe('decodeDerOid', () => {
  const vectors: readonly [string, string][] = [
    ['55 04 03', '2.5.4.3'],
    ['2a 86 48 86 f7 0d 01 01 0a', RSASSA_PSS],
    ['2a 86 48 ce 3d 04 03 02', ECDSA_SHA256],
    ['2b 06 01 04 01 9c 78 01 03 09', '1.3.6.1.4.1.3704.1.3.9'],
    ['2a 86 48 86 f8 4d 01 0d 01', '1.2.840.113741.1.13.1'],
    ['00', '0.0'],
    ['27', '0.39'],
    ['28', '1.0'],
    ['4f', '1.39'],
    ['50', '2.0'],
    ['88 37', '2.999'],
    [
      '69 83 f0 9d a7 eb cf de e0 c7 a1 a7 b2 c0 94 8c c8 f9 d7 76',
      '2.25.329800735698586629295641978511506172918',
    ],
  ]
  for (const [content, oid] of vectors) {
    it(`decodes ${oid}`, () => {
      expect(decodeDerOid(parseDer(prim(6, hex(content))), 'oid')).toBe(oid)
    })
  }

  it('rejects empty, cut-off, non-minimal and oversized subidentifiers', () => {
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 00')), 'o'))).toBe('ERR_DER_OID_INVALID')
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 02 2a 86')), 'o'))).toBe(
      'ERR_DER_OID_INVALID',
    )
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 02 80 01')), 'o'))).toBe(
      'ERR_DER_OID_NOT_MINIMAL',
    )
    const err = thrown(() => decodeDerOid(parseDer(hex('06 04 2a 80 80 01')), 'algorithm'))
    expect(err.code).toBe('ERR_DER_OID_NOT_MINIMAL')
    expect(err.details).toMatchObject({ field: 'algorithm', position: 1 })
    const twentyOctets = [...Array<number>(19).fill(0xff), 0x7f]
    expect(decodeDerOid(parseDer(prim(6, [0x2a, ...twentyOctets])), 'o')).toBe(
      `1.2.${(2n ** 140n - 1n).toString()}`,
    )
    expect(codeOf(() => decodeDerOid(parseDer(prim(6, [0x2a, 0xff, ...twentyOctets])), 'o'))).toBe(
      'ERR_DER_OID_INVALID',
    )
  })

  it('round-trips any OID', () => {
    const oid = fc
      .tuple(
        fc.constantFrom(0n, 1n, 2n),
        fc.bigInt({ min: 0n, max: 39n }),
        fc.bigInt({ min: 0n, max: 2n ** 100n }),
        fc.array(
          fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 128n })),
        ),
      )
      .map(([x, y, big, rest]) => [x, x === 2n ? y + big : y, ...rest])
    fc.assert(
      fc.property(oid, (arcs) => {
        expect(decodeDerOid(parseDer(prim(6, oidContent(arcs))), 'o')).toBe(arcs.join('.'))
      }),
    )
  })
})

describe('decodeDerBitString and decodeDerOctetString', () => {
  it('decodes bit strings with their unused-bit count', () => {
    expect(decodeDerBitString(parseDer(hex('03 01 00')), 'b')).toEqual({
      bytes: new Uint8Array(0),
      unusedBits: 0,
    })
    expect(decodeDerBitString(parseDer(hex('03 02 07 80')), 'b')).toEqual({
      bytes: Uint8Array.of(0x80),
      unusedBits: 7,
    })
    expect(decodeDerBitString(parseDer(hex('03 03 00 ab cd')), 'b').bytes).toEqual(hex('ab cd'))
  })

  it('rejects malformed bit strings', () => {
    const cases = [
      '03 00',
      '03 01 01',
      '03 01 07',
      '03 02 08 00',
      '03 02 ff 00',
      '03 02 01 01',
      '03 02 07 c0',
    ]
    for (const bytes of cases) {
      expect(codeOf(() => decodeDerBitString(parseDer(hex(bytes)), 'b'))).toBe(
        'ERR_DER_BIT_STRING_INVALID',
      )
    }
  })

  it('returns octet string contents', () => {
    expect(decodeDerOctetString(parseDer(hex('04 02 de ad')), 'o')).toEqual(hex('de ad'))
    expect(decodeDerOctetString(parseDer(hex('04 00')), 'o').length).toBe(0)
    expect(codeOf(() => decodeDerOctetString(parseDer(hex('03 01 00')), 'o'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })
})
