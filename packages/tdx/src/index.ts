// Parsing: DCAP quotes (SGX v3, SGX/TDX v4 and v5), their bodies and signature data, the
// TDREPORT, bitfields, and the SGX extension of PCK certificates.
export {
  parseDcapQuote,
  DCAP_QUOTE_BODY_TYPE,
  type DcapQuote,
  type DcapQuoteBody,
  type DcapQuoteBodyDescriptor,
  type SgxQuoteBody,
} from './quote.ts'
export {
  parseDcapQuoteHeader,
  DCAP_QUOTE_HEADER_SIZE,
  DCAP_TEE_TYPE_SGX,
  DCAP_TEE_TYPE_TDX,
  DCAP_ATTESTATION_KEY_ECDSA_P256,
  INTEL_QE_VENDOR_ID,
  type DcapQuoteHeader,
  type DcapTee,
} from './quote-header.ts'
export {
  parseTdQuoteBody,
  TD_REPORT_BODY_10_SIZE,
  TD_REPORT_BODY_15_SIZE,
  type TdQuoteBody,
  type TdQuoteBody10,
  type TdQuoteBody15,
  type TdQuoteBodyFields,
  type TdQuoteBodyKind,
} from './td-quote-body.ts'
export {
  parseSgxEnclaveReport,
  SGX_REPORT_BODY_SIZE,
  type SgxEnclaveReport,
} from './enclave-report.ts'
export {
  DCAP_QUOTE_HEADER_LAYOUT,
  SGX_REPORT_LAYOUT,
  TD_MEASUREMENTS_LAYOUT,
  TD_REPORT_BODY_LAYOUT,
  TD_REPORT_BODY_15_LAYOUT,
  type LayoutField,
  type LayoutFieldType,
  type StructLayout,
} from './report-layouts.ts'
export type {
  QuoteSignatureData,
  QuoteSignatureLayout,
  QeReportCertificationData,
  CertificationData,
} from './quote-signature.ts'
export {
  parsePckCertChainPem,
  CERTIFICATION_DATA_TYPE,
  type PckCertificationData,
  type PckCertChainData,
  type UnresolvedCertificationData,
  type UnresolvedCertificationDataType,
  type PemCertificate,
} from './certification-data.ts'
export {
  decodeTdAttributes,
  decodeXsaveFeatures,
  decodeSgxAttributes,
  type TdAttributes,
  type XsaveFeatures,
  type SgxAttributes,
} from './attributes.ts'
export {
  parseTdReport,
  TDREPORT_SIZE,
  TDREPORT_TYPE_TDX,
  type TdReport,
  type TdReportType,
  type TdReportTeeTcbInfo,
  type TdReportTdInfo,
} from './tdreport.ts'
export type { TdMeasurements } from './td-measurements.ts'
export {
  parsePckCertificate,
  parseSgxPckExtensions,
  classifyPckIssuer,
  SGX_EXTENSION_OID,
  PCK_PLATFORM_CA_CN,
  PCK_PROCESSOR_CA_CN,
  type PckCertificateInfo,
  type PckIssuerCa,
  type SgxPckExtensions,
  type SgxPckTcb,
  type SgxPlatformConfiguration,
  type SgxType,
} from './pck-extensions.ts'
export {
  INTEL_SGX_ROOT_CA_PEM,
  INTEL_SGX_ROOT_CA_SHA256,
  INTEL_PRODUCTION_ANCHOR,
  type IntelTrustAnchor,
} from './intel-roots.ts'
export {
  ECDSA_WITH_SHA256,
  serialKey,
  parseCollateralCertificate,
  parseCollateralCertificates,
  type CollateralCertificate,
} from './collateral-certs.ts'
export { parseX509Crl, isSerialRevoked, verifyCrlSignature, type X509Crl } from './crl.ts'
export {
  TCB_LEVEL_STATUSES,
  compareTcbLevels,
  parseTcbInfo,
  type TcbLevelStatus,
  type TdxModuleTcbStatus,
  type TcbLevel,
  type TdxModule,
  type TdxModuleTcbLevel,
  type TdxModuleIdentity,
  type TcbInfo,
} from './tcb-info.ts'
export {
  parseQeIdentity,
  type QeIdentityTcbStatus,
  type QeTcbLevel,
  type QeIdentity,
} from './qe-identity.ts'
export {
  parseCollateralJson,
  collateralToJson,
  collateralDigest,
  type DcapCollateral,
} from './collateral.ts'
export {
  PCS_ISSUER_CHAIN_HEADERS,
  parsePcsTcbInfoResponse,
  parsePcsQeIdentityResponse,
  decodeIssuerChainHeader,
  collateralFromPcs,
  type PcsSignedJson,
  type PcsResponse,
  type PcsCollateralResponses,
} from './pcs-response.ts'
export {
  checkPcsDocumentRoot,
  verifyPcsTcbInfo,
  verifyPcsQeIdentity,
  verifyPcsPckCrl,
  verifyPcsRootCaCrl,
  type PcsDocumentRoot,
  type VerifiedPcsPckCrl,
} from './pcs-documents.ts'
export {
  CollateralCache,
  verifyCollateral,
  type VerifyCollateralOptions,
  type VerifiedCollateral,
} from './collateral-verify.ts'
export {
  evaluateTdxModule,
  evaluateQeIdentity,
  type QeTcbStatus,
  type TdxModuleStatus,
  type TdReportTcb,
  type QeReportTcb,
  type TdxModuleEvaluation,
  type QeEvaluation,
} from './tcb-identity.ts'
export {
  matchSgxTcbLevel,
  matchTdxTcbLevel,
  convergeTcbStatus,
  evaluateTcbStatus,
  type TcbStatus,
  type PckTcb,
  type TcbStatusInput,
  type TcbEvaluation,
} from './tcb-status.ts'

// Verification: the PCK chain, the quote pipeline, appraisal and claims; evidence forms.
export { PCK_CERTIFICATE_CN, verifyPckChain, type VerifiedPckChain } from './pck-chain.ts'
export {
  QuoteVerifierCache,
  verifyDcapQuote,
  type QuoteVerification,
  type QuoteVerifyOptions,
} from './verify-quote.ts'
export {
  acceptedStatuses,
  appraiseQuote,
  checkQuoteAppraisalPolicy,
  quoteAppraisalFailures,
  type QuoteAppraisalPolicy,
} from './quote-appraisal.ts'
export { quoteBodyClaims, quoteClaims, type QuoteClaims } from './quote-claims.ts'
export {
  looksLikeDcapQuote,
  parseDcapEvidence,
  parseTrusteeDcapEvidence,
  type DcapEvidence,
  type DcapEvidenceFormat,
} from './evidence-format.ts'
