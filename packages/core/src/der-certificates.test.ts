import { constants, verify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import { parseDer } from './der-parse.ts'
import type { DerElement } from './der-parse.ts'
import {
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
} from './der-primitives.ts'
import { decodeDerIa5String, decodeDerPrintableString, decodeDerUtf8String } from './der-strings.ts'
import {
  decodeDerExplicit,
  decodeDerSequence,
  decodeDerSet,
  expectDerTag,
} from './der-structure.ts'
import { DerUniversalTag } from './der-tags.ts'
import {
  ECDSA_SHA256,
  RSASSA_PSS,
  codeOf,
  concat,
  reencode,
  thrown,
  walk,
} from './der-test-support.ts'
import { decodeDerTime } from './der-time.ts'
import { base64ToBytes } from './encoding.ts'
import { MalformedInputError } from './errors.ts'

// ---------------------------------------------------------------------------------------------
// Vectors: real certificates from testdata/vectors (byte-identical copies of the shared vectors).

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)

function readVector(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, VECTORS)))
}

function pemCertificates(path: string): Uint8Array[] {
  const text = new TextDecoder().decode(readVector(path))
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((b) =>
    base64ToBytes(b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').trim(), {
      allowLineBreaks: true,
    }),
  )
}

interface ParsedCertificate {
  readonly root: DerElement
  readonly tbs: DerElement
  readonly serial: bigint
  readonly notBefore: Date
  readonly notAfter: Date
  readonly spki: DerElement
  readonly signatureAlgorithm: string
  readonly signature: Uint8Array
  readonly extensions: ReadonlyMap<string, Uint8Array>
  readonly subjectCommonName: string | undefined
}

/** A small X.509 walk (RFC 5280 §4.1) using only the public API of der.ts. */
function parseCertificate(der: Uint8Array): ParsedCertificate {
  const root = parseDer(der, { name: 'certificate' })
  const [tbs, sigAlg, sigValue] = decodeDerSequence(root, 'Certificate')
  const t = decodeDerSequence(tbs, 'tbsCertificate')
  expect(decodeDerInteger(decodeDerExplicit(t[0], 0, 'version'), 'version')).toBe(2n)
  const serial = decodeDerInteger(t[1], 'serialNumber')
  decodeDerSequence(t[2], 'signature')
  decodeDerSequence(t[3], 'issuer')
  const [notBefore, notAfter] = decodeDerSequence(t[4], 'validity')
  let subjectCommonName: string | undefined
  for (const rdn of decodeDerSequence(t[5], 'subject')) {
    for (const atv of decodeDerSet(rdn, 'RelativeDistinguishedName')) {
      const [type, value] = decodeDerSequence(atv, 'AttributeTypeAndValue')
      if (decodeDerOid(type, 'type') === '2.5.4.3' && value !== undefined) {
        subjectCommonName =
          value.tagNumber === DerUniversalTag.PRINTABLE_STRING
            ? decodeDerPrintableString(value, 'commonName')
            : decodeDerUtf8String(value, 'commonName')
      }
    }
  }
  const spki = expectDerTag(t[6], { tagNumber: 16, constructed: true }, 'subjectPublicKeyInfo')
  const extensions = new Map<string, Uint8Array>()
  const extField = t.find((el) => el.tagClass === 'context' && el.tagNumber === 3)
  for (const ext of decodeDerSequence(decodeDerExplicit(extField, 3, 'extensions'), 'extensions')) {
    const parts = decodeDerSequence(ext, 'Extension')
    const id = decodeDerOid(parts[0], 'extnID')
    if (parts.length === 3) decodeDerBoolean(parts[1], 'critical')
    extensions.set(id, decodeDerOctetString(parts[parts.length - 1], 'extnValue'))
  }
  const [algorithm] = decodeDerSequence(sigAlg, 'signatureAlgorithm')
  const bits = decodeDerBitString(sigValue, 'signatureValue')
  expect(bits.unusedBits).toBe(0)
  return {
    root,
    tbs: expectDerTag(tbs, { tagNumber: 16, constructed: true }, 'tbsCertificate'),
    serial,
    notBefore: decodeDerTime(notBefore, 'notBefore'),
    notAfter: decodeDerTime(notAfter, 'notAfter'),
    spki,
    signatureAlgorithm: decodeDerOid(algorithm, 'algorithm'),
    signature: bits.bytes,
    extensions,
    subjectCommonName,
  }
}

