/**
 * @initguard/kbs-protocol: the KBS attestation protocol (RCAR 0.4.0) as Trustee's KBS and CoCo's
 * client speak it.
 *
 * @module
 */
export { KBS_PROTOCOL_VERSION, KBS_ERROR_TYPE_PREFIX, KBS_SESSION_COOKIE } from './messages.ts'
export type {
  KbsTee,
  KbsRequest,
  KbsChallenge,
  EcTeePublicJwk,
  RsaTeePublicJwk,
  TeePublicJwk,
  KbsInitData,
  KbsRuntimeData,
  KbsTeeEvidence,
  KbsAttestation,
  KbsAttestationToken,
  KbsResourceJwe,
  KbsErrorBody,
} from './messages.ts'
export { REPORT_DATA_LENGTH, runtimeDataDigest, expectedReportData } from './report-data-binding.ts'
export type { RuntimeDataToBind } from './report-data-binding.ts'
