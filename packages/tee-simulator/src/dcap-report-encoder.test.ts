import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex } from '@initguard/core'
import { parseDcapQuote, parseSgxEnclaveReport, parseTdQuoteBody } from '@initguard/tdx'
import type { SgxEnclaveReport, TdQuoteBody } from '@initguard/tdx'
import {
  DCAP_HEADER_SIZE,
  defaultQeReportFields,
  defaultSgxEnclaveFields,
  defaultTdReportBodyFields,
  encodeDcapHeader,
  encodeSgxReport,
  encodeTdReportBody,
  INTEL_QE_VENDOR_ID_BYTES,
  SGX_REPORT_SIZE,
  TD10_BODY_SIZE,
  TD15_BODY_SIZE,
} from './dcap-report-encoder.ts'
import type { SgxReportFieldValues, TdReportBodyFieldValues } from './dcap-report-encoder.ts'
import { thrown } from './intel-test-support.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const realQuote = (path: string): ReturnType<typeof parseDcapQuote> =>
  parseDcapQuote(new Uint8Array(readFileSync(new URL(path, VECTORS))))

function sgxFieldsOf(report: SgxEnclaveReport): SgxReportFieldValues {
  return { ...report, attributes: report.raw.subarray(0x30, 0x40) }
}

function tdFieldsOf(body: TdQuoteBody): TdReportBodyFieldValues {
  return {
    ...body,
    tdAttributes: body.tdAttributes.raw,
    xfam: body.xfam.raw,
    teeTcbSvn2: body.kind === 'td15' ? body.teeTcbSvn2 : new Uint8Array(16),
    mrServiceTd: body.kind === 'td15' ? body.mrServiceTd : new Uint8Array(48),
  }
}

describe('encoders against real quotes', () => {
  it('re-encodes a real TDX v4 header and TD 1.0 body byte for byte', () => {
    const quote = realQuote('tdx/v4-b/quote.dat')
    expect(bytesToHex(encodeDcapHeader(quote.header))).toBe(bytesToHex(quote.header.raw))
    if (quote.body.kind === 'sgx') throw new Error('expected a TD body')
    expect(bytesToHex(encodeTdReportBody(tdFieldsOf(quote.body), 'td10'))).toBe(
      bytesToHex(quote.rawBody),
    )
  })

  it('re-encodes a real SGX v3 header, enclave report and QE report byte for byte', () => {
    for (const path of ['sgx/v3-a/quote.dat', 'sgx/v3-b/quote.dat', 'tdx/spr-v4/quote.dat']) {
      const quote = realQuote(path)
      expect(bytesToHex(encodeDcapHeader(quote.header))).toBe(bytesToHex(quote.header.raw))
      const qe = quote.signatureData.qeReport
      expect(bytesToHex(encodeSgxReport(sgxFieldsOf(qe)))).toBe(bytesToHex(qe.raw))
      if (quote.body.kind === 'sgx') {
        expect(bytesToHex(encodeSgxReport(sgxFieldsOf(quote.body)))).toBe(bytesToHex(quote.rawBody))
      }
    }
  })

  it('has defaults shaped like the real quotes', () => {
    const qe = realQuote('tdx/v4-b/quote.dat').signatureData.qeReport
    const tdQe = defaultQeReportFields('tdx')
    expect(tdQe.mrSigner).toEqual(qe.mrSigner)
    expect(tdQe.isvProdId).toBe(qe.isvProdId)
    expect(tdQe.attributes).toEqual(qe.raw.subarray(0x30, 0x40))
    const sgxQe = realQuote('sgx/v3-a/quote.dat').signatureData.qeReport
    expect(defaultQeReportFields('sgx').mrSigner).toEqual(sgxQe.mrSigner)
    expect(defaultQeReportFields('sgx').isvProdId).toBe(sgxQe.isvProdId)
    expect(bytesToHex(INTEL_QE_VENDOR_ID_BYTES)).toBe('939a7233f79c4ca9940a0db3957f0607')
    const enclave = parseSgxEnclaveReport(encodeSgxReport(defaultSgxEnclaveFields()))
    expect(enclave.attributes.debug).toBe(false)
    expect(enclave.attributes.mode64Bit).toBe(true)
    const td = parseTdQuoteBody(encodeTdReportBody(defaultTdReportBodyFields(), 'td10'), 'td10')
    expect(td.tdAttributes.debug).toBe(false)
    expect(td.tdAttributes.septVeDisable).toBe(true)
  })
})

