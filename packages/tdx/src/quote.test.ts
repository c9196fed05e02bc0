/**
 * The real DCAP quotes in testdata/vectors parse with the values their README states, and the
 * parsed pieces are the right bytes: the quote signature verifies over `signedBytes` with the
 * parsed attestation key, the QE report signature verifies with the parsed PCK certificate, and
 * the QE report binds the attestation key and auth data.
 */
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToBase64url, bytesToHex } from '@initguard/core'
import { parsePckCertificate } from './pck-extensions.ts'
import { parseDcapQuote } from './quote.ts'
import type { DcapQuote } from './quote.ts'
import { INTEL_QE_VENDOR_ID } from './quote-header.ts'
import type { TdQuoteBody } from './td-quote-body.ts'
import type { SgxQuoteBody } from './quote.ts'
import { SGX_QUOTES, TDX_QUOTES, VECTORS } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const tdx = (name: (typeof TDX_QUOTES)[number]): Uint8Array => vector(`tdx/${name}/quote.dat`)
const sgx = (name: (typeof SGX_QUOTES)[number]): Uint8Array => vector(`sgx/${name}/quote.dat`)
const hex = bytesToHex
const zeros = (n: number): string => '00'.repeat(n)
const ascii = (text: string, size: number): string =>
  hex(new TextEncoder().encode(text)) + zeros(size - text.length)

function tdBody(quote: DcapQuote): TdQuoteBody {
  if (quote.body.kind === 'sgx') throw new Error('expected a TD body')
  return quote.body
}

function sgxBody(quote: DcapQuote): SgxQuoteBody {
  if (quote.body.kind !== 'sgx') throw new Error('expected an SGX body')
  return quote.body
}

function pckOf(quote: DcapQuote): ReturnType<typeof parsePckCertificate> {
  const pck = quote.signatureData.pckCertification
  if (pck.kind !== 'pck-cert-chain') throw new Error('expected an embedded PCK chain')
  const [leaf] = pck.certificates
  if (leaf === undefined) throw new Error('empty chain')
  return parsePckCertificate(leaf.der)
}

/** The P-256 public key from a raw x ‖ y attestation key. */
function attestationPublicKey(xy: Uint8Array): ReturnType<typeof createPublicKey> {
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: bytesToBase64url(xy.subarray(0, 32)),
      y: bytesToBase64url(xy.subarray(32, 64)),
    },
    format: 'jwk',
  })
}

