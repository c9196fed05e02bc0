// Parsing: DCAP quotes (SGX v3, SGX/TDX v4 and v5), their bodies and signature data, the
// TDREPORT, bitfields, and the SGX extension of PCK certificates.
export { parseDcapQuote, DCAP_QUOTE_BODY_TYPE } from './quote.ts'
export type { DcapQuote, DcapQuoteBody, DcapQuoteBodyDescriptor, SgxQuoteBody } from './quote.ts'
export {
  parseDcapQuoteHeader,
  DCAP_QUOTE_HEADER_SIZE,
  DCAP_TEE_TYPE_SGX,
  DCAP_TEE_TYPE_TDX,
  DCAP_ATTESTATION_KEY_ECDSA_P256,
  INTEL_QE_VENDOR_ID,
} from './quote-header.ts'
export type { DcapQuoteHeader, DcapTee } from './quote-header.ts'
export {
  parseTdQuoteBody,
  TD_REPORT_BODY_10_SIZE,
  TD_REPORT_BODY_15_SIZE,
} from './td-quote-body.ts'
export type {
  TdQuoteBody,
  TdQuoteBody10,
  TdQuoteBody15,
  TdQuoteBodyFields,
  TdQuoteBodyKind,
} from './td-quote-body.ts'
export { parseSgxEnclaveReport, SGX_REPORT_BODY_SIZE } from './enclave-report.ts'
export type { SgxEnclaveReport } from './enclave-report.ts'
export type {
  QuoteSignatureData,
  QuoteSignatureLayout,
  QeReportCertificationData,
  CertificationData,
} from './quote-signature.ts'
export { parsePckCertChainPem, CERTIFICATION_DATA_TYPE } from './certification-data.ts'
export type {
  PckCertificationData,
  PckCertChainData,
  UnresolvedCertificationData,
  UnresolvedCertificationDataType,
  PemCertificate,
} from './certification-data.ts'
export { decodeTdAttributes, decodeXsaveFeatures, decodeSgxAttributes } from './attributes.ts'
export type { TdAttributes, XsaveFeatures, SgxAttributes } from './attributes.ts'
export { parseTdReport, TDREPORT_SIZE, TDREPORT_TYPE_TDX } from './tdreport.ts'
export type { TdReport, TdReportType, TdReportTeeTcbInfo, TdReportTdInfo } from './tdreport.ts'
export type { TdMeasurements } from './td-measurements.ts'
export {
  parsePckCertificate,
  parseSgxPckExtensions,
  classifyPckIssuer,
  SGX_EXTENSION_OID,
  PCK_PLATFORM_CA_CN,
  PCK_PROCESSOR_CA_CN,
} from './pck-extensions.ts'
export type {
  PckCertificateInfo,
  PckIssuerCa,
  SgxPckExtensions,
  SgxPckTcb,
  SgxPlatformConfiguration,
  SgxType,
} from './pck-extensions.ts'
export {
  INTEL_SGX_ROOT_CA_PEM,
  INTEL_SGX_ROOT_CA_SHA256,
  INTEL_PRODUCTION_ANCHOR,
} from './intel-roots.ts'
export type { IntelTrustAnchor } from './intel-roots.ts'
export {
  ECDSA_WITH_SHA256,
  serialKey,
  parseCollateralCertificate,
  parseCollateralCertificates,
} from './collateral-certs.ts'
export type { CollateralCertificate } from './collateral-certs.ts'
export { parseX509Crl, isSerialRevoked, verifyCrlSignature } from './crl.ts'
export type { X509Crl } from './crl.ts'
export { TCB_LEVEL_STATUSES, compareTcbLevels, parseTcbInfo } from './tcb-info.ts'
export type {
  TcbLevelStatus,
  TdxModuleTcbStatus,
  TcbLevel,
  TdxModule,
  TdxModuleTcbLevel,
  TdxModuleIdentity,
  TcbInfo,
} from './tcb-info.ts'
export { parseQeIdentity } from './qe-identity.ts'
export type { QeIdentityTcbStatus, QeTcbLevel, QeIdentity } from './qe-identity.ts'
export { parseCollateralJson, collateralToJson, collateralDigest } from './collateral.ts'
export type { DcapCollateral } from './collateral.ts'
export {
  PCS_ISSUER_CHAIN_HEADERS,
  parsePcsTcbInfoResponse,
  parsePcsQeIdentityResponse,
  decodeIssuerChainHeader,
  collateralFromPcs,
} from './pcs-response.ts'
export type { PcsSignedJson, PcsResponse, PcsCollateralResponses } from './pcs-response.ts'
export { CollateralCache, verifyCollateral } from './collateral-verify.ts'
export type { VerifyCollateralOptions, VerifiedCollateral } from './collateral-verify.ts'
export { evaluateTdxModule, evaluateQeIdentity } from './tcb-identity.ts'
export type {
  QeTcbStatus,
  TdxModuleStatus,
  TdReportTcb,
  QeReportTcb,
  TdxModuleEvaluation,
  QeEvaluation,
} from './tcb-identity.ts'
export {
  matchSgxTcbLevel,
  matchTdxTcbLevel,
  convergeTcbStatus,
  evaluateTcbStatus,
} from './tcb-status.ts'
export type { TcbStatus, PckTcb, TcbStatusInput, TcbEvaluation } from './tcb-status.ts'

// Verification: the PCK chain, the quote pipeline, appraisal and claims; evidence forms.
export { PCK_CERTIFICATE_CN, verifyPckChain } from './pck-chain.ts'
export type { VerifiedPckChain } from './pck-chain.ts'
export { QuoteVerifierCache, verifyDcapQuote } from './verify-quote.ts'
export type { QuoteVerification, QuoteVerifyOptions } from './verify-quote.ts'
export {
  acceptedStatuses,
  appraiseQuote,
  checkQuoteAppraisalPolicy,
  quoteAppraisalFailures,
} from './quote-appraisal.ts'
export type { QuoteAppraisalPolicy } from './quote-appraisal.ts'
export { quoteBodyClaims, quoteClaims } from './quote-claims.ts'
export type { QuoteClaims } from './quote-claims.ts'
export {
  looksLikeDcapQuote,
  parseDcapEvidence,
  parseTrusteeDcapEvidence,
} from './evidence-format.ts'
export type { DcapEvidence, DcapEvidenceFormat } from './evidence-format.ts'
