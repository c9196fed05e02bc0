/**
 * parseX509Crl, verifyCrlSignature and the collateral certificate parser on Intel's real CRLs and
 * chains, on hand-built CRLs for the structural rules, and on arbitrary input.
 */
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, isInitguardError } from '@initguard/core'
import {
  buildX509Certificate,
  derBoolean,
  derExplicit,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derTime,
  derBitString,
  encodeSignatureAlgorithm,
  encodeX509Name,
  signTbs,
  X509_NAME_OID,
} from '@initguard/tee-simulator'
import {
  parseCollateralCertificate,
  parseCollateralCertificates,
  serialKey,
} from './collateral-certs.ts'
import { VECTOR_ROOT, caught, flipBit } from './collateral-test-support.ts'
import { isSerialRevoked, parseX509Crl, verifyCrlSignature } from './crl.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'

const bytes = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTOR_ROOT)))
const text = (path: string): string => readFileSync(new URL(path, VECTOR_ROOT), 'utf8')

const ROOT_CRL = bytes('tdx/spr-v4/root-ca-crl.der')
const PCK_CRL = bytes('tdx/spr-v4/pck-platform-crl.der')
const [PLATFORM_CA, ROOT] = parseCollateralCertificates(
  text('tdx/spr-v4/pck-crl-issuer-chain.pem'),
  'PCK CRL issuer chain',
)