describe('parseDcapQuote on the real TDX quotes (vectors README)', () => {
  it('spr-v4: v4, 4974 bytes, 39 trailing, MRTD 6363b804…cbb, MRCONFIGID zero, TDATTRIBUTES 0x40000000, FMSPC 50806f000000 via the Platform CA', () => {
    const input = tdx('spr-v4')
    expect(input.length).toBe(4974)
    const q = parseDcapQuote(input)
    expect(q.header).toMatchObject({
      version: 4,
      attestationKeyType: 2,
      teeType: 0x81,
      tee: 'tdx',
      qeSvn: 0,
      pceSvn: 0,
    })
    expect(hex(q.header.qeVendorId)).toBe(INTEL_QE_VENDOR_ID)
    expect(q.bodyDescriptor).toBeUndefined()
    expect(q.trailingBytes).toBe(39)
    expect(q.raw.length).toBe(4974 - 39)
    expect(q.signedBytes.length).toBe(632)
    const body = tdBody(q)
    expect(body.kind).toBe('td10')
    expect(hex(body.mrTd)).toMatch(/^6363b804[0-9a-f]{85}cbb$/)
    expect(hex(body.mrConfigId)).toBe(zeros(48))
    expect(body.tdAttributes.raw).toBe(0x40000000n)
    expect(body.tdAttributes).toMatchObject({
      debug: false,
      septVeDisable: false,
      pks: true,
      keyLocker: false,
      perfmon: false,
      unknownBits: [],
    })
    expect(body.xfam.raw).toBe(0x61ae7n)
    expect(body.xfam.unknownBits).toEqual([])
    expect(hex(body.teeTcbSvn)).toBe(`03000400${zeros(12)}`)
    expect(q.signatureData.layout).toBe('v4')
    expect(q.signatureData.size).toBe(4299)
    expect(q.signatureData.qeAuthData.length).toBe(32)
    expect(q.signatureData.certificationData.kind).toBe('qe-report')
    const pck = pckOf(q)
    expect(hex(pck.sgx.fmspc)).toBe('50806f000000')
    expect(pck.issuerCa).toBe('platform')
  })

  it('v4-b: v4, 5006 bytes, 70 trailing, MRTD 91eb2b44…18b7, FMSPC b0c06f000000', () => {
    const input = tdx('v4-b')
    expect(input.length).toBe(5006)
    const q = parseDcapQuote(input)
    expect(q.header.version).toBe(4)
    expect(q.trailingBytes).toBe(70)
    const body = tdBody(q)
    expect(hex(body.mrTd)).toMatch(/^91eb2b44[0-9a-f]{84}18b7$/)
    expect(body.tdAttributes.raw).toBe(0x10000000n)
    expect(body.tdAttributes.septVeDisable).toBe(true)
    expect(body.tdAttributes.debug).toBe(false)
    const pck = pckOf(q)
    expect(hex(pck.sgx.fmspc)).toBe('b0c06f000000')
    expect(pck.issuerCa).toBe('platform')
  })

  it('v4-claims: v4, FMSPC 50806f000000, TD debug attribute set, no trailing bytes', () => {
    const q = parseDcapQuote(tdx('v4-claims'))
    expect(q.trailingBytes).toBe(0)
    const body = tdBody(q)
    expect(body.tdAttributes.debug).toBe(true)
    expect(hex(pckOf(q).sgx.fmspc)).toBe('50806f000000')
  })

  for (const name of TDX_QUOTES) {
    it(`${name}: the quote signature, QE report signature and QE report data all check out over the parsed bytes`, () => {
      const q = parseDcapQuote(tdx(name))
      checkSignatures(q)
      const pck = q.signatureData.pckCertification
      expect(pck.kind === 'pck-cert-chain' ? pck.certificates.length : 0).toBe(3)
    })
  }
})

/** The parsed pieces are the signed bytes: checked with node:crypto. */
function checkSignatures(q: DcapQuote): void {
  const sig = q.signatureData
  const key = attestationPublicKey(sig.attestationKey)
  expect(
    verify('sha256', q.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, sig.quoteSignature),
  ).toBe(true)
  const pck = sig.pckCertification
  if (pck.kind !== 'pck-cert-chain') throw new Error('expected an embedded PCK chain')
  const [leaf] = pck.certificates
  if (leaf === undefined) throw new Error('empty chain')
  const pckKey = new X509Certificate(leaf.der).publicKey
  expect(
    verify(
      'sha256',
      sig.qeReport.raw,
      { key: pckKey, dsaEncoding: 'ieee-p1363' },
      sig.qeReportSignature,
    ),
  ).toBe(true)
  const binding = createHash('sha256').update(sig.attestationKey).update(sig.qeAuthData).digest()
  expect(hex(sig.qeReport.reportData)).toBe(hex(binding) + zeros(32))
}

