import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  bytesToHex,
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerEnumerated,
  decodeDerExplicit,
  decodeDerGeneralizedTime,
  decodeDerIa5String,
  decodeDerInteger,
  decodeDerNull,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerPrintableString,
  decodeDerSequence,
  decodeDerSet,
  decodeDerTime,
  decodeDerUtcTime,
  decodeDerUtf8String,
  hexToBytes,
  isInitguardError,
  parseDer,
} from '@initguard/core'
import type { DerElement, DerTagClass, InitguardError } from '@initguard/core'
import {
  derBitString,
  derBoolean,
  derEnumerated,
  derExplicit,
  derGeneralizedTime,
  derIa5String,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derSetOf,
  derTime,
  derTlv,
  derUtcTime,
  derUtf8String,
} from './der-writer.ts'

const hex = (bytes: Uint8Array): string => bytesToHex(bytes)
const bytes = (h: string): Uint8Array => hexToBytes(h.replace(/\s+/g, ''))

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an Initguard error')
}

describe('derTlv', () => {
  it('writes short and long minimal lengths', () => {
    const tag = { tagNumber: 4, constructed: false }
    expect(hex(derTlv(tag, new Uint8Array(0)))).toBe('0400')
    expect(hex(derTlv(tag, new Uint8Array(127))).slice(0, 4)).toBe('047f')
    expect(hex(derTlv(tag, new Uint8Array(128))).slice(0, 6)).toBe('048180')
    expect(hex(derTlv(tag, new Uint8Array(255))).slice(0, 6)).toBe('0481ff')
    expect(hex(derTlv(tag, new Uint8Array(256))).slice(0, 8)).toBe('04820100')
    expect(hex(derTlv(tag, new Uint8Array(70000))).slice(0, 10)).toBe('0483011170')
  })

  it('writes low and high tag numbers in every class', () => {
    expect(hex(derTlv({ tagClass: 'context', tagNumber: 0, constructed: true }, bytes('')))).toBe(
      'a000',
    )
    expect(
      hex(derTlv({ tagClass: 'application', tagNumber: 30, constructed: false }, bytes(''))),
    ).toBe('5e00')
    expect(hex(derTlv({ tagClass: 'context', tagNumber: 31, constructed: false }, bytes('')))).toBe(
      '9f1f00',
    )
    expect(
      hex(derTlv({ tagClass: 'private', tagNumber: 1000, constructed: true }, bytes(''))),
    ).toBe('ff876800')
    expect(
      parseDer(
        derTlv({ tagClass: 'context', tagNumber: 2 ** 28 - 1, constructed: false }, bytes('')),
      ),
    ).toMatchObject({
      tagClass: 'context',
      tagNumber: 2 ** 28 - 1,
    })
  })

  it('refuses tag numbers out of range', () => {
    for (const tagNumber of [-1, 1.5, 2 ** 28, Number.NaN]) {
      expect(thrown(() => derTlv({ tagNumber, constructed: false }, bytes(''))).code).toBe(
        'ERR_DER_WRITE_TAG_INVALID',
      )
    }
  })
})

describe('derInteger', () => {
  it('writes minimal two’s complement', () => {
    const cases: [bigint | number, string][] = [
      [0, '020100'],
      [1n, '020101'],
      [127, '02017f'],
      [128, '02020080'],
      [255, '020200ff'],
      [256, '02020100'],
      [-1, '0201ff'],
      [-128, '020180'],
      [-129, '0202ff7f'],
      [0xdb, '020200db'],
      [0x010000n, '0203010000'],
    ]
    for (const [value, expected] of cases) expect(hex(derInteger(value))).toBe(expected)
  })

  it('round-trips every bigint through the strict reader', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 700n), max: 2n ** 700n }), (v) => {
        expect(decodeDerInteger(parseDer(derInteger(v)), 'v')).toBe(v)
        expect(decodeDerEnumerated(parseDer(derEnumerated(v)), 'v')).toBe(v)
      }),
    )
  })

  it('refuses numbers that are not safe integers', () => {
    for (const v of [1.5, Number.NaN, 2 ** 60]) {
      expect(thrown(() => derInteger(v)).code).toBe('ERR_DER_WRITE_INTEGER_INVALID')
    }
  })
})

