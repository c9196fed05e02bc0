/**
 * Strict text encodings of bytes: hex, base64 (standard, padded), base64url (unpadded) and UTF-8.
 *
 * Node's `Buffer.from(s, 'base64')` silently skips characters it does not know and accepts
 * non-canonical encodings; a security tool must not guess what the sender meant, so every decoder
 * here rejects anything that does not re-encode to exactly the same text.
 *
 * @module
 */
import { Buffer } from 'node:buffer'
import { MalformedInputError } from './errors.ts'

const HEX_PATTERN = /^[0-9a-fA-F]*$/
/** 1 for each character of the standard base64 alphabet (no padding), by char code. */
const BASE64_CHAR = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  BASE64_CHAR[c.charCodeAt(0)] = 1

/**
 * True for padded base64 in the standard alphabet: a multiple of 4 characters, alphabet characters
 * only, and `=` only as one or two final characters. (A loop, not a regular expression: certificate
 * chains in every quote pass through here, and this is several times faster.)
 */
function isPaddedBase64(text: string): boolean {
  const length = text.length
  if (length % 4 !== 0) return false
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  for (let i = 0; i < length - padding; i++) {
    const code = text.charCodeAt(i)
    if (code >= 128 || BASE64_CHAR[code] !== 1) return false
  }
  return true
}
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/

/** Where a value came from, for error messages (`--expected`, `annotation`, …). */
export interface DecodeOptions {
  /** Name of the field or option being decoded; appears in error messages. */
  readonly field?: string
}

function fieldName(options: DecodeOptions | undefined, fallback: string): string {
  return options?.field ?? fallback
}

/** Lower-case hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/**
 * Decode hex (either case, no prefix, no separators).
 *
 * @throws {@link MalformedInputError} `ERR_HEX_INVALID` on odd length or a non-hex character.
 */
export function hexToBytes(text: string, options?: DecodeOptions): Uint8Array {
  const field = fieldName(options, 'hex value')
  if (!HEX_PATTERN.test(text)) {
    const at = text.search(/[^0-9a-fA-F]/)
    throw new MalformedInputError(
      'ERR_HEX_INVALID',
      `${field} is not hex: bad character at position ${at}`,
      {
        details: { field, position: at },
        hint: text.startsWith('0x')
          ? 'drop the 0x prefix'
          : 'give the value as hex digits only (0-9, a-f)',
      },
    )
  }
  if (text.length % 2 !== 0) {
    throw new MalformedInputError(
      'ERR_HEX_INVALID',
      `${field} has an odd number of hex digits (${text.length})`,
      {
        details: { field, length: text.length },
        hint: 'each byte takes two hex digits; check for a missing or extra digit',
      },
    )
  }
  return new Uint8Array(Buffer.from(text, 'hex'))
}

/** Standard base64 with padding (RFC 4648 §4). */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Options for {@link base64ToBytes}. */
export interface Base64DecodeOptions extends DecodeOptions {
  /**
   * Ignore CR and LF anywhere in the text, as Go's `encoding/base64` (and so the Kata runtime) does
   * for wrapped output such as `base64` without `-w0`. Nothing else is ignored.
   */
  readonly allowLineBreaks?: boolean
}

/**
 * Decode standard, padded base64 (RFC 4648 §4), rejecting anything non-canonical.
 *
 * @throws {@link MalformedInputError} `ERR_BASE64_INVALID`.
 */
export function base64ToBytes(text: string, options?: Base64DecodeOptions): Uint8Array {
  const field = fieldName(options, 'base64 value')
  const compact = options?.allowLineBreaks === true ? text.replace(/[\r\n]/g, '') : text
  if (!isPaddedBase64(compact)) {
    throw new MalformedInputError(
      'ERR_BASE64_INVALID',
      `${field} is not valid padded base64 (${describeBase64Fault(compact)})`,
      {
        details: { field, length: compact.length },
        hint: 'use the standard alphabet (A-Z a-z 0-9 + /) with = padding, e.g. the output of `base64 -w0`',
      },
    )
  }
  const bytes = Buffer.from(compact, 'base64')
  if (!paddingBitsZero(compact)) {
    throw new MalformedInputError(
      'ERR_BASE64_INVALID',
      `${field} is not canonical base64 (non-zero bits in the last character)`,
      {
        details: { field, length: compact.length },
        hint: 'the value was probably truncated or edited by hand; encode it again',
      },
    )
  }
  return new Uint8Array(bytes)
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/**
 * Given text the pattern accepted, true when the bits the padding leaves over are zero: the only
 * way such text can fail to be the canonical encoding of its bytes (RFC 4648 §3.5).
 */
function paddingBitsZero(text: string): boolean {
  if (text.endsWith('=='))
    return (BASE64_ALPHABET.indexOf(text.charAt(text.length - 3)) & 0x0f) === 0
  if (text.endsWith('='))
    return (BASE64_ALPHABET.indexOf(text.charAt(text.length - 2)) & 0x03) === 0
  return true
}

function describeBase64Fault(text: string): string {
  const bad = text.search(/[^A-Za-z0-9+/=]/)
  if (bad >= 0) {
    const c = text.codePointAt(bad) ?? 0
    const shown =
      c === 0x0a
        ? 'a line break'
        : c === 0x20
          ? 'a space'
          : c === 0x2d || c === 0x5f
            ? `'${String.fromCodePoint(c)}' (base64url?)`
            : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
    return `${shown} at position ${bad}`
  }
  if (text.length % 4 !== 0)
    return `length ${text.length} is not a multiple of 4: truncated or missing padding`
  return 'padding in the wrong place'
}

/** Unpadded base64url (RFC 4648 §5), as JOSE uses. */
export function bytesToBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/**
 * Decode unpadded base64url (RFC 4648 §5), rejecting padding and non-canonical text.
 *
 * @throws {@link MalformedInputError} `ERR_BASE64URL_INVALID`.
 */
export function base64urlToBytes(text: string, options?: DecodeOptions): Uint8Array {
  const field = fieldName(options, 'base64url value')
  if (!BASE64URL_PATTERN.test(text) || text.length % 4 === 1) {
    throw new MalformedInputError(
      'ERR_BASE64URL_INVALID',
      `${field} is not valid unpadded base64url`,
      {
        details: { field, length: text.length },
        hint: 'use the URL-safe alphabet (A-Z a-z 0-9 - _) without = padding',
      },
    )
  }
  const bytes = Buffer.from(text, 'base64url')
  if (bytes.toString('base64url') !== text) {
    throw new MalformedInputError(
      'ERR_BASE64URL_INVALID',
      `${field} is not canonical base64url (non-zero bits in the last character)`,
      {
        details: { field, length: text.length },
      },
    )
  }
  return new Uint8Array(bytes)
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

/**
 * Decode UTF-8 strictly: invalid sequences are an error, never U+FFFD. A byte order mark is kept
 * as U+FEFF so the text maps back to exactly the same bytes.
 *
 * @throws {@link MalformedInputError} `ERR_UTF8_INVALID`.
 */
export function utf8ToString(bytes: Uint8Array, options?: DecodeOptions): string {
  try {
    return strictUtf8.decode(bytes)
  } catch (cause) {
    const field = fieldName(options, 'text')
    throw new MalformedInputError('ERR_UTF8_INVALID', `${field} is not valid UTF-8`, {
      cause,
      details: { field, length: bytes.length },
      hint: 'save the file as UTF-8',
    })
  }
}

/** UTF-8 bytes of `text`. Lone surrogates become U+FFFD; check `isWellFormed()` first where that matters. */
export function stringToUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text)
}
