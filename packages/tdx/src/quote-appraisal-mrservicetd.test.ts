/**
 * MRSERVICETD (TDX 1.5): a TD with a service TD bound (a migration TD, for one) is refused unless
 * the policy names that service TD's hash; a TDX 1.0 quote has none bound.
 */
import { describe, expect, it } from 'vitest'
import { ExpectationError } from '@initguard/core'
import { buildTdxQuote } from '@initguard/tee-simulator'
import { outcome } from '@initguard/testkit'
import { appraiseQuote, type QuoteAppraisalPolicy } from './quote-appraisal.ts'
import { parseDcapQuote, type DcapQuote } from './quote.ts'
import { SYNTHETIC_TIMES, syntheticDcap } from './synthetic-dcap-test-support.ts'
import type { TcbEvaluation } from './tcb-status.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const { now } = SYNTHETIC_TIMES
const synthetic = syntheticDcap()
const { pki, pck } = synthetic
const collateral = synthetic.collateral()
const upToDate = { status: 'UpToDate', advisoryIds: [] } as unknown as TcbEvaluation

const zero = new Uint8Array(48)
const serviceTd = new Uint8Array(48).fill(0x5d)
const td15 = (mrServiceTd: Uint8Array): DcapQuote =>
  parseDcapQuote(buildTdxQuote({ version: 5, mrServiceTd }, pck))
const td10 = parseDcapQuote(buildTdxQuote({ version: 4 }, pck))
const bound = td15(serviceTd)

const verify = (quote: DcapQuote, policy?: QuoteAppraisalPolicy): string =>
  outcome(() =>
    verifyDcapQuote(quote, {
      now,
      collateral,
      root: pki.root.pem,
      ...(policy === undefined ? {} : { policy }),
    }),
  )
const MISMATCH = 'expectation ERR_TDX_MRSERVICETD_MISMATCH'

describe('MRSERVICETD', () => {
  it('refuses a TDX 1.5 quote with a service TD bound when the policy names none (as dcap-qvl does)', () => {
    expect(bound.body.kind === 'td15' && bound.body.mrServiceTd).toEqual(serviceTd)
    expect(verify(bound)).toBe(MISMATCH)
    expect(verify(bound, {})).toBe(MISMATCH)
    expect(verify(bound, { allowDebug: true, allowSwHardeningNeeded: true })).toBe(MISMATCH)
  })

  it('accepts a TDX 1.5 quote with no service TD bound (all zero)', () => {
    expect(verify(td15(zero))).toBe('accepted')
    expect(verify(td15(zero), { mrServiceTd: zero })).toBe('accepted')
  })

  it('accepts the service TD the policy names, exactly', () => {
    expect(verify(bound, { mrServiceTd: serviceTd })).toBe('accepted')
    const other = serviceTd.slice()
    other[47] = 0x5c
    expect(verify(bound, { mrServiceTd: other })).toBe(MISMATCH)
    // A policy naming a service TD refuses a TD that has none bound: exact, not "at most".
    expect(verify(td15(zero), { mrServiceTd: serviceTd })).toBe(MISMATCH)
  })

  it('reads a TDX 1.0 quote as having no service TD bound', () => {
    expect(verify(td10)).toBe('accepted')
    expect(verify(td10, { mrServiceTd: zero })).toBe('accepted')
    expect(verify(td10, { mrServiceTd: serviceTd })).toBe(MISMATCH)
  })

  it('says what is bound, what was expected and which option accepts it', () => {
    const failure = (quote: DcapQuote, policy: QuoteAppraisalPolicy): ExpectationError => {
      try {
        appraiseQuote(quote.body, upToDate, policy)
      } catch (e) {
        if (e instanceof ExpectationError) return e
        throw e
      }
      return expect.unreachable()
    }
    const unnamed = failure(bound, {})
    expect(unnamed.message).toContain(
      `MRSERVICETD is ${'5d'.repeat(48)}, expected ${'00'.repeat(48)}`,
    )
    expect(unnamed.hint).toContain('--expect-mrservicetd')
    const old = failure(td10, { mrServiceTd: serviceTd })
    expect(old.message).toContain('TDX 1.0')
    expect(old.hint).toContain('--expect-mrservicetd')
  })
})