describe('simple types', () => {
  it('writes BOOLEAN and NULL canonically', () => {
    expect(hex(derBoolean(true))).toBe('0101ff')
    expect(hex(derBoolean(false))).toBe('010100')
    expect(hex(derNull())).toBe('0500')
    expect(decodeDerBoolean(parseDer(derBoolean(true)), 'b')).toBe(true)
    expect(decodeDerBoolean(parseDer(derBoolean(false)), 'b')).toBe(false)
    expect(decodeDerNull(parseDer(derNull()), 'n')).toBeNull()
  })

  it('writes OCTET STRINGs and round-trips them', () => {
    expect(hex(derOctetString(bytes('020100')))).toBe('0403020100')
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (v) => {
        expect(decodeDerOctetString(parseDer(derOctetString(v)), 'o')).toEqual(v)
      }),
    )
  })
})

describe('derOid', () => {
  it('writes the AMD and X.509 OIDs as the real certificates do', () => {
    expect(hex(derOid('1.3.6.1.4.1.3704.1.3.1'))).toBe('060a2b060104019c78010301')
    expect(hex(derOid('1.3.6.1.4.1.3704.1.4'))).toBe('06092b060104019c780104')
    expect(hex(derOid('1.2.840.113549.1.1.10'))).toBe('06092a864886f70d01010a')
    expect(hex(derOid('2.16.840.1.101.3.4.2.2'))).toBe('0609608648016503040202')
    expect(hex(derOid('2.5.4.3'))).toBe('0603550403')
    expect(hex(derOid('2.999.3'))).toBe('0603883703')
    expect(hex(derOid('0.0'))).toBe('060100')
  })

  it('round-trips arbitrary OIDs through the strict reader', () => {
    const oid = fc
      .tuple(
        fc.constantFrom(0n, 1n, 2n),
        fc.bigInt({ min: 0n, max: 39n }),
        fc.bigInt({ min: 0n, max: 2n ** 100n }),
        fc.array(
          fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 128n })),
          {
            maxLength: 12,
          },
        ),
      )
      .map(([x, y, big, rest]) => [x, x === 2n ? y + big : y, ...rest].join('.'))
    fc.assert(
      fc.property(oid, (dotted) => {
        expect(decodeDerOid(parseDer(derOid(dotted)), 'oid')).toBe(dotted)
      }),
    )
  })

  it('refuses text that is not an OID', () => {
    for (const bad of [
      '',
      '1',
      '1.',
      '.1.2',
      '1..2',
      '01.2',
      '1.02',
      '3.1',
      '1.40',
      '0.40',
      'a.b',
      '1.2 ',
    ]) {
      expect(thrown(() => derOid(bad)).code).toBe('ERR_DER_WRITE_OID_INVALID')
    }
  })
})

describe('derBitString', () => {
  it('writes the unused-bits octet and the bits', () => {
    expect(hex(derBitString(bytes('')))).toBe('030100')
    expect(hex(derBitString(bytes('06'), 1))).toBe('03020106')
    expect(hex(derBitString(bytes('04'), 1))).toBe('03020104')
    expect(hex(derBitString(bytes('ab cd')))).toBe('030300abcd')
  })

  it('round-trips through the strict reader', () => {
    const arb = fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 7 }))
      .map(([b, unused]) => {
        const copy = b.slice()
        copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) & (0xff << unused) & 0xff
        return [copy, unused] as const
      })
    fc.assert(
      fc.property(arb, ([b, unused]) => {
        expect(decodeDerBitString(parseDer(derBitString(b, unused)), 'b')).toEqual({
          bytes: b,
          unusedBits: unused,
        })
      }),
    )
  })

  it('refuses unused bits DER does not allow', () => {
    expect(thrown(() => derBitString(bytes('01'), 1)).code).toBe('ERR_DER_WRITE_BIT_STRING_INVALID')
    expect(thrown(() => derBitString(bytes(''), 3)).code).toBe('ERR_DER_WRITE_BIT_STRING_INVALID')
    expect(thrown(() => derBitString(bytes('00'), 8)).code).toBe('ERR_DER_WRITE_BIT_STRING_INVALID')
    expect(thrown(() => derBitString(bytes('00'), -1)).code).toBe(
      'ERR_DER_WRITE_BIT_STRING_INVALID',
    )
  })
})