describe('Intel CRLs (vectors/tdx/spr-v4)', () => {
  it('the Root CA CRL: issued by the root 2023-04-03T10:22:51Z → 2024-04-02T10:22:51Z, none revoked', () => {
    const crl = parseX509Crl(ROOT_CRL, 'Root CA CRL')
    expect(crl.issuerCommonName).toBe('Intel SGX Root CA')
    expect(crl.thisUpdate.toISOString()).toBe('2023-04-03T10:22:51.000Z')
    expect(crl.nextUpdate.toISOString()).toBe('2024-04-02T10:22:51.000Z')
    expect(crl.revokedSerials.size).toBe(0)
    expect(crl.crlNumber).toBe(1n)
    expect(crl.signatureAlgorithm).toBe('1.2.840.10045.4.3.2')
    if (ROOT === undefined) throw new Error('no root')
    verifyCrlSignature(crl, ROOT, 'Root CA CRL')
  })

  it('the PCK Platform CA CRL: 44 revoked serials, 2023-06-08 → 2023-07-08', () => {
    const crl = parseX509Crl(PCK_CRL, 'PCK CRL')
    expect(crl.issuerCommonName).toBe('Intel SGX PCK Platform CA')
    expect(crl.revokedSerials.size).toBe(44)
    expect(crl.nextUpdate.toISOString()).toBe('2023-07-08T07:27:52.000Z')
    expect(isSerialRevoked(crl, '6FC34E5023E728923435D61AA4B83C618166AD35')).toBe(true)
    expect(isSerialRevoked(crl, 0x6fc34e5023e728923435d61aa4b83c618166ad35n)).toBe(true)
    expect(
      isSerialRevoked(crl, '00:6f:c3:4e:50:23:e7:28:92:34:35:d6:1a:a4:b8:3c:61:81:66:ad:35'),
    ).toBe(true)
    expect(isSerialRevoked(crl, 'bba6c175d838b8df3900cc3411f24f512d104102')).toBe(false)
    if (PLATFORM_CA === undefined) throw new Error('no CA')
    verifyCrlSignature(crl, PLATFORM_CA, 'PCK CRL')
  })

  it('reads DER, PEM and hex alike', () => {
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(PCK_CRL).toString('base64')}\n-----END X509 CRL-----`
    const a = parseX509Crl(PCK_CRL, 'PCK CRL')
    expect(parseX509Crl(pem, 'PCK CRL')).toEqual(a)
    expect(parseX509Crl(bytesToHex(PCK_CRL).toUpperCase(), 'PCK CRL')).toEqual(a)
    expect(parseX509Crl(new TextEncoder().encode(pem), 'PCK CRL')).toEqual(a)
  })

  it('refuses a CRL under the wrong issuer, and a tampered CRL', () => {
    const crl = parseX509Crl(PCK_CRL, 'PCK CRL')
    if (ROOT === undefined || PLATFORM_CA === undefined) throw new Error('no chain')
    expect(
      caught(() => {
        verifyCrlSignature(crl, ROOT, 'PCK CRL')
      }).code,
    ).toBe('ERR_TDX_CRL_SIGNATURE')
    const tampered = parseX509Crl(flipBit(PCK_CRL, PCK_CRL.length - 2), 'PCK CRL')
    expect(
      caught(() => {
        verifyCrlSignature(tampered, PLATFORM_CA, 'PCK CRL')
      }).code,
    ).toBe('ERR_TDX_CRL_SIGNATURE')
  })
})

describe('CRL structure (hand-built, signed with a test key)', () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const algorithm = encodeSignatureAlgorithm('ecdsa-sha256')
  const name = encodeX509Name([{ oid: X509_NAME_OID.commonName, value: 'Test CA' }])
  const t0 = new Date('2025-01-01T00:00:00Z')
  const t1 = new Date('2025-02-01T00:00:00Z')
  const crl = (fields: Uint8Array[], outer = algorithm): Uint8Array => {
    const tbs = derSequence(fields)
    return derSequence([tbs, outer, derBitString(signTbs('ecdsa-sha256', tbs, keys.privateKey))])
  }
  const extension = (oid: string, critical: boolean, value: Uint8Array): Uint8Array =>
    derSequence([derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value)])

  it('accepts a v1 CRL (no version) with entry extensions and a CRL number', () => {
    const parsed = parseX509Crl(
      crl([
        algorithm,
        name,
        derTime(t0),
        derTime(t1),
        derSequence([
          derSequence([
            derInteger(0x0a0bn),
            derTime(t0),
            derSequence([extension('2.5.29.21', false, Uint8Array.of(0x0a, 0x01, 0x01))]),
          ]),
        ]),
        derExplicit(0, derSequence([extension('2.5.29.20', false, derInteger(7))])),
      ]),
      'test CRL',
    )
    expect([...parsed.revokedSerials]).toEqual(['a0b'])
    expect(parsed.crlNumber).toBe(7n)
    expect(parsed.issuerCommonName).toBe('Test CA')
  })

  it.each([
    [
      'version 3',
      [derInteger(2), algorithm, name, derTime(t0), derTime(t1)],
      'ERR_TDX_CRL_INVALID',
    ],
    ['no nextUpdate', [derInteger(1), algorithm, name, derTime(t0)], 'ERR_TDX_CRL_INVALID'],
    [
      'an unknown critical extension',
      [
        derInteger(1),
        algorithm,
        name,
        derTime(t0),
        derTime(t1),
        derExplicit(0, derSequence([extension('1.2.3.4', true, derInteger(1))])),
      ],
      'ERR_TDX_CRL_INVALID',
    ],
    [
      'an extension twice',
      [
        derInteger(1),
        algorithm,
        name,
        derTime(t0),
        derTime(t1),
        derExplicit(
          0,
          derSequence([
            extension('2.5.29.20', false, derInteger(1)),
            extension('2.5.29.20', false, derInteger(2)),
          ]),
        ),
      ],
      'ERR_TDX_CRL_INVALID',
    ],
    [
      'trailing fields',
      [
        derInteger(1),
        algorithm,
        name,
        derTime(t0),
        derTime(t1),
        derExplicit(0, derSequence([])),
        derInteger(5),
      ],
      'ERR_TDX_CRL_INVALID',
    ],
  ])('refuses %s', (_, fields, code) => {
    expect(caught(() => parseX509Crl(crl(fields), 'test CRL')).code).toBe(code)
  })

  it('verifyCrlSignature refuses a CRL signed with the right key under another issuer name', () => {
    const issuer = parseCollateralCertificate(
      buildX509Certificate(
        {
          serialNumber: 1n,
          issuer: [{ oid: X509_NAME_OID.commonName, value: 'Test CA' }],
          subject: [{ oid: X509_NAME_OID.commonName, value: 'Test CA' }],
          notBefore: t0,
          notAfter: t1,
          publicKey: keys.publicKey,
          signatureAlgorithm: 'ecdsa-sha256',
        },
        keys.privateKey,
      ),
      'Test CA',
    )
    const own = parseX509Crl(crl([derInteger(1), algorithm, name, derTime(t0), derTime(t1)]), 'own')
    verifyCrlSignature(own, issuer, 'own CRL')
    const otherName = encodeX509Name([{ oid: X509_NAME_OID.commonName, value: 'Other CA' }])
    const other = parseX509Crl(
      crl([derInteger(1), algorithm, otherName, derTime(t0), derTime(t1)]),
      'other',
    )
    const e = caught(() => {
      verifyCrlSignature(other, issuer, 'other CRL')
    })
    expect(e.code).toBe('ERR_TDX_CRL_ISSUER')
    expect(e.category).toBe('verification')
  })

  it('refuses inner and outer signature algorithms that differ', () => {
    const other = encodeSignatureAlgorithm('ecdsa-sha384')
    expect(
      caught(() =>
        parseX509Crl(crl([derInteger(1), algorithm, name, derTime(t0), derTime(t1)], other), 'x'),
      ).code,
    ).toBe('ERR_TDX_SIGNATURE_ALGORITHM_MISMATCH')
  })
})

describe('collateral certificates', () => {
  it('parse the real chain: names, serials, validity, exact subject/issuer bytes', () => {
    if (ROOT === undefined || PLATFORM_CA === undefined) throw new Error('no chain')
    expect(PLATFORM_CA.commonName).toBe('Intel SGX PCK Platform CA')
    expect(PLATFORM_CA.serialNumber).toBe('956f5dcdbd1be1e94049c9d4f433ce01570bde54')
    expect(bytesToHex(PLATFORM_CA.issuer)).toBe(bytesToHex(ROOT.subject))
    expect(ROOT.der).toEqual(parseCollateralCertificate(INTEL_SGX_ROOT_CA_PEM, 'root').der)
    expect(ROOT.notAfter.toISOString()).toBe('2049-12-31T23:59:59.000Z')
  })

  it('serialKey normalises case, separators, prefixes and leading zeros', () => {
    expect(serialKey('0x00AB:CD')).toBe('abcd')
    expect(serialKey(0n)).toBe('0')
    expect(serialKey('0000')).toBe('0')
    expect(caught(() => serialKey('xyz')).code).toBe('ERR_TDX_SERIAL_INVALID')
  })

  it('refuse text that is not PEM, and bundles without certificates', () => {
    expect(caught(() => parseCollateralCertificate('MIIB', 'x')).code).toBe('ERR_TDX_CERT_PEM')
    expect(caught(() => parseCollateralCertificates('nothing here', 'x')).code).toBe(
      'ERR_TDX_CERT_PEM',
    )
  })
})

describe('properties: CRL and certificate readers throw nothing but InitguardErrors', () => {
  const only = (fn: () => unknown): void => {
    try {
      fn()
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }

  it('on arbitrary bytes and text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (b, s) => {
        only(() => parseX509Crl(b, 'x'))
        only(() => parseX509Crl(s, 'x'))
        only(() => parseCollateralCertificate(b, 'x'))
        only(() => parseCollateralCertificates(s, 'x'))
      }),
      { numRuns: 500 },
    )
  })

  it('on the real CRL with bytes changed, cut or inserted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: ROOT_CRL.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: ROOT_CRL.length }),
        (i, v, cut) => {
          const changed = ROOT_CRL.slice()
          changed[i] = v
          only(() => parseX509Crl(changed, 'x'))
          only(() => parseX509Crl(ROOT_CRL.slice(0, cut), 'x'))
        },
      ),
      { numRuns: 1000 },
    )
  })
})