/** Verify a certificate's signature over `tbs.encoded` with the issuer's key. */
function signatureVerifies(cert: ParsedCertificate, issuer: X509Certificate): boolean {
  switch (cert.signatureAlgorithm) {
    case RSASSA_PSS:
      // AMD's chains: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48.
      return verify(
        'sha384',
        cert.tbs.encoded,
        { key: issuer.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
        cert.signature,
      )
    case ECDSA_SHA256:
      return verify('sha256', cert.tbs.encoded, issuer.publicKey, cert.signature)
    default:
      throw new Error(`test does not know signature algorithm ${cert.signatureAlgorithm}`)
  }
}

const CERTIFICATE_FILES: readonly { readonly path: string; readonly issuer?: string }[] = [
  { path: 'snp/amd-roots/ask_ark_milan.pem' },
  { path: 'snp/amd-roots/ask_ark_genoa.pem' },
  { path: 'snp/amd-roots/ask_ark_turin_vlek.pem' },
  { path: 'tdx/intel-root/intel_sgx_root_ca.pem' },
  { path: 'snp/milan-v2-a/vcek.der', issuer: 'snp/amd-roots/ask_ark_milan.pem' },
  { path: 'snp/milan-v2-b/vcek.der', issuer: 'snp/amd-roots/ask_ark_milan.pem' },
  { path: 'snp/milan-v3-vlek/vlek.der', issuer: 'snp/amd-roots/ask_ark_milan_vlek.pem' },
  { path: 'snp/turin-vcek-only/vcek.der', issuer: 'snp/amd-roots/ask_ark_turin_vcek.pem' },
]

function certificatesOf(path: string): Uint8Array[] {
  return path.endsWith('.pem') ? pemCertificates(path) : [readVector(path)]
}

const milanVcek = readVector('snp/milan-v2-a/vcek.der')

// ---------------------------------------------------------------------------------------------

describe('parseDer on real certificates', () => {
  for (const { path, issuer } of CERTIFICATE_FILES) {
    it(`walks ${path} and agrees with X509Certificate`, () => {
      const ders = certificatesOf(path)
      expect(ders.length).toBeGreaterThan(0)
      ders.forEach((der, i) => {
        const x509 = new X509Certificate(der)
        const cert = parseCertificate(der)
        expect(cert.root.encoded).toEqual(der)
        // A DER parse re-encodes to exactly the input: nothing was skipped or normalised.
        expect(reencode(cert.root)).toEqual(der)
        expect(cert.serial).toBe(BigInt(`0x${x509.serialNumber}`))
        expect(cert.notBefore.getTime()).toBe(new Date(x509.validFrom).getTime())
        expect(cert.notAfter.getTime()).toBe(new Date(x509.validTo).getTime())
        expect(cert.spki.encoded).toEqual(
          new Uint8Array(x509.publicKey.export({ type: 'spki', format: 'der' })),
        )
        expect(x509.subject).toContain(`CN=${cert.subjectCommonName ?? '(none)'}`)
        // `encoded` of the TBS is exactly the signed bytes: the signature verifies over it.
        // In the PEM bundles the ASK (index 0) is signed by the ARK (index 1), the ARK by itself.
        const issuerDer = issuer === undefined ? (ders[i + 1] ?? der) : pemCertificates(issuer)[0]
        if (issuerDer === undefined) throw new Error(`no issuer certificate in ${String(issuer)}`)
        expect(signatureVerifies(cert, new X509Certificate(issuerDer))).toBe(true)
        // Offsets point into the input.
        for (const el of walk(cert.root)) {
          expect(der.subarray(el.offset, el.offset + el.encoded.length)).toEqual(el.encoded)
        }
      })
    })
  }

  it('reads the AMD VCEK extensions', () => {
    const cert = parseCertificate(milanVcek)
    const ext = (oid: string): DerElement => {
      const value = cert.extensions.get(oid)
      if (value === undefined) throw new Error(`missing ${oid}`)
      return parseDer(value, { name: `extension ${oid}` })
    }
    expect(decodeDerIa5String(ext('1.3.6.1.4.1.3704.1.2'), 'productName')).toBe('Milan-B0')
    // milan-v2-a: reported TCB BL2 TEE0 SNP5 UCODE68.
    expect(decodeDerInteger(ext('1.3.6.1.4.1.3704.1.3.1'), 'blSPL')).toBe(2n)
    expect(decodeDerInteger(ext('1.3.6.1.4.1.3704.1.3.2'), 'teeSPL')).toBe(0n)
    expect(decodeDerInteger(ext('1.3.6.1.4.1.3704.1.3.3'), 'snpSPL')).toBe(5n)
    expect(decodeDerInteger(ext('1.3.6.1.4.1.3704.1.3.8'), 'ucodeSPL')).toBe(68n)
    expect(cert.extensions.get('1.3.6.1.4.1.3704.1.4')?.length).toBe(64)
    expect(cert.serial).toBe(0n)
  })

  it('reads the Turin fmcSPL extension', () => {
    const cert = parseCertificate(readVector('snp/turin-vcek-only/vcek.der'))
    const fmc = cert.extensions.get('1.3.6.1.4.1.3704.1.3.9')
    expect(fmc).toBeDefined()
    expect(decodeDerInteger(parseDer(fmc ?? new Uint8Array()), 'fmcSPL')).toBe(0n)
    expect(cert.extensions.get('1.3.6.1.4.1.3704.1.4')?.length).toBe(8)
  })

  it('tells the two hwID encodings apart', () => {
    const legacy = parseCertificate(readVector('snp/milan-v2-c/vcek-hwid-legacy-encoding.der'))
    const modern = parseCertificate(readVector('snp/milan-v2-c/vcek-hwid-new-encoding.der'))
    const raw = legacy.extensions.get('1.3.6.1.4.1.3704.1.4') ?? new Uint8Array()
    const wrapped = modern.extensions.get('1.3.6.1.4.1.3704.1.4') ?? new Uint8Array()
    expect(raw.length).toBe(64)
    // The raw 64 bytes are not DER (they start with 0x00, the end-of-contents tag).
    expect(codeOf(() => parseDer(raw))).toBe('ERR_DER_TAG_INVALID')
    expect(decodeDerOctetString(parseDer(wrapped), 'hwID')).toEqual(raw)
  })

  it('rejects a certificate cut at every length with ERR_DER_TRUNCATED', () => {
    for (let cut = 0; cut < milanVcek.length; cut += 1) {
      const err = thrown(() => parseDer(milanVcek.subarray(0, cut)))
      expect(err.code).toBe('ERR_DER_TRUNCATED')
      expect(err).toBeInstanceOf(MalformedInputError)
    }
  })

  it('rejects a certificate with anything appended', () => {
    for (const extra of [[0x00], [0x05, 0x00], [...milanVcek.subarray(0, 10)]]) {
      const err = thrown(() => parseDer(concat([milanVcek, extra]), { name: 'VCEK certificate' }))
      expect(err.code).toBe('ERR_DER_TRAILING_DATA')
      expect(err.details).toMatchObject({
        name: 'VCEK certificate',
        offset: milanVcek.length,
        trailing: extra.length,
      })
      expect(err.message).toMatch(/^VCEK certificate: /)
    }
  })

  it('copies its input', () => {
    const der = milanVcek.slice()
    const root = parseDer(der)
    const serialOffset =
      (decodeDerSequence(decodeDerSequence(root, 'c')[0], 't')[1]?.offset ?? 0) + 2
    der[serialOffset] = 0x7f
    const [tbs] = decodeDerSequence(root, 'Certificate')
    expect(decodeDerInteger(decodeDerSequence(tbs, 'tbs')[1], 'serialNumber')).toBe(0n)
  })
})
