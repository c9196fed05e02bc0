/**
 * Quotes from our own Intel-shaped test PKI, with chosen MRCONFIGID / CONFIGID and REPORTDATA:
 * accepted only when the test root is explicitly trusted, and bound to an initdata document.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { bindingFor, parseInitdata, renderInitdata } from '@initguard/initdata'
import {
  buildDcapCollateral,
  buildSgxQuote,
  buildTdxQuote,
  createIntelTestPki,
} from '@initguard/tee-simulator'
import { parseCollateralJson } from './collateral.ts'
import { parseDcapQuote } from './quote.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const pki = createIntelTestPki({ notBefore, notAfter })
const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
const window = {
  issueDate: new Date('2026-11-01T00:00:00Z'),
  nextUpdate: new Date('2026-12-31T00:00:00Z'),
}
const tdxCollateral = parseCollateralJson(buildDcapCollateral({ pki, ...window, tee: 'tdx' }))
const sgxCollateral = parseCollateralJson(buildDcapCollateral({ pki, ...window, tee: 'sgx' }))
const document = parseInitdata(
  renderInitdata({ algorithm: 'sha384', data: { 'cdh.toml': '[kbc]\nname = "cc_kbc"\n' } }),
)
const reportData = Uint8Array.from({ length: 64 }, (_, i) => 255 - i)

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  return 'accepted'
}

describe('synthetic DCAP quotes', () => {
  for (const [version, bodyKind] of [
    [4, undefined],
    [5, 'td10'],
    [5, 'td15'],
  ] as const) {
    it(`TDX v${version}${bodyKind === undefined ? '' : ` ${bodyKind}`}: MRCONFIGID binds the initdata document, only under the trusted test root`, () => {
      const mrConfigId = bindingFor('tdx', document.algorithm, document.digest).value
      const bytes = buildTdxQuote(
        { version, ...(bodyKind === undefined ? {} : { bodyKind }), mrConfigId, reportData },
        pck,
      )
      const quote = parseDcapQuote(bytes)
      const options = {
        now,
        collateral: tdxCollateral,
        root: pki.root.pem,
        policy: { initdata: document, reportData },
      }
      const result = verifyDcapQuote(quote, options)
      expect(result.tcb.status).toBe('UpToDate')
      expect(result.claims.init_data).toBe(Buffer.from(mrConfigId).toString('hex'))
      const other = parseInitdata(
        renderInitdata({ algorithm: 'sha384', data: { 'cdh.toml': 'x' } }),
      )
      expect(
        codeOf(() => verifyDcapQuote(quote, { ...options, policy: { initdata: other } })),
      ).toBe('ERR_TDX_INITDATA_MISMATCH')
      const { root: _root, ...production } = options
      expect(codeOf(() => verifyDcapQuote(quote, production))).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
    })
  }

  it('SGX v3: CONFIGID binds the initdata document, only under the trusted test root', () => {
    const configId = bindingFor('sgx', document.algorithm, document.digest).value
    const quote = parseDcapQuote(buildSgxQuote({ configId, reportData }, pck))
    const options = {
      now,
      collateral: sgxCollateral,
      root: pki.root.pem,
      policy: { initdata: document, configId },
    }
    expect(verifyDcapQuote(quote, options).tee).toBe('sgx')
    expect(
      codeOf(() =>
        verifyDcapQuote(quote, { ...options, policy: { configId: new Uint8Array(64) } }),
      ),
    ).toBe('ERR_TDX_CONFIGID_MISMATCH')
    const { root: _root, ...production } = options
    expect(codeOf(() => verifyDcapQuote(quote, production))).toBe('ERR_TDX_PCK_ROOT_UNTRUSTED')
  })

  it('refuses debug TDs by default and tampered quotes always', () => {
    const debug = parseDcapQuote(buildTdxQuote({ tdAttributes: 1n }, pck))
    const options = { now, collateral: tdxCollateral, root: pki.root.pem }
    expect(codeOf(() => verifyDcapQuote(debug, options))).toBe('ERR_TDX_DEBUG')
    expect(codeOf(() => verifyDcapQuote(debug, { ...options, policy: { allowDebug: true } }))).toBe(
      'accepted',
    )
    for (const [corrupt, code] of [
      ['quote-signature', 'ERR_TDX_QUOTE_SIGNATURE'],
      ['qe-report-signature', 'ERR_TDX_QE_REPORT_SIGNATURE'],
      ['qe-report-data', 'ERR_TDX_QE_REPORT_DATA'],
    ] as const) {
      expect(
        codeOf(() =>
          verifyDcapQuote(parseDcapQuote(buildTdxQuote({ corrupt: [corrupt] }, pck)), options),
        ),
        corrupt,
      ).toBe(code)
    }
  })

  it('refuses a TD under profiling (a TUD bit other than DEBUG) by default, as a debug TD', () => {
    const options = { now, collateral: tdxCollateral, root: pki.root.pem }
    // HGS_PLUS_PROF, PERF_PROF, PMT_PROF and the reserved TUD bits 1–3 and 7, each alone.
    for (const bit of [1n, 2n, 3n, 4n, 5n, 6n, 7n]) {
      const quote = parseDcapQuote(buildTdxQuote({ tdAttributes: 0x10000000n | (1n << bit) }, pck))
      expect(
        codeOf(() => verifyDcapQuote(quote, options)),
        `bit ${bit}`,
      ).toBe('ERR_TDX_DEBUG')
      expect(
        codeOf(() => verifyDcapQuote(quote, { ...options, policy: { allowDebug: true } })),
      ).toBe('accepted')
    }
    // Bits outside the TUD group (here ICSSD, bit 16) are not debug.
    const icssd = parseDcapQuote(buildTdxQuote({ tdAttributes: 0x10010000n }, pck))
    expect(codeOf(() => verifyDcapQuote(icssd, options))).toBe('accepted')
  })

  it('refuses an attestation key that is not a P-256 point with a coded error, even when the QE report binds it', () => {
    // Whoever holds a PCK key (here the test PKI's) can sign a QE report binding any 64 bytes.
    const offCurve = new Uint8Array(64).fill(0x22)
    const authData = Uint8Array.from({ length: 32 }, (_, i) => i)
    const binding = new Uint8Array(64)
    binding.set(createHash('sha256').update(offCurve).update(authData).digest())
    const bytes = buildTdxQuote({ qeAuthData: authData, qeReport: { reportData: binding } }, pck)
    // v4: header (48) ‖ body (584) ‖ u32 size ‖ quote signature (64) ‖ attestation key (64).
    bytes.set(offCurve, 48 + 584 + 4 + 64)
    const quote = parseDcapQuote(bytes)
    const options = { now, collateral: tdxCollateral, root: pki.root.pem }
    expect(codeOf(() => verifyDcapQuote(quote, options))).toBe('ERR_TDX_ATTESTATION_KEY_INVALID')
  })

  it('refuses a revoked PCK', () => {
    const revokedPck = pki.issuePck({ ca: 'platform', notBefore, notAfter, serialNumber: 4242n })
    const collateral = parseCollateralJson(
      buildDcapCollateral({
        pki,
        ...window,
        tee: 'tdx',
        pckCrl: {
          thisUpdate: window.issueDate,
          nextUpdate: window.nextUpdate,
          revoked: [{ serialNumber: 4242n, revocationDate: window.issueDate }],
        },
      }),
    )
    expect(
      codeOf(() =>
        verifyDcapQuote(parseDcapQuote(buildTdxQuote({}, revokedPck)), {
          now,
          collateral,
          root: pki.root.pem,
        }),
      ),
    ).toBe('ERR_TDX_PCK_REVOKED')
  })
})
