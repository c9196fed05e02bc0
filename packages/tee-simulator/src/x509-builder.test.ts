import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  bytesToHex,
  decodeDerBoolean,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  decodeDerSet,
  decodeDerTime,
  isInitguardError,
  parseDer,
} from '@initguard/core'
import type { DerElement, InitguardError } from '@initguard/core'
import {
  buildX509Certificate,
  derToPem,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeCrlDistributionPoints,
  encodeIssuingDistributionPoint,
  encodeKeyUsage,
  encodeSignatureAlgorithm,
  encodeSubjectKeyIdentifier,
  encodeTbsCertificate,
  encodeX509Name,
  keyIdentifierOf,
  subjectPublicKeyInfoDer,
  X509_EXTENSION_OID,
  X509_NAME_OID,
} from './x509-builder.ts'
import type { X509CertificateFields, X509Name } from './x509-builder.ts'

// Real AMD certificates from testdata/vectors (byte-identical copies of the shared vectors).
const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const readVector = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(path, VECTORS)))
/** The DER certificates of a PEM bundle, in order. */
function readPemBundle(path: string): Uint8Array[] {
  const text = readFileSync(new URL(path, VECTORS), 'latin1')
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((pem) => new Uint8Array(new X509Certificate(pem).raw))
}

const hex = (b: Uint8Array): string => bytesToHex(b)

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an Initguard error')
}

/** TBSCertificate, signatureAlgorithm and signatureValue of a certificate. */
function certParts(der: Uint8Array): readonly DerElement[] {
  return decodeDerSequence(parseDer(der, { name: 'certificate' }), 'Certificate')
}

/** The extensions of a certificate as [oid, critical, extnValue hex]. */
function extensionsOf(der: Uint8Array): [string, boolean, string][] {
  const tbs = decodeDerSequence(certParts(der)[0], 'tbs')
  const last = tbs[tbs.length - 1]
  if (last?.tagClass !== 'context' || last.tagNumber !== 3) return []
  return decodeDerSequence(decodeDerExplicit(last, 3, 'extensions'), 'extensions').map((ext) => {
    const parts = decodeDerSequence(ext, 'extension')
    const critical = parts.length === 3 ? decodeDerBoolean(parts[1], 'critical') : false
    return [
      decodeDerOid(parts[0], 'extnID'),
      critical,
      hex(decodeDerOctetString(parts[parts.length - 1], 'extnValue')),
    ]
  })
}

// Keys are generated once for the whole file: RSA-2048 takes ~0.1–0.2 s.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })

const name = (cn: string): X509Name => [
  { oid: X509_NAME_OID.countryName, value: 'US', type: 'printable' },
  { oid: X509_NAME_OID.organizationName, value: 'Initguard Test' },
  { oid: X509_NAME_OID.commonName, value: cn },
]

const NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
const NOT_AFTER = new Date('2049-12-31T23:59:59Z')
/** A time inside every validity window used here, for openssl -attime. */
const CHECK_TIME = Math.floor(new Date('2030-06-01T00:00:00Z').getTime() / 1000)

function rootFields(overrides: Partial<X509CertificateFields> = {}): X509CertificateFields {
  return {
    serialNumber: 0x010000n,
    issuer: name('Test Root'),
    subject: name('Test Root'),
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: rsa.publicKey,
    signatureAlgorithm: 'rsassa-pss-sha384',
    extensions: [
      {
        oid: X509_EXTENSION_OID.basicConstraints,
        critical: true,
        value: encodeBasicConstraints({ ca: true }),
      },
      {
        oid: X509_EXTENSION_OID.keyUsage,
        critical: true,
        value: encodeKeyUsage(['keyCertSign', 'cRLSign']),
      },
    ],
    ...overrides,
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'initguard-x509-'))
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
})

function openssl(args: readonly string[], input?: Uint8Array): string {
  return execFileSync('openssl', args, input === undefined ? {} : { input }).toString('latin1')
}

