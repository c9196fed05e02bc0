/**
 * Which root a PCK chain ends at: a chain to any root but the trusted one is reported as exactly
 * that, with the root's fingerprint, whatever the chain's encoding inside the quote; a verified
 * quote says whether its root was Intel's pinned one or the caller's.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  buildDcapCollateral,
  buildSgxQuote,
  buildTdxQuote,
  createIntelTestPki,
  type DcapQuoteOptions,
} from '@initguard/tee-simulator'
import { thrown } from '@initguard/testkit'
import { parseCollateralJson } from './collateral.ts'
import { INTEL_SGX_ROOT_CA_SHA256 } from './intel-roots.ts'
import { parseDcapQuote } from './quote.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const window = {
  issueDate: new Date('2026-11-01T00:00:00Z'),
  nextUpdate: new Date('2026-12-31T00:00:00Z'),
}
const trusted = createIntelTestPki({ notBefore, notAfter })
const foreign = createIntelTestPki({ notBefore, notAfter })
const foreignPck = foreign.issuePck({ ca: 'processor', notBefore, notAfter })
const foreignRootSha256 = foreign.root.x509.fingerprint256.replaceAll(':', '').toLowerCase()
const trustedRootSha256 = trusted.root.x509.fingerprint256.replaceAll(':', '').toLowerCase()
const collateral = {
  tdx: parseCollateralJson(buildDcapCollateral({ pki: trusted, ...window, tee: 'tdx' })),
  sgx: parseCollateralJson(buildDcapCollateral({ pki: trusted, ...window, tee: 'sgx' })),
}

const pem = (text: string): Uint8Array => new TextEncoder().encode(text)
const chain = foreignPck.chainPem
const encodings: [string, DcapQuoteOptions][] = [
  ['the PEM chain as built', {}],
  ['a NUL-terminated chain', { nulTerminatedChain: true }],
  [
    'a chain with trailing whitespace and newlines',
    { certificationData: pem(`${chain}\n \r\n\t\n`) },
  ],
  ['a chain with no final newline', { certificationData: pem(chain.trimEnd()) }],
  ['a chain with CRLF line ends', { certificationData: pem(chain.replaceAll('\n', '\r\n')) }],
]
const quotes: [string, (options: DcapQuoteOptions) => Uint8Array][] = [
  ['SGX v3 (type 5 directly)', (o) => buildSgxQuote(o, foreignPck)],
  ['SGX v4 (nested in the QE report data)', (o) => buildSgxQuote({ ...o, version: 4 }, foreignPck)],
  ['TDX v4 (nested)', (o) => buildTdxQuote({ ...o, version: 4 }, foreignPck)],
  ['TDX v5 (nested)', (o) => buildTdxQuote({ ...o, version: 5 }, foreignPck)],
]

describe('a PCK chain that ends at a foreign root', () => {
  for (const [quoteName, build] of quotes) {
    for (const [encodingName, options] of encodings) {
      it(`${quoteName}, ${encodingName}: names the root and its fingerprint`, () => {
        const quote = parseDcapQuote(build(options))
        const tee = quote.body.kind === 'sgx' ? 'sgx' : 'tdx'
        const underTest = thrown(() =>
          verifyDcapQuote(quote, { now, collateral: collateral[tee], root: trusted.root.pem }),
        )
        expect(underTest.code).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
        expect(underTest.category).toBe('verification')
        expect(underTest.message).toContain(
          `the PCK chain ends at CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US, SHA-256 ${foreignRootSha256}, which is not the user-supplied trusted root`,
        )
        expect(underTest.message).toContain(trustedRootSha256)
        expect(underTest.details).toMatchObject({
          chainRoot: foreignRootSha256,
          trustedRoot: trustedRootSha256,
        })
        const underIntel = thrown(() =>
          verifyDcapQuote(quote, { now, collateral: collateral[tee] }),
        )
        expect(underIntel.code).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
        expect(underIntel.message).toContain(
          `SHA-256 ${foreignRootSha256}, which is not Intel's SGX Root CA (SHA-256 ${INTEL_SGX_ROOT_CA_SHA256})`,
        )
      })
    }
  }

  it('a chain that leaves its root out is refused with the same code, naming the trusted root', () => {
    const [leaf, ca] =
      chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
    const quote = parseDcapQuote(
      buildSgxQuote({ certificationData: pem(`${leaf ?? ''}\n${ca ?? ''}\n`) }, foreignPck),
    )
    const error = thrown(() => verifyDcapQuote(quote, { now, collateral: collateral.sgx }))
    expect(error.code).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
    expect(error.message).toContain(
      `not end at Intel's SGX Root CA (SHA-256 ${INTEL_SGX_ROOT_CA_SHA256})`,
    )
  })
})

describe('the root a verified quote ends at', () => {
  it('is user-supplied, with its fingerprint, for a root the caller passed', () => {
    const pck = trusted.issuePck({ ca: 'platform', notBefore, notAfter })
    const result = verifyDcapQuote(parseDcapQuote(buildTdxQuote({}, pck)), {
      now,
      collateral: collateral.tdx,
      root: trusted.root.pem,
    })
    expect(result.anchor).toEqual({
      origin: 'user-supplied',
      subject: 'CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US',
      sha256: trustedRootSha256,
    })
  })

  it("is Intel's pinned root for a real quote", () => {
    const vector = (path: string): Uint8Array =>
      new Uint8Array(
        readFileSync(new URL(`../../../testdata/vectors/tdx/v4-b/${path}`, import.meta.url)),
      )
    const result = verifyDcapQuote(parseDcapQuote(vector('quote.dat')), {
      now: new Date('2025-07-01T00:00:00Z'),
      collateral: parseCollateralJson(vector('collateral.json')),
    })
    expect(result.anchor).toMatchObject({ origin: 'pinned', sha256: INTEL_SGX_ROOT_CA_SHA256 })
  })
})