describe('strings', () => {
  it('writes the three string types with their tags', () => {
    expect(hex(derUtf8String('CA'))).toBe('0c024341')
    expect(hex(derPrintableString('US'))).toBe('13025553')
    expect(hex(derIa5String('Milan-B0'))).toBe('16084d696c616e2d4230')
    expect(hex(derUtf8String('é'))).toBe('0c02c3a9')
  })

  it('round-trips UTF8String, PrintableString and IA5String', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        expect(decodeDerUtf8String(parseDer(derUtf8String(s)), 's')).toBe(s)
      }),
    )
    const printable = fc.string({
      unit: fc.constantFrom(...Array.from("ABCXYZabcxyz0189 '()+,-./:=?")),
      maxLength: 60,
    })
    fc.assert(
      fc.property(printable, (s) => {
        expect(decodeDerPrintableString(parseDer(derPrintableString(s)), 's')).toBe(s)
      }),
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 80 }), (s) => {
        expect(decodeDerIa5String(parseDer(derIa5String(s)), 's')).toBe(s)
      }),
    )
  })

  it('refuses characters outside each type', () => {
    expect(thrown(() => derPrintableString('a*b')).code).toBe('ERR_DER_WRITE_STRING_INVALID')
    expect(thrown(() => derPrintableString('é')).code).toBe('ERR_DER_WRITE_STRING_INVALID')
    expect(thrown(() => derIa5String('é')).code).toBe('ERR_DER_WRITE_STRING_INVALID')
    expect(thrown(() => derUtf8String('a\ud800b')).code).toBe('ERR_DER_WRITE_STRING_INVALID')
  })
})

describe('times', () => {
  it('writes UTCTime and GeneralizedTime in their DER forms', () => {
    const latin1 = (b: Uint8Array): string => Buffer.from(b.subarray(2)).toString('latin1')
    expect(latin1(derUtcTime(new Date('2029-09-24T00:55:28Z')))).toBe('290924005528Z')
    expect(latin1(derUtcTime(new Date('1950-01-01T00:00:00Z')))).toBe('500101000000Z')
    expect(latin1(derGeneralizedTime(new Date('2050-01-01T00:00:00Z')))).toBe('20500101000000Z')
    expect(latin1(derGeneralizedTime(new Date('2050-01-01T00:00:00.120Z')))).toBe(
      '20500101000000.12Z',
    )
    expect(latin1(derGeneralizedTime(new Date('2050-01-01T00:00:00.005Z')))).toBe(
      '20500101000000.005Z',
    )
  })

  it('picks UTCTime for 1950–2049 and GeneralizedTime otherwise (RFC 5280)', () => {
    const tag = (d: string): number => derTime(new Date(d))[0] ?? -1
    expect(tag('2049-12-31T23:59:59Z')).toBe(0x17)
    expect(tag('1950-01-01T00:00:00Z')).toBe(0x17)
    expect(tag('2050-01-01T00:00:00Z')).toBe(0x18)
    expect(tag('1949-12-31T23:59:59Z')).toBe(0x18)
  })

  it('round-trips dates through the strict reader', () => {
    const wholeSeconds = (min: string, max: string): fc.Arbitrary<Date> =>
      fc
        .date({ min: new Date(min), max: new Date(max), noInvalidDate: true })
        .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000))
    fc.assert(
      fc.property(wholeSeconds('1950-01-01T00:00:00Z', '2049-12-31T23:59:59Z'), (d) => {
        expect(decodeDerUtcTime(parseDer(derUtcTime(d)), 't')).toEqual(d)
      }),
    )
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0000-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (d) => {
          expect(decodeDerGeneralizedTime(parseDer(derGeneralizedTime(d)), 't')).toEqual(d)
        },
      ),
    )
    fc.assert(
      fc.property(wholeSeconds('0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z'), (d) => {
        expect(decodeDerTime(parseDer(derTime(d)), 't')).toEqual(d)
      }),
    )
  })

  it('refuses what the types cannot hold', () => {
    const code = (fn: () => unknown): string => thrown(fn).code
    expect(code(() => derUtcTime(new Date('2050-01-01T00:00:00Z')))).toBe(
      'ERR_DER_WRITE_TIME_INVALID',
    )
    expect(code(() => derUtcTime(new Date('1949-12-31T23:59:59Z')))).toBe(
      'ERR_DER_WRITE_TIME_INVALID',
    )
    expect(code(() => derUtcTime(new Date('2030-01-01T00:00:00.500Z')))).toBe(
      'ERR_DER_WRITE_TIME_INVALID',
    )
    expect(code(() => derTime(new Date('2030-01-01T00:00:00.500Z')))).toBe(
      'ERR_DER_WRITE_TIME_INVALID',
    )
    expect(code(() => derTime(new Date(Number.NaN)))).toBe('ERR_DER_WRITE_TIME_INVALID')
    expect(code(() => derGeneralizedTime(new Date('+010000-01-01T00:00:00Z')))).toBe(
      'ERR_DER_WRITE_TIME_INVALID',
    )
  })
})

