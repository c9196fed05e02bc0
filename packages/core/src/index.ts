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
  type ErrorCategory,
  type ErrorCode,
  type ErrorDetails,
  type InitguardErrorOptions,
} from './errors.ts'
export {
  bytesToHex,
  hexToBytes,
  bytesToBase64,
  base64ToBytes,
  bytesToBase64url,
  base64urlToBytes,
  utf8ToString,
  stringToUtf8,
  type DecodeOptions,
  type Base64DecodeOptions,
} from './encoding.ts'
export { requireUint8Array } from './input-bytes.ts'
export { ByteReader, type ByteReaderOptions, type TrailingMode } from './byte-reader.ts'
export { DerUniversalTag, type DerTagClass } from './der-tags.ts'
export { parseDer, type DerElement, type DerParseOptions } from './der-parse.ts'
export {
  expectDerTag,
  decodeDerSequence,
  decodeDerSet,
  decodeDerExplicit,
  type DerTagSpec,
  type DerDecodeOptions,
} from './der-structure.ts'
export {
  decodeDerInteger,
  decodeDerEnumerated,
  decodeDerBoolean,
  decodeDerNull,
  decodeDerOid,
  decodeDerOctetString,
  decodeDerBitString,
  type DerBitString,
} from './der-primitives.ts'
export {
  decodeDerUtf8String,
  decodeDerPrintableString,
  decodeDerIa5String,
  type DerStringDecoder,
} from './der-strings.ts'
export { decodeDerUtcTime, decodeDerGeneralizedTime, decodeDerTime } from './der-time.ts'
export { canonicalizeJson, canonicalizeJsonToBytes } from './jcs.ts'
export {
  jsonNodeValue,
  MAX_JSON_DEPTH,
  parseStrictJson,
  type JsonNode,
  type StrictJsonOptions,
} from './strict-json.ts'
export { parseStrictJsonValue, scanJsonKeys } from './json-key-scan.ts'
export { constantTimeEqual, constantTimeIncludes } from './constant-time.ts'
export { concatBytes } from './concat-bytes.ts'
export { LruCache, type CacheWindow } from './lru-cache.ts'
export { ExactBytesCache } from './exact-bytes-cache.ts'
export { isEcKey, type EcCurve } from './ec-keys.ts'
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
  type JsonObject,
  type JsonDocument,
} from './json-fields.ts'
export {
  bitFlagDecoder,
  bitMask,
  memoizedWordDecoder,
  setBitsOutside,
  type BitTable,
  type DecodedBits,
} from './bit-flags.ts'
export {
  readX509Certificate,
  validityAt,
  validityMessage,
  checkValidityWindow,
  commonValidity,
  type X509Extension,
  type X509Fields,
  type X509ErrorCodes,
  type X509ReadOptions,
  type ValidityWindow,
  type ValidityRefusal,
} from './x509-certificate.ts'
export {
  X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD,
  X509_CRL_EXTENSIONS_UNDERSTOOD,
  X509_EXTENSION_OIDS,
  X509_KEY_USAGE_BITS,
  decodeX509BasicConstraints,
  decodeX509KeyUsage,
  readX509Extensions,
  unrecognisedCriticalExtensions,
  type X509BasicConstraints,
  type X509KeyUsage,
  type X509KeyUsageBit,
} from './x509-extensions.ts'
export {
  AppraisalError,
  AppraisalFailures,
  throwIfAppraisalFailed,
  type AppraisalFailure,
} from './appraisal.ts'
export { pemCertificates } from './pem-certificates.ts'
export { PolicyChecker, describePolicyValue, isPolicyRecord } from './policy-checks.ts'
export { subjectLine, type TrustAnchorInfo } from './trust-anchor.ts'
