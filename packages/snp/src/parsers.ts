/**
 * `@initguard/snp/parsers`: the SEV-SNP parsers and the Trustee evidence encoding alone, without
 * the verifier and AMD's pinned roots. A guest reading its own report (the agent, the TEE
 * simulator) loads these few modules; its cold start is measured (`npm run bench`).
 *
 * @module
 */
export { parseSnpReport } from './report.ts'
export type { SnpReport } from './report.ts'
export { CERT_TABLE_GUIDS, parseCertTable } from './cert-table.ts'
export type { CertTableEntry, KnownCertTableKind } from './cert-table.ts'
export { parseTrusteeSnpEvidence } from './trustee-evidence.ts'
export type { TrusteeSnpEvidenceJson } from './trustee-evidence.ts'
export { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'
export { parseAmdCertificate } from './amd-certificate.ts'
