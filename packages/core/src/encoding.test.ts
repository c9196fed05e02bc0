import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  base64ToBytes,
  base64urlToBytes,
  bytesToBase64,
  bytesToBase64url,
  bytesToHex,
  hexToBytes,
  stringToUtf8,
  utf8ToString,
} from './encoding.ts'
import { isInitguardError } from './errors.ts'

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  throw new Error('expected an error')
}

describe('hex', () => {
  it('round-trips and accepts either case', () => {
    expect(bytesToHex(Uint8Array.from([0, 1, 0xab, 0xff]))).toBe('0001abff')
    expect(hexToBytes('0001ABff')).toEqual(Uint8Array.from([0, 1, 0xab, 0xff]))
    expect(hexToBytes('')).toEqual(new Uint8Array(0))
  })

  it('refuses odd lengths, prefixes, separators and non-hex characters', () => {
    for (const bad of ['abc', '0x00', 'zz', '00 11', '00\n', 'g0', '٠٠']) {
      expect(
        codeOf(() => hexToBytes(bad)),
        bad,
      ).toBe('ERR_HEX_INVALID')
    }
    try {
      hexToBytes('0xab', { field: '--expected' })
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain('--expected')
      expect(isInitguardError(e) && e.hint).toContain('0x')
    }
  })

  it('round-trips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect(hexToBytes(bytesToHex(b))).toEqual(b)
      }),
    )
  })
})

describe('base64', () => {
  it('round-trips padded standard base64', () => {
    expect(bytesToBase64(Uint8Array.from([0xfb, 0xff]))).toBe('+/8=')
    expect(base64ToBytes('+/8=')).toEqual(Uint8Array.from([0xfb, 0xff]))
  })

  it('refuses what Buffer would silently accept', () => {
    for (const bad of [
      '+/8',
      '-_8=',
      'AB=C',
      'A===',
      'QQ= =',
      'QQ==\n',
      ' QQ==',
      'QR==',
      'Q',
      '=',
      'QUJD\u0000',
    ]) {
      expect(
        codeOf(() => base64ToBytes(bad)),
        JSON.stringify(bad),
      ).toBe('ERR_BASE64_INVALID')
    }
  })

  it('ignores line breaks only when asked', () => {
    expect(base64ToBytes('QUJD\nREVG\r\n', { allowLineBreaks: true })).toEqual(
      stringToUtf8('ABCDEF'),
    )
    expect(codeOf(() => base64ToBytes('QUJD\nREVG'))).toBe('ERR_BASE64_INVALID')
    expect(codeOf(() => base64ToBytes('QUJD REVG', { allowLineBreaks: true }))).toBe(
      'ERR_BASE64_INVALID',
    )
  })

  it('says what is wrong', () => {
    try {
      base64ToBytes('QUJD-A==')
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain('base64url')
    }
    try {
      base64ToBytes('QUJDRA')
    } catch (e) {
      expect(isInitguardError(e) && e.message).toMatch(/multiple of 4/)
    }
  })

  it('round-trips any bytes and refuses only with our error (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect(base64ToBytes(bytesToBase64(b))).toEqual(b)
      }),
    )
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          expect(bytesToBase64(base64ToBytes(s))).toBe(s)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
        }
      }),
    )
  })
})

describe('base64url', () => {
  it('round-trips unpadded base64url and refuses padding and the standard alphabet', () => {
    expect(bytesToBase64url(Uint8Array.from([0xfb, 0xff]))).toBe('-_8')
    expect(base64urlToBytes('-_8')).toEqual(Uint8Array.from([0xfb, 0xff]))
    for (const bad of ['-_8=', '+/8', 'A', '-_9']) {
      expect(
        codeOf(() => base64urlToBytes(bad)),
        bad,
      ).toBe('ERR_BASE64URL_INVALID')
    }
  })

  it('round-trips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        expect(base64urlToBytes(bytesToBase64url(b))).toEqual(b)
      }),
    )
  })
})

describe('UTF-8', () => {
  it('decodes strictly and keeps a byte order mark', () => {
    expect(utf8ToString(Uint8Array.from([0xef, 0xbb, 0xbf, 0x41]))).toBe('\ufeffA')
    expect(codeOf(() => utf8ToString(Uint8Array.from([0xc3])))).toBe('ERR_UTF8_INVALID')
    expect(codeOf(() => utf8ToString(Uint8Array.from([0xed, 0xa0, 0x80])))).toBe('ERR_UTF8_INVALID')
    expect(codeOf(() => utf8ToString(Uint8Array.from([0xc0, 0x80])))).toBe('ERR_UTF8_INVALID')
  })

  it('round-trips well-formed text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(utf8ToString(stringToUtf8(s))).toBe(s)
      }),
    )
  })
})