describe('parseDcapQuote on the real SGX quotes (vectors README)', () => {
  it('v3-a: v3, Processor CA, MRENCLAVE 33d8736d…2fbb, MRSIGNER 815f42f1…e0e6, CONFIGID zero, REPORT_DATA "Hello, world!", FMSPC 00a067110000', () => {
    const q = parseDcapQuote(sgx('v3-a'))
    expect(q.header).toMatchObject({ version: 3, tee: 'sgx', teeType: 0, qeSvn: 10, pceSvn: 15 })
    expect(q.trailingBytes).toBe(0)
    expect(q.signedBytes.length).toBe(432)
    const body = sgxBody(q)
    expect(hex(body.mrEnclave)).toBe(
      '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb',
    )
    expect(hex(body.mrSigner)).toBe(
      '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6',
    )
    expect(hex(body.configId)).toBe(zeros(64))
    expect(hex(body.reportData)).toBe(ascii('Hello, world!', 64))
    expect(body.attributes).toMatchObject({
      init: true,
      debug: false,
      mode64Bit: true,
      kss: false,
      unknownFlagBits: [],
    })
    expect(body.attributes.xfrm.raw).toBe(0xe7n)
    expect(body.reservedNonZero).toEqual([])
    expect(q.signatureData.layout).toBe('v3')
    expect(q.signatureData.certificationData.kind).toBe('pck-cert-chain')
    expect(q.signatureData.certificationData).toBe(q.signatureData.pckCertification)
    const pck = pckOf(q)
    expect(pck.issuerCa).toBe('processor')
    expect(hex(pck.sgx.fmspc)).toBe('00a067110000')
    checkSignatures(q)
  })

  it('v3-b: v3 from an Occlum enclave, REPORT_DATA "test"; signatures check out', () => {
    const q = parseDcapQuote(sgx('v3-b'))
    expect(q.header.version).toBe(3)
    const body = sgxBody(q)
    expect(hex(body.reportData)).toBe(ascii('test', 64))
    // Measured on the vector: a debug enclave (FLAGS 0x7).
    expect(body.attributes.flags).toBe(0x7n)
    expect(body.attributes.debug).toBe(true)
    checkSignatures(q)
  })

  it('reads the QE report of each: Intel QE MRSIGNER, ISVPRODID 1, PROVISIONKEY, QE SVN = header QE SVN', () => {
    for (const name of SGX_QUOTES) {
      const q = parseDcapQuote(sgx(name))
      const qe = q.signatureData.qeReport
      expect(hex(qe.mrSigner)).toBe(
        '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff',
      )
      expect(qe.isvProdId).toBe(1)
      expect(qe.isvSvn).toBe(q.header.qeSvn)
      expect(qe.attributes.provisionKey).toBe(true)
      expect(qe.raw.length).toBe(384)
    }
  })
})

describe('parseDcapQuote on v4-claims against expected-claims.json, field by field', () => {
  interface Claims {
    init_data: string
    report_data: string
    platform_instance_id: string
    td_attributes: {
      debug: boolean
      key_locker: boolean
      perfmon: boolean
      protection_keys: boolean
      septve_disable: boolean
    }
    quote: {
      header: {
        version: string
        att_key_type: string
        tee_type: string
        reserved: string
        vendor_id: string
        user_data: string
      }
      body: {
        mr_config_id: string
        mr_owner: string
        mr_owner_config: string
        mr_seam: string
        mr_td: string
        mrsigner_seam: string
        report_data: string
        rtmr_0: string
        rtmr_1: string
        rtmr_2: string
        rtmr_3: string
        seam_attributes: string
        tcb_svn: string
        td_attributes: string
        xfam: string
      }
    }
  }
  const claims = JSON.parse(
    new TextDecoder().decode(vector('tdx/v4-claims/expected-claims.json')),
  ) as Claims
  const q = parseDcapQuote(tdx('v4-claims'))
  const body = tdBody(q)
  const le64 = (value: bigint): string => {
    const out = new Uint8Array(8)
    new DataView(out.buffer).setBigUint64(0, value, true)
    return hex(out)
  }
  const le = (value: number, size: number): string => {
    const out = new Uint8Array(size)
    for (let i = 0; i < size; i++) out[i] = (value >>> (8 * i)) & 0xff
    return hex(out)
  }

  it('header: version, att_key_type, tee_type, reserved (QE/PCE SVN), vendor_id, user_data', () => {
    const h = claims.quote.header
    expect(le(q.header.version, 2)).toBe(h.version)
    expect(le(q.header.attestationKeyType, 2)).toBe(h.att_key_type)
    expect(le(q.header.teeType, 4)).toBe(h.tee_type)
    expect(le(q.header.qeSvn, 2) + le(q.header.pceSvn, 2)).toBe(h.reserved)
    expect(hex(q.header.qeVendorId)).toBe(h.vendor_id)
    expect(hex(q.header.userData)).toBe(h.user_data)
  })

  it('body: every measurement register, attributes, XFAM, TCB SVN and report data', () => {
    const b = claims.quote.body
    expect(hex(body.mrConfigId)).toBe(b.mr_config_id)
    expect(hex(body.mrOwner)).toBe(b.mr_owner)
    expect(hex(body.mrOwnerConfig)).toBe(b.mr_owner_config)
    expect(hex(body.mrSeam)).toBe(b.mr_seam)
    expect(hex(body.mrTd)).toBe(b.mr_td)
    expect(hex(body.mrSignerSeam)).toBe(b.mrsigner_seam)
    expect(hex(body.reportData)).toBe(b.report_data)
    expect(body.rtmrs.map(hex)).toEqual([b.rtmr_0, b.rtmr_1, b.rtmr_2, b.rtmr_3])
    expect(le64(body.seamAttributes)).toBe(b.seam_attributes)
    expect(hex(body.teeTcbSvn)).toBe(b.tcb_svn)
    expect(le64(body.tdAttributes.raw)).toBe(b.td_attributes)
    expect(le64(body.xfam.raw)).toBe(b.xfam)
  })

  it('top-level claims: report_data, init_data (= MRCONFIGID) and the decoded TD attributes', () => {
    expect(hex(body.reportData)).toBe(claims.report_data)
    expect(hex(body.mrConfigId)).toBe(claims.init_data)
    expect(body.tdAttributes).toMatchObject({
      debug: claims.td_attributes.debug,
      keyLocker: claims.td_attributes.key_locker,
      perfmon: claims.td_attributes.perfmon,
      pks: claims.td_attributes.protection_keys,
      septVeDisable: claims.td_attributes.septve_disable,
    })
  })

  it('platform_instance_id: the PCK extension .6, which the other verifier prints byte-reversed', () => {
    const id = pckOf(q).sgx.platformInstanceId
    expect(id).toBeDefined()
    // The certificate carries 021ac64d…8d5482; expected-claims.json has the same 16 bytes in
    // reverse order. We return them as encoded in the certificate.
    expect(hex(Uint8Array.from(id ?? []).reverse())).toBe(claims.platform_instance_id)
  })
})