describe('buildX509Certificate', () => {
  it('builds a self-signed RSASSA-PSS certificate that node:crypto and openssl accept', () => {
    const der = buildX509Certificate(rootFields(), rsa.privateKey)
    const cert = new X509Certificate(der)
    expect(cert.verify(rsa.publicKey)).toBe(true)
    expect(cert.checkIssued(cert)).toBe(true)
    expect(cert.subject).toBe('C=US\nO=Initguard Test\nCN=Test Root')
    expect(cert.serialNumber).toBe('010000')
    expect(new Date(cert.validFrom)).toEqual(NOT_BEFORE)
    expect(new Date(cert.validTo)).toEqual(NOT_AFTER)
    expect(cert.ca).toBe(true)
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      rsa.publicKey.export({ type: 'spki', format: 'der' }),
    )

    const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], der)
    expect(text).toContain('Version: 3 (0x2)')
    expect(text).toContain('Signature Algorithm: rsassaPss')
    expect(text).toContain('Hash Algorithm: sha384')
    expect(text).toContain('Mask Algorithm: mgf1 with sha384')
    expect(text).toContain('Salt Length: 0x30')
    expect(text).toContain('Certificate Sign, CRL Sign')
    expect(text).toContain('CA:TRUE')
  })

  it('signs with an rsa-pss key too', () => {
    const der = buildX509Certificate(rootFields({ publicKey: rsaPss.publicKey }), rsaPss.privateKey)
    expect(new X509Certificate(der).verify(rsaPss.publicKey)).toBe(true)
  })

  it('builds an RSA → ECDSA-P384 → ECDSA-P256 chain that openssl verify accepts', () => {
    const root = buildX509Certificate(rootFields(), rsa.privateKey)
    const intermediate = buildX509Certificate(
      {
        serialNumber: 2n,
        issuer: name('Test Root'),
        subject: name('Test Intermediate'),
        notBefore: NOT_BEFORE,
        notAfter: NOT_AFTER,
        publicKey: p384.publicKey,
        signatureAlgorithm: 'rsassa-pss-sha384',
        extensions: [
          {
            oid: X509_EXTENSION_OID.basicConstraints,
            critical: true,
            value: encodeBasicConstraints({ ca: true, pathLength: 0 }),
          },
          {
            oid: X509_EXTENSION_OID.keyUsage,
            critical: true,
            value: encodeKeyUsage(['keyCertSign']),
          },
          {
            oid: X509_EXTENSION_OID.subjectKeyIdentifier,
            value: encodeSubjectKeyIdentifier(keyIdentifierOf(p384.publicKey)),
          },
          {
            oid: X509_EXTENSION_OID.authorityKeyIdentifier,
            value: encodeAuthorityKeyIdentifier(keyIdentifierOf(rsa.publicKey)),
          },
        ],
      },
      rsa.privateKey,
    )
    const leafOf = (algorithm: 'ecdsa-sha384' | 'ecdsa-sha256'): Uint8Array =>
      buildX509Certificate(
        {
          serialNumber: 3n,
          issuer: name('Test Intermediate'),
          subject: name('Test Leaf'),
          notBefore: NOT_BEFORE,
          notAfter: new Date('2055-01-01T00:00:00Z'),
          publicKey: p256.privateKey, // a private key stands for its public half
          signatureAlgorithm: algorithm,
        },
        p384.privateKey,
      )
    const leaf384 = leafOf('ecdsa-sha384')
    const leaf256 = leafOf('ecdsa-sha256')

    const i = new X509Certificate(intermediate)
    expect(i.verify(rsa.publicKey)).toBe(true)
    expect(i.checkIssued(new X509Certificate(root))).toBe(true)
    for (const leaf of [leaf384, leaf256]) {
      const l = new X509Certificate(leaf)
      expect(l.verify(p384.publicKey)).toBe(true)
      expect(l.verify(rsa.publicKey)).toBe(false)
      expect(l.checkIssued(i)).toBe(true)
      expect(new Date(l.validTo)).toEqual(new Date('2055-01-01T00:00:00Z'))
    }
    expect(openssl(['x509', '-inform', 'DER', '-noout', '-text'], leaf384)).toContain(
      'Signature Algorithm: ecdsa-with-SHA384',
    )
    expect(openssl(['x509', '-inform', 'DER', '-noout', '-text'], leaf256)).toContain(
      'Signature Algorithm: ecdsa-with-SHA256',
    )

    writeFileSync(join(tmp, 'root.pem'), derToPem(root))
    writeFileSync(join(tmp, 'intermediate.pem'), derToPem(intermediate))
    writeFileSync(join(tmp, 'leaf384.pem'), derToPem(leaf384))
    writeFileSync(join(tmp, 'leaf256.pem'), derToPem(leaf256))
    const out = openssl([
      'verify',
      '-attime',
      String(CHECK_TIME),
      '-CAfile',
      join(tmp, 'root.pem'),
      '-untrusted',
      join(tmp, 'intermediate.pem'),
      join(tmp, 'leaf384.pem'),
      join(tmp, 'leaf256.pem'),
    ])
    expect(out).toContain('leaf384.pem: OK')
    expect(out).toContain('leaf256.pem: OK')
  })

  it('lays out the TBSCertificate as RFC 5280 says', () => {
    const der = buildX509Certificate(
      rootFields({ extensions: [{ oid: '1.2.3.4', value: Uint8Array.of(1, 2, 3) }] }),
      rsa.privateKey,
    )
    const [tbs, algorithm, signature] = certParts(der)
    const fields = decodeDerSequence(tbs, 'tbs')
    expect(fields).toHaveLength(8)
    expect(decodeDerInteger(decodeDerExplicit(fields[0], 0, 'version'), 'version')).toBe(2n)
    expect(decodeDerInteger(fields[1], 'serial')).toBe(0x010000n)
    expect(fields[2]?.encoded).toEqual(algorithm?.encoded)
    const [notBefore, notAfter] = decodeDerSequence(fields[4], 'validity')
    expect(decodeDerTime(notBefore, 'notBefore')).toEqual(NOT_BEFORE)
    expect(decodeDerTime(notAfter, 'notAfter')).toEqual(NOT_AFTER)
    expect(fields[6]?.encoded).toEqual(subjectPublicKeyInfoDer(rsa.publicKey))
    expect(signature?.tagNumber).toBe(3)
    expect(extensionsOf(der)).toEqual([['1.2.3.4', false, '010203']])
    expect(tbs?.encoded).toEqual(
      encodeTbsCertificate(
        rootFields({ extensions: [{ oid: '1.2.3.4', value: Uint8Array.of(1, 2, 3) }] }),
      ),
    )
  })

  it('writes critical only when true and no [3] when there are no extensions', () => {
    const der = buildX509Certificate(
      rootFields({
        extensions: [
          { oid: '1.2.3.4', critical: false, value: Uint8Array.of(5) },
          { oid: '1.2.3.5', critical: true, value: Uint8Array.of(6) },
        ],
      }),
      rsa.privateKey,
    )
    expect(extensionsOf(der)).toEqual([
      ['1.2.3.4', false, '05'],
      ['1.2.3.5', true, '06'],
    ])
    const ext = decodeDerSequence(
      decodeDerExplicit(decodeDerSequence(certParts(der)[0], 'tbs')[7], 3, 'x'),
      'x',
    )
    expect(decodeDerSequence(ext[0], 'e')).toHaveLength(2)

    const { extensions: _unused, ...withoutExtensions } = rootFields()
    for (const fields of [withoutExtensions, rootFields({ extensions: [] })]) {
      const bare = buildX509Certificate(fields, rsa.privateKey)
      expect(decodeDerSequence(certParts(bare)[0], 'tbs')).toHaveLength(7)
      expect(new X509Certificate(bare).verify(rsa.publicKey)).toBe(true)
    }
  })

  it('encodes names with the requested string types, one attribute per RDN', () => {
    const encoded = encodeX509Name([
      { oid: X509_NAME_OID.countryName, value: 'US', type: 'printable' },
      { oid: X509_NAME_OID.commonName, value: 'Zürich' },
      { oid: '1.2.840.113549.1.9.1', value: 'a@b.example', type: 'ia5' },
    ])
    const rdns = decodeDerSequence(parseDer(encoded), 'name')
    expect(rdns).toHaveLength(3)
    const values = rdns.map((rdn) => {
      const [atv] = decodeDerSet(rdn, 'rdn')
      const [, value] = decodeDerSequence(atv, 'atv')
      return value?.tagNumber
    })
    expect(values).toEqual([19, 12, 22])
    expect(
      thrown(() => encodeX509Name([{ oid: '2.5.4.6', value: 'U*', type: 'printable' }])).code,
    ).toBe('ERR_DER_WRITE_STRING_INVALID')
  })

  it('refuses keys that do not fit and times that are not whole seconds', () => {
    const code = (fn: () => unknown): string => thrown(fn).code
    expect(code(() => buildX509Certificate(rootFields(), rsa.publicKey))).toBe(
      'ERR_X509_BUILD_KEY_INVALID',
    )
    expect(code(() => buildX509Certificate(rootFields(), p384.privateKey))).toBe(
      'ERR_X509_BUILD_KEY_INVALID',
    )
    expect(
      code(() =>
        buildX509Certificate(rootFields({ signatureAlgorithm: 'ecdsa-sha384' }), rsa.privateKey),
      ),
    ).toBe('ERR_X509_BUILD_KEY_INVALID')
    expect(
      code(() =>
        buildX509Certificate(
          rootFields({ notBefore: new Date('2024-01-01T00:00:00.250Z') }),
          rsa.privateKey,
        ),
      ),
    ).toBe('ERR_X509_BUILD_TIME_INVALID')
    expect(
      code(() =>
        buildX509Certificate(rootFields({ notAfter: new Date(Number.NaN) }), rsa.privateKey),
      ),
    ).toBe('ERR_X509_BUILD_TIME_INVALID')
  })
})

