/**
 * `@initguard/snp/parsers`: the SEV-SNP parsers and the Trustee evidence encoding alone, without
 * the verifier and AMD's pinned roots. A guest reading its own report (the agent, the TEE
 * simulator) loads these few modules; its cold start is measured (`npm run bench`). The policy-bit
 * rule keys are here too: the CLI's option parsing, which every command loads, names them.
 *
 * @module
 */
export { parseSnpReport, type SnpReport } from './report.ts'
export {
  CERT_TABLE_GUIDS,
  parseCertTable,
  type CertTableEntry,
  type KnownCertTableKind,
} from './cert-table.ts'
export { parseTrusteeSnpEvidence, type TrusteeSnpEvidenceJson } from './trustee-evidence.ts'
export { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'
export { parseAmdCertificate } from './amd-certificate.ts'
export {
  SNP_GUEST_POLICY_RULE_KEYS,
  SNP_PLATFORM_INFO_RULE_KEYS,
  type SnpGuestPolicyRule,
  type SnpPlatformInfoRule,
} from './policy-bits.ts'
