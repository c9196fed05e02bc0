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
} from './messages.ts'
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
export { REPORT_DATA_LENGTH, runtimeDataDigest, expectedReportData } from './report-data-binding.ts'
export type { RuntimeDataToBind } from './report-data-binding.ts'
export { TEE_KEY_KINDS, generateTeeKeyPair, teePublicJwkOf } from './tee-key.ts'
export type { TeeKeyKind, TeeKeyPair } from './tee-key.ts'
export { RESOURCE_JWE_ENC, sealResource, openResource } from './resource-jwe.ts'
export { KbsClient } from './client.ts'
export type { KbsClientOptions, KbsAttestOptions, KbsSession } from './client.ts'
export { resourcePath } from './client-responses.ts'
