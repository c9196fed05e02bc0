/**
 * `@initguard/tdx/parsers`: the parsers alone, without the verifier. A guest that only reads
 * its own quote or report (the agent, the TEE simulator) loads a few modules instead of the whole
 * verification stack, which its cold start pays for (`npm run bench`, "agent cold start").
 *
 * @module
 */
export { parseDcapQuote } from './quote.ts'
export type { DcapQuote } from './quote.ts'
export { parseSgxEnclaveReport, SGX_REPORT_BODY_SIZE } from './enclave-report.ts'
export type { SgxEnclaveReport } from './enclave-report.ts'
export { parseTrusteeDcapEvidence } from './evidence-format.ts'
export type { DcapEvidence } from './evidence-format.ts'
export { parseCollateralJson } from './collateral.ts'
export {
  DCAP_QUOTE_HEADER_LAYOUT,
  SGX_REPORT_LAYOUT,
  TD_REPORT_BODY_15_LAYOUT,
  TD_REPORT_BODY_LAYOUT,
  type LayoutField,
  type StructLayout,
} from './report-layouts.ts'
export type { DcapCollateral } from './collateral.ts'
