import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import {
  checkPcsDocumentRoot,
  verifyPcsPckCrl,
  verifyPcsQeIdentity,
  verifyPcsRootCaCrl,
  verifyPcsTcbInfo,
} from './pcs-documents.ts'

const spr = (name: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/tdx/spr-v4/${name}`, import.meta.url))
const tcbChain = encodeURIComponent(spr('tcb-signing-chain.pem').toString())
const crlChain = encodeURIComponent(spr('pck-crl-issuer-chain.pem').toString())
const tcbInfo = { body: spr('tcbinfo-response.json'), issuerChain: tcbChain }
const qeIdentity = { body: spr('qeidentity-response.json'), issuerChain: tcbChain }
const pckCrl = { body: spr('pck-platform-crl.der'), issuerChain: crlChain }

describe('PCS documents checked one by one (no time judged)', () => {
  it("accepts Intel's documents, long past their nextUpdate, and says what each is", () => {
    const info = verifyPcsTcbInfo(tcbInfo)
    expect([info.id, info.fmspc, info.tcbEvaluationDataNumber]).toEqual(['TDX', '50806f000000', 15])
    expect(verifyPcsQeIdentity(qeIdentity).id).toBe('TD_QE')
    expect(verifyPcsPckCrl(pckCrl).ca).toBe('platform')
    expect(verifyPcsRootCaCrl(spr('root-ca-crl.der')).issuerCommonName).toBe('Intel SGX Root CA')
  })

  it('refuses a document whose signed text was changed, or that is signed by no one', () => {
    const altered = spr('tcbinfo-response.json').toString().replace('"UpToDate"', '"OutOfDate"')
    expect(codeOf(() => verifyPcsTcbInfo({ ...tcbInfo, body: altered }))).toBe(
      'ERR_TDX_COLLATERAL_SIGNATURE',
    )
    const forged = `{"enclaveIdentity":{"id":"TD_QE"},"signature":"${'00'.repeat(64)}"}`
    expect(codeOf(() => verifyPcsQeIdentity({ ...qeIdentity, body: forged }))).toBe(
      'ERR_TDX_COLLATERAL_SIGNATURE',
    )
  })

  it('refuses a chain that does not lead to the root, and CRLs their issuer did not sign', () => {
    // The PCK CA's chain for the TCB info: the signer is no TCB Signing certificate.
    expect(codeOf(() => verifyPcsTcbInfo({ ...tcbInfo, issuerChain: crlChain }))).toBe(
      'ERR_TDX_COLLATERAL_CHAIN',
    )
    expect(codeOf(() => verifyPcsRootCaCrl(spr('pck-platform-crl.der')))).toBe(
      'ERR_TDX_CRL_SIGNATURE',
    )
    expect(codeOf(() => verifyPcsPckCrl({ ...pckCrl, body: spr('root-ca-crl.der') }))).toBe(
      'ERR_TDX_CRL_SIGNATURE',
    )
  })

  it('refuses a root that is not self-signed', () => {
    const signer = `${spr('tcb-signing-chain.pem').toString().split('-----END CERTIFICATE-----')[0] ?? ''}-----END CERTIFICATE-----\n`
    expect(
      codeOf(() => {
        checkPcsDocumentRoot(signer)
      }),
    ).toBe('ERR_TDX_ROOT_INVALID')
  })
})
