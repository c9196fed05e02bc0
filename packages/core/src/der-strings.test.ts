import { describe, it, expect } from 'vitest'
import { parseDer } from './der-parse.ts'
import { decodeDerIa5String, decodeDerPrintableString, decodeDerUtf8String } from './der-strings.ts'
import { ascii, codeOf, hex, prim, thrown } from './der-test-support.ts'

describe('character strings', () => {
  it('decodes UTF8String strictly', () => {
    expect(decodeDerUtf8String(parseDer(prim(12, hex('68 c3 a9 f0 9f 94 92'))), 's')).toBe('hé🔒')
    expect(decodeDerUtf8String(parseDer(prim(12, [])), 's')).toBe('')
    for (const bad of ['c3 28', 'c0 80', 'ed a0 80', 'f8 88 80 80 80', 'e2 82']) {
      const err = thrown(() => decodeDerUtf8String(parseDer(prim(12, hex(bad))), 'commonName'))
      expect(err.code).toBe('ERR_DER_STRING_INVALID')
      expect(err.details).toMatchObject({ field: 'commonName', type: 'UTF8String' })
    }
  })

  it('decodes PrintableString with its restricted set', () => {
    const all = "AZaz09 '()+,-./:=?"
    expect(decodeDerPrintableString(parseDer(prim(19, ascii(all))), 's')).toBe(all)
    for (const bad of ['*', '@', '&', '_', '"', '\n', '\u00e9']) {
      const err = thrown(() =>
        decodeDerPrintableString(parseDer(prim(19, [0x41, bad.charCodeAt(0)])), 'countryName'),
      )
      expect(err.code).toBe('ERR_DER_STRING_INVALID')
      expect(err.details).toMatchObject({ position: 1, type: 'PrintableString' })
    }
  })

  it('decodes IA5String as 7-bit ASCII', () => {
    expect(decodeDerIa5String(parseDer(prim(22, [0x00, 0x41, 0x7f])), 's')).toBe('\u0000A\u007f')
    expect(codeOf(() => decodeDerIa5String(parseDer(prim(22, [0x41, 0x80])), 's'))).toBe(
      'ERR_DER_STRING_INVALID',
    )
  })
})