describe('encoders round-trip through @initguard/tdx', () => {
  const bytes = (n: number): fc.Arbitrary<Uint8Array> =>
    fc.uint8Array({ minLength: n, maxLength: n })
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })

  it('TD report bodies (1.0 and 1.5)', () => {
    fc.assert(
      fc.property(
        fc.record({
          teeTcbSvn: bytes(16),
          mrSeam: bytes(48),
          mrSignerSeam: bytes(48),
          seamAttributes: u64,
          tdAttributes: u64,
          xfam: u64,
          mrTd: bytes(48),
          mrConfigId: bytes(48),
          mrOwner: bytes(48),
          mrOwnerConfig: bytes(48),
          rtmrs: fc.array(bytes(48), { minLength: 4, maxLength: 4 }),
          reportData: bytes(64),
          teeTcbSvn2: bytes(16),
          mrServiceTd: bytes(48),
        }),
        fc.constantFrom('td10' as const, 'td15' as const),
        (fields, kind) => {
          const encoded = encodeTdReportBody(fields, kind)
          expect(encoded).toHaveLength(kind === 'td10' ? TD10_BODY_SIZE : TD15_BODY_SIZE)
          const parsed = parseTdQuoteBody(encoded, kind)
          expect(tdFieldsOf(parsed)).toMatchObject({
            ...fields,
            ...(kind === 'td10'
              ? { teeTcbSvn2: new Uint8Array(16), mrServiceTd: new Uint8Array(48) }
              : {}),
          })
        },
      ),
      { numRuns: 50 },
    )
  })

  it('SGX reports', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff })
    fc.assert(
      fc.property(
        fc.record({
          cpuSvn: bytes(16),
          miscSelect: fc.integer({ min: 0, max: 0xffffffff }),
          isvExtProdId: bytes(16),
          attributes: bytes(16),
          mrEnclave: bytes(32),
          mrSigner: bytes(32),
          configId: bytes(64),
          isvProdId: u16,
          isvSvn: u16,
          configSvn: u16,
          isvFamilyId: bytes(16),
          reportData: bytes(64),
        }),
        (fields) => {
          const encoded = encodeSgxReport(fields)
          expect(encoded).toHaveLength(SGX_REPORT_SIZE)
          const parsed = parseSgxEnclaveReport(encoded)
          expect(sgxFieldsOf(parsed)).toMatchObject(fields)
          expect(parsed.reservedNonZero).toEqual([])
        },
      ),
      { numRuns: 50 },
    )
  })
})

describe('encoder errors', () => {
  it('refuses fields of the wrong size or range, naming the field', () => {
    const td = defaultTdReportBodyFields()
    const cases: [() => unknown, string][] = [
      [() => encodeTdReportBody({ ...td, mrTd: new Uint8Array(47) }, 'td10'), 'mrTd'],
      [() => encodeTdReportBody({ ...td, rtmrs: td.rtmrs.slice(0, 3) }, 'td10'), 'rtmrs'],
      [() => encodeTdReportBody({ ...td, tdAttributes: 1n << 64n }, 'td10'), 'tdAttributes'],
      [() => encodeTdReportBody({ ...td, xfam: -1n }, 'td10'), 'xfam'],
      [() => encodeTdReportBody({ ...td, mrServiceTd: new Uint8Array(1) }, 'td15'), 'mrServiceTd'],
      [() => encodeSgxReport({ ...defaultSgxEnclaveFields(), isvSvn: 0x10000 }), 'report.isvSvn'],
      [
        () => encodeSgxReport({ ...defaultSgxEnclaveFields(), miscSelect: 1.5 }),
        'report.miscSelect',
      ],
      [
        () =>
          encodeDcapHeader({
            version: 4,
            attestationKeyType: 2,
            teeType: 0x81,
            qeSvn: 0,
            pceSvn: 0,
            qeVendorId: INTEL_QE_VENDOR_ID_BYTES,
            userData: new Uint8Array(16),
          }),
        'userData',
      ],
    ]
    for (const [fn, field] of cases) {
      const e = thrown(fn)
      expect(e.code).toBe('ERR_DCAP_BUILD_FIELD_INVALID')
      expect(e.details['field']).toBe(field)
    }
    // A TD 1.0 body ignores the TD 1.5 fields.
    expect(encodeTdReportBody({ ...td, mrServiceTd: new Uint8Array(1) }, 'td10')).toHaveLength(
      TD10_BODY_SIZE,
    )
    expect(DCAP_HEADER_SIZE).toBe(48)
  })
})
