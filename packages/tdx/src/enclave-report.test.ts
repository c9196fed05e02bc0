import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { parseSgxEnclaveReport, SGX_REPORT_BODY_SIZE } from './enclave-report.ts'
import { VECTORS, patched, splitQuote, thrown } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const body = splitQuote(vector('sgx/v3-a/quote.dat')).body
const hex = bytesToHex

describe('parseSgxEnclaveReport', () => {
  it('reads every field of the v3-a enclave report at its offset', () => {
    const r = parseSgxEnclaveReport(body)
    expect(hex(r.cpuSvn)).toBe('0b0b1a18ffff04000000000000000000')
    expect(r.miscSelect).toBe(0)
    expect(hex(r.isvExtProdId)).toBe('00'.repeat(16))
    expect(r.attributes.flags).toBe(0x5n)
    expect(r.attributes.xfrm.raw).toBe(0xe7n)
    expect(hex(r.mrEnclave)).toMatch(/^33d8736d.*2fbb$/)
    expect(hex(r.mrSigner)).toMatch(/^815f42f1.*e0e6$/)
    expect(hex(r.configId)).toBe('00'.repeat(64))
    expect([r.isvProdId, r.isvSvn, r.configSvn]).toEqual([0, 0, 0])
    expect(hex(r.isvFamilyId)).toBe('00'.repeat(16))
    expect(new TextDecoder().decode(r.reportData.subarray(0, 13))).toBe('Hello, world!')
    expect(r.reservedNonZero).toEqual([])
    expect(r.raw).toEqual(body)
  })

  it('reads each field from its own offset (distinct marker bytes)', () => {
    const marked = Uint8Array.from({ length: SGX_REPORT_BODY_SIZE }, (_, i) => i & 0xff)
    const r = parseSgxEnclaveReport(marked)
    expect(r.cpuSvn[0]).toBe(0x00)
    expect(r.miscSelect).toBe(0x13121110)
    expect(r.isvExtProdId[0]).toBe(0x20)
    expect(r.attributes.flags).toBe(0x3736353433323130n)
    expect(r.attributes.xfrm.raw).toBe(0x3f3e3d3c3b3a3938n)
    expect(r.mrEnclave[0]).toBe(0x40)
    expect(r.mrSigner[0]).toBe(0x80)
    expect(r.configId[0]).toBe(0xc0)
    expect(r.isvProdId).toBe(0x0100)
    expect(r.isvSvn).toBe(0x0302)
    expect(r.configSvn).toBe(0x0504)
    expect(r.isvFamilyId[0]).toBe(0x30)
    expect(r.reportData[0]).toBe(0x40)
    expect(r.reportData[63]).toBe(0x7f)
    expect(r.reservedNonZero).toEqual([
      'reserved@0x014',
      'reserved@0x060',
      'reserved@0x0A0',
      'reserved@0x106',
    ])
  })

  it('names each non-zero reserved area without failing', () => {
    for (const [offset, name] of [
      [0x014, 'reserved@0x014'],
      [0x01f, 'reserved@0x014'],
      [0x060, 'reserved@0x060'],
      [0x0bf, 'reserved@0x0A0'],
      [0x12f, 'reserved@0x106'],
    ] as const) {
      const r = parseSgxEnclaveReport(
        patched(body, (_, b) => {
          b[offset] = 1
        }),
      )
      expect(r.reservedNonZero).toEqual([name])
    }
  })

  it('refuses any other length, and non-Uint8Array input', () => {
    for (const length of [0, 383, 385, 432]) {
      const error = thrown(() => parseSgxEnclaveReport(new Uint8Array(length)))
      expect(error.code).toBe('ERR_TDX_SGX_REPORT_SIZE')
      expect(error.details).toMatchObject({ length, expected: 384 })
    }
    expect(thrown(() => parseSgxEnclaveReport([] as unknown as Uint8Array)).code).toBe(
      'ERR_TDX_INPUT_TYPE',
    )
  })

  it('copies the input and its fields', () => {
    const input = body.slice()
    const r = parseSgxEnclaveReport(input)
    input.fill(0)
    expect(hex(r.mrEnclave)).toMatch(/^33d8736d/)
    r.mrEnclave.fill(0)
    expect(r.raw[0x40]).toBe(0x33)
  })
})
