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
