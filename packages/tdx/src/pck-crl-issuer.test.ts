/**
 * The collateral's PCK CRL is matched to the quote's PCK CA as RFC 5280 §6.3.3 matches a CRL to a
 * certificate: the CRL's issuer name is the CA's subject (DER-exact) and its signature verifies
 * with the CA's key. Not by certificate fingerprint: a CA Intel reissues (same key, same name,
 * another serial and validity) still issues the same CRL.
 */
import { describe, expect, it } from 'vitest'
import {
  INTEL_COMMON_NAME,
  INTEL_CRL_URL,
  buildTdxQuote,
  buildX509Certificate,
  createIntelTestPki,
  derToPem,
  intelCertificateExtensions,
  intelName,
  keyIdentifierOf,
} from '@initguard/tee-simulator'
import { codeOf } from './collateral-test-support.ts'
import type { DcapCollateral } from './collateral.ts'
import { parseDcapQuote, type DcapQuote } from './quote.ts'
import { SYNTHETIC_TIMES, syntheticDcap } from './synthetic-dcap-test-support.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const { notBefore, notAfter, now } = SYNTHETIC_TIMES
const { pki, pck, collateral } = syntheticDcap()
const quote = parseDcapQuote(buildTdxQuote({}, pck))

/**
 * The Platform CA reissued by the same root: the same key and name, another serial number and
 * validity, so another certificate (another fingerprint).
 */
const reissuedPlatformCa = derToPem(
  buildX509Certificate(
    {
      serialNumber: 0x0123456789abcdefn,
      issuer: intelName(INTEL_COMMON_NAME.root),
      subject: intelName(INTEL_COMMON_NAME.platform),
      notBefore: new Date('2025-06-01T00:00:00Z'),
      notAfter: new Date('2033-06-01T00:00:00Z'),
      publicKey: pki.platformCa.publicKey,
      signatureAlgorithm: 'ecdsa-sha256',
      extensions: intelCertificateExtensions(
        keyIdentifierOf(pki.root.publicKey),
        INTEL_CRL_URL.root,
        keyIdentifierOf(pki.platformCa.publicKey),
        { pathLength: 0 },
      ),
    },
    pki.root.privateKey,
  ),
)

const verifyWith = (q: DcapQuote, c: DcapCollateral): string =>
  codeOf(() => verifyDcapQuote(q, { now, collateral: c, root: pki.root.pem }))

describe("the PCK CRL and the quote's PCK CA", () => {
  it('accepts the CRL of the same CA', () => {
    expect(verifyWith(quote, collateral())).toBe('accepted')
  })

  it('accepts the CRL when the collateral carries a reissued CA certificate (same key and name)', () => {
    expect(reissuedPlatformCa).not.toBe(pki.platformCa.pem)
    const reissued = { ...collateral(), pckCrlIssuerChain: reissuedPlatformCa + pki.root.pem }
    expect(verifyWith(quote, reissued)).toBe('accepted')
  })

  it('still revokes through the reissued CA certificate', () => {
    const revoking = collateral({ pckCrl: { revoked: [pck.serialNumber] } })
    const reissued = { ...revoking, pckCrlIssuerChain: reissuedPlatformCa + pki.root.pem }
    expect(verifyWith(quote, reissued)).toBe('ERR_TDX_PCK_REVOKED')
  })

  it('accepts the CRL when the quote carries the reissued CA certificate', () => {
    const chainPem = pck.pem + reissuedPlatformCa + pki.root.pem
    const reissuedQuote = parseDcapQuote(buildTdxQuote({}, { ...pck, chainPem }))
    expect(verifyWith(reissuedQuote, collateral())).toBe('accepted')
  })

  it("refuses the Processor CA's CRL for a Platform CA PCK, and the reverse", () => {
    expect(verifyWith(quote, collateral({ ca: 'processor' }))).toBe('ERR_TDX_PCK_CRL_ISSUER')
    const processorPck = pki.issuePck({ ca: 'processor', notBefore, notAfter })
    const processorQuote = parseDcapQuote(buildTdxQuote({}, processorPck))
    expect(verifyWith(processorQuote, collateral({ ca: 'processor' }))).toBe('accepted')
    expect(verifyWith(processorQuote, collateral())).toBe('ERR_TDX_PCK_CRL_ISSUER')
  })

  it("refuses a CRL with the CA's name signed by another key, even under a certificate the root issued", () => {
    // Another Platform CA under the same root key: its own key, the same name. The collateral is
    // consistent in itself (its CRL verifies with its CA), but that CA is not the quote's.
    const impostor = createIntelTestPki({
      notBefore,
      notAfter,
      keys: { root: { publicKey: pki.root.publicKey, privateKey: pki.root.privateKey } },
    })
    expect(impostor.platformCa.x509.subject).toBe(pki.platformCa.x509.subject)
    const crl = impostor.pckCrl('platform', {
      thisUpdate: SYNTHETIC_TIMES.issueDate,
      nextUpdate: SYNTHETIC_TIMES.nextUpdate,
    })
    const foreign = {
      ...collateral(),
      pckCrlIssuerChain: impostor.platformCa.pem + pki.root.pem,
      pckCrl: crl,
    }
    expect(verifyWith(quote, foreign)).toBe('ERR_TDX_PCK_CRL_SIGNATURE')
  })

  it('says which CA issued the CRL and which CA the PCK comes from', () => {
    try {
      verifyDcapQuote(quote, {
        now,
        collateral: collateral({ ca: 'processor' }),
        root: pki.root.pem,
      })
      expect.unreachable()
    } catch (e) {
      expect(String(e)).toContain('Intel SGX PCK Processor CA')
      expect(String(e)).toContain('Intel SGX PCK Platform CA')
    }
  })
})
