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
export {
  DerUniversalTag,
  parseDer,
  expectDerTag,
  decodeDerInteger,
  decodeDerEnumerated,
  decodeDerBoolean,
  decodeDerNull,
  decodeDerOid,
  decodeDerOctetString,
  decodeDerBitString,
  decodeDerUtf8String,
  decodeDerPrintableString,
  decodeDerIa5String,
  decodeDerUtcTime,
  decodeDerGeneralizedTime,
  decodeDerTime,
  decodeDerSequence,
  decodeDerSet,
  decodeDerExplicit,
} from './der.ts'
export type {
  DerTagClass,
  DerElement,
  DerParseOptions,
  DerTagSpec,
  DerDecodeOptions,
  DerBitString,
} from './der.ts'
export { canonicalizeJson, canonicalizeJsonToBytes } from './jcs.ts'
export { constantTimeEqual } from './constant-time.ts'
