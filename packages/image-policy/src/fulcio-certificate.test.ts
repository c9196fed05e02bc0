import { describe, it, expect } from 'vitest'
import { MalformedInputError, VerificationError } from '@initguard/core'
import { createFulcioTestPki, derOctetString, derUtf8String } from '@initguard/tee-simulator'
import { verifyFulcioCertificate, type FulcioCertificateInput } from './fulcio-certificate.ts'
import {
  fulcioOidcIssuer,
  parseFulcioCaCertificates,
  parseFulcioChain,
  parseFulcioLeafCertificate,
} from './fulcio-parse.ts'
import { EMAIL, ISSUER, LOGGED, codeOf, sigstoreWorld, thrown } from './sigstore-test-support.ts'

const VALIDITY = {
  notBefore: new Date('2022-01-01T00:00:00Z'),
  notAfter: new Date('2032-01-01T00:00:00Z'),
}
const LEAF_TIMES = {
  notBefore: new Date(LOGGED.getTime() - 60_000),
  notAfter: new Date(LOGGED.getTime() + 540_000),
}

function input(
  pki = sigstoreWorld().fulcio,
  leafOptions: Partial<Parameters<typeof pki.issueLeaf>[0]> = {},
): FulcioCertificateInput {
  const leaf = pki.issueLeaf({
    ...LEAF_TIMES,
    emails: [EMAIL],
    oidcIssuerV1: ISSUER,
    ...leafOptions,
  })
  return {
    roots: parseFulcioCaCertificates(pki.caPem),
    leaf: parseFulcioLeafCertificate(leaf.pem),
    intermediates: parseFulcioChain(pki.chainPem),
    oidcIssuer: ISSUER,
    subjectEmail: EMAIL,
    time: LOGGED,
  }
}

describe('verifyFulcioCertificate', () => {
  it('finds the chain leaf → intermediate → root and returns the leaf key', () => {
    const result = verifyFulcioCertificate(input())
    expect(result.chain).toHaveLength(3)
    expect(result.oidcIssuer).toBe(ISSUER)
    expect(result.emailAddresses).toEqual([EMAIL])
    expect(result.publicKey.description).toContain('ECDSA P-256')
  })

  it('accepts a leaf issued by the root itself, and one of several SAN emails', () => {
    const i = input(sigstoreWorld().fulcio, { issuedBy: 'root', emails: ['a@example.com', EMAIL] })
    expect(verifyFulcioCertificate(i).chain).toHaveLength(2)
  })

  it('never trusts the root the signature brings along', () => {
    // The chain annotation's last certificate is dropped: with only the foreign root in it,
    // nothing is left to chain through.
    const w = sigstoreWorld()
    const i = input(w.foreignFulcio)
    expect(parseFulcioChain(w.foreignFulcio.chainPem)).toHaveLength(1)
    expect(
      codeOf(() =>
        verifyFulcioCertificate({ ...i, roots: parseFulcioCaCertificates(w.fulcio.caPem) }),
      ),
    ).toBe('ERR_FULCIO_CHAIN_UNTRUSTED')
    expect(codeOf(() => verifyFulcioCertificate({ ...input(), intermediates: [] }))).toBe(
      'ERR_FULCIO_CHAIN_UNTRUSTED',
    )
  })

  it('refuses an intermediate that is not a CA or does not allow code signing', () => {
    const notCa = createFulcioTestPki({ ...VALIDITY, intermediateIsCa: false })
    expect(codeOf(() => verifyFulcioCertificate(input(notCa)))).toBe('ERR_FULCIO_CA_NOT_AUTHORIZED')
    const tls = createFulcioTestPki({
      ...VALIDITY,
      intermediateExtendedKeyUsage: ['1.3.6.1.5.5.7.3.1'],
    })
    expect(codeOf(() => verifyFulcioCertificate(input(tls)))).toBe('ERR_FULCIO_KEY_USAGE')
    const noCertSign = createFulcioTestPki({
      ...VALIDITY,
      intermediateKeyUsage: ['digitalSignature'],
    })
    expect(codeOf(() => verifyFulcioCertificate(input(noCertSign)))).toBe(
      'ERR_FULCIO_CA_NOT_AUTHORIZED',
    )
    const anyUse = createFulcioTestPki({ ...VALIDITY, intermediateExtendedKeyUsage: null })
    expect(() => verifyFulcioCertificate(input(anyUse, { extendedKeyUsage: null }))).not.toThrow()
  })

  it('refuses unknown critical extensions and name constraints', () => {
    const critical = { oid: '1.2.3.4', critical: true, value: derOctetString(new Uint8Array([1])) }
    expect(
      codeOf(() => verifyFulcioCertificate(input(undefined, { extraExtensions: [critical] }))),
    ).toBe('ERR_FULCIO_UNSUPPORTED_EXTENSION')
    const nameConstraints = { oid: '2.5.29.30', value: derOctetString(new Uint8Array([1])) }
    expect(
      codeOf(() =>
        verifyFulcioCertificate(input(undefined, { extraExtensions: [nameConstraints] })),
      ),
    ).toBe('ERR_FULCIO_UNSUPPORTED_EXTENSION')
    // A non-critical unknown extension (like Fulcio's SCT list) is fine.
    const sct = { oid: '1.3.6.1.4.1.11129.2.4.2', value: derOctetString(new Uint8Array([1])) }
    expect(() =>
      verifyFulcioCertificate(input(undefined, { extraExtensions: [sct] })),
    ).not.toThrow()
  })

  it('reads the OIDC issuer from v1, v2 or both, and refuses broken values', () => {
    const issuerOf = (o: Parameters<typeof input>[1]): string =>
      fulcioOidcIssuer(input(undefined, o).leaf)
    expect(issuerOf({})).toBe(ISSUER)
    expect(issuerOf({ oidcIssuerV1: undefined, oidcIssuerV2: ISSUER })).toBe(ISSUER)
    expect(issuerOf({ oidcIssuerV2: ISSUER })).toBe(ISSUER)
    const code = (o: Parameters<typeof input>[1]): string => codeOf(() => issuerOf(o))
    expect(code({ oidcIssuerV2: `${ISSUER}/` })).toBe('ERR_FULCIO_ISSUER_INCONSISTENT')
    expect(code({ oidcIssuerV1: undefined })).toBe('ERR_FULCIO_ISSUER_MISSING')
    expect(code({ oidcIssuerV1: new Uint8Array([0xc3, 0x28]) })).toBe('ERR_FULCIO_ISSUER_MALFORMED')
    const v2NotString = { oid: '1.3.6.1.4.1.57264.1.8', value: derOctetString(new Uint8Array([1])) }
    expect(code({ oidcIssuerV1: undefined, extraExtensions: [v2NotString] })).toBe(
      'ERR_FULCIO_ISSUER_MALFORMED',
    )
    const v2Trailing = {
      oid: '1.3.6.1.4.1.57264.1.8',
      value: new Uint8Array([...derUtf8String(ISSUER), 0]),
    }
    expect(code({ oidcIssuerV1: undefined, extraExtensions: [v2Trailing] })).toBe(
      'ERR_FULCIO_ISSUER_MALFORMED',
    )
  })

  it('refuses a duplicated extension when parsing', () => {
    const dup = { oid: '1.3.6.1.4.1.57264.1.1', value: new TextEncoder().encode(ISSUER) }
    const e = thrown(() => input(undefined, { extraExtensions: [dup] }))
    expect(e.code).toBe('ERR_FULCIO_CERTIFICATE_MALFORMED')
  })
})

