import { constants, verify, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseDer } from './der-parse.ts'
import { decodeDerExplicit, decodeDerSequence } from './der-structure.ts'
import { codeOf, concat, seq, thrown, tlv } from './der-test-support.ts'
import { base64ToBytes } from './encoding.ts'
import { isInitguardError, VerificationError } from './errors.ts'
import {
  checkValidityWindow,
  commonValidity,
  readX509Certificate,
  validityAt,
  type X509ReadOptions,
} from './x509-certificate.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)

function pemCertificates(path: string): Uint8Array[] {
  const text = readFileSync(new URL(path, VECTORS), 'latin1')
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((b) =>
    base64ToBytes(b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').trim(), {
      allowLineBreaks: true,
    }),
  )
}

const options: X509ReadOptions = {
  what: 'test certificate',
  codes: {
    invalid: 'ERR_TEST_CERT_INVALID',
    algorithmMismatch: 'ERR_TEST_CERT_ALGORITHM',
    duplicateExtension: 'ERR_TEST_CERT_DUPLICATE',
  },
}

const [milanAsk, milanArk] = pemCertificates('snp/amd-roots/ask_ark_milan.pem')
const [intelRoot] = pemCertificates('tdx/intel-root/intel_sgx_root_ca.pem')
const vcek = new Uint8Array(readFileSync(new URL('snp/milan-v2-a/vcek.der', VECTORS)))
if (milanAsk === undefined || milanArk === undefined || intelRoot === undefined) {
  throw new Error('test vectors missing')
}

/** The certificate with its TBS replaced, and the outer parts kept. */
function withParts(der: Uint8Array, parts: (tbs: Uint8Array[]) => Uint8Array[]): Uint8Array {
  const [tbs, algorithm, signature] = decodeDerSequence(parseDer(der), 'certificate')
  if (tbs === undefined || algorithm === undefined || signature === undefined) throw new Error()
  const fields = decodeDerSequence(tbs, 'tbs').map((f) => f.encoded)
  return seq(seq(...parts(fields)), algorithm.encoded, signature.encoded)
}

describe('readX509Certificate', () => {
  for (const [name, der, issuer] of [
    ['Intel SGX Root CA', intelRoot, intelRoot],
    ['Milan ASK', milanAsk, milanArk],
    ['Milan VCEK', vcek, milanAsk],
  ] as const) {
    it(`reads the ${name} as node:crypto does, and its signature verifies over tbs`, () => {
      const fields = readX509Certificate(der, options)
      const x509 = new X509Certificate(der)
      expect(fields.version).toBe(2)
      expect(fields.serialNumber).toBe(BigInt(`0x${x509.serialNumber}`))
      expect(fields.notBefore.getTime()).toBe(new Date(x509.validFrom).getTime())
      expect(fields.notAfter.getTime()).toBe(new Date(x509.validTo).getTime())
      expect(fields.subjectPublicKeyInfo).toEqual(
        new Uint8Array(x509.publicKey.export({ type: 'spki', format: 'der' })),
      )
      expect(fields.fingerprint).toBe(x509.fingerprint256.replaceAll(':', '').toLowerCase())
      const issuerKey = new X509Certificate(issuer).publicKey
      const signed =
        fields.signatureAlgorithm === '1.2.840.113549.1.1.10'
          ? verify(
              'sha384',
              fields.tbs,
              { key: issuerKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
              fields.signature,
            )
          : verify('sha256', fields.tbs, issuerKey, fields.signature)
      expect(signed).toBe(true)
    })
  }

  it('reads extensions with their criticality', () => {
    const fields = readX509Certificate(intelRoot, options)
    // The Intel root's basicConstraints (2.5.29.19) and keyUsage (2.5.29.15) are critical.
    expect(fields.extensions.get('2.5.29.19')?.critical).toBe(true)
    expect(fields.extensions.get('2.5.29.14')?.critical).toBe(false)
    expect(
      readX509Certificate(vcek, options).extensions.get('1.3.6.1.4.1.3704.1.4')?.value,
    ).toHaveLength(64)
  })

  it('copies the input', () => {
    const der = intelRoot.slice()
    const fields = readX509Certificate(der, options)
    der.fill(0)
    expect(fields.der).toEqual(intelRoot)
  })

  it("refuses different inner and outer algorithms with the caller's code", () => {
    const [tbs, , signature] = decodeDerSequence(parseDer(intelRoot), 'certificate')
    if (tbs === undefined || signature === undefined) throw new Error()
    // ecdsa-with-SHA384 outside, ecdsa-with-SHA256 inside.
    const sha384 = seq(tlv('universal', false, 6, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]))
    const mismatched = seq(tbs.encoded, sha384, signature.encoded)
    expect(codeOf(() => readX509Certificate(mismatched, options))).toBe('ERR_TEST_CERT_ALGORITHM')
    const invalidOnly = { ...options, codes: { invalid: 'ERR_TEST_CERT_INVALID' } } as const
    expect(codeOf(() => readX509Certificate(mismatched, invalidOnly))).toBe('ERR_TEST_CERT_INVALID')
  })

  it("refuses a duplicated extension with the caller's code", () => {
    const twice = withParts(intelRoot, (fields) => {
      const extensions = fields[fields.length - 1]
      if (extensions === undefined) throw new Error()
      const list = decodeDerSequence(decodeDerExplicit(parseDer(extensions), 3, 'ext'), 'ext')
      const first = list[0]
      if (first === undefined) throw new Error()
      const doubled = seq(...list.map((e) => e.encoded), first.encoded)
      return [...fields.slice(0, -1), tlv('context', true, 3, doubled)]
    })
    const error = thrown(() => readX509Certificate(twice, options))
    expect(error.code).toBe('ERR_TEST_CERT_DUPLICATE')
    expect(error.message).toContain('appears twice')
  })

  it('refuses a certificate without three parts, or with extra TBS fields', () => {
    const [tbs, algorithm] = decodeDerSequence(parseDer(intelRoot), 'certificate')
    if (tbs === undefined || algorithm === undefined) throw new Error()
    expect(codeOf(() => readX509Certificate(seq(tbs.encoded, algorithm.encoded), options))).toBe(
      'ERR_TEST_CERT_INVALID',
    )
    const extra = withParts(intelRoot, (fields) => [...fields, tlv('context', true, 4, [])])
    expect(codeOf(() => readX509Certificate(extra, options))).toBe('ERR_TEST_CERT_INVALID')
    const v4 = withParts(intelRoot, (fields) => [
      tlv('context', true, 0, [0x02, 0x01, 0x03]),
      ...fields.slice(1),
    ])
    expect(thrown(() => readX509Certificate(v4, options)).message).toContain('unknown version 3')
  })

  it('fails on any truncation or flipped byte with a coded error, never another exception', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: intelRoot.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (at, xor, truncate) => {
          const input = truncate ? intelRoot.subarray(0, at) : intelRoot.slice()
          if (!truncate) input[at] = (input[at] ?? 0) ^ xor
          try {
            readX509Certificate(input, options)
          } catch (error) {
            expect(isInitguardError(error)).toBe(true)
          }
        },
      ),
      { numRuns: 300 },
    )
    expect(codeOf(() => readX509Certificate(concat([intelRoot, [0]]), options))).toMatch(
      /^ERR_DER_/,
    )
  })
})