describe('constructed types and tags', () => {
  it('writes SEQUENCE, SET and sorted SET OF', () => {
    expect(hex(derSequence([derInteger(1), derNull()]))).toBe('30050201010500')
    expect(hex(derSet([derInteger(2), derInteger(1)]))).toBe('3106020102020101')
    expect(hex(derSetOf([derInteger(2), derInteger(1), derOctetString(bytes(''))]))).toBe(
      '3108020101020102' + '0400',
    )
    const [a, b] = decodeDerSet(parseDer(derSetOf([derInteger(256), derInteger(3)])), 's')
    expect([decodeDerInteger(a, 'a'), decodeDerInteger(b, 'b')]).toEqual([3n, 256n])
  })

  it('writes explicit and implicit tags', () => {
    expect(hex(derExplicit(0, derInteger(2)))).toBe('a003020102')
    expect(hex(derExplicit(3, derNull(), 'application'))).toBe('63020500')
    expect(hex(derImplicit(6, derIa5String('a')))).toBe('860161')
    expect(hex(derImplicit(0, derOctetString(bytes('aa'))))).toBe('8001aa')
    expect(hex(derImplicit(0, derSequence([derNull()])))).toBe('a0020500')
    expect(hex(derImplicit(40, derNull(), 'private'))).toBe('df2800')
    const el = parseDer(derExplicit(5, derOid('2.5.4.3')))
    expect(decodeDerOid(decodeDerExplicit(el, 5, 'x'), 'x')).toBe('2.5.4.3')
    const implicit = parseDer(derImplicit(2, derIa5String('host')))
    expect(
      decodeDerIa5String(implicit, 'dNSName', {
        implicitTag: { tagClass: 'context', tagNumber: 2 },
      }),
    ).toBe('host')
  })

  it('refuses to re-tag something that is not one element', () => {
    expect(thrown(() => derImplicit(0, bytes(''))).code).toBe('ERR_DER_WRITE_ELEMENT_INVALID')
    expect(thrown(() => derImplicit(0, bytes('0500 0500'))).code).toBe(
      'ERR_DER_WRITE_ELEMENT_INVALID',
    )
  })

  interface Tree {
    readonly tagClass: DerTagClass
    readonly tagNumber: number
    readonly content: Uint8Array
    readonly children: readonly Tree[] | undefined
  }

  function write(t: Tree): Uint8Array {
    if (t.children === undefined) {
      return derTlv({ tagClass: t.tagClass, tagNumber: t.tagNumber, constructed: false }, t.content)
    }
    const inner = t.children.map(write)
    if (t.tagClass === 'universal') return derSequence(inner)
    return derTlv(
      { tagClass: t.tagClass, tagNumber: t.tagNumber, constructed: true },
      Uint8Array.from(inner.flatMap((b) => [...b])),
    )
  }

  function same(el: DerElement, t: Tree): void {
    expect(el.tagClass).toBe(t.tagClass)
    if (t.children === undefined) {
      expect(el.tagNumber).toBe(t.tagNumber)
      expect(el.constructed).toBe(false)
      expect(el.value).toEqual(t.content)
      return
    }
    expect(el.constructed).toBe(true)
    if (t.tagClass === 'universal') expect(el.tagNumber).toBe(16)
    else expect(el.tagNumber).toBe(t.tagNumber)
    expect(el.children).toHaveLength(t.children.length)
    t.children.forEach((c, i) => {
      const child = el.children[i]
      expect(child).toBeDefined()
      if (child !== undefined) same(child, c)
    })
  }

  it('round-trips nested trees with any tags and lengths', () => {
    const tagNumber = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 2 ** 28 - 1 }),
    )
    const leaf: fc.Arbitrary<Tree> = fc.record({
      tagClass: fc.constantFrom<DerTagClass>('application', 'context', 'private'),
      tagNumber,
      content: fc.uint8Array({ maxLength: 300 }),
      children: fc.constant(undefined),
    })
    const { tree } = fc.letrec<{ tree: Tree; node: Tree }>((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, tie('node')),
      node: fc.record({
        tagClass: fc.constantFrom<DerTagClass>('universal', 'context', 'application', 'private'),
        tagNumber,
        content: fc.constant(new Uint8Array(0)),
        children: fc.array(tie('tree'), { maxLength: 5 }),
      }),
    }))
    fc.assert(
      fc.property(tree, (t) => {
        same(parseDer(write(t), { maxDepth: 1000 }), t)
      }),
    )
  })
})

