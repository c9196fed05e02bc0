// Parsing: the attestation report, TCB values, the extended-report certificate table and
// Trustee's evidence JSON.
export {
  parseSnpReport,
  decodeSnpPolicy,
  decodeSnpPlatformInfo,
  decodeSnpSignerInfo,
  SNP_REPORT_SIZE,
  SNP_SIGNED_SIZE,
  SNP_SIGNATURE_ALGORITHM_ECDSA_P384_SHA384,
} from './report.ts'
export type {
  SnpReport,
  SnpReportLayout,
  SnpGuestPolicy,
  SnpPlatformInfo,
  SnpSignerInfo,
  SnpSigningKey,
  SnpReportSignature,
} from './report.ts'
export {
  decodeTcbVersion,
  encodeTcbVersion,
  tcbAtLeast,
  productFromCpuid,
  productFromName,
  SNP_PRODUCTS,
} from './tcb.ts'
export type { SnpProduct, TcbComponents, TcbVersion } from './tcb.ts'
export {
  parseCertTable,
  parseExtendedReport,
  buildCertTable,
  CERT_TABLE_GUIDS,
} from './cert-table.ts'
export type {
  CertTableKind,
  KnownCertTableKind,
  CertTableEntry,
  CertTableEntryInput,
  ExtendedReport,
} from './cert-table.ts'
export { parseTrusteeSnpEvidence } from './trustee-evidence.ts'
export { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'
export type {
  TrusteeSnpEvidence,
  TrusteeSnpEvidenceJson,
  TrusteeAttestationReportJson,
  TrusteeTcbJson,
  TrusteeVersionJson,
  TrusteeCertTypeJson,
  TrusteeCertTableEntryJson,
  SnpReportToTrusteeJsonOptions,
} from './trustee-evidence.ts'

// Verification: certificates, the chain to the pinned AMD roots, the report signature, appraisal
// and claims.
export { AMD_PRODUCTION_ROOTS } from './amd-roots.ts'
export type { AmdRootSet } from './amd-roots.ts'
export { parseAmdCertificate, parsePemBundle } from './amd-certificate.ts'
export type { AmdCertificate, AmdKeyExtensions } from './amd-certificate.ts'
export { verifyAmdChain } from './amd-chain.ts'
export type {
  ChainCertificates,
  EndorsementKind,
  SnpTrustAnchors,
  VerifiedChain,
} from './amd-chain.ts'
export { verifySnpReportSignature } from './report-signature.ts'
export { checkEndorsement } from './endorsement-checks.ts'
export { appraiseSnpReport, appraisalFailures, checkSnpAppraisalPolicy } from './appraisal.ts'
export type { SnpAppraisalPolicy } from './appraisal.ts'
export { snpClaims } from './claims.ts'
export type { SnpClaims, TcbClaims } from './claims.ts'
export { AMD_PRODUCTION_ANCHORS, SnpVerifierCache, verifySnpEvidence } from './verify.ts'
export type { SnpEvidence, SnpVerification, SnpVerifyOptions } from './verify.ts'
export { parseSnpEvidence } from './evidence-format.ts'
export type { DetectedSnpEvidence, SnpEvidenceFormat } from './evidence-format.ts'
export { checkAmdCrl, parseAmdCrl } from './amd-crl.ts'
export type { AmdCrl } from './amd-crl.ts'
