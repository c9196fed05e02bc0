import { describe, it, expect } from 'vitest'
import { parseDer } from './der-parse.ts'
import { decodeDerInteger } from './der-primitives.ts'
import { decodeDerIa5String } from './der-strings.ts'
import {
  decodeDerExplicit,
  decodeDerSequence,
  decodeDerSet,
  expectDerTag,
} from './der-structure.ts'
import { ascii, codeOf, concat, hex, prim, thrown } from './der-test-support.ts'

describe('expectDerTag and structure accessors', () => {
  const el = parseDer(hex('02 01 05'))

  it('returns the element when the tag matches', () => {
    expect(expectDerTag(el, { tagNumber: 2, constructed: false }, 'n')).toBe(el)
  })

  it('names the field and both tags when it does not', () => {
    const err = thrown(() => expectDerTag(el, { tagNumber: 4, constructed: false }, 'digest'))
    expect(err.code).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(err.details).toEqual({
      field: 'digest',
      offset: 0,
      expected: 'OCTET STRING (primitive)',
      actual: 'INTEGER (primitive)',
    })
    expect(
      codeOf(() =>
        expectDerTag(el, { tagClass: 'context', tagNumber: 2, constructed: false }, 'x'),
      ),
    ).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => expectDerTag(el, { tagNumber: 2, constructed: true }, 'x'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('df 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[PRIVATE 42] (primitive)' })
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('5f 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[APPLICATION 42] (primitive)' })
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('1f 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[UNIVERSAL 42] (primitive)' })
  })

  it('reports a missing element', () => {
    const [, second] = decodeDerSequence(parseDer(hex('30 03 02 01 00')), 'pair')
    const err = thrown(() => decodeDerInteger(second, 'second'))
    expect(err.code).toBe('ERR_DER_MISSING')
    expect(err.details).toEqual({ field: 'second', expected: 'INTEGER (primitive)' })
  })

  it('reads SEQUENCE and SET components', () => {
    expect(decodeDerSequence(parseDer(hex('30 06 02 01 01 02 01 02')), 's').length).toBe(2)
    expect(decodeDerSet(parseDer(hex('31 02 05 00')), 's').length).toBe(1)
    expect(codeOf(() => decodeDerSet(parseDer(hex('30 00')), 's'))).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => decodeDerSequence(parseDer(hex('31 00')), 's'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('unwraps EXPLICIT tags holding exactly one element', () => {
    expect(decodeDerInteger(decodeDerExplicit(parseDer(hex('a0 03 02 01 02')), 0, 'v'), 'v')).toBe(
      2n,
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a0 00')), 0, 'v'))).toBe(
      'ERR_DER_EXPLICIT_INVALID',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a0 06 02 01 02 02 01 03')), 0, 'v'))).toBe(
      'ERR_DER_EXPLICIT_INVALID',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a1 03 02 01 02')), 0, 'v'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('80 00')), 0, 'v'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(codeOf(() => decodeDerExplicit(undefined, 0, 'v'))).toBe('ERR_DER_MISSING')
  })

  it('decodes IMPLICIT tags when told to', () => {
    const dnsName = parseDer(concat([[0x82, 0x0b], ascii('example.com')]))
    const implicitTag = { tagClass: 'context', tagNumber: 2 } as const
    expect(decodeDerIa5String(dnsName, 'dNSName', { implicitTag })).toBe('example.com')
    expect(codeOf(() => decodeDerIa5String(dnsName, 'dNSName'))).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => decodeDerIa5String(parseDer(prim(22, [])), 'x', { implicitTag }))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    const implicitSeq = parseDer(hex('a1 03 02 01 07'))
    expect(
      decodeDerSequence(implicitSeq, 'x', { implicitTag: { tagClass: 'context', tagNumber: 1 } })
        .length,
    ).toBe(1)
  })
})
