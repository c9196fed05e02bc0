/**
 * A parsed quote's fields are views into private copies of its structures: a caller who changes
 * one changes neither another field, nor `raw`, nor what a verification reads; FieldCopy answers
 * what ByteReader.copyAt answers, and refuses what it refuses.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ByteReader, bytesToHex } from '@initguard/core'
import { codeOf } from '@initguard/testkit'
import { FieldCopy } from './parse-support.ts'
import { parseDcapQuote } from './quote.ts'

const quoteBytes = new Uint8Array(
  readFileSync(new URL('../../../testdata/vectors/tdx/v4-b/quote.dat', import.meta.url)),
)

describe('FieldCopy', () => {
  it('answers each field as ByteReader.copyAt does, inside the structure and outside it', () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 13) & 0xff)
    const reader = new ByteReader(bytes)
    const fields = new FieldCopy(reader, 100, 50, 'structure')
    for (const [offset, length] of [
      [100, 50],
      [100, 0],
      [120, 16],
      [149, 1],
      [90, 20],
      [140, 20],
      [0, 300],
    ] as const) {
      expect(bytesToHex(fields.copyAt(offset, length, 'f'))).toBe(
        bytesToHex(reader.copyAt(offset, length, 'f')),
      )
    }
    // Beyond the input: refused by the reader, naming the field.
    expect(codeOf(() => fields.copyAt(290, 20, 'TAIL'))).toBe('ERR_TRUNCATED')
    expect(codeOf(() => fields.copyAt(-1, 4, 'HEAD'))).toBe(
      codeOf(() => reader.copyAt(-1, 4, 'HEAD')),
    )
  })

  it("keeps a quote's fields apart from each other and from raw", () => {
    const quote = parseDcapQuote(quoteBytes)
    if (quote.body.kind === 'sgx') throw new Error('v4-b is a TD quote')
    const raw = bytesToHex(quote.raw)
    const mrTd = bytesToHex(quote.body.mrTd)
    const qeReportData = bytesToHex(quote.signatureData.qeReport.reportData)
    quote.body.mrSeam.fill(0xee)
    quote.body.rtmrs[0].fill(0xee)
    quote.signatureData.qeReport.mrSigner.fill(0xee)
    expect(bytesToHex(quote.raw)).toBe(raw)
    expect(bytesToHex(quote.body.mrTd)).toBe(mrTd)
    expect(bytesToHex(quote.signatureData.qeReport.reportData)).toBe(qeReportData)
    expect(quote.rawBody.subarray(0x010, 0x040).every((b) => b === 0xee)).toBe(false)
    // The fields still hold the quote's bytes where nobody wrote.
    expect(bytesToHex(quote.body.mrTd)).toBe(bytesToHex(quote.rawBody.subarray(0x088, 0x0b8)))
  })

  it('keeps the fields of a quote parsed from a Node Buffer when the caller changes the Buffer', () => {
    const input = Buffer.from(quoteBytes)
    const quote = parseDcapQuote(input)
    if (quote.body.kind === 'sgx') throw new Error('v4-b is a TD quote')
    const mrTd = bytesToHex(quote.body.mrTd)
    const mrSigner = bytesToHex(quote.signatureData.qeReport.mrSigner)
    const raw = bytesToHex(quote.raw)
    input.fill(0xee)
    expect(bytesToHex(quote.body.mrTd)).toBe(mrTd)
    expect(bytesToHex(quote.signatureData.qeReport.mrSigner)).toBe(mrSigner)
    expect(bytesToHex(quote.raw)).toBe(raw)
  })
})