describe('parseDcapQuote copies its input once and hands out views of exactly the quote', () => {
  it('signedBytes, rawBody and raw share one private buffer; raw stops before the trailing bytes', () => {
    for (const name of TDX_QUOTES) {
      const input = tdx(name)
      const q = parseDcapQuote(input)
      expect(q.raw).toEqual(input.subarray(0, input.length - q.trailingBytes))
      expect(q.raw.buffer).not.toBe(input.buffer)
      expect(q.signedBytes.buffer).toBe(q.raw.buffer)
      expect(q.rawBody.buffer).toBe(q.raw.buffer)
      expect(q.signedBytes).toEqual(input.subarray(0, 632))
      expect(q.rawBody).toEqual(input.subarray(48, 632))
      expect(q.signatureData.raw).toEqual(input.subarray(636, 636 + q.signatureData.size))
      expect(q.header.raw).toEqual(input.subarray(0, 48))
    }
  })

  it('is not affected by the caller changing the input, and fields are copies', () => {
    const input = tdx('spr-v4')
    const q = parseDcapQuote(input)
    input.fill(0xaa)
    const body = tdBody(q)
    expect(hex(body.mrTd)).toMatch(/^6363b804/)
    expect(q.signedBytes[0]).toBe(4)
    body.mrTd.fill(0)
    q.signatureData.attestationKey.fill(0)
    expect(q.rawBody[0x88]).toBe(0x63)
    expect(q.signedBytes.length).toBe(632)
    checkSignaturesStillHold(q)
  })

  it('accepts a view into a larger buffer', () => {
    const input = tdx('v4-claims')
    const big = new Uint8Array(input.length + 20)
    big.set(input, 10)
    const q = parseDcapQuote(big.subarray(10, 10 + input.length))
    expect(q.trailingBytes).toBe(0)
    expect(q.raw).toEqual(input)
  })
})

function checkSignaturesStillHold(q: DcapQuote): void {
  // The attestation key field was zeroed above; the raw signature data still has the real key.
  const keyAt = q.signatureData.raw.subarray(64, 128)
  expect(
    verify(
      'sha256',
      q.signedBytes,
      { key: attestationPublicKey(keyAt), dsaEncoding: 'ieee-p1363' },
      q.signatureData.quoteSignature,
    ),
  ).toBe(true)
}
