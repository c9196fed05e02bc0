import { createHash, generateKeyPairSync, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex } from '@initguard/core'
import { parseCollateralJson, parseDcapQuote } from '@initguard/tdx'
import type { DcapQuote } from '@initguard/tdx'
// verifyDcapQuote is not exported from @initguard/tdx's index yet.
import { verifyDcapQuote } from '../../tdx/src/verify-quote.ts'
import type { QuoteVerification, QuoteVerifyOptions } from '../../tdx/src/verify-quote.ts'
import { buildDcapCollateral } from './dcap-collateral-builder.ts'
import { buildSgxQuote, buildTdxQuote } from './dcap-quote-builder.ts'
import type { DcapQuoteCorruption } from './dcap-quote-builder.ts'
import { createIntelTestPki } from './intel-pki.ts'
import type { IntelPckCa } from './intel-pki.ts'
import {
  ISSUE_DATE,
  NEXT_UPDATE,
  NOW,
  PCK_NOT_AFTER,
  PKI_NOT_AFTER,
  PKI_NOT_BEFORE,
  thrown,
} from './intel-test-support.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const pki = createIntelTestPki({ notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER })
const pcks = {
  platform: pki.issuePck({ ca: 'platform', notBefore: PKI_NOT_BEFORE, notAfter: PCK_NOT_AFTER }),
  processor: pki.issuePck({ ca: 'processor', notBefore: PKI_NOT_BEFORE, notAfter: PCK_NOT_AFTER }),
}
const collaterals = new Map<string, string>()
function collateralFor(tee: 'tdx' | 'sgx', ca: IntelPckCa): string {
  const key = `${tee}:${ca}`
  let text = collaterals.get(key)
  if (text === undefined) {
    text = buildDcapCollateral({ pki, tee, ca, issueDate: ISSUE_DATE, nextUpdate: NEXT_UPDATE })
    collaterals.set(key, text)
  }
  return text
}

function verifyQuote(
  bytes: Uint8Array,
  ca: IntelPckCa = 'platform',
  options: Partial<QuoteVerifyOptions> = {},
): QuoteVerification {
  const quote = parseDcapQuote(bytes)
  return verifyDcapQuote(quote, {
    now: NOW,
    collateral: parseCollateralJson(collateralFor(quote.header.tee, ca)),
    root: pki.root.pem,
    ...options,
  })
}

const realQuote = (path: string): DcapQuote =>
  parseDcapQuote(new Uint8Array(readFileSync(new URL(path, VECTORS))))

/** The layout of a quote: everything but values. */
function layoutOf(quote: DcapQuote): Record<string, unknown> {
  const s = quote.signatureData
  return {
    version: quote.header.version,
    tee: quote.header.tee,
    keyType: quote.header.attestationKeyType,
    vendor: bytesToHex(quote.header.qeVendorId),
    body: quote.body.kind,
    signedLength: quote.signedBytes.length,
    layout: s.layout,
    certificationType: s.certificationData.type,
    pckType: s.pckCertification.type,
    pckKind: s.pckCertification.kind,
    certificates:
      s.pckCertification.kind === 'pck-cert-chain' ? s.pckCertification.certificates.length : 0,
    qeAuthData: s.qeAuthData.length,
    qeReportDataTail: bytesToHex(s.qeReport.reportData.subarray(32)),
  }
}

