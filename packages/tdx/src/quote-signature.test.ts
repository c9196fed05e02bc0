/**
 * Signature data and certification data variants, on synthetic quotes: type 6 wrapping type 5 or
 * an unresolved type, v3 inline layout, types that are not allowed where they are, and damaged
 * PEM in a real quote.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { parseDcapQuote } from './quote.ts'
import {
  VECTORS,
  certData,
  concat,
  fakePemChain,
  filled,
  patched,
  qePart,
  quoteHeader,
  signatureDataV3,
  signatureDataV4,
  splitQuote,
  thrown,
} from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const spr = vector('tdx/spr-v4/quote.dat')
const tdxBody = splitQuote(spr).body
const sgxBody = splitQuote(vector('sgx/v3-a/quote.dat')).body
const hex = bytesToHex

/** A v4 TDX quote with the given signature data (u32 size included). */
const v4Quote = (signatureData: Uint8Array): Uint8Array =>
  concat(quoteHeader(), tdxBody, signatureData)
/** A v3 SGX quote with the given signature data. */
const v3Quote = (signatureData: Uint8Array): Uint8Array =>
  concat(quoteHeader({ version: 3, teeType: 0 }), sgxBody, signatureData)
/** Type 6 certification data wrapping `nested`. */
const type6 = (nested: Uint8Array, authData?: Uint8Array): Uint8Array =>
  certData(6, concat(qePart(authData === undefined ? {} : { authData }), nested))

describe('signature data layout v4 (quotes v4 and v5)', () => {
  it('reads signature, key, QE report, QE signature, auth data and the nested PCK chain', () => {
    const qeReport = filled(384, 0)
    qeReport.set([1, 2, 3], 0x140)
    const q = parseDcapQuote(
      v4Quote(
        signatureDataV4(
          certData(
            6,
            concat(
              qePart({ qeReport, qeReportSignature: filled(64, 0x33), authData: filled(5, 7) }),
              certData(5, fakePemChain()),
            ),
          ),
        ),
      ),
    )
    const sig = q.signatureData
    expect(sig.layout).toBe('v4')
    expect(hex(sig.quoteSignature)).toBe('11'.repeat(64))
    expect(hex(sig.attestationKey)).toBe('22'.repeat(64))
    expect(hex(sig.qeReport.reportData.subarray(0, 3))).toBe('010203')
    expect(hex(sig.qeReportSignature)).toBe('33'.repeat(64))
    expect(hex(sig.qeAuthData)).toBe('07'.repeat(5))
    expect(sig.pckCertification.kind).toBe('pck-cert-chain')
    if (sig.pckCertification.kind !== 'pck-cert-chain') return
    expect(sig.pckCertification.certificates.map((c) => new TextDecoder().decode(c.der))).toEqual([
      'certificate 1',
      'certificate 2',
      'certificate 3',
    ])
    const outer = sig.certificationData
    expect(outer.kind).toBe('qe-report')
    if (outer.kind !== 'qe-report') return
    expect(outer.type).toBe(6)
    expect(outer.size).toBe(384 + 64 + 2 + 5 + 6 + fakePemChain().length)
    expect(outer.certificationData).toBe(sig.pckCertification)
    expect(outer.qeReport).toBe(sig.qeReport)
    expect(sig.size).toBe(128 + 6 + outer.size)
    expect(q.trailingBytes).toBe(0)
  })

  it('accepts empty and long QE auth data', () => {
    for (const length of [0, 1, 1000]) {
      const q = parseDcapQuote(
        v4Quote(signatureDataV4(type6(certData(5, fakePemChain()), filled(length, 9)))),
      )
      expect(q.signatureData.qeAuthData.length).toBe(length)
    }
  })

  it('returns nested types 1–4 and 7 as unresolved, with an ERR_TDX_QUOTE_PCK_NOT_EMBEDDED error, without throwing', () => {
    for (const type of [1, 2, 3, 4, 7]) {
      const data = filled(20 + type, type)
      const q = parseDcapQuote(v4Quote(signatureDataV4(type6(certData(type, data)))))
      const pck = q.signatureData.pckCertification
      expect(pck.kind).toBe('unresolved')
      if (pck.kind !== 'unresolved') return
      expect(pck.type).toBe(type)
      expect(pck.size).toBe(data.length)
      expect(pck.data).toEqual(data)
      expect(pck.error.code).toBe('ERR_TDX_QUOTE_PCK_NOT_EMBEDDED')
      expect(pck.error.category).toBe('unavailable')
      expect(pck.error.message).toContain(`type ${type}`)
      expect(pck.error.hint).toMatch(/PCS|PCCS/)
      expect(pck.error.details).toMatchObject({ certificationDataType: type })
    }
  })

  it('accepts unresolved nested data of size 0', () => {
    const q = parseDcapQuote(v4Quote(signatureDataV4(type6(certData(3, new Uint8Array(0))))))
    expect(q.signatureData.pckCertification).toMatchObject({ kind: 'unresolved', size: 0 })
  })

  it('refuses nested types 0, 6 and above 7', () => {
    for (const type of [0, 6, 8, 0x100, 0xffff]) {
      const error = thrown(() =>
        parseDcapQuote(v4Quote(signatureDataV4(type6(certData(type, filled(10, 0)))))),
      )
      expect(error.code, `nested type ${type}`).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
      expect(error.details).toMatchObject({ certificationDataType: type, offset: 764 + 6 + 482 })
    }
  })

  it('refuses any top-level type but 6', () => {
    for (const type of [0, 1, 2, 3, 4, 5, 7, 8, 0xffff]) {
      const error = thrown(() =>
        parseDcapQuote(v4Quote(signatureDataV4(certData(type, fakePemChain())))),
      )
      expect(error.code, `top-level type ${type}`).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
      expect(error.details).toMatchObject({ certificationDataType: type, offset: 764 })
      expect(error.message).toContain('type 6')
    }
  })

  it('checks the type before trusting the size that follows it', () => {
    const hugeOuter = certData(9, new Uint8Array(0), 0xffffffff)
    const hugeNested = type6(certData(6, new Uint8Array(0), 0xffffffff))
    for (const certificationData of [hugeOuter, hugeNested]) {
      const error = thrown(() => parseDcapQuote(v4Quote(signatureDataV4(certificationData))))
      expect(error.code).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
    }
  })

  it('refuses an empty PCK chain (type 5 of size 0, or only NULs and whitespace)', () => {
    for (const data of [new Uint8Array(0), Uint8Array.of(0, 0), new TextEncoder().encode(' \n')]) {
      expect(
        thrown(() => parseDcapQuote(v4Quote(signatureDataV4(type6(certData(5, data)))))).code,
      ).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
    }
  })
})

