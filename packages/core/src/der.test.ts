import { constants, verify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  DerUniversalTag,
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerEnumerated,
  decodeDerExplicit,
  decodeDerGeneralizedTime,
  decodeDerIa5String,
  decodeDerInteger,
  decodeDerNull,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerPrintableString,
  decodeDerSequence,
  decodeDerSet,
  decodeDerTime,
  decodeDerUtcTime,
  decodeDerUtf8String,
  expectDerTag,
  parseDer,
} from './der.ts'
import type { DerElement, DerTagClass } from './der.ts'
import { base64ToBytes, bytesToHex, hexToBytes } from './encoding.ts'
import { isInitguardError, MalformedInputError, UsageError } from './errors.ts'
import type { InitguardError } from './errors.ts'

// ---------------------------------------------------------------------------------------------
// Helpers: an independent minimal DER encoder, used to build inputs and to re-encode parses.

const CLASSES: readonly DerTagClass[] = ['universal', 'application', 'context', 'private']

function identifier(tagClass: DerTagClass, constructed: boolean, tagNumber: number): number[] {
  const first = (CLASSES.indexOf(tagClass) << 6) | (constructed ? 0x20 : 0)
  if (tagNumber < 31) return [first | tagNumber]
  const digits: number[] = []
  for (let t = tagNumber; t > 0; t = Math.floor(t / 128)) digits.unshift(t % 128)
  return [first | 0x1f, ...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d))]
}

function lengthOctets(n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256)
  return [0x80 | out.length, ...out]
}

function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function tlv(
  tagClass: DerTagClass,
  constructed: boolean,
  tagNumber: number,
  content: Uint8Array | readonly number[],
): Uint8Array {
  return concat([
    identifier(tagClass, constructed, tagNumber),
    lengthOctets(content.length),
    content,
  ])
}

/** A universal primitive element. */
function prim(tagNumber: number, content: Uint8Array | readonly number[]): Uint8Array {
  return tlv('universal', false, tagNumber, content)
}

function seq(...children: Uint8Array[]): Uint8Array {
  return tlv('universal', true, 16, concat(children))
}

function reencode(el: DerElement): Uint8Array {
  const content = el.constructed ? concat(el.children.map(reencode)) : el.value
  return tlv(el.tagClass, el.constructed, el.tagNumber, content)
}

function ascii(text: string): number[] {
  return Array.from({ length: text.length }, (_, i) => text.charCodeAt(i))
}

function hex(text: string): Uint8Array {
  return hexToBytes(text.replace(/\s+/g, ''))
}

/** Minimal two's-complement contents of an INTEGER, computed independently of der.ts. */
function integerContent(v: bigint): number[] {
  let len = 1
  while (v < -(1n << BigInt(8 * len - 1)) || v >= 1n << BigInt(8 * len - 1)) len += 1
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v
  const out: number[] = []
  for (let i = 0; i < len; i += 1) {
    out.unshift(Number(x & 0xffn))
    x >>= 8n
  }
  return out
}

function oidContent(arcs: readonly bigint[]): number[] {
  const [x = 0n, y = 0n, ...rest] = arcs
  const out: number[] = []
  for (const arc of [x * 40n + y, ...rest]) {
    const digits: number[] = []
    let v = arc
    do {
      digits.unshift(Number(v & 0x7fn))
      v >>= 7n
    } while (v > 0n)
    out.push(...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d)))
  }
  return out
}

/** Run `fn`, which must throw an InitguardError, and return the error. */
function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

function codeOf(fn: () => unknown): string {
  return thrown(fn).code
}

/** Every element of a tree, depth first. */
function walk(el: DerElement): DerElement[] {
  return [el, ...el.children.flatMap(walk)]
}

// ---------------------------------------------------------------------------------------------
// Vectors: real certificates from /work/shared/vectors (never copied into the repository).

const VECTORS = new URL('../../../../shared/vectors/', import.meta.url)

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

const RSASSA_PSS = '1.2.840.113549.1.1.10'
const ECDSA_SHA256 = '1.2.840.10045.4.3.2'

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

