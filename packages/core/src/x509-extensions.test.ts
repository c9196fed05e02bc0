import { describe, expect, it } from 'vitest'
import { codeOf } from './der-test-support.ts'
import { MalformedInputError } from './errors.ts'
import { decodeX509BasicConstraints, decodeX509KeyUsage } from './x509-extensions.ts'

const invalid = (message: string): Error => new MalformedInputError('ERR_TEST_INVALID', message)
const basic = (...bytes: number[]) =>
  decodeX509BasicConstraints(Uint8Array.from(bytes), 'test', invalid)
const usage = (...bytes: number[]) => decodeX509KeyUsage(Uint8Array.from(bytes), 'test')

describe('basicConstraints', () => {
  it('reads cA and pathLenConstraint, each optional', () => {
    expect(basic(0x30, 0x00)).toEqual({ ca: false, pathLength: undefined })
    expect(basic(0x30, 0x03, 0x01, 0x01, 0xff)).toEqual({ ca: true, pathLength: undefined })
    expect(basic(0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00)).toEqual({
      ca: true,
      pathLength: 0,
    })
    expect(basic(0x30, 0x03, 0x01, 0x01, 0x00)).toEqual({ ca: false, pathLength: undefined })
    expect(basic(0x30, 0x03, 0x02, 0x01, 0x02)).toEqual({ ca: false, pathLength: 2 })
  })

  it('refuses extra fields, a negative or huge pathLenConstraint, and what is no SEQUENCE', () => {
    expect(codeOf(() => basic(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00))).toBe(
      'ERR_TEST_INVALID',
    )
    expect(codeOf(() => basic(0x30, 0x03, 0x02, 0x01, 0xff))).toBe('ERR_TEST_INVALID')
    expect(codeOf(() => basic(0x30, 0x04, 0x02, 0x02, 0x03, 0xe9))).toBe('ERR_TEST_INVALID')
    expect(codeOf(() => basic(0x01, 0x01, 0xff))).toMatch(/^ERR_DER_/)
    expect(codeOf(() => basic(0x30, 0x00, 0x00))).toMatch(/^ERR_DER_/)
  })
})

describe('keyUsage', () => {
  it('reads the named bits, with or without trailing zero bits', () => {
    // AMD's ASK: keyCertSign alone with one unused bit.
    expect(usage(0x03, 0x02, 0x01, 0x04)).toMatchObject({ keyCertSign: true, cRLSign: false })
    // AMD's ARK: keyCertSign and cRLSign.
    expect(usage(0x03, 0x02, 0x01, 0x06)).toMatchObject({
      digitalSignature: false,
      keyCertSign: true,
      cRLSign: true,
    })
    expect(usage(0x03, 0x02, 0x07, 0x80)).toMatchObject({
      digitalSignature: true,
      keyCertSign: false,
    })
    expect(usage(0x03, 0x03, 0x07, 0x00, 0x80)).toMatchObject({
      digitalSignature: false,
      decipherOnly: true,
    })
    expect(Object.values(usage(0x03, 0x01, 0x00)).some(Boolean)).toBe(false)
  })

  it('refuses what is no BIT STRING', () => {
    expect(codeOf(() => usage(0x04, 0x01, 0x80))).toMatch(/^ERR_DER_/)
    expect(codeOf(() => usage(0x03, 0x02, 0x01, 0x05))).toMatch(/^ERR_DER_/)
  })
})