describe('signature data layout v3 (quote v3)', () => {
  it('reads the QE part inline and the certification data at the top level', () => {
    const q = parseDcapQuote(v3Quote(signatureDataV3(certData(5, fakePemChain(2)))))
    const sig = q.signatureData
    expect(sig.layout).toBe('v3')
    expect(sig.qeAuthData.length).toBe(32)
    expect(sig.certificationData).toBe(sig.pckCertification)
    expect(
      sig.pckCertification.kind === 'pck-cert-chain' && sig.pckCertification.certificates.length,
    ).toBe(2)
  })

  it('returns types 1–4 and 7 as unresolved', () => {
    for (const type of [1, 2, 3, 4, 7]) {
      const q = parseDcapQuote(v3Quote(signatureDataV3(certData(type, filled(36, 1)))))
      expect(q.signatureData.pckCertification).toMatchObject({ kind: 'unresolved', type })
      expect(q.signatureData.certificationData.kind).toBe('unresolved')
    }
  })

  it('refuses type 6 (v3 has no QE report certification data) and unknown types', () => {
    const wrapped = thrown(() =>
      parseDcapQuote(v3Quote(signatureDataV3(type6(certData(5, fakePemChain()))))),
    )
    expect(wrapped.code).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
    expect(wrapped.message).toContain('version 3')
    for (const type of [0, 8, 0xffff]) {
      const error = thrown(() =>
        parseDcapQuote(v3Quote(signatureDataV3(certData(type, fakePemChain())))),
      )
      expect(error.code, `type ${type}`).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
      expect(error.details).toMatchObject({
        certificationDataType: type,
        offset: 432 + 4 + 128 + 482,
      })
    }
  })
})

describe('the PEM chain inside a real quote', () => {
  // spr-v4: the PEM text of the nested type-5 data starts at 1258.
  const PEM_AT = 1258

  it('refuses a base64 character replaced by one outside the alphabet', () => {
    const damaged = patched(spr, (_, bytes) => {
      bytes[PEM_AT + 40] = 0x2a // '*'
    })
    const error = thrown(() => parseDcapQuote(damaged))
    expect(error.code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
    expect(error.cause).toBeDefined()
  })

  it('refuses a non-ASCII byte and a NUL before the end', () => {
    for (const value of [0x80, 0xff, 0x00, 0x01, 0x7f]) {
      const damaged = patched(spr, (_, bytes) => {
        bytes[PEM_AT + 100] = value
      })
      const error = thrown(() => parseDcapQuote(damaged))
      expect(error.code, `byte ${value}`).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
      expect(error.details).toMatchObject({ position: 100 })
    }
  })

  it('refuses a damaged BEGIN line', () => {
    const damaged = patched(spr, (_, bytes) => {
      bytes[PEM_AT + 11] = 0x58 // "-----BEGIN XERTIFICATE-----"
    })
    expect(thrown(() => parseDcapQuote(damaged)).code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
  })
})
