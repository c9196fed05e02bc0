import { generateKeyPairSync, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { hexToBytes } from '@initguard/core'
import { parseCollateralJson, parseDcapQuote, parseX509Crl, verifyCollateral } from '@initguard/tdx'
// verifyDcapQuote is not exported from @initguard/tdx's index yet.
import { verifyDcapQuote } from '../../tdx/src/verify-quote.ts'
import type { QuoteVerification, QuoteVerifyOptions } from '../../tdx/src/verify-quote.ts'
import { buildDcapCollateral, signCollateralText } from './dcap-collateral-builder.ts'
import type { DcapCollateralOptions } from './dcap-collateral-builder.ts'
import { defaultTcbInfoFields } from './dcap-collateral-json.ts'
import { buildSgxQuote, buildTdxQuote } from './dcap-quote-builder.ts'
import { createIntelTestPki } from './intel-pki.ts'
import {
  ISSUE_DATE,
  NEXT_UPDATE,
  NOW,
  PCK_NOT_AFTER,
  pemBlocks,
  PKI_NOT_AFTER,
  PKI_NOT_BEFORE,
  thrown,
} from './intel-test-support.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const pki = createIntelTestPki({ notBefore: PKI_NOT_BEFORE, notAfter: PKI_NOT_AFTER })
const validity = { notBefore: PKI_NOT_BEFORE, notAfter: PCK_NOT_AFTER }
const pck = pki.issuePck({ ca: 'platform', ...validity })
const tdxQuote = buildTdxQuote({}, pck)
const base: DcapCollateralOptions = { pki, issueDate: ISSUE_DATE, nextUpdate: NEXT_UPDATE }

/** The collateral document's fields (all strings). */
interface CollateralDocument {
  readonly pck_crl_issuer_chain: string
  readonly root_ca_crl: string
  readonly pck_crl: string
  readonly tcb_info_issuer_chain: string
  readonly tcb_info: string
  readonly tcb_info_signature: string
  readonly qe_identity_issuer_chain: string
  readonly qe_identity: string
  readonly qe_identity_signature: string
}

function build(options: Partial<DcapCollateralOptions> = {}): string {
  return buildDcapCollateral({ ...base, ...options })
}

function verifyWith(
  text: string,
  quote: Uint8Array = tdxQuote,
  options: Partial<QuoteVerifyOptions> = {},
): QuoteVerification {
  return verifyDcapQuote(parseDcapQuote(quote), {
    now: NOW,
    collateral: parseCollateralJson(text),
    root: pki.root.pem,
    ...options,
  })
}

describe('buildDcapCollateral: the document', () => {
  it("has the vectors' shape: the same keys in the same order, indented the same way", () => {
    const real = readFileSync(new URL('tdx/v4-b/collateral.json', VECTORS), 'utf8')
    const text = build()
    expect(Object.keys(JSON.parse(text) as object)).toEqual(Object.keys(JSON.parse(real) as object))
    expect(text.slice(0, 27)).toBe(real.slice(0, 27))
    expect(text.endsWith('"\n}')).toBe(real.endsWith('"\n}'))
    const doc = JSON.parse(text) as CollateralDocument
    expect(doc.tcb_info).toBe(JSON.stringify(JSON.parse(doc.tcb_info)))
    expect(doc.tcb_info_signature).toMatch(/^[0-9a-f]{128}$/)
    expect(doc.qe_identity_signature).toMatch(/^[0-9a-f]{128}$/)
    expect(pemBlocks(doc.tcb_info_issuer_chain)).toEqual([pki.tcbSigning.pem, pki.root.pem])
    expect(doc.qe_identity_issuer_chain).toBe(doc.tcb_info_issuer_chain)
    expect(doc.pck_crl_issuer_chain).toBe(pki.platformCa.pem + pki.root.pem)
  })

  it('signs the exact texts with the TCB Signing key (r‖s over the UTF-8 bytes)', () => {
    const collateral = parseCollateralJson(build())
    const p1363 = { key: pki.tcbSigning.publicKey, dsaEncoding: 'ieee-p1363' } as const
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
    expect(verify('sha256', bytes(collateral.tcbInfo), p1363, collateral.tcbInfoSignature)).toBe(
      true,
    )
    expect(
      verify('sha256', bytes(collateral.qeIdentity), p1363, collateral.qeIdentitySignature),
    ).toBe(true)
    expect(signCollateralText('{}', pki.tcbSigning.privateKey)).toHaveLength(64)
  })

  it('verifies with @initguard/tdx under the test root, and is refused under Intel root', () => {
    for (const tee of ['tdx', 'sgx'] as const) {
      for (const ca of ['platform', 'processor'] as const) {
        const collateral = parseCollateralJson(build({ tee, ca }))
        const verified = verifyCollateral(collateral, { now: NOW, root: pki.root.pem })
        expect(verified.tcbInfo.id).toBe(tee === 'tdx' ? 'TDX' : 'SGX')
        expect(verified.qeIdentity.id).toBe(tee === 'tdx' ? 'TD_QE' : 'QE')
        expect(verified.pckCaKind).toBe(ca)
        expect(verified.validFrom).toEqual(ISSUE_DATE)
        expect(verified.validUntil).toEqual(NEXT_UPDATE)
        expect(thrown(() => verifyCollateral(collateral, { now: NOW })).code).toBe(
          'ERR_TDX_COLLATERAL_ROOT_UNTRUSTED',
        )
      }
    }
  })

  it('can leave the root out of the issuer chains', () => {
    const text = build({ includeRoot: false })
    const doc = JSON.parse(text) as CollateralDocument
    expect(doc.tcb_info_issuer_chain).toBe(pki.tcbSigning.pem)
    expect(verifyWith(text).tcb.status).toBe('UpToDate')
  })

  it('windows the documents and both CRLs on issueDate … nextUpdate', () => {
    const collateral = parseCollateralJson(build())
    for (const crl of [collateral.rootCaCrl, collateral.pckCrl]) {
      const parsed = parseX509Crl(crl, 'CRL')
      expect(parsed.thisUpdate).toEqual(ISSUE_DATE)
      expect(parsed.nextUpdate).toEqual(NEXT_UPDATE)
    }
    const late = new Date(NEXT_UPDATE.getTime() + 1000)
    expect(thrown(() => verifyWith(build(), tdxQuote, { now: late })).code).toBe(
      'ERR_TDX_COLLATERAL_EXPIRED',
    )
    const longCrl = build({ rootCaCrl: { nextUpdate: PKI_NOT_AFTER } })
    const rootCrl = parseX509Crl(parseCollateralJson(longCrl).rootCaCrl, 'Root CA CRL')
    expect(rootCrl.nextUpdate).toEqual(PKI_NOT_AFTER)
  })
})

describe('buildDcapCollateral: TCB outcomes with the default quotes', () => {
  it('UpToDate for the default TDX and SGX quotes', () => {
    expect(verifyWith(build()).tcb.status).toBe('UpToDate')
    const sgx = buildSgxQuote({}, pki.issuePck({ ca: 'processor', ...validity }))
    expect(verifyWith(build({ tee: 'sgx', ca: 'processor' }), sgx).tcb.status).toBe('UpToDate')
    // The TEE follows tcbInfo.id when not given.
    const bySgxId = build({ tcbInfo: { id: 'SGX' }, ca: 'processor' })
    expect(verifyWith(bySgxId, sgx).tcb.status).toBe('UpToDate')
  })

  it('other statuses and advisories from chosen TCB levels', () => {
    const levels = defaultTcbInfoFields('tdx', ISSUE_DATE, NEXT_UPDATE).tcbLevels
    const [top, old] = levels
    if (top === undefined || old === undefined) throw new Error('two default levels')
    const text = build({
      tcbInfo: {
        tcbLevels: [
          { ...top, pceSvn: 12 },
          { ...top, tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] },
          old,
        ],
      },
    })
    const refused = thrown(() => verifyWith(text))
    expect(refused.code).toBe('ERR_TDX_TCB_STATUS')
    expect(refused.details['tcbStatus']).toBe('SWHardeningNeeded')
    const accepted = verifyWith(text, tdxQuote, { policy: { allowSwHardeningNeeded: true } })
    expect(accepted.tcb.status).toBe('SWHardeningNeeded')
    expect(accepted.tcb.advisoryIds).toEqual(['INTEL-SA-00615'])
    // Above every level: no level matches.
    const none = build({ tcbInfo: { tcbLevels: [{ ...top, pceSvn: 99 }] } })
    expect(thrown(() => verifyWith(none)).code).toBe('ERR_TDX_TCB_NOT_SUPPORTED')
  })

  it('an out-of-date QE from the QE identity levels', () => {
    const text = build({
      qeIdentity: {
        tcbLevels: [
          { isvSvn: 5, tcbDate: ISSUE_DATE, tcbStatus: 'UpToDate' },
          { isvSvn: 1, tcbDate: ISSUE_DATE, tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-1'] },
        ],
      },
    })
    const e = thrown(() => verifyWith(text))
    expect(e.details['tcbStatus']).toBe('OutOfDate')
    expect(e.details['advisories']).toEqual(['INTEL-SA-1'])
  })

  it('mismatches: FMSPC and module signer', () => {
    const fmspc = build({ tcbInfo: { fmspc: Uint8Array.of(0, 0x90, 0x6e, 0xd5, 0, 0) } })
    expect(thrown(() => verifyWith(fmspc)).code).toBe('ERR_TDX_TCB_INFO_MISMATCH')
    const lower = build({ tcbInfo: { fmspc: 'b0c06f000000' } })
    expect(verifyWith(lower).tcb.status).toBe('UpToDate')
    const signer = build({ tcbInfo: { tdxModuleIdentities: [] } })
    expect(thrown(() => verifyWith(signer)).code).toBe('ERR_TDX_MODULE_MISMATCH')
    expect(thrown(() => verifyWith(build({ tee: 'sgx' }))).code).toBe('ERR_TDX_COLLATERAL_MISMATCH')
  })
})

describe('buildDcapCollateral: negative tests', () => {
  it('broken or foreign signatures', () => {
    const code = (options: Partial<DcapCollateralOptions>): string =>
      thrown(() => verifyWith(build(options))).code
    expect(code({ corrupt: ['tcb-info-signature'] })).toBe('ERR_TDX_COLLATERAL_SIGNATURE')
    expect(code({ corrupt: ['qe-identity-signature'] })).toBe('ERR_TDX_COLLATERAL_SIGNATURE')
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    expect(code({ signingKey: other.privateKey })).toBe('ERR_TDX_COLLATERAL_SIGNATURE')
    expect(code({ pckCrl: { issuerPrivateKey: other.privateKey } })).toBe('ERR_TDX_CRL_SIGNATURE')
  })

  it('revocations: the PCK, its CA, the TCB Signing certificate', () => {
    const code = (options: Partial<DcapCollateralOptions>): string =>
      thrown(() => verifyWith(build(options))).code
    expect(code({ pckCrl: { revoked: [pck.serialNumber] } })).toBe('ERR_TDX_PCK_REVOKED')
    expect(code({ rootCaCrl: { revoked: [pki.platformCa.serialNumber] } })).toBe(
      'ERR_TDX_COLLATERAL_REVOKED',
    )
    expect(code({ rootCaCrl: { revoked: [pki.tcbSigning.serialNumber] } })).toBe(
      'ERR_TDX_COLLATERAL_REVOKED',
    )
    expect(code({ ca: 'processor' })).toBe('ERR_TDX_PCK_CRL_ISSUER')
    const unrelated = build({ pckCrl: { revoked: [1n, 2n] } })
    expect(verifyWith(unrelated).tcb.status).toBe('UpToDate')
  })

  it('includes exact texts as given (signed as they are)', () => {
    const tcbInfoText = ' {"id":"TDX"} '
    const doc = JSON.parse(build({ tcbInfoText })) as CollateralDocument
    expect(doc.tcb_info).toBe(tcbInfoText)
    const signature = hexToBytes(doc.tcb_info_signature)
    const p1363 = { key: pki.tcbSigning.publicKey, dsaEncoding: 'ieee-p1363' } as const
    expect(verify('sha256', new TextEncoder().encode(tcbInfoText), p1363, signature)).toBe(true)
    expect(thrown(() => verifyWith(JSON.stringify(doc))).code).toBe('ERR_TDX_TCB_INFO_INVALID')
    const qe = build({ qeIdentityText: '{"id":"TD_QE","version":3}' })
    expect(thrown(() => verifyWith(qe)).code).toBe('ERR_TDX_QE_IDENTITY_INVALID')
  })
})
