/**
 * @initguard/kbs-protocol: the KBS attestation protocol (RCAR 0.4.0) as Trustee's KBS and CoCo's
 * client speak it: the message shapes and their strict parsers, the REPORT_DATA binding, TEE keys,
 * the resource JWE, and the client.
 *
 * @module
 */
export {
  KBS_PROTOCOL_VERSION,
  KBS_ERROR_TYPE_PREFIX,
  KBS_SESSION_COOKIE,
  KBS_SUPPORTED_TEES,
  KBS_TYPES_TEE_NAMES,
  type KbsTee,
  type KbsRequest,
  type KbsChallenge,
  type EcTeePublicJwk,
  type RsaTeePublicJwk,
  type TeePublicJwk,
  type KbsInitData,
  type KbsRuntimeData,
  type KbsTeeEvidence,
  type KbsAttestation,
  type KbsAttestationToken,
  type KbsResourceJwe,
  type KbsErrorBody,
} from './messages.ts'
export {
  parseKbsRequest,
  parseKbsChallenge,
  parseKbsAttestation,
  parseKbsAttestationToken,
  parseKbsResourceJwe,
  parseKbsErrorBody,
} from './message-parse.ts'
export { KBS_MESSAGE } from './message-fields.ts'
export {
  checkTeePublicJwk,
  parseTeePublicJwk,
  RSA_MIN_MODULUS_BITS,
  RSA_MAX_MODULUS_BITS,
  type CheckedTeeKey,
} from './tee-public-jwk.ts'
export {
  REPORT_DATA_LENGTH,
  runtimeDataDigest,
  expectedReportData,
  type RuntimeDataToBind,
} from './report-data-binding.ts'
export {
  TEE_KEY_KINDS,
  generateTeeKeyPair,
  teePublicJwkOf,
  type TeeKeyKind,
  type TeeKeyPair,
} from './tee-key.ts'
export {
  generateEcKeyPair,
  type EcKeyCurve,
  type EcKeyPair,
  type EcPrivateJwk,
} from './ec-key-pair.ts'
export { RESOURCE_JWE_ENC, sealResource } from './resource-jwe.ts'
export { openResource } from './resource-jwe-open.ts'
export {
  KbsClient,
  MAX_BEARER_TOKEN_LENGTH,
  type KbsClientOptions,
  type KbsAttestOptions,
  type KbsSession,
} from './client.ts'
export { resourcePath } from './client-responses.ts'
export {
  ADMIN_AUDIENCE_RULE,
  AUDIT_PRUNE_MAX,
  DEFAULT_ADMIN_AUDIENCE,
  isAdminAudience,
  isWorkloadName,
} from './admin-names.ts'
