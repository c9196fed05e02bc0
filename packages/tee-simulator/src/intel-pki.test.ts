import { execFileSync, spawnSync } from 'node:child_process'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bytesToHex, decodeDerOctetString, decodeDerSequence, parseDer } from '@initguard/core'
import {
  isSerialRevoked,
  parseCollateralCertificate,
  parsePckCertificate,
  parseX509Crl,
  verifyCrlSignature,
} from '@initguard/tdx'
import { buildX509Crl, encodeCrlNumber } from './crl-builder.ts'
import { DEFAULT_PCK_TCB, INTEL_SGX_EXTENSION_OID, intelName } from './intel-cert-profile.ts'
import { createIntelTestPki } from './intel-pki.ts'
import {
  certificateExtensions,
  PCK_NOT_AFTER,
  pemBlocks,
  PKI_NOT_AFTER,
  PKI_NOT_BEFORE,
  thrown,
} from './intel-test-support.ts'
import {
  encodeAuthorityKeyIdentifier,
  keyIdentifierOf,
  X509_EXTENSION_OID,
} from './x509-builder.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const CHECK_TIME = new Date('2026-06-01T00:00:00Z')
const pki = createIntelTestPki({ notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER })
const validity = { notBefore: PKI_NOT_BEFORE, notAfter: PCK_NOT_AFTER }
const platformPck = pki.issuePck({ ca: 'platform', ...validity })
const processorPck = pki.issuePck({ ca: 'processor', ...validity })

const tmp = mkdtempSync(join(tmpdir(), 'initguard-intel-pki-'))
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
})

function file(name: string, data: string | Uint8Array): string {
  const path = join(tmp, name)
  writeFileSync(path, data)
  return path
}

function openssl(args: readonly string[], input?: Uint8Array): string {
  return execFileSync('openssl', args, input === undefined ? {} : { input }).toString('latin1')
}

function opensslVerify(leaf: string, intermediate?: string): string {
  return openssl([
    'verify',
    '-x509_strict',
    '-attime',
    String(Math.floor(CHECK_TIME.getTime() / 1000)),
    '-CAfile',
    file('root.pem', pki.root.pem),
    ...(intermediate === undefined ? [] : ['-untrusted', file('intermediate.pem', intermediate)]),
    file('leaf.pem', leaf),
  ])
}

/** `openssl asn1parse` of a certificate with values, lengths and offsets taken out: its shape. */
function shape(der: Uint8Array): string[] {
  return openssl(['asn1parse', '-inform', 'DER', '-i'], der)
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) =>
      l
        .replace(/^\s*\d+:d=(\d+)\s+hl=\d+\s+l=\s*\d+/, 'd=$1')
        .replace(/(INTEGER|OCTET STRING|BIT STRING|UTCTIME|BOOLEAN|ENUMERATED)\s*:.*$/, '$1')
        .replace(/\[HEX DUMP\]:.*$/, '')
        .trimEnd(),
    )
}

const derOf = (pem: string): Uint8Array => new Uint8Array(new X509Certificate(pem).raw)
const realChain = (path: string): Uint8Array[] =>
  pemBlocks(new Uint8Array(readFileSync(new URL(path, VECTORS)))).map(derOf)
const [realPlatformPck, realPlatformCa, realRoot] = realChain('tdx/v4-b/quote.dat')
const [realProcessorPck, realProcessorCa] = realChain('sgx/v3-a/quote.dat')
const [realTcbSigning] = pemBlocks(
  readFileSync(new URL('tdx/spr-v4/tcb-signing-chain.pem', VECTORS), 'latin1'),
).map(derOf)

