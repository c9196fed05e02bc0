/**
 * Quote versions and body kinds beyond the real vectors: v5 with TDX 1.0, TDX 1.5 and SGX
 * bodies, and v4 SGX quotes, built from the real bodies.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { DCAP_QUOTE_BODY_TYPE, parseDcapQuote } from './quote.ts'
import {
  VECTORS,
  asV5,
  concat,
  defaultSignatureDataV4,
  filled,
  le16,
  le32,
  quoteHeader,
  splitQuote,
} from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const spr = vector('tdx/spr-v4/quote.dat')
const sgxA = vector('sgx/v3-a/quote.dat')
const hex = bytesToHex

describe('quote v5', () => {
  it('TDX 1.0 body (type 2): same fields as the v4 quote, signed bytes include the descriptor', () => {
    const v4 = parseDcapQuote(spr)
    const v5bytes = asV5(spr, DCAP_QUOTE_BODY_TYPE.TD10)
    const v5 = parseDcapQuote(v5bytes)
    expect(v5.header.version).toBe(5)
    expect(v5.bodyDescriptor).toEqual({ type: 2, size: 584 })
    expect(v5.body).toEqual(v4.body)
    expect(v5.signedBytes.length).toBe(638)
    expect(v5.signedBytes).toEqual(v5bytes.subarray(0, 638))
    expect(v5.rawBody).toEqual(v5bytes.subarray(54, 638))
    expect(v5.signatureData.layout).toBe('v4')
    expect(v5.signatureData.qeReport).toEqual(v4.signatureData.qeReport)
    expect(v5.trailingBytes).toBe(0)
    // MRCONFIGID sits at 0xEE..0x11E in a v5 quote (verifiers.md §0).
    expect(v5.body.kind === 'td10' && hex(v5.body.mrConfigId)).toBe(
      hex(v5bytes.subarray(0xee, 0x11e)),
    )
  })

  it('TDX 1.5 body (type 3): TEE_TCB_SVN_2 and MRSERVICETD after the 1.0 fields', () => {
    const base = splitQuote(spr).body
    const body = concat(base, filled(16, 0x15), filled(48, 0x5d))
    const q = parseDcapQuote(asV5(spr, DCAP_QUOTE_BODY_TYPE.TD15, body))
    expect(q.bodyDescriptor).toEqual({ type: 3, size: 648 })
    expect(q.signedBytes.length).toBe(702)
    expect(q.body.kind).toBe('td15')
    if (q.body.kind !== 'td15') return
    expect(hex(q.body.teeTcbSvn2)).toBe('15'.repeat(16))
    expect(hex(q.body.mrServiceTd)).toBe('5d'.repeat(48))
    expect(hex(q.body.mrTd)).toMatch(/^6363b804/)
  })

  it('SGX body (type 1) with an SGX header', () => {
    const body = splitQuote(sgxA).body
    const quote = concat(
      quoteHeader({ version: 5, teeType: 0 }),
      le16(1),
      le32(384),
      body,
      defaultSignatureDataV4(),
    )
    const q = parseDcapQuote(quote)
    expect(q.header.tee).toBe('sgx')
    expect(q.body.kind).toBe('sgx')
    expect(q.signedBytes.length).toBe(438)
    expect(q.body.kind === 'sgx' && hex(q.body.mrEnclave)).toMatch(/^33d8736d/)
    expect(q.signatureData.layout).toBe('v4')
  })
})

describe('quote v4 with an SGX body', () => {
  it('reads the 384-byte enclave report and the v4 signature data', () => {
    const body = splitQuote(sgxA).body
    const quote = concat(
      quoteHeader({ version: 4, teeType: 0, qeSvn: 3, pceSvn: 7 }),
      body,
      defaultSignatureDataV4(),
      filled(5, 0xff),
    )
    const q = parseDcapQuote(quote)
    expect(q.header).toMatchObject({ version: 4, tee: 'sgx', qeSvn: 3, pceSvn: 7 })
    expect(q.bodyDescriptor).toBeUndefined()
    expect(q.body.kind).toBe('sgx')
    expect(q.signedBytes.length).toBe(432)
    expect(q.rawBody).toEqual(body)
    expect(q.signatureData.layout).toBe('v4')
    expect(q.trailingBytes).toBe(5)
  })
})