describe('parseDer structure rules', () => {
  it('parses primitive and constructed elements with offsets and children', () => {
    const root = parseDer(hex('30 08 02 01 05 a0 03 04 01 ff'))
    expect(root).toMatchObject({
      tagClass: 'universal',
      constructed: true,
      tagNumber: 16,
      offset: 0,
    })
    expect(root.children.map((c) => [c.tagClass, c.tagNumber, c.constructed, c.offset])).toEqual([
      ['universal', 2, false, 2],
      ['context', 0, true, 5],
    ])
    const inner = root.children[1]?.children[0]
    expect(inner?.offset).toBe(7)
    expect(bytesToHex(inner?.value ?? new Uint8Array())).toBe('ff')
    expect(bytesToHex(inner?.encoded ?? new Uint8Array())).toBe('0401ff')
  })

  it('reads every tag class', () => {
    expect(parseDer(hex('45 00')).tagClass).toBe('application')
    expect(parseDer(hex('85 00')).tagClass).toBe('context')
    expect(parseDer(hex('c5 00')).tagClass).toBe('private')
  })

  it('reads high tag numbers in minimal form', () => {
    expect(parseDer(hex('9f 1f 00'))).toMatchObject({ tagClass: 'context', tagNumber: 31 })
    expect(parseDer(hex('bf 87 68 00'))).toMatchObject({ tagNumber: 1000, constructed: true })
    expect(parseDer(hex('5f ff ff ff 7f 00')).tagNumber).toBe(2 ** 28 - 1)
  })

  it('rejects non-minimal, oversized and cut-off tag numbers', () => {
    expect(codeOf(() => parseDer(hex('9f 1e 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 00 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 80 20 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 81 80 80 80 00 00')))).toBe('ERR_DER_TAG_TOO_LARGE')
    expect(codeOf(() => parseDer(hex('9f')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('9f 81')))).toBe('ERR_DER_TRUNCATED')
  })

  it('rejects the end-of-contents tag', () => {
    expect(codeOf(() => parseDer(hex('00 00')))).toBe('ERR_DER_TAG_INVALID')
    expect(codeOf(() => parseDer(hex('30 02 00 00')))).toBe('ERR_DER_TAG_INVALID')
  })

  it('rejects empty input', () => {
    const err = thrown(() => parseDer(new Uint8Array(0)))
    expect(err.code).toBe('ERR_DER_TRUNCATED')
    expect(err.details).toMatchObject({ offset: 0, needed: 1, available: 0 })
  })

  it('rejects indefinite lengths', () => {
    expect(codeOf(() => parseDer(hex('30 80 02 01 00 00 00')))).toBe('ERR_DER_INDEFINITE_LENGTH')
    expect(codeOf(() => parseDer(hex('24 80 04 01 00 00 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('a0 80 02 01 00 00 00')))).toBe('ERR_DER_INDEFINITE_LENGTH')
  })

  it('accepts only minimal lengths', () => {
    expect(parseDer(concat([hex('04 7f'), new Uint8Array(127)])).value.length).toBe(127)
    expect(parseDer(concat([hex('04 81 80'), new Uint8Array(128)])).value.length).toBe(128)
    expect(parseDer(concat([hex('04 82 01 00'), new Uint8Array(256)])).value.length).toBe(256)
    const cases = [
      concat([hex('04 81 05'), new Uint8Array(5)]),
      concat([hex('04 81 7f'), new Uint8Array(127)]),
      concat([hex('04 82 00 80'), new Uint8Array(128)]),
      concat([hex('04 83 00 01 00'), new Uint8Array(256)]),
      hex('04 81 00'),
    ]
    for (const bytes of cases) {
      expect(codeOf(() => parseDer(bytes))).toBe('ERR_DER_LENGTH_NOT_MINIMAL')
    }
  })

  it('rejects huge and reserved length fields without allocating', () => {
    const huge = thrown(() => parseDer(hex('04 84 ff ff ff ff 00')))
    expect(huge.code).toBe('ERR_DER_TRUNCATED')
    expect(huge.details).toMatchObject({ offset: 6, needed: 0xffffffff, available: 1 })
    expect(codeOf(() => parseDer(hex('04 85 01 00 00 00 00')))).toBe('ERR_DER_LENGTH_TOO_LARGE')
    expect(codeOf(() => parseDer(hex('04 88 00 00 00 00 00 00 00 01 00')))).toBe(
      'ERR_DER_LENGTH_TOO_LARGE',
    )
    expect(codeOf(() => parseDer(hex('04 ff')))).toBe('ERR_DER_LENGTH_TOO_LARGE')
  })

  it('rejects cut-off length octets and contents', () => {
    expect(codeOf(() => parseDer(hex('04')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('04 82 01')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('04 03 00 00')))).toBe('ERR_DER_TRUNCATED')
  })

  it('requires children to fill their parent exactly', () => {
    // The child claims more than the parent holds.
    const overrun = thrown(() => parseDer(hex('30 03 04 02 00 00')))
    expect(overrun.code).toBe('ERR_DER_TRUNCATED')
    expect(overrun.message).toContain('enclosing SEQUENCE')
    expect(overrun.details).toMatchObject({ offset: 4, needed: 2, available: 1 })
    // Bytes left in the parent that are not a whole element.
    expect(codeOf(() => parseDer(hex('30 04 02 01 00 05')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('a1 04 02 01 00 9f')))).toBe('ERR_DER_TRUNCATED')
    // An empty constructed element is fine.
    expect(parseDer(hex('30 00')).children).toEqual([])
  })

  it('enforces the DER form of universal types', () => {
    expect(codeOf(() => parseDer(hex('24 03 04 01 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('23 03 03 01 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('2c 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('22 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('10 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('11 00')))).toBe('ERR_DER_FORM_INVALID')
    // Context-specific tags may use either form.
    expect(parseDer(hex('a4 03 04 01 00')).children.length).toBe(1)
    expect(parseDer(hex('84 01 00')).children.length).toBe(0)
  })
})

describe('parseDer depth limit', () => {
  /** `depth` nested SEQUENCEs, built with all headers computed first (linear time). */
  function nested(depth: number): Uint8Array {
    const headers: number[][] = []
    let length = 0
    for (let i = 0; i < depth; i += 1) {
      const header = [0x30, ...lengthOctets(length)]
      headers.unshift(header)
      length += header.length
    }
    return concat(headers)
  }

  it('accepts 32 levels by default and rejects 33', () => {
    expect(walk(parseDer(nested(32))).length).toBe(32)
    const err = thrown(() => parseDer(nested(33)))
    expect(err.code).toBe('ERR_DER_DEPTH')
    expect(err.details).toMatchObject({ maxDepth: 32 })
  })

  it('honours maxDepth', () => {
    expect(codeOf(() => parseDer(nested(3), { maxDepth: 2 }))).toBe('ERR_DER_DEPTH')
    expect(walk(parseDer(nested(2), { maxDepth: 2 })).length).toBe(2)
    expect(walk(parseDer(nested(1000), { maxDepth: 1000 })).length).toBe(1000)
  })

  it('stops a deep bomb with a coded error, not a stack overflow', () => {
    const bomb = nested(100_000)
    expect(codeOf(() => parseDer(bomb))).toBe('ERR_DER_DEPTH')
    expect(codeOf(() => parseDer(bomb, { maxDepth: 1000 }))).toBe('ERR_DER_DEPTH')
  })

  it('rejects an invalid maxDepth with a UsageError', () => {
    for (const maxDepth of [0, -1, 1.5, 1001, Number.NaN, Infinity]) {
      const err = thrown(() => parseDer(hex('05 00'), { maxDepth }))
      expect(err).toBeInstanceOf(UsageError)
      expect(err.code).toBe('ERR_DER_MAX_DEPTH_INVALID')
    }
  })
})

describe('expectDerTag and structure accessors', () => {
  const el = parseDer(hex('02 01 05'))

  it('returns the element when the tag matches', () => {
    expect(expectDerTag(el, { tagNumber: 2, constructed: false }, 'n')).toBe(el)
  })

  it('names the field and both tags when it does not', () => {
    const err = thrown(() => expectDerTag(el, { tagNumber: 4, constructed: false }, 'digest'))
    expect(err.code).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(err.details).toEqual({
      field: 'digest',
      offset: 0,
      expected: 'OCTET STRING (primitive)',
      actual: 'INTEGER (primitive)',
    })
    expect(
      codeOf(() =>
        expectDerTag(el, { tagClass: 'context', tagNumber: 2, constructed: false }, 'x'),
      ),
    ).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => expectDerTag(el, { tagNumber: 2, constructed: true }, 'x'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('df 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[PRIVATE 42] (primitive)' })
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('5f 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[APPLICATION 42] (primitive)' })
    expect(
      thrown(() =>
        expectDerTag(parseDer(hex('1f 2a 00')), { tagNumber: 2, constructed: false }, 'x'),
      ).details,
    ).toMatchObject({ actual: '[UNIVERSAL 42] (primitive)' })
  })

  it('reports a missing element', () => {
    const [, second] = decodeDerSequence(parseDer(hex('30 03 02 01 00')), 'pair')
    const err = thrown(() => decodeDerInteger(second, 'second'))
    expect(err.code).toBe('ERR_DER_MISSING')
    expect(err.details).toEqual({ field: 'second', expected: 'INTEGER (primitive)' })
  })

  it('reads SEQUENCE and SET components', () => {
    expect(decodeDerSequence(parseDer(hex('30 06 02 01 01 02 01 02')), 's').length).toBe(2)
    expect(decodeDerSet(parseDer(hex('31 02 05 00')), 's').length).toBe(1)
    expect(codeOf(() => decodeDerSet(parseDer(hex('30 00')), 's'))).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => decodeDerSequence(parseDer(hex('31 00')), 's'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('unwraps EXPLICIT tags holding exactly one element', () => {
    expect(decodeDerInteger(decodeDerExplicit(parseDer(hex('a0 03 02 01 02')), 0, 'v'), 'v')).toBe(
      2n,
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a0 00')), 0, 'v'))).toBe(
      'ERR_DER_EXPLICIT_INVALID',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a0 06 02 01 02 02 01 03')), 0, 'v'))).toBe(
      'ERR_DER_EXPLICIT_INVALID',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('a1 03 02 01 02')), 0, 'v'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(codeOf(() => decodeDerExplicit(parseDer(hex('80 00')), 0, 'v'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    expect(codeOf(() => decodeDerExplicit(undefined, 0, 'v'))).toBe('ERR_DER_MISSING')
  })

  it('decodes IMPLICIT tags when told to', () => {
    const dnsName = parseDer(concat([[0x82, 0x0b], ascii('example.com')]))
    const implicitTag = { tagClass: 'context', tagNumber: 2 } as const
    expect(decodeDerIa5String(dnsName, 'dNSName', { implicitTag })).toBe('example.com')
    expect(codeOf(() => decodeDerIa5String(dnsName, 'dNSName'))).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(codeOf(() => decodeDerIa5String(parseDer(prim(22, [])), 'x', { implicitTag }))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
    const implicitSeq = parseDer(hex('a1 03 02 01 07'))
    expect(
      decodeDerSequence(implicitSeq, 'x', { implicitTag: { tagClass: 'context', tagNumber: 1 } })
        .length,
    ).toBe(1)
  })
})

describe('decodeDerInteger', () => {
  const vectors: readonly [string, bigint][] = [
    ['00', 0n],
    ['01', 1n],
    ['7f', 127n],
    ['00 80', 128n],
    ['01 00', 256n],
    ['ff', -1n],
    ['80', -128n],
    ['ff 7f', -129n],
    ['80 00', -32768n],
    ['00 ff ff ff ff ff ff ff ff', 2n ** 64n - 1n],
  ]
  for (const [content, value] of vectors) {
    it(`decodes ${content} as ${value}`, () => {
      expect(decodeDerInteger(parseDer(prim(2, hex(content))), 'n')).toBe(value)
    })
  }

  it('rejects empty and non-minimal encodings', () => {
    expect(codeOf(() => decodeDerInteger(parseDer(hex('02 00')), 'n'))).toBe(
      'ERR_DER_INTEGER_INVALID',
    )
    for (const content of ['00 00', '00 7f', 'ff 80', 'ff ff', '00 00 80']) {
      const err = thrown(() => decodeDerInteger(parseDer(prim(2, hex(content))), 'serialNumber'))
      expect(err.code).toBe('ERR_DER_INTEGER_NOT_MINIMAL')
      expect(err.details).toMatchObject({ field: 'serialNumber', offset: 0 })
    }
    expect(codeOf(() => decodeDerInteger(parseDer(hex('0a 01 01')), 'n'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('round-trips any integer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }), (v) => {
        expect(decodeDerInteger(parseDer(prim(2, integerContent(v))), 'n')).toBe(v)
      }),
    )
  })

  it('decodes ENUMERATED the same way', () => {
    expect(decodeDerEnumerated(parseDer(hex('0a 01 01')), 'reason')).toBe(1n)
    expect(codeOf(() => decodeDerEnumerated(parseDer(hex('0a 02 00 01')), 'reason'))).toBe(
      'ERR_DER_INTEGER_NOT_MINIMAL',
    )
    expect(codeOf(() => decodeDerEnumerated(parseDer(hex('02 01 01')), 'reason'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })
})

describe('decodeDerBoolean and decodeDerNull', () => {
  it('accepts only 0x00 and 0xFF', () => {
    expect(decodeDerBoolean(parseDer(hex('01 01 00')), 'b')).toBe(false)
    expect(decodeDerBoolean(parseDer(hex('01 01 ff')), 'b')).toBe(true)
    for (const bytes of ['01 01 01', '01 01 7f', '01 00', '01 02 ff ff', '01 02 00 00']) {
      expect(codeOf(() => decodeDerBoolean(parseDer(hex(bytes)), 'b'))).toBe(
        'ERR_DER_BOOLEAN_INVALID',
      )
    }
  })

  it('accepts only an empty NULL', () => {
    expect(decodeDerNull(parseDer(hex('05 00')), 'p')).toBeNull()
    expect(codeOf(() => decodeDerNull(parseDer(hex('05 01 00')), 'p'))).toBe('ERR_DER_NULL_INVALID')
  })
})

describe('decodeDerOid', () => {
  const vectors: readonly [string, string][] = [
    ['55 04 03', '2.5.4.3'],
    ['2a 86 48 86 f7 0d 01 01 0a', RSASSA_PSS],
    ['2a 86 48 ce 3d 04 03 02', ECDSA_SHA256],
    ['2b 06 01 04 01 9c 78 01 03 09', '1.3.6.1.4.1.3704.1.3.9'],
    ['2a 86 48 86 f8 4d 01 0d 01', '1.2.840.113741.1.13.1'],
    ['00', '0.0'],
    ['27', '0.39'],
    ['28', '1.0'],
    ['4f', '1.39'],
    ['50', '2.0'],
    ['88 37', '2.999'],
    [
      '69 83 f0 9d a7 eb cf de e0 c7 a1 a7 b2 c0 94 8c c8 f9 d7 76',
      '2.25.329800735698586629295641978511506172918',
    ],
  ]
  for (const [content, oid] of vectors) {
    it(`decodes ${oid}`, () => {
      expect(decodeDerOid(parseDer(prim(6, hex(content))), 'oid')).toBe(oid)
    })
  }

  it('rejects empty, cut-off, non-minimal and oversized subidentifiers', () => {
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 00')), 'o'))).toBe('ERR_DER_OID_INVALID')
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 02 2a 86')), 'o'))).toBe(
      'ERR_DER_OID_INVALID',
    )
    expect(codeOf(() => decodeDerOid(parseDer(hex('06 02 80 01')), 'o'))).toBe(
      'ERR_DER_OID_NOT_MINIMAL',
    )
    const err = thrown(() => decodeDerOid(parseDer(hex('06 04 2a 80 80 01')), 'algorithm'))
    expect(err.code).toBe('ERR_DER_OID_NOT_MINIMAL')
    expect(err.details).toMatchObject({ field: 'algorithm', position: 1 })
    const twentyOctets = [...Array<number>(19).fill(0xff), 0x7f]
    expect(decodeDerOid(parseDer(prim(6, [0x2a, ...twentyOctets])), 'o')).toBe(
      `1.2.${(2n ** 140n - 1n).toString()}`,
    )
    expect(codeOf(() => decodeDerOid(parseDer(prim(6, [0x2a, 0xff, ...twentyOctets])), 'o'))).toBe(
      'ERR_DER_OID_INVALID',
    )
  })

  it('round-trips any OID', () => {
    const oid = fc
      .tuple(
        fc.constantFrom(0n, 1n, 2n),
        fc.bigInt({ min: 0n, max: 39n }),
        fc.bigInt({ min: 0n, max: 2n ** 100n }),
        fc.array(
          fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 128n })),
        ),
      )
      .map(([x, y, big, rest]) => [x, x === 2n ? y + big : y, ...rest])
    fc.assert(
      fc.property(oid, (arcs) => {
        expect(decodeDerOid(parseDer(prim(6, oidContent(arcs))), 'o')).toBe(arcs.join('.'))
      }),
    )
  })
})

describe('decodeDerBitString and decodeDerOctetString', () => {
  it('decodes bit strings with their unused-bit count', () => {
    expect(decodeDerBitString(parseDer(hex('03 01 00')), 'b')).toEqual({
      bytes: new Uint8Array(0),
      unusedBits: 0,
    })
    expect(decodeDerBitString(parseDer(hex('03 02 07 80')), 'b')).toEqual({
      bytes: Uint8Array.of(0x80),
      unusedBits: 7,
    })
    expect(decodeDerBitString(parseDer(hex('03 03 00 ab cd')), 'b').bytes).toEqual(hex('ab cd'))
  })

  it('rejects malformed bit strings', () => {
    const cases = [
      '03 00',
      '03 01 01',
      '03 01 07',
      '03 02 08 00',
      '03 02 ff 00',
      '03 02 01 01',
      '03 02 07 c0',
    ]
    for (const bytes of cases) {
      expect(codeOf(() => decodeDerBitString(parseDer(hex(bytes)), 'b'))).toBe(
        'ERR_DER_BIT_STRING_INVALID',
      )
    }
  })

  it('returns octet string contents', () => {
    expect(decodeDerOctetString(parseDer(hex('04 02 de ad')), 'o')).toEqual(hex('de ad'))
    expect(decodeDerOctetString(parseDer(hex('04 00')), 'o').length).toBe(0)
    expect(codeOf(() => decodeDerOctetString(parseDer(hex('03 01 00')), 'o'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })
})

describe('character strings', () => {
  it('decodes UTF8String strictly', () => {
    expect(decodeDerUtf8String(parseDer(prim(12, hex('68 c3 a9 f0 9f 94 92'))), 's')).toBe('hé🔒')
    expect(decodeDerUtf8String(parseDer(prim(12, [])), 's')).toBe('')
    for (const bad of ['c3 28', 'c0 80', 'ed a0 80', 'f8 88 80 80 80', 'e2 82']) {
      const err = thrown(() => decodeDerUtf8String(parseDer(prim(12, hex(bad))), 'commonName'))
      expect(err.code).toBe('ERR_DER_STRING_INVALID')
      expect(err.details).toMatchObject({ field: 'commonName', type: 'UTF8String' })
    }
  })

  it('decodes PrintableString with its restricted set', () => {
    const all = "AZaz09 '()+,-./:=?"
    expect(decodeDerPrintableString(parseDer(prim(19, ascii(all))), 's')).toBe(all)
    for (const bad of ['*', '@', '&', '_', '"', '\n', '\u00e9']) {
      const err = thrown(() =>
        decodeDerPrintableString(parseDer(prim(19, [0x41, bad.charCodeAt(0)])), 'countryName'),
      )
      expect(err.code).toBe('ERR_DER_STRING_INVALID')
      expect(err.details).toMatchObject({ position: 1, type: 'PrintableString' })
    }
  })

  it('decodes IA5String as 7-bit ASCII', () => {
    expect(decodeDerIa5String(parseDer(prim(22, [0x00, 0x41, 0x7f])), 's')).toBe('\u0000A\u007f')
    expect(codeOf(() => decodeDerIa5String(parseDer(prim(22, [0x41, 0x80])), 's'))).toBe(
      'ERR_DER_STRING_INVALID',
    )
  })
})

describe('times', () => {
  const utc = (text: string): Date => decodeDerUtcTime(parseDer(prim(23, ascii(text))), 't')
  const gen = (text: string): Date => decodeDerGeneralizedTime(parseDer(prim(24, ascii(text))), 't')

  it('decodes UTCTime with the RFC 5280 century rule', () => {
    expect(utc('220924005528Z').toISOString()).toBe('2022-09-24T00:55:28.000Z')
    expect(utc('491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z')
    expect(utc('500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z')
    expect(utc('000229000000Z').toISOString()).toBe('2000-02-29T00:00:00.000Z')
  })

  it('rejects UTCTime that is not in DER form or not a real date', () => {
    const bad = [
      '2209240055Z', // no seconds
      '220924005528', // no Z
      '220924005528+0000', // offset instead of Z
      '220924005528.5Z', // fraction
      '220924005528z',
      '22092400552Z',
      '221324005528Z', // month 13
      '220001000000Z', // month 0
      '220230000000Z', // 30 February
      '230229000000Z', // 29 February, not a leap year
      '220431000000Z',
      '220100000000Z', // day 0
      '220924245528Z', // hour 24
      '220924006028Z',
      '220924005560Z', // leap second
      '２20924005528Z',
    ]
    for (const text of bad) {
      const bytes = new TextEncoder().encode(text)
      expect(
        codeOf(() => decodeDerUtcTime(parseDer(prim(23, bytes)), 't')),
        text,
      ).toBe('ERR_DER_TIME_INVALID')
    }
  })

  it('decodes GeneralizedTime with an optional fraction', () => {
    expect(gen('20500101000000Z').toISOString()).toBe('2050-01-01T00:00:00.000Z')
    expect(gen('20240229235959.5Z').toISOString()).toBe('2024-02-29T23:59:59.500Z')
    expect(gen('20240229235959.05Z').toISOString()).toBe('2024-02-29T23:59:59.050Z')
    expect(gen('20240229235959.123Z').toISOString()).toBe('2024-02-29T23:59:59.123Z')
    expect(gen('00010101000000Z').toISOString()).toBe('0001-01-01T00:00:00.000Z')
    expect(gen('00500101000000Z').getUTCFullYear()).toBe(50)
    expect(gen('99991231235959Z').toISOString()).toBe('9999-12-31T23:59:59.000Z')
    expect(gen('20000229000000Z').getUTCDate()).toBe(29)
  })

  it('rejects GeneralizedTime that is not in DER form', () => {
    const bad = [
      '20500101000000', // no Z
      '205001010000Z', // no seconds
      '2050010100Z',
      '20500101000000+0100',
      '20500101000000.0Z', // zero fraction must be omitted
      '20500101000000.50Z', // trailing zero
      '20500101000000.Z',
      '20500101000000,5Z', // comma
      '20500101000000.1234Z', // beyond milliseconds
      '19000229000000Z', // 1900 is not a leap year
      '20501301000000Z',
      '20500101240000Z',
    ]
    for (const text of bad) {
      expect(
        codeOf(() => gen(text)),
        text,
      ).toBe('ERR_DER_TIME_INVALID')
    }
  })

  it('decodes either X.509 Time type', () => {
    expect(decodeDerTime(parseDer(prim(23, ascii('220924005528Z'))), 't').getUTCFullYear()).toBe(
      2022,
    )
    expect(decodeDerTime(parseDer(prim(24, ascii('20500101000000Z'))), 't').getUTCFullYear()).toBe(
      2050,
    )
    const err = thrown(() => decodeDerTime(parseDer(prim(4, [])), 'notAfter'))
    expect(err.code).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(err.details).toMatchObject({ expected: 'UTCTime or GeneralizedTime' })
    expect(codeOf(() => decodeDerTime(undefined, 'notAfter'))).toBe('ERR_DER_MISSING')
    expect(codeOf(() => decodeDerTime(parseDer(hex('97 00')), 'notAfter'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('round-trips any time in range', () => {
    const pad = (n: number, width: number): string => String(n).padStart(width, '0')
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1950-01-01T00:00:00Z'),
          max: new Date('2049-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (d) => {
          const body = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`
          const ms = d.getUTCMilliseconds()
          const fraction = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`
          const whole = new Date(d.getTime() - ms)
          expect(utc(`${pad(d.getUTCFullYear() % 100, 2)}${body}Z`)).toEqual(whole)
          expect(gen(`${pad(d.getUTCFullYear(), 4)}${body}${fraction}Z`)).toEqual(d)
        },
      ),
    )
  })
})

describe('parseDer properties', () => {
  interface Tree {
    readonly tagClass: DerTagClass
    readonly tagNumber: number
    readonly content?: Uint8Array
    readonly children?: readonly Tree[]
  }

  const tagNumber = fc.oneof(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 2 ** 28 - 1 }),
  )
  const leaf: fc.Arbitrary<Tree> = fc.record({
    tagClass: fc.constantFrom<DerTagClass>('application', 'context', 'private'),
    tagNumber,
    content: fc.uint8Array({ maxLength: 300 }),
  })
  const universalLeaf: fc.Arbitrary<Tree> = fc.record({
    tagClass: fc.constant<DerTagClass>('universal'),
    tagNumber: fc.constantFrom(1, 2, 3, 4, 5, 6, 12, 19, 22, 23, 24, 37),
    content: fc.uint8Array({ maxLength: 40 }),
  })
  const { tree } = fc.letrec<{ tree: Tree; node: Tree }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, leaf, universalLeaf, tie('node')),
    node: fc
      .record({
        tagClass: fc.constantFrom<DerTagClass>('universal', 'context', 'application', 'private'),
        tagNumber,
        children: fc.array(tie('tree'), { maxLength: 5 }),
      })
      .map((t) =>
        t.tagClass === 'universal' ? { ...t, tagNumber: t.tagNumber % 2 === 0 ? 16 : 17 } : t,
      ),
  }))

  function encodeTree(t: Tree): Uint8Array {
    if (t.children === undefined) return tlv(t.tagClass, false, t.tagNumber, t.content ?? [])
    return tlv(t.tagClass, true, t.tagNumber, concat(t.children.map(encodeTree)))
  }

  /** Try every decoder on every element: each either returns or throws a coded error. */
  function decodeEverything(root: DerElement): void {
    const decoders: ((el: DerElement) => unknown)[] = [
      (el) => decodeDerInteger(el, 'x'),
      (el) => decodeDerEnumerated(el, 'x'),
      (el) => decodeDerBoolean(el, 'x'),
      (el) => decodeDerNull(el, 'x'),
      (el) => decodeDerOid(el, 'x'),
      (el) => decodeDerOctetString(el, 'x'),
      (el) => decodeDerBitString(el, 'x'),
      (el) => decodeDerUtf8String(el, 'x'),
      (el) => decodeDerPrintableString(el, 'x'),
      (el) => decodeDerIa5String(el, 'x'),
      (el) => decodeDerUtcTime(el, 'x'),
      (el) => decodeDerGeneralizedTime(el, 'x'),
      (el) => decodeDerTime(el, 'x'),
      (el) => decodeDerSequence(el, 'x'),
      (el) => decodeDerSet(el, 'x'),
      (el) => decodeDerExplicit(el, el.tagNumber, 'x'),
      (el) =>
        decodeDerOid(el, 'x', { implicitTag: { tagClass: el.tagClass, tagNumber: el.tagNumber } }),
      (el) =>
        decodeDerInteger(el, 'x', {
          implicitTag: { tagClass: el.tagClass, tagNumber: el.tagNumber },
        }),
    ]
    for (const el of walk(root)) {
      for (const decode of decoders) {
        try {
          decode(el)
        } catch (e) {
          if (!isInitguardError(e)) throw e
        }
      }
    }
  }

  it('throws nothing but InitguardError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        let root: DerElement
        try {
          root = parseDer(bytes)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
          return
        }
        // Whatever parses is canonical: re-encoding gives back the same bytes.
        expect(reencode(root)).toEqual(bytes)
        decodeEverything(root)
      }),
      { numRuns: 5000 },
    )
  })

  it('parses any well-formed tree and re-encodes it exactly', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const bytes = encodeTree(t)
        const root = parseDer(bytes, { maxDepth: 1000 })
        expect(root.encoded).toEqual(bytes)
        expect(reencode(root)).toEqual(bytes)
        for (const el of walk(root)) {
          expect(bytes.subarray(el.offset, el.offset + el.encoded.length)).toEqual(el.encoded)
        }
        decodeEverything(root)
      }),
    )
  })

  it('throws nothing but InitguardError on mutated trees, and accepts only canonical ones', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    })
    fc.assert(
      fc.property(tree, fc.array(mutation, { minLength: 1, maxLength: 4 }), (t, mutations) => {
        let bytes = [...encodeTree(t)]
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % bytes.length
          if (m.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << (m.byte % 8))
          else if (m.kind === 'set') bytes[at] = m.byte
          else if (m.kind === 'insert') bytes.splice(at, 0, m.byte)
          else if (m.kind === 'delete') bytes.splice(at, 1)
          else bytes = bytes.slice(0, at)
        }
        const input = Uint8Array.from(bytes)
        let root: DerElement
        try {
          root = parseDer(input)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
          return
        }
        expect(reencode(root)).toEqual(input)
        decodeEverything(root)
      }),
      { numRuns: 2000 },
    )
  })

  it('walks a small nested structure', () => {
    const bytes = seq(prim(2, [0x01]), prim(4, [0xaa, 0xbb]), tlv('context', true, 3, seq()))
    expect(walk(parseDer(bytes)).length).toBe(5)
  })
})