describe('createIntelTestPki: the chain', () => {
  it('verifies root → PCK CA → PCK and root → TCB Signing with node:crypto and openssl', () => {
    const { root, platformCa, processorCa, tcbSigning } = pki
    expect(root.x509.verify(root.publicKey)).toBe(true)
    expect(root.x509.checkIssued(root.x509)).toBe(true)
    for (const c of [platformCa, processorCa, tcbSigning]) {
      expect(c.x509.verify(root.publicKey)).toBe(true)
      expect(c.x509.checkIssued(root.x509)).toBe(true)
    }
    expect(platformPck.x509.verify(platformCa.publicKey)).toBe(true)
    expect(processorPck.x509.verify(processorCa.publicKey)).toBe(true)
    expect(platformPck.x509.verify(processorCa.publicKey)).toBe(false)
    expect(opensslVerify(platformPck.pem, platformCa.pem)).toContain('leaf.pem: OK')
    expect(opensslVerify(processorPck.pem, processorCa.pem)).toContain('leaf.pem: OK')
    expect(opensslVerify(tcbSigning.pem)).toContain('leaf.pem: OK')
  })

  it('prints like Intel certificates in openssl x509 -text', () => {
    const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], platformPck.der)
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256')
    expect(text).toContain(
      'Issuer: CN = Intel SGX PCK Platform CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US',
    )
    expect(text).toContain('Subject: CN = Intel SGX PCK Certificate, O = Intel Corporation')
    expect(text).toContain('ASN1 OID: prime256v1')
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/)
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/)
    expect(text).toContain(
      'URI:https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
    )
    expect(text).toContain('1.2.840.113741.1.13.1:')
    const rootText = openssl(['x509', '-inform', 'DER', '-noout', '-text'], pki.root.der)
    expect(rootText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:1/)
    expect(rootText).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/)
    expect(rootText).toContain(
      'URI:https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
    )
  })

  it('has the ASN.1 shape of the real certificates, element for element', () => {
    const pairs: [Uint8Array | undefined, Uint8Array][] = [
      [realRoot, pki.root.der],
      [realPlatformCa, pki.platformCa.der],
      [realProcessorCa, pki.processorCa.der],
      [realTcbSigning, pki.tcbSigning.der],
      [realPlatformPck, platformPck.der],
      [realProcessorPck, processorPck.der],
    ]
    for (const [real, built] of pairs) {
      if (real === undefined) throw new Error('missing vector')
      expect(shape(built)).toEqual(shape(real))
    }
  })

  it('numbers CAs and TCB Signing by their key identifiers, as Intel does', () => {
    for (const c of [pki.root, pki.platformCa, pki.processorCa, pki.tcbSigning]) {
      expect(c.serialNumber).toBe(BigInt(`0x${bytesToHex(keyIdentifierOf(c.publicKey))}`))
      expect(BigInt(`0x${c.x509.serialNumber}`)).toBe(c.serialNumber)
      expect(new Date(c.x509.validFrom)).toEqual(PKI_NOT_BEFORE)
    }
    expect(platformPck.serialNumber.toString(16).length).toBeLessThanOrEqual(40)
    expect(BigInt(`0x${platformPck.x509.serialNumber}`)).toBe(platformPck.serialNumber)
    expect(platformPck.chainPem).toBe(platformPck.pem + pki.platformCa.pem + pki.root.pem)
    expect(processorPck.chainPem).toBe(processorPck.pem + pki.processorCa.pem + pki.root.pem)
    expect(pki.tcbSigningChainPem).toBe(pki.tcbSigning.pem + pki.root.pem)
    expect(pki.pckCaChainPem('processor')).toBe(pki.processorCa.pem + pki.root.pem)
    expect(pki.pckCa('platform')).toBe(pki.platformCa)
  })
})

