/**
 * The verifier cache answers only for exactly the bytes it verified, and only while `now` is inside
 * the window in which they verified: a warm cache never accepts what a cold one refuses.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { trustedRoot } from './collateral-chain.ts'
import { parseCollateralJson } from './collateral.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'
import { parseDcapQuote } from './quote.ts'
import { QuoteVerifierCache } from './quote-verifier-cache.ts'
import { evaluateTcbStatus, type TcbEvaluation } from './tcb-status.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const vector = (path: string): Uint8Array =>
  new Uint8Array(
    readFileSync(new URL(`../../../testdata/vectors/tdx/v4-b/${path}`, import.meta.url)),
  )
const quoteBytes = vector('quote.dat')
const quote = parseDcapQuote(quoteBytes)
const V4B_COLLATERAL = parseCollateralJson(vector('collateral.json'))
const certification = quote.signatureData.pckCertification
if (certification.kind !== 'pck-cert-chain') throw new Error('v4-b embeds its PCK chain')
const ders = certification.certificates.map((c) => c.der)
const root = trustedRoot(INTEL_SGX_ROOT_CA_PEM)
const now = new Date('2025-07-01T00:00:00Z')

describe('QuoteVerifierCache.pckChain', () => {
  it('verifies a chain once and answers the same bytes from the cache', () => {
    const cache = new QuoteVerifierCache()
    const chain = cache.pckChain(ders, root, now)
    expect(
      cache.pckChain(
        ders.map((d) => d.slice()),
        root,
        now,
      ),
    ).toBe(chain)
  })

  it('refuses a changed byte in any certificate after the chain is cached', () => {
    const cache = new QuoteVerifierCache()
    cache.pckChain(ders, root, now)
    for (const [i, der] of ders.entries()) {
      // A byte inside the signed part (TBSCertificate) of each certificate.
      const changed = der.slice()
      changed[40] = (changed[40] ?? 0) ^ 1
      const chain = ders.map((d, j) => (j === i ? changed : d))
      expect(codeOf(() => cache.pckChain(chain, root, now))).toMatch(/^ERR_(TDX|DER)_/)
    }
  })

  it('does not take the same bytes cut differently for the cached chain', () => {
    const cache = new QuoteVerifierCache()
    cache.pckChain(ders, root, now)
    const [pck, ...rest] = ders
    if (pck === undefined) throw new Error('no PCK')
    const joined = new Uint8Array([...pck, ...(rest[0] ?? [])])
    expect(codeOf(() => cache.pckChain([joined, ...rest.slice(1)], root, now))).toMatch(
      /^ERR_(TDX|DER)_/,
    )
  })

  it('verifies again, and refuses, at a time outside the window the cached chain holds for', () => {
    const cache = new QuoteVerifierCache()
    cache.pckChain(ders, root, now)
    expect(codeOf(() => cache.pckChain(ders, root, new Date('2099-01-01T00:00:00Z')))).toBe(
      'ERR_TDX_CERT_EXPIRED',
    )
    expect(codeOf(() => cache.pckChain(ders, root, new Date('2000-01-01T00:00:00Z')))).toBe(
      'ERR_TDX_CERT_NOT_YET_VALID',
    )
  })

  it('imports an attestation key once per distinct key', () => {
    const cache = new QuoteVerifierCache()
    const raw = quote.signatureData.attestationKey
    const key = cache.attestationKey(raw)
    expect(cache.attestationKey(raw.slice())).toBe(key)
    const other = raw.slice()
    other[63] = (other[63] ?? 0) ^ 1
    expect(codeOf(() => cache.attestationKey(other))).toBe('ERR_TDX_ATTESTATION_KEY_INVALID')
  })

  it('evaluates the TCB once per collateral, chain and TCB bytes, and shares the result frozen', () => {
    const cache = new QuoteVerifierCache()
    const collateral = cache.verifiedCollateral(V4B_COLLATERAL, root, now)
    const chain = cache.pckChain(ders, root, now)
    let runs = 0
    const evaluate = () => {
      runs += 1
      const qe = quote.signatureData.qeReport
      return evaluateTcbStatus(collateral, {
        pck: chain.info.sgx.tcb,
        td: { teeTcbSvn: new Uint8Array(16), mrSignerSeam: new Uint8Array(48), seamAttributes: 0n },
        qe: { ...qe, attributes: qe.raw.subarray(0x30, 0x40) },
      })
    }
    const first = cache.tcbEvaluation(collateral, chain, quote, evaluate)
    expect(cache.tcbEvaluation(collateral, chain, quote, evaluate)).toBe(first)
    expect(runs).toBe(1)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.advisoryIds)).toBe(true)
    // A TD report with another TEE_TCB_SVN, or a QE report with another byte, is evaluated anew.
    const bytes = Uint8Array.from(quoteBytes)
    bytes[48] = (bytes[48] ?? 0) ^ 1
    cache.tcbEvaluation(collateral, chain, parseDcapQuote(bytes), evaluate)
    expect(runs).toBe(2)
    const qeAt = quote.signatureData.qeReport.raw.byteOffset - quote.raw.byteOffset
    const qeChanged = Uint8Array.from(quoteBytes)
    qeChanged[qeAt + 0x10] = (qeChanged[qeAt + 0x10] ?? 0) ^ 1
    cache.tcbEvaluation(collateral, chain, parseDcapQuote(qeChanged), evaluate)
    expect(runs).toBe(3)
    // The same bytes with another collateral object are evaluated anew.
    const other = new QuoteVerifierCache().verifiedCollateral(V4B_COLLATERAL, root, now)
    cache.tcbEvaluation(other, chain, quote, evaluate)
    expect(runs).toBe(4)
  })

  it('keeps at most 64 TCB evaluations per collateral and chain, and tells SGX from TD bodies', () => {
    const cache = new QuoteVerifierCache()
    const collateral = cache.verifiedCollateral(V4B_COLLATERAL, root, now)
    const chain = cache.pckChain(ders, root, now)
    // What is evaluated does not matter here, only how often: a fresh copy of a real evaluation.
    const real = verifyDcapQuote(quote, { now, collateral: V4B_COLLATERAL }).tcb
    let runs = 0
    const evaluate = (): TcbEvaluation => {
      runs += 1
      return structuredClone(real)
    }
    // 65 quotes that differ in TEE_TCB_SVN: the first is evicted by the last.
    const variant = (i: number) => {
      const bytes = Uint8Array.from(quoteBytes)
      bytes[48] = i
      bytes[49] = 0x5a
      return parseDcapQuote(bytes)
    }
    const quotes = Array.from({ length: 65 }, (_, i) => variant(i))
    for (const q of quotes) cache.tcbEvaluation(collateral, chain, q, evaluate)
    expect(runs).toBe(65)
    cache.tcbEvaluation(collateral, chain, quotes[64] ?? quote, evaluate)
    cache.tcbEvaluation(collateral, chain, quotes[1] ?? quote, evaluate)
    expect(runs).toBe(65)
    cache.tcbEvaluation(collateral, chain, quotes[0] ?? quote, evaluate)
    expect(runs).toBe(66)
    // An SGX body with the same QE report is not the TD body's evaluation (no TD bytes at all).
    const sgx = { ...quote, body: { ...quote.body, kind: 'sgx' } } as unknown as typeof quote
    cache.tcbEvaluation(collateral, chain, quote, evaluate)
    const before = runs
    cache.tcbEvaluation(collateral, chain, sgx, evaluate)
    expect(runs).toBe(before + 1)
  })

  it('runs a pair check once per collateral and chain, and again after it threw', () => {
    const cache = new QuoteVerifierCache()
    const collateral = cache.verifiedCollateral(V4B_COLLATERAL, root, now)
    const chain = cache.pckChain(ders, root, now)
    let runs = 0
    const refuse = () => {
      runs += 1
      throw new Error('revoked')
    }
    expect(() => {
      cache.checkPair(collateral, chain, refuse)
    }).toThrow('revoked')
    expect(() => {
      cache.checkPair(collateral, chain, refuse)
    }).toThrow('revoked')
    expect(runs).toBe(2)
    const pass = () => {
      runs += 1
    }
    cache.checkPair(collateral, chain, pass)
    cache.checkPair(collateral, chain, pass)
    expect(runs).toBe(3)
    const other = new QuoteVerifierCache().verifiedCollateral(V4B_COLLATERAL, root, now)
    cache.checkPair(other, chain, pass)
    expect(runs).toBe(4)
  })

  it('finds an embedded chain by its PEM bytes, verified from those bytes alone', () => {
    const cache = new QuoteVerifierCache()
    const chain = cache.embeddedPckChain(certification, root, now)
    expect(chain.pck.der).toEqual(ders[0])
    expect(
      cache.embeddedPckChain({ ...certification, data: certification.data.slice() }, root, now),
    ).toBe(chain)
    // An object whose certificates disagree with its bytes is verified by its bytes.
    const lying = { ...certification, certificates: [] }
    expect(new QuoteVerifierCache().embeddedPckChain(lying, root, now).pck.der).toEqual(ders[0])
    // Other bytes are another key: a changed byte in a certificate's base64 is refused.
    const changed = certification.data.slice()
    const at = changed.indexOf(0x0a) + 100
    changed[at] = changed[at] === 0x41 ? 0x42 : 0x41
    expect(
      codeOf(() => cache.embeddedPckChain({ ...certification, data: changed }, root, now)),
    ).toMatch(/^ERR_/)
  })
})