describe('buildTdxQuote and buildSgxQuote: verification with @initguard/tdx', () => {
  const kinds = [
    ['TDX v4', 'tdx', (ca: IntelPckCa) => buildTdxQuote({}, pcks[ca])],
    ['TDX v5 TD 1.5', 'tdx', (ca: IntelPckCa) => buildTdxQuote({ version: 5 }, pcks[ca])],
    [
      'TDX v5 TD 1.0',
      'tdx',
      (ca: IntelPckCa) => buildTdxQuote({ version: 5, bodyKind: 'td10' }, pcks[ca]),
    ],
    ['SGX v3', 'sgx', (ca: IntelPckCa) => buildSgxQuote({}, pcks[ca])],
    ['SGX v4', 'sgx', (ca: IntelPckCa) => buildSgxQuote({ version: 4 }, pcks[ca])],
    ['SGX v5', 'sgx', (ca: IntelPckCa) => buildSgxQuote({ version: 5 }, pcks[ca])],
  ] as const

  for (const [name, tee, build] of kinds) {
    for (const ca of ['platform', 'processor'] as const) {
      it(`${name} via the ${ca} CA verifies UpToDate, and is refused under Intel's root`, () => {
        const bytes = build(ca)
        const result = verifyQuote(bytes, ca)
        expect(result.tee).toBe(tee)
        expect(result.tcb.status).toBe('UpToDate')
        expect(result.tcb.advisoryIds).toEqual([])
        expect(result.warnings).toEqual([])
        const quote = parseDcapQuote(bytes)
        expect(quote.trailingBytes).toBe(0)
        expect(
          thrown(() =>
            verifyDcapQuote(quote, {
              now: NOW,
              collateral: parseCollateralJson(collateralFor(tee, ca)),
            }),
          ).code,
        ).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
      })
    }
  }

  it('lays out v4 TDX and v3 SGX quotes like the real ones', () => {
    const tdx = parseDcapQuote(buildTdxQuote({}, pcks.platform))
    expect(layoutOf(tdx)).toEqual(layoutOf(realQuote('tdx/v4-b/quote.dat')))
    const sgx = parseDcapQuote(buildSgxQuote({}, pcks.processor))
    expect(layoutOf(sgx)).toEqual(layoutOf(realQuote('sgx/v3-a/quote.dat')))
    // Sizes: header 48 + body, then u32 + 128 + (v4: 6) + 384 + 64 + 2 + 32 + 6 + chain.
    const chain = new TextEncoder().encode(pcks.platform.chainPem).length
    expect(tdx.raw.length).toBe(48 + 584 + 4 + 128 + 6 + 384 + 64 + 2 + 32 + 6 + chain)
    expect(sgx.signedBytes.length).toBe(0x1b0)
    expect(parseDcapQuote(buildTdxQuote({ version: 5 }, pcks.platform)).signedBytes).toHaveLength(
      702,
    )
    expect(
      parseDcapQuote(buildTdxQuote({ version: 5, bodyKind: 'td10' }, pcks.platform)).signedBytes,
    ).toHaveLength(638)
  })

  it('writes the header like real quotes: SGX QE/PCE SVNs, TDX zeros, Intel vendor ID', () => {
    const sgx = parseDcapQuote(buildSgxQuote({}, pcks.processor)).header
    expect([sgx.qeSvn, sgx.pceSvn, sgx.teeType]).toEqual([8, 11, 0])
    const tdx = parseDcapQuote(buildTdxQuote({}, pcks.platform)).header
    expect([tdx.qeSvn, tdx.pceSvn, tdx.teeType]).toEqual([0, 0, 0x81])
    expect(bytesToHex(tdx.userData.subarray(16))).toBe('00000000')
    const custom = parseDcapQuote(
      buildTdxQuote({ qeSvn: 3, pceSvn: 9, userData: new Uint8Array(20).fill(1) }, pcks.platform),
    ).header
    expect([custom.qeSvn, custom.pceSvn]).toEqual([3, 9])
    expect(custom.userData).toEqual(new Uint8Array(20).fill(1))
  })
})