describe('Fulcio annotation parsing', () => {
  const w = sigstoreWorld()
  const leafPem = w.fulcio.issueLeaf({ ...LEAF_TIMES, emails: [EMAIL], oidcIssuerV1: ISSUER }).pem

  it('takes exactly one certificate with nothing after it', () => {
    expect(parseFulcioLeafCertificate(leafPem).emailAddresses).toEqual([EMAIL])
    for (const bad of [
      `${leafPem}\n`,
      leafPem + leafPem,
      '',
      leafPem.replace('CERTIFICATE', 'PUBLIC KEY'),
      leafPem.slice(0, 200),
    ]) {
      const e = thrown(() => parseFulcioLeafCertificate(bad))
      expect(e).toBeInstanceOf(VerificationError)
      expect(e.code).toBe('ERR_FULCIO_CERTIFICATE_MALFORMED')
    }
  })

  it('parses the chain and refuses junk in it', () => {
    expect(parseFulcioChain(w.fulcio.chainPem)).toHaveLength(1)
    expect(codeOf(() => parseFulcioChain(`${w.fulcio.chainPem}junk`))).toBe(
      'ERR_FULCIO_CHAIN_MALFORMED',
    )
    expect(
      codeOf(() =>
        parseFulcioChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      ),
    ).toBe('ERR_FULCIO_CHAIN_MALFORMED')
  })

  it('refuses CA material that is not PEM certificates', () => {
    for (const bad of ['', 'hello', `${w.fulcio.root.pem}trailing`]) {
      const e = thrown(() => parseFulcioCaCertificates(new TextEncoder().encode(bad)))
      expect(e).toBeInstanceOf(MalformedInputError)
      expect(e.code).toBe('ERR_FULCIO_CA_INVALID')
    }
  })
})