describe('cross-check with openssl asn1parse', () => {
  function asn1parse(der: Uint8Array): string {
    return execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-i'], { input: der }).toString(
      'latin1',
    )
  }

  it('reads a structure of every type the way we meant it', () => {
    const der = derSequence([
      derExplicit(0, derInteger(2)),
      derInteger(0x010000n),
      derInteger(-129),
      derOid('1.3.6.1.4.1.3704.1.3.1'),
      derBoolean(true),
      derNull(),
      derOctetString(derIa5String('Milan-B0')),
      derBitString(bytes('06'), 1),
      derSet([derSequence([derOid('2.5.4.6'), derPrintableString('US')])]),
      derUtf8String('Santa Clara'),
      derUtcTime(new Date('2029-09-24T00:55:28Z')),
      derGeneralizedTime(new Date('2050-01-01T00:00:00Z')),
      derExplicit(3, derSequence([derImplicit(6, derIa5String('https://kdsintf.amd.com/x'))])),
      derOctetString(new Uint8Array(300)),
    ])
    const text = asn1parse(der)
    const lines = text.trim().split('\n')
    expect(lines).toHaveLength(21)
    expect(text).toMatch(/d=1 .* cont \[ 0 \]/)
    expect(text).toMatch(/INTEGER +:010000\n/)
    expect(text).toMatch(/INTEGER +:-81\n/)
    expect(text).toMatch(/OBJECT +:1\.3\.6\.1\.4\.1\.3704\.1\.3\.1\n/)
    expect(text).toMatch(/BOOLEAN +:255\n/)
    expect(text).toMatch(/prim: +NULL/)
    expect(text).toMatch(/OCTET STRING +\[HEX DUMP\]:16084D696C616E2D4230\n/)
    expect(text).toMatch(/prim: +BIT STRING/)
    expect(text).toMatch(/OBJECT +:countryName\n/)
    expect(text).toMatch(/PRINTABLESTRING +:US\n/)
    expect(text).toMatch(/UTF8STRING +:Santa Clara\n/)
    expect(text).toMatch(/UTCTIME +:290924005528Z\n/)
    expect(text).toMatch(/GENERALIZEDTIME +:20500101000000Z\n/)
    expect(text).toMatch(/cons: +cont \[ 3 \]/)
    expect(text).toMatch(/prim: +cont \[ 6 \]/)
    expect(text).toMatch(/hl=4 l= 300 prim: +OCTET STRING/)
    // The outer SEQUENCE is read to its end with nothing left over.
    expect(lines[0]).toMatch(new RegExp(`^ *0:d=0 +hl=\\d l= *${der.length - 4} cons: SEQUENCE`))
    expect(decodeDerSequence(parseDer(der), 'all')).toHaveLength(14)
  })
})
