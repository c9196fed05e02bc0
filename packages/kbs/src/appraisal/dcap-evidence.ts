/**
 * TDX and SGX evidence for the KBS: Trustee's `{quote, cc_eventlog?}` parsed, verified with
 * `verifyDcapQuote` (PCK chain, QE report, quote signature, collateral, CRLs, Intel's TCB status)
 * and its claims under Trustee's names (relying-party.md §2.2–§2.3).
 *
 * The event log is not replayed against RTMR0–3 yet; a workload that pins RTMRs compares the
 * registers themselves, which the quote signs.
 *
 * @module
 */
import { VerificationError } from '@initguard/core'
import {
  parseTrusteeDcapEvidence,
  verifyDcapQuote,
  type QuoteClaims,
  type QuoteVerifierCache,
} from '@initguard/tdx'
import type { DcapCollateralSource } from './dcap-collateral-source.ts'
import type { VerifiedSgxEvidence, VerifiedTdxEvidence } from './verified-evidence.ts'

/** Debug and the accepted statuses are the workload's to decide: verification accepts them all. */
const VERIFY_ONLY = {
  allowDebug: true,
  allowSwHardeningNeeded: true,
  allowConfigurationNeeded: true,
} as const

/** MRSERVICETD when no service TD is bound, and for a TDX 1.0 quote, which has none. */
const NO_SERVICE_TD = new Uint8Array(48)

/**
 * Trustee's claims for the TEE: TDX keeps `quote.header` / `quote.body`, SGX has `header` /
 * `body` at the top; `tee`, `init_data` and `report_data` move to the token's top level.
 */
export function trusteeDcapClaims(claims: QuoteClaims): Record<string, unknown> {
  const { tee, init_data: _initData, report_data: _reportData, ...rest } = claims
  if (tee === 'tdx') return rest
  const { quote, ...others } = rest
  return { ...(quote as Record<string, unknown>), ...others }
}

/**
 * Verify Trustee TDX/SGX evidence JSON as evidence of `tee` at `now`.
 *
 * @throws `ERR_KBS_EVIDENCE_TEE_MISMATCH` when the quote is of the other TEE; the DCAP verifier's
 *   coded errors; `ERR_KBS_COLLATERAL_MISSING` and `ERR_PCS_…` for collateral.
 */
export async function verifyTrusteeDcapEvidence(
  tee: 'tdx' | 'sgx',
  json: unknown,
  now: Date,
  source: DcapCollateralSource,
  cache: QuoteVerifierCache,
): Promise<VerifiedTdxEvidence | VerifiedSgxEvidence> {
  const { quote } = parseTrusteeDcapEvidence(json)
  const body = quote.body
  const actual = body.kind === 'sgx' ? 'sgx' : 'tdx'
  if (actual !== tee) {
    throw new VerificationError(
      'ERR_KBS_EVIDENCE_TEE_MISMATCH',
      `the session is for ${tee.toUpperCase()}, but the evidence is ${actual.toUpperCase()} quote`,
      { hint: `start the handshake with "tee": "${actual}"` },
    )
  }
  const selected = await source.select(quote, tee, now)
  // MRSERVICETD is the workload's to decide too (tdx.mrServiceTd): verification is given the
  // quote's own value, as it is given allowDebug, so the library's all-zero default does not
  // refuse a service TD the workload names.
  const policy =
    body.kind === 'td15' ? { ...VERIFY_ONLY, mrServiceTd: body.mrServiceTd } : VERIFY_ONLY
  const result = verifyDcapQuote(quote, {
    now,
    collateral: selected.collateral,
    policy,
    cache,
    ...(selected.root === undefined ? {} : { root: selected.root }),
  })
  const base = {
    simulated: selected.simulated,
    claims: trusteeDcapClaims(result.claims),
    anchor: result.anchor,
    warnings: result.warnings,
    tcbStatus: result.tcb.status,
  }
  if (body.kind === 'sgx') {
    return {
      ...base,
      tee: 'sgx',
      reportData: body.reportData,
      initDataField: body.configId,
      initDataFieldName: 'CONFIGID',
      mrEnclave: body.mrEnclave,
      mrSigner: body.mrSigner,
      isvProdId: body.isvProdId,
      isvSvn: body.isvSvn,
      debug: body.attributes.debug,
    }
  }
  const [rtmr0, rtmr1, rtmr2, rtmr3] = body.rtmrs
  return {
    ...base,
    tee: 'tdx',
    reportData: body.reportData,
    initDataField: body.mrConfigId,
    initDataFieldName: 'MRCONFIGID',
    mrTd: body.mrTd,
    rtmrs: [rtmr0, rtmr1, rtmr2, rtmr3],
    mrServiceTd: body.kind === 'td15' ? body.mrServiceTd : NO_SERVICE_TD,
    // The whole TUD group (TDATTRIBUTES bits 7:0), not DEBUG alone: profiling makes a TD untrusted.
    debug: body.tdAttributes.underDebug,
    migration: body.tdAttributes.migratable,
  }
}
