/**
 * Evidence and appraisal: verifying SEV-SNP, TDX and SGX evidence in Trustee's shapes under the
 * vendors' (or, when trusted explicitly, the simulator's) roots, checking the REPORT_DATA binding
 * and the init-data, and matching the evidence against the stored workloads (default deny).
 *
 * @module
 */
export { createEvidenceVerifier } from './evidence-verifier.ts'
export type { EvidenceVerifierOptions } from './evidence-verifier.ts'
export type {
  SnpTrust,
  DcapTrust,
  EvidenceTrust,
  VerifiedEvidence,
  VerifiedSnpEvidence,
  VerifiedTdxEvidence,
  VerifiedSgxEvidence,
  EvidenceVerifier,
} from './verified-evidence.ts'
export { trusteeSnpClaims } from './snp-evidence.ts'
export { trusteeDcapClaims } from './dcap-evidence.ts'
export { DcapCollateralSource, fetchDcapCollateral } from './dcap-collateral-source.ts'
export type { SelectedCollateral } from './dcap-collateral-source.ts'
export { checkInitData } from './init-data-binding.ts'
export type { InitDataOutcome, InitDataRefusal } from './init-data-binding.ts'
export { workloadMismatch } from './workload-match.ts'
export { createAppraiser } from './appraiser.ts'
export type { AppraiserOptions } from './appraiser.ts'