describe('issuePck', () => {
  it('writes the default platform TCB, with .6 and .7 for the Platform CA only', () => {
    const info = parsePckCertificate(platformPck.der)
    expect(info.issuerCa).toBe('platform')
    expect(info.subjectCommonName).toBe('Intel SGX PCK Certificate')
    expect(bytesToHex(info.sgx.fmspc)).toBe('b0c06f000000')
    expect(info.sgx.tcb.cpuSvnComponents).toEqual(DEFAULT_PCK_TCB.cpuSvnComponents)
    expect(info.sgx.tcb.pceSvn).toBe(11)
    expect(info.sgx.sgxType).toBe('scalable')
    expect(info.sgx.platformInstanceId).toHaveLength(16)
    expect(info.sgx.configuration).toEqual({
      dynamicPlatform: true,
      cachedKeys: true,
      smtEnabled: true,
    })
    const processor = parsePckCertificate(processorPck.der)
    expect(processor.issuerCa).toBe('processor')
    expect(processor.sgx.sgxType).toBe('standard')
    expect(processor.sgx.platformInstanceId).toBeUndefined()
    expect(processor.sgx.configuration).toBeUndefined()
  })

  it('writes the fields it is given', () => {
    const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const fields = {
      fmspc: Uint8Array.of(0x00, 0xa0, 0x67, 0x11, 0x00, 0x00),
      pceId: Uint8Array.of(0x01, 0x02),
      cpuSvnComponents: [11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 9],
      pceSvn: 13,
      cpuSvn: new Uint8Array(16).fill(7),
      ppid: new Uint8Array(16).fill(0xaa),
      sgxType: 2,
    }
    const pck = pki.issuePck({ ca: 'platform', ...validity, ...fields, keyPair, serialNumber: 77n })
    const { sgx } = parsePckCertificate(pck.der)
    expect(bytesToHex(sgx.fmspc)).toBe('00a067110000')
    expect(bytesToHex(sgx.pceId)).toBe('0102')
    expect(sgx.tcb.cpuSvnComponents).toEqual(fields.cpuSvnComponents)
    expect(sgx.tcb.pceSvn).toBe(13)
    expect(sgx.tcb.cpuSvn).toEqual(fields.cpuSvn)
    expect(sgx.ppid).toEqual(fields.ppid)
    expect(sgx.sgxType).toBe('scalable-with-integrity')
    expect(pck.x509.serialNumber).toBe('4D')
    expect(pck.publicKey).toBe(keyPair.publicKey)
    expect(pck.x509.publicKey.equals(keyPair.publicKey)).toBe(true)
  })

  it('can leave out .6/.7, sign with another key, or edit the extensions (negative tests)', () => {
    const bare = pki.issuePck({
      ca: 'platform',
      ...validity,
      platformInstanceId: null,
      configuration: null,
    })
    expect(parsePckCertificate(bare.der).sgx.platformInstanceId).toBeUndefined()
    const forged = pki.issuePck({
      ca: 'platform',
      ...validity,
      issuerPrivateKey: pki.processorCa.privateKey,
    })
    expect(forged.x509.verify(pki.platformCa.publicKey)).toBe(false)
    const stripped = pki.issuePck({
      ca: 'processor',
      ...validity,
      editExtensions: (list) => list.filter((e) => e.oid !== INTEL_SGX_EXTENSION_OID.sgx),
    })
    expect(certificateExtensions(stripped.der).map((e) => e.oid)).not.toContain(
      INTEL_SGX_EXTENSION_OID.sgx,
    )
    expect(thrown(() => parsePckCertificate(stripped.der)).code).toBe(
      'ERR_TDX_PCK_EXTENSION_MISSING',
    )
  })

  it('refuses keys that are not P-256 and bad SGX fields', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(thrown(() => pki.issuePck({ ca: 'platform', ...validity, keyPair: p384 })).code).toBe(
      'ERR_INTEL_PKI_KEY_INVALID',
    )
    expect(
      thrown(() =>
        createIntelTestPki({
          notBefore: PKI_NOT_BEFORE,
          notAfter: PKI_NOT_AFTER,
          keys: { root: p384 },
        }),
      ).code,
    ).toBe('ERR_INTEL_PKI_KEY_INVALID')
    expect(
      thrown(() => pki.issuePck({ ca: 'platform', ...validity, fmspc: new Uint8Array(5) })).code,
    ).toBe('ERR_INTEL_PKI_FIELD_INVALID')
  })

  it('reuses given CA keys', () => {
    const keys = {
      root: { publicKey: pki.root.publicKey, privateKey: pki.root.privateKey },
      platform: { publicKey: pki.platformCa.publicKey, privateKey: pki.platformCa.privateKey },
    }
    const again = createIntelTestPki({ notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER, keys })
    expect(again.root.serialNumber).toBe(pki.root.serialNumber)
    expect(again.root.x509.publicKey.equals(pki.root.publicKey)).toBe(true)
    expect(again.processorCa.x509.publicKey.equals(pki.processorCa.publicKey)).toBe(false)
    expect(platformPck.x509.verify(again.platformCa.publicKey)).toBe(true)
  })
})