describe('quote fields', () => {
  it('writes every TD field it is given', () => {
    const b = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
    const fields = {
      teeTcbSvn: Uint8Array.of(7, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
      mrSeam: b(48, 1),
      seamAttributes: 0n,
      tdAttributes: 0x50000000n,
      xfam: 0x61ae7n,
      mrTd: b(48, 2),
      mrConfigId: b(48, 3),
      mrOwner: b(48, 4),
      mrOwnerConfig: b(48, 5),
      rtmrs: [b(48, 6), b(48, 7), b(48, 8), b(48, 9)],
      reportData: b(64, 10),
      mrServiceTd: b(48, 11),
    }
    const bytes = buildTdxQuote({ version: 5, ...fields }, pcks.platform)
    const { body } = parseDcapQuote(bytes)
    if (body.kind !== 'td15') throw new Error('expected TD 1.5')
    expect(body.teeTcbSvn).toEqual(fields.teeTcbSvn)
    expect(body.teeTcbSvn2).toEqual(fields.teeTcbSvn)
    expect(body.tdAttributes.raw).toBe(0x50000000n)
    expect(body.tdAttributes.pks).toBe(true)
    expect(body.xfam.raw).toBe(0x61ae7n)
    expect([body.mrTd, body.mrConfigId, body.mrOwner, body.mrOwnerConfig]).toEqual([
      fields.mrTd,
      fields.mrConfigId,
      fields.mrOwner,
      fields.mrOwnerConfig,
    ])
    expect(body.rtmrs).toEqual(fields.rtmrs)
    expect(body.reportData).toEqual(fields.reportData)
    expect(body.mrServiceTd).toEqual(fields.mrServiceTd)
    const result = verifyQuote(bytes, 'platform', {
      // A bound service TD is refused unless the policy names it (all zero otherwise).
      policy: {
        mrConfigId: fields.mrConfigId,
        reportData: fields.reportData,
        mrTd: [fields.mrTd],
        mrServiceTd: fields.mrServiceTd,
      },
    })
    expect(result.tcb.status).toBe('UpToDate')
  })

  it('writes every SGX field it is given', () => {
    const fields = {
      cpuSvn: new Uint8Array(16).fill(3),
      miscSelect: 1,
      attributes: Uint8Array.of(0x05, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0),
      mrEnclave: new Uint8Array(32).fill(0x33),
      mrSigner: new Uint8Array(32).fill(0x81),
      configId: new Uint8Array(64).fill(0xc0),
      isvProdId: 5,
      isvSvn: 6,
      configSvn: 7,
      reportData: new TextEncoder().encode('Hello, world!'.padEnd(64, '\0')),
    }
    const bytes = buildSgxQuote(fields, pcks.processor)
    const { body } = parseDcapQuote(bytes)
    if (body.kind !== 'sgx') throw new Error('expected SGX')
    expect(body).toMatchObject({ ...fields, attributes: expect.anything() as unknown })
    expect(body.raw.subarray(0x30, 0x40)).toEqual(fields.attributes)
    const result = verifyQuote(bytes, 'processor', {
      policy: { configId: fields.configId, mrEnclave: [fields.mrEnclave], minimumIsvSvn: 6 },
    })
    expect(result.tcb.status).toBe('UpToDate')
  })

  it('round-trips random TD fields through the parser and verifier', () => {
    const attestationKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const signer = { ...pcks.platform, attestationKey }
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v & ~0xffn), // never under debug (TUD, bits 7:0)
        (mrConfigId, reportData, tdAttributes) => {
          const bytes = buildTdxQuote({ mrConfigId, reportData, tdAttributes }, signer)
          const { body } = parseDcapQuote(bytes)
          if (body.kind === 'sgx') throw new Error('expected TDX')
          expect(body.mrConfigId).toEqual(mrConfigId)
          expect(body.reportData).toEqual(reportData)
          expect(body.tdAttributes.raw).toBe(tdAttributes)
          expect(verifyQuote(bytes).tcb.status).toBe('UpToDate')
        },
      ),
      { numRuns: 15 },
    )
  })
})

describe('signature data', () => {
  it('binds the attestation key in the QE report and signs with the given keys', () => {
    const attestationKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const qeAuthData = Uint8Array.of(9, 8, 7)
    const bytes = buildTdxQuote({ qeAuthData }, { ...pcks.platform, attestationKey })
    const quote = parseDcapQuote(bytes)
    const s = quote.signatureData
    // A P-256 SPKI ends with the uncompressed point's x and y.
    const point = attestationKey.publicKey.export({ type: 'spki', format: 'der' }).subarray(-64)
    expect(Buffer.from(s.attestationKey)).toEqual(point)
    expect(s.qeAuthData).toEqual(qeAuthData)
    const binding = createHash('sha256').update(s.attestationKey).update(qeAuthData).digest()
    expect(s.qeReport.reportData.subarray(0, 32)).toEqual(new Uint8Array(binding))
    expect(s.qeReport.reportData.subarray(32)).toEqual(new Uint8Array(32))
    const p1363 = { dsaEncoding: 'ieee-p1363' } as const
    expect(
      verify(
        'sha256',
        quote.signedBytes,
        { key: attestationKey.publicKey, ...p1363 },
        s.quoteSignature,
      ),
    ).toBe(true)
    expect(
      verify(
        'sha256',
        s.qeReport.raw,
        { key: pcks.platform.publicKey, ...p1363 },
        s.qeReportSignature,
      ),
    ).toBe(true)
    expect(verifyQuote(bytes).tcb.status).toBe('UpToDate')
  })

  it('adds trailing bytes and a NUL after the chain, as real quotes have', () => {
    const bytes = buildTdxQuote({ trailingBytes: 70, nulTerminatedChain: true }, pcks.platform)
    const quote = parseDcapQuote(bytes)
    expect(quote.trailingBytes).toBe(70)
    expect(quote.raw.at(-1)).toBe(0)
    expect(verifyQuote(bytes).warnings).toEqual(['70 bytes follow the quote; they were not read'])
    const given = buildSgxQuote({ trailingBytes: Uint8Array.of(1, 2, 3) }, pcks.processor)
    expect(parseDcapQuote(given).trailingBytes).toBe(3)
  })

  it('can carry other certification data (a PCK identifier instead of the chain)', () => {
    const bytes = buildTdxQuote(
      { certificationDataType: 3, certificationData: new Uint8Array(36) },
      pcks.platform,
    )
    const quote = parseDcapQuote(bytes)
    expect(quote.signatureData.pckCertification.kind).toBe('unresolved')
    expect(quote.signatureData.pckCertification.type).toBe(3)
  })
})

