import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { INTEL_QE_VENDOR_ID, parseDcapQuoteHeader } from './quote-header.ts'
import { VECTORS, filled, quoteHeader, thrown } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))

describe('parseDcapQuoteHeader', () => {
  it('reads the header of a real TDX and a real SGX quote', () => {
    const tdx = parseDcapQuoteHeader(vector('tdx/spr-v4/quote.dat'))
    expect(tdx).toMatchObject({ version: 4, tee: 'tdx', teeType: 0x81, attestationKeyType: 2 })
    expect(bytesToHex(tdx.qeVendorId)).toBe(INTEL_QE_VENDOR_ID)
    expect(bytesToHex(tdx.userData)).toBe('739c3f292a15bace1f726351a70d4b7900000000')
    const sgx = parseDcapQuoteHeader(vector('sgx/v3-a/quote.dat'))
    expect(sgx).toMatchObject({ version: 3, tee: 'sgx', teeType: 0, qeSvn: 10, pceSvn: 15 })
  })

  it('looks at the first 48 bytes only', () => {
    const header = quoteHeader({ version: 5, teeType: 0, qeSvn: 0x1234, pceSvn: 0xabcd })
    const h = parseDcapQuoteHeader(new Uint8Array([...header, ...filled(100, 0xff)]))
    expect(h).toMatchObject({ version: 5, tee: 'sgx', qeSvn: 0x1234, pceSvn: 0xabcd })
    expect(h.raw).toEqual(header)
    expect(parseDcapQuoteHeader(header).raw.length).toBe(48)
  })

  it('accepts every supported version and TEE combination', () => {
    for (const [version, teeType, tee] of [
      [3, 0, 'sgx'],
      [4, 0, 'sgx'],
      [4, 0x81, 'tdx'],
      [5, 0, 'sgx'],
      [5, 0x81, 'tdx'],
    ] as const) {
      expect(parseDcapQuoteHeader(quoteHeader({ version, teeType })).tee).toBe(tee)
    }
  })

  it('refuses short input, bad versions, key types and TEE types with their codes', () => {
    expect(thrown(() => parseDcapQuoteHeader(quoteHeader().subarray(0, 47))).code).toBe(
      'ERR_TDX_QUOTE_TRUNCATED',
    )
    expect(thrown(() => parseDcapQuoteHeader(quoteHeader({ version: 2 }))).code).toBe(
      'ERR_TDX_QUOTE_VERSION',
    )
    expect(thrown(() => parseDcapQuoteHeader(quoteHeader({ keyType: 3 }))).code).toBe(
      'ERR_TDX_QUOTE_KEY_TYPE',
    )
    expect(thrown(() => parseDcapQuoteHeader(quoteHeader({ teeType: 0x82 }))).code).toBe(
      'ERR_TDX_QUOTE_TEE_TYPE',
    )
    const v3tdx = thrown(() => parseDcapQuoteHeader(quoteHeader({ version: 3, teeType: 0x81 })))
    expect(v3tdx.code).toBe('ERR_TDX_QUOTE_TEE_TYPE')
    expect(v3tdx.message).toContain('version 3')
    expect(thrown(() => parseDcapQuoteHeader('x' as unknown as Uint8Array)).code).toBe(
      'ERR_TDX_INPUT_TYPE',
    )
  })

  it('copies the vendor ID and user data', () => {
    const input = quoteHeader()
    const h = parseDcapQuoteHeader(input)
    input.fill(0)
    expect(bytesToHex(h.qeVendorId)).toBe(INTEL_QE_VENDOR_ID)
    expect(h.raw[0]).toBe(4)
  })
})