describe('the validity window', () => {
  const window = {
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2026-01-01T00:00:00Z'),
  }
  const refusal = { notYetValid: 'ERR_TEST_NOT_YET', expired: 'ERR_TEST_EXPIRED' } as const

  it('includes both ends', () => {
    expect(validityAt(window, window.notBefore)).toBe('valid')
    expect(validityAt(window, window.notAfter)).toBe('valid')
    expect(validityAt(window, new Date(window.notBefore.getTime() - 1))).toBe('not-yet-valid')
    expect(validityAt(window, new Date(window.notAfter.getTime() + 1))).toBe('expired')
  })

  it('refuses an invalid time rather than calling it inside', () => {
    expect(codeOf(() => validityAt(window, new Date(Number.NaN)))).toBe('ERR_VALIDITY_TIME_INVALID')
  })

  it("refuses a time outside with the caller's codes and one message shape", () => {
    checkValidityWindow(window, new Date('2025-06-01T00:00:00Z'), 'VCEK', refusal)
    const late = thrown(() => {
      checkValidityWindow(window, new Date('2027-01-01T00:00:00Z'), 'VCEK', refusal)
    })
    expect(late).toBeInstanceOf(VerificationError)
    expect(late.code).toBe('ERR_TEST_EXPIRED')
    expect(late.message).toBe(
      'the VCEK is not valid at 2027-01-01T00:00:00.000Z (valid 2025-01-01T00:00:00.000Z to 2026-01-01T00:00:00.000Z)',
    )
    const early = thrown(() => {
      checkValidityWindow(window, new Date('2024-01-01T00:00:00Z'), 'VCEK', {
        ...refusal,
        hint: 'check the clock',
      })
    })
    expect(early.code).toBe('ERR_TEST_NOT_YET')
    expect(early.hint).toBe('check the clock')
  })

  it('commonValidity is the latest start and the earliest end', () => {
    const other = {
      notBefore: new Date('2025-03-01T00:00:00Z'),
      notAfter: new Date('2030-01-01T00:00:00Z'),
    }
    expect(commonValidity([window, other])).toEqual({
      validFrom: other.notBefore,
      validUntil: window.notAfter,
    })
  })
})
