/**
 * `pckCertificates`: the PCK chain a caller gives for a quote that does not carry one
 * (certification data type 3: encrypted PPID, as a PCCS-backed platform sends). It is used for such
 * a quote, still verified to the trusted root; a quote without one fails as unavailable; and for a
 * quote that carries its own chain the option is refused, never set aside without a word.
 */
import { X509Certificate } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { buildDcapCollateral, buildSgxQuote, createIntelTestPki } from '@initguard/tee-simulator'
import { thrown } from '@initguard/testkit'
import { parseCollateralJson } from './collateral.ts'
import { parseDcapQuote } from './quote.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const pki = createIntelTestPki({ notBefore, notAfter })
const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
const other = createIntelTestPki({ notBefore, notAfter })
const otherPck = other.issuePck({ ca: 'platform', notBefore, notAfter })
const collateral = parseCollateralJson(
  buildDcapCollateral({
    pki,
    issueDate: new Date('2026-11-01T00:00:00Z'),
    nextUpdate: new Date('2026-12-31T00:00:00Z'),
    tee: 'sgx',
  }),
)
const options = { now, collateral, root: pki.root.pem }

/** The DER certificates of a PEM chain, leaf first. */
function derChain(chainPem: string): Uint8Array[] {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)
  return (blocks ?? []).map((block) => new Uint8Array(new X509Certificate(block).raw))
}

/** A quote whose certification data is type 3 (PPID encrypted with RSA-3072): no chain in it. */
const withoutChain = parseDcapQuote(
  buildSgxQuote({ certificationDataType: 3, certificationData: new Uint8Array(384 + 36) }, pck),
)

describe('pckCertificates', () => {
  it('verifies a quote without a chain against the chain given', () => {
    const result = verifyDcapQuote(withoutChain, {
      ...options,
      pckCertificates: derChain(pck.chainPem),
    })
    expect(result.tee).toBe('sgx')
    expect(result.tcb.status).toBe('UpToDate')
  })

  it('is still verified: a chain of another PKI, or of another key, is refused', () => {
    const foreign = thrown(() =>
      verifyDcapQuote(withoutChain, { ...options, pckCertificates: derChain(otherPck.chainPem) }),
    )
    expect(foreign.category).toBe('verification')
    const samePkiOtherKey = pki.issuePck({ ca: 'platform', notBefore, notAfter })
    const wrongKey = thrown(() =>
      verifyDcapQuote(withoutChain, {
        ...options,
        pckCertificates: derChain(samePkiOtherKey.chainPem),
      }),
    )
    expect(wrongKey.category).toBe('verification')
  })

  it('without it, a quote without a chain is unavailable evidence (ERR_TDX_PCK_MISSING)', () => {
    const error = thrown(() => verifyDcapQuote(withoutChain, options))
    expect(error.code).toBe('ERR_TDX_PCK_MISSING')
  })

  it('is refused for a quote that carries its own chain (ERR_TDX_PCK_OPTION)', () => {
    const withChain = parseDcapQuote(buildSgxQuote({}, pck))
    expect(verifyDcapQuote(withChain, options).tcb.status).toBe('UpToDate')
    // The given chain would have been set aside for the quote's own without a word.
    for (const given of [derChain(pck.chainPem), derChain(otherPck.chainPem), []]) {
      const error = thrown(() => verifyDcapQuote(withChain, { ...options, pckCertificates: given }))
      expect(error.code).toBe('ERR_TDX_PCK_OPTION')
      expect(error.category).toBe('usage')
      expect(error.hint).toContain('leave out pckCertificates')
    }
  })
})