describe('CRLs', () => {
  const window = {
    thisUpdate: new Date('2026-05-01T00:00:00Z'),
    nextUpdate: new Date('2026-06-01T00:00:00Z'),
  }

  it('signs the Root CA CRL with the root and a PCK CRL with its CA (@initguard/tdx, openssl)', () => {
    const rootCrl = parseX509Crl(
      pki.rootCaCrl({ ...window, revoked: [pki.processorCa.serialNumber] }),
      'Root CA CRL',
    )
    verifyCrlSignature(rootCrl, parseCollateralCertificate(pki.root.der, 'root'), 'Root CA CRL')
    expect(isSerialRevoked(rootCrl, pki.processorCa.serialNumber)).toBe(true)
    expect(isSerialRevoked(rootCrl, pki.platformCa.serialNumber)).toBe(false)
    expect(rootCrl.crlNumber).toBe(1n)
    expect(rootCrl.issuerCommonName).toBe('Intel SGX Root CA')

    const der = pki.pckCrl('platform', {
      ...window,
      revoked: [platformPck.serialNumber, { serialNumber: 5n, reasonCode: null }],
      crlNumber: 9,
    })
    const pckCrl = parseX509Crl(der, 'PCK CRL')
    const ca = parseCollateralCertificate(pki.platformCa.der, 'PCK CA')
    verifyCrlSignature(pckCrl, ca, 'PCK CRL')
    expect(isSerialRevoked(pckCrl, platformPck.serialNumber)).toBe(true)
    expect(pckCrl.crlNumber).toBe(9n)
    expect(
      thrown(() => {
        verifyCrlSignature(pckCrl, parseCollateralCertificate(pki.processorCa.der, 'x'), 'PCK CRL')
      }).code,
    ).toMatch(/^ERR_TDX_CRL_(ISSUER|SIGNATURE)$/)

    const run = spawnSync('openssl', [
      'crl',
      '-inform',
      'DER',
      '-in',
      file('pck.crl', der),
      '-CAfile',
      file('ca.pem', pki.platformCa.pem),
      '-noout',
      '-text',
      '-verify',
    ])
    expect(run.stderr.toString('latin1')).toContain('verify OK')
    const text = run.stdout.toString('latin1')
    expect(text).toContain('X509v3 CRL Number')
    expect(text).toContain('Key Compromise')
    expect(text.match(/X509v3 CRL Reason Code/g)).toHaveLength(1)
  })

  it('writes the Root CA CRL exactly as Intel does (TBS byte for byte)', () => {
    const real = new Uint8Array(readFileSync(new URL('tdx/spr-v4/root-ca-crl.der', VECTORS)))
    const realCrl = parseX509Crl(real, 'real Root CA CRL')
    if (realRoot === undefined) throw new Error('no real root')
    // Intel's key identifiers are opaque 20-byte values: take the real root's.
    const ski = certificateExtensions(realRoot).find(
      (e) => e.oid === X509_EXTENSION_OID.subjectKeyIdentifier,
    )
    if (ski === undefined) throw new Error('no SKI')
    const rootKeyId = decodeDerOctetString(parseDer(ski.value), 'ski')
    const built = buildX509Crl(
      {
        issuer: intelName('Intel SGX Root CA'),
        thisUpdate: realCrl.thisUpdate,
        nextUpdate: realCrl.nextUpdate,
        revoked: [],
        signatureAlgorithm: 'ecdsa-sha256',
        extensions: [
          { oid: X509_EXTENSION_OID.crlNumber, value: encodeCrlNumber(1) },
          {
            oid: X509_EXTENSION_OID.authorityKeyIdentifier,
            value: encodeAuthorityKeyIdentifier(rootKeyId),
          },
        ],
      },
      pki.root.privateKey,
    )
    expect(bytesToHex(parseX509Crl(built, 'built').tbs)).toBe(bytesToHex(realCrl.tbs))
  })

  it('writes PCK CRL entries like Intel (serial, date, reason keyCompromise)', () => {
    const real = new Uint8Array(readFileSync(new URL('tdx/spr-v4/pck-platform-crl.der', VECTORS)))
    // The first revokedCertificates entry, DER.
    const entryOf = (der: Uint8Array): string => {
      const [tbs] = decodeDerSequence(parseDer(der), 'crl')
      const [, , , , , revoked] = decodeDerSequence(tbs, 'tbs')
      const [first] = decodeDerSequence(revoked, 'revoked')
      if (first === undefined) throw new Error('no entry')
      return bytesToHex(first.encoded)
    }
    const realEntry = parseX509Crl(real, 'real')
    const serial = [...realEntry.revokedSerials][0] ?? ''
    const built = pki.pckCrl('platform', {
      thisUpdate: realEntry.thisUpdate,
      nextUpdate: realEntry.nextUpdate,
      revoked: [BigInt(`0x${serial}`)],
    })
    expect(entryOf(built)).toBe(entryOf(real))
  })
})
