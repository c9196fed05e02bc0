/**
 * @initguard/core: the pure foundation every other package stands on. No file system, network,
 * environment or clock: bytes, trust material and time come in as arguments.
 *
 * @module
 */
export {
  InitguardError,
  UsageError,
  MalformedInputError,
  VerificationError,
  ExpectationError,
  UnavailableError,
  LocalIoError,
  InternalError,
  isInitguardError,
} from './errors.ts'
export type { ErrorCategory, ErrorCode, ErrorDetails, InitguardErrorOptions } from './errors.ts'
export {
  bytesToHex,
  hexToBytes,
  bytesToBase64,
  base64ToBytes,
  bytesToBase64url,
  base64urlToBytes,
  utf8ToString,
  stringToUtf8,
} from './encoding.ts'
export type { DecodeOptions, Base64DecodeOptions } from './encoding.ts'
export { ByteReader } from './byte-reader.ts'
export type { ByteReaderOptions, TrailingMode } from './byte-reader.ts'
export { DerUniversalTag } from './der-tags.ts'
export type { DerTagClass } from './der-tags.ts'
export { parseDer } from './der-parse.ts'
export type { DerElement, DerParseOptions } from './der-parse.ts'
export {
  expectDerTag,
  decodeDerSequence,
  decodeDerSet,
  decodeDerExplicit,
} from './der-structure.ts'
export type { DerTagSpec, DerDecodeOptions } from './der-structure.ts'
export {
  decodeDerInteger,
  decodeDerEnumerated,
  decodeDerBoolean,
  decodeDerNull,
  decodeDerOid,
  decodeDerOctetString,
  decodeDerBitString,
} from './der-primitives.ts'
export type { DerBitString } from './der-primitives.ts'
export { decodeDerUtf8String, decodeDerPrintableString, decodeDerIa5String } from './der-strings.ts'
export { decodeDerUtcTime, decodeDerGeneralizedTime, decodeDerTime } from './der-time.ts'
export { canonicalizeJson, canonicalizeJsonToBytes } from './jcs.ts'
export { constantTimeEqual } from './constant-time.ts'
export { concatBytes } from './concat-bytes.ts'
export { LruCache } from './lru-cache.ts'
export { ExactBytesCache } from './exact-bytes-cache.ts'
export { isEcKey } from './ec-keys.ts'
export type { EcCurve } from './ec-keys.ts'
export {
  fieldError,
  parseJson,
  isJsonObject,
  jsonKind,
  asObject,
  member,
  stringField,
  integerField,
  objectField,
  arrayField,
  nonEmptyArrayField,
  hexField,
  dateField,
  optionalStringArray,
  enumField,
  startsAsJsonObject,
  parseJsonBytes,
} from './json-fields.ts'
export type { JsonObject, JsonDocument } from './json-fields.ts'
export { bitFlagDecoder, bitMask, memoizedWordDecoder, setBitsOutside } from './bit-flags.ts'
export type { BitTable, DecodedBits } from './bit-flags.ts'
export {
  readX509Certificate,
  validityAt,
  validityMessage,
  checkValidityWindow,
  commonValidity,
} from './x509-certificate.ts'
export type {
  X509Extension,
  X509Fields,
  X509ErrorCodes,
  X509ReadOptions,
  ValidityWindow,
  ValidityRefusal,
} from './x509-certificate.ts'
export type { CacheWindow } from './lru-cache.ts'
export { AppraisalError, throwIfAppraisalFailed } from './appraisal.ts'
export { pemCertificates } from './pem-certificates.ts'
export type { AppraisalFailure } from './appraisal.ts'
export { PolicyChecker } from './policy-checks.ts'
export { subjectLine } from './trust-anchor.ts'
export type { TrustAnchorInfo } from './trust-anchor.ts'