describe('AMD encodings', () => {
  const [milanAsk, milanArk] = readPemBundle('amd-roots/ask_ark_milan.pem')
  if (milanAsk === undefined || milanArk === undefined) throw new Error('Milan bundle missing')

  it('writes RSASSA-PSS parameters byte for byte as AMD does, with and without trailerField', () => {
    // milan-v2-a's VCEK (2022) and every ARK/ASK spell out trailerField; newer VCEKs omit it.
    const explicit = certParts(readVector('milan-v2-a/vcek.der'))[1]
    const omitted = certParts(
      new Uint8Array(
        new X509Certificate(readFileSync(new URL('milan-v3-hostdata/vcek.pem', VECTORS))).raw,
      ),
    )[1]
    expect(
      hex(encodeSignatureAlgorithm('rsassa-pss-sha384', { pssTrailerField: 'explicit' })),
    ).toBe(hex(explicit?.encoded ?? new Uint8Array()))
    expect(hex(encodeSignatureAlgorithm('rsassa-pss-sha384'))).toBe(
      hex(omitted?.encoded ?? new Uint8Array()),
    )
    expect(
      hex(encodeSignatureAlgorithm('rsassa-pss-sha384', { pssTrailerField: 'explicit' })),
    ).toBe(hex(certParts(milanArk)[1]?.encoded ?? new Uint8Array()))
    expect(hex(encodeSignatureAlgorithm('ecdsa-sha384'))).toBe('300a06082a8648ce3d040303')
    expect(hex(encodeSignatureAlgorithm('ecdsa-sha256'))).toBe('300a06082a8648ce3d040302')
  })

  it('writes an Issuing Distribution Point: the fullName URIs, then the flags set to TRUE in tag order', () => {
    const uri = 'https://a/b'
    const name = `a00fa00d860b${Buffer.from(uri).toString('hex')}`
    expect(hex(encodeIssuingDistributionPoint([uri]))).toBe(`3011${name}`)
    expect(
      hex(encodeIssuingDistributionPoint([uri], ['indirectCRL', 'onlyContainsUserCerts'])),
    ).toBe(`3017${name}8101ff8401ff`)
    expect(hex(encodeIssuingDistributionPoint([], ['onlyContainsCACerts']))).toBe('30038201ff')
  })

  it('computes key identifiers and writes CA extensions exactly like the Milan ARK and ASK', () => {
    const arkExtensions = extensionsOf(milanArk)
    const askExtensions = extensionsOf(milanAsk)
    const arkKeyId = keyIdentifierOf(new X509Certificate(milanArk).publicKey)
    const askKeyId = keyIdentifierOf(new X509Certificate(milanAsk).publicKey)
    expect(arkExtensions).toEqual([
      [X509_EXTENSION_OID.keyUsage, true, hex(encodeKeyUsage(['keyCertSign', 'cRLSign']))],
      [X509_EXTENSION_OID.subjectKeyIdentifier, false, hex(encodeSubjectKeyIdentifier(arkKeyId))],
      [X509_EXTENSION_OID.basicConstraints, true, hex(encodeBasicConstraints({ ca: true }))],
      [
        X509_EXTENSION_OID.crlDistributionPoints,
        false,
        hex(encodeCrlDistributionPoints(['https://kdsintf.amd.com/vcek/v1/Milan/crl'])),
      ],
    ])
    expect(askExtensions.slice(0, 3)).toEqual([
      [X509_EXTENSION_OID.subjectKeyIdentifier, false, hex(encodeSubjectKeyIdentifier(askKeyId))],
      [
        X509_EXTENSION_OID.authorityKeyIdentifier,
        false,
        hex(encodeAuthorityKeyIdentifier(arkKeyId)),
      ],
      [
        X509_EXTENSION_OID.basicConstraints,
        true,
        hex(encodeBasicConstraints({ ca: true, pathLength: 0 })),
      ],
    ])
    // AMD's keyUsage for the ASK keeps one unused bit; strict DER would say two.
    expect(askExtensions[3]).toEqual([X509_EXTENSION_OID.keyUsage, true, '03020104'])
    expect(hex(encodeKeyUsage(['keyCertSign']))).toBe('03020204')
  })

  it('encodes KeyUsage as a minimal named-bit string', () => {
    expect(hex(encodeKeyUsage([]))).toBe('030100')
    expect(hex(encodeKeyUsage(['digitalSignature']))).toBe('03020780')
    expect(hex(encodeKeyUsage(['digitalSignature', 'keyAgreement']))).toBe('03020388')
    expect(hex(encodeKeyUsage(['decipherOnly']))).toBe('0303070080')
    expect(hex(encodeBasicConstraints({ ca: false }))).toBe('3000')
  })
})

describe('derToPem', () => {
  it('writes 64-character base64 lines that node:crypto and openssl read back', () => {
    const der = buildX509Certificate(rootFields(), rsa.privateKey)
    const pem = derToPem(der)
    const lines = pem.trimEnd().split('\n')
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----')
    expect(lines[lines.length - 1]).toBe('-----END CERTIFICATE-----')
    expect(lines.slice(1, -1).every((l) => l.length <= 64)).toBe(true)
    expect(lines.slice(1, -2).every((l) => l.length === 64)).toBe(true)
    expect(new Uint8Array(new X509Certificate(pem).raw)).toEqual(der)
    expect(openssl(['x509', '-noout', '-serial'], new TextEncoder().encode(pem))).toBe(
      'serial=010000\n',
    )
    expect(derToPem(Uint8Array.of(1, 2, 3), 'THING')).toBe(
      '-----BEGIN THING-----\nAQID\n-----END THING-----\n',
    )
  })
})
