// Parsing: the attestation report, TCB values, the extended-report certificate table and
// Trustee's evidence JSON.
export {
  parseSnpReport,
  decodeSnpPolicy,
  decodeSnpPlatformInfo,
  decodeSnpSignerInfo,
  SNP_MAX_REPORT_VERSION,
  SNP_REPORT_SIZE,
  SNP_SIGNED_SIZE,
  SNP_SIGNATURE_ALGORITHM_ECDSA_P384_SHA384,
  type SnpReport,
  type SnpReportLayout,
  type SnpGuestPolicy,
  type SnpPlatformInfo,
  type SnpSignerInfo,
  type SnpSigningKey,
  type SnpReportSignature,
} from './report.ts'
export {
  decodeTcbVersion,
  encodeTcbVersion,
  tcbAtLeast,
  tcbComponentsBelow,
  productFromCpuid,
  productFromName,
  SNP_PRODUCTS,
  type SnpProduct,
  type TcbComponents,
  type TcbVersion,
} from './tcb.ts'
export {
  parseCertTable,
  parseExtendedReport,
  buildCertTable,
  CERT_TABLE_GUIDS,
  type CertTableKind,
  type KnownCertTableKind,
  type CertTableEntry,
  type CertTableEntryInput,
  type ExtendedReport,
} from './cert-table.ts'
export {
  parseTrusteeSnpEvidence,
  type TrusteeSnpEvidence,
  type TrusteeSnpEvidenceJson,
  type TrusteeAttestationReportJson,
  type TrusteeTcbJson,
  type TrusteeVersionJson,
  type TrusteeCertTypeJson,
  type TrusteeCertTableEntryJson,
  type SnpReportToTrusteeJsonOptions,
} from './trustee-evidence.ts'
export { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'

// Verification: certificates, the chain to the pinned AMD roots, the report signature, appraisal
// and claims.
export { AMD_PRODUCTION_ROOTS, type AmdRootSet } from './amd-roots.ts'
export {
  parseAmdCertificate,
  parsePemBundle,
  type AmdCertificate,
  type AmdKeyExtensions,
} from './amd-certificate.ts'
export {
  trustedArk,
  verifyAmdChain,
  type ChainCertificates,
  type EndorsementKind,
  type SnpTrustAnchors,
  type VerifiedChain,
} from './amd-chain.ts'
export { verifySnpReportSignature } from './report-signature.ts'
export { checkEndorsement } from './endorsement-checks.ts'
export {
  appraiseSnpReport,
  appraisalFailures,
  checkSnpAppraisalPolicy,
  provisionalFirmwareDifferences,
  type SnpAppraisalPolicy,
} from './appraisal.ts'
export {
  currentFirmwareVersion,
  firmwareVersionAtLeast,
  firmwareVersionText,
  type SnpFirmwareVersion,
} from './firmware-version.ts'
export {
  SNP_GUEST_POLICY_RULE_BITS,
  SNP_GUEST_POLICY_RULE_KEYS,
  SNP_PLATFORM_INFO_RULE_BITS,
  SNP_PLATFORM_INFO_RULE_KEYS,
  policyBitMismatches,
  type SnpGuestPolicyRule,
  type SnpGuestPolicyRuleKey,
  type SnpPlatformInfoRule,
  type SnpPlatformInfoRuleKey,
  type SnpPolicyBit,
} from './policy-bits.ts'
export { snpClaims, type SnpClaims, type TcbClaims } from './claims.ts'
export {
  AMD_PRODUCTION_ANCHORS,
  SnpVerifierCache,
  snpEndorsementToFetch,
  verifySnpEvidence,
  type SnpEvidence,
  type SnpVerification,
  type SnpVerifyOptions,
} from './verify.ts'
export {
  parseSnpEvidence,
  type DetectedSnpEvidence,
  type SnpEvidenceFormat,
} from './evidence-format.ts'
export {
  checkAmdCrl,
  checkAmdCrlCurrent,
  checkAmdRevocation,
  parseAmdCrl,
  revocationSubjectOf,
  verifyAmdRevocationList,
  type AmdCrl,
  type AmdRevocationList,
  type AmdRevocationSubject,
} from './amd-crl.ts'