describe('negative tests', () => {
  const expected: Record<DcapQuoteCorruption, string> = {
    'quote-signature': 'ERR_TDX_QUOTE_SIGNATURE',
    'signed-data': 'ERR_TDX_QUOTE_SIGNATURE',
    'qe-report': 'ERR_TDX_QE_REPORT_SIGNATURE',
    'qe-report-signature': 'ERR_TDX_QE_REPORT_SIGNATURE',
    'qe-report-data': 'ERR_TDX_QE_REPORT_DATA',
    'qe-auth-data': 'ERR_TDX_QE_REPORT_DATA',
  }
  for (const [corruption, code] of Object.entries(expected)) {
    it(`corrupt '${corruption}' fails with ${code} (TDX v4 and SGX v3)`, () => {
      const corrupt = [corruption as DcapQuoteCorruption]
      expect(thrown(() => verifyQuote(buildTdxQuote({ corrupt }, pcks.platform))).code).toBe(code)
      expect(
        thrown(() => verifyQuote(buildSgxQuote({ corrupt }, pcks.processor), 'processor')).code,
      ).toBe(code)
    })
  }

  it('gives policy and TCB failures for chosen fields', () => {
    const debug = thrown(() =>
      verifyQuote(buildTdxQuote({ tdAttributes: 0x10000001n }, pcks.platform)),
    )
    expect(debug.code).toBe('ERR_TDX_DEBUG')
    // Module ISVSVN 3 of TDX_01 is below the UpToDate level (4): OutOfDate.
    const old = thrown(() =>
      verifyQuote(
        buildTdxQuote({ teeTcbSvn: Uint8Array.of(3, 1, 3, ...new Uint8Array(13)) }, pcks.platform),
      ),
    )
    expect(old.code).toBe('ERR_TDX_TCB_STATUS')
    expect(old.details['tcbStatus']).toBe('OutOfDate')
    const qe = thrown(() =>
      verifyQuote(buildTdxQuote({ qeReport: { isvProdId: 1 } }, pcks.platform)),
    )
    expect(qe.code).toBe('ERR_TDX_QE_IDENTITY_MISMATCH')
    const vendor = thrown(() =>
      verifyQuote(buildTdxQuote({ qeVendorId: new Uint8Array(16) }, pcks.platform)),
    )
    expect(vendor.code).toBe('ERR_TDX_QE_VENDOR')
    const wrongCa = thrown(() => verifyQuote(buildTdxQuote({}, pcks.processor), 'platform'))
    expect(wrongCa.code).toBe('ERR_TDX_PCK_CRL_ISSUER')
    expect(
      thrown(() => parseDcapQuote(buildTdxQuote({ attestationKeyType: 3 }, pcks.platform))).code,
    ).toBe('ERR_TDX_QUOTE_KEY_TYPE')
  })

  it('refuses impossible requests', () => {
    expect(thrown(() => buildTdxQuote({ bodyKind: 'td15' }, pcks.platform)).code).toBe(
      'ERR_DCAP_BUILD_FIELD_INVALID',
    )
    expect(
      thrown(() => buildTdxQuote({ mrTd: new Uint8Array(32) }, pcks.platform)).details['field'],
    ).toBe('mrTd')
    expect(
      thrown(() => buildSgxQuote({ qeReport: { mrSigner: new Uint8Array(3) } }, pcks.platform))
        .details['field'],
    ).toBe('qeReport.mrSigner')
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(
      thrown(() => buildTdxQuote({}, { ...pcks.platform, privateKey: p384.privateKey })).code,
    ).toBe('ERR_DCAP_BUILD_KEY_INVALID')
    expect(thrown(() => buildTdxQuote({}, { ...pcks.platform, attestationKey: p384 })).code).toBe(
      'ERR_DCAP_BUILD_KEY_INVALID',
    )
    expect(
      thrown(() =>
        buildTdxQuote({ qeAuthData: new Uint8Array(0), corrupt: ['qe-auth-data'] }, pcks.platform),
      ).code,
    ).toBe('ERR_DCAP_BUILD_FIELD_INVALID')
  })
})
