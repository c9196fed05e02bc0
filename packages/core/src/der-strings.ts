/**
 * Decoders for the DER character string types used in X.509: UTF8String, PrintableString and
 * IA5String, each checked against its character set, never repaired.
 *
 * @see ITU-T X.680 §41 (restricted character string types), X.690 §8.23 (their encoding).
 * @module
 */
import { Buffer } from 'node:buffer'
import { utf8ToString } from './encoding.ts'
import { MalformedInputError } from './errors.ts'
import { DER_HINT } from './der-parse.ts'
import type { DerElement } from './der-parse.ts'
import { decodeError, expectTypeTag } from './der-structure.ts'
import type { DerDecodeOptions } from './der-structure.ts'
import { DerUniversalTag } from './der-tags.ts'

/**
 * The octets as text, one character per octet (Latin-1).
 *
 * @internal shared with the time decoders, whose text is checked against a pattern after this.
 */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** A decoder of one DER character string type: the element, the field name for messages. */
export type DerStringDecoder = (
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
) => string

/** A restricted character string type: its tag, its X.680 name and the octets it allows. */
interface RestrictedCharset {
  readonly tagNumber: number
  readonly typeName: string
  readonly allowed: (byte: number) => boolean
  /** The character set as messages name it. */
  readonly charsetName: string
}

/** The decoder of a restricted string type: every octet checked against the set, never repaired. */
function restrictedStringDecoder(charset: RestrictedCharset): DerStringDecoder {
  const { tagNumber, typeName, allowed, charsetName } = charset
  return (el, field, options) => {
    const v = expectTypeTag(el, tagNumber, false, field, options)
    const bad = v.value.findIndex((b) => !allowed(b))
    if (bad >= 0) {
      throw decodeError(
        v,
        'ERR_DER_STRING_INVALID',
        field,
        `${typeName} has a character outside ${charsetName} at contents position ${bad}`,
        { position: bad, type: typeName },
      )
    }
    return latin1(v.value)
  }
}

/**
 * Decode a UTF8String (X.680 §41, X.690 §8.23.10) strictly: malformed UTF-8, overlong forms and
 * encoded surrogates are rejected, never replaced.
 *
 * @example
 * ```ts
 * decodeDerUtf8String(parseDer(Uint8Array.of(0x0c, 0x02, 0x68, 0x69)), 'commonName') // 'hi'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_STRING_INVALID`.
 */
export function decodeDerUtf8String(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): string {
  const v = expectTypeTag(el, DerUniversalTag.UTF8_STRING, false, field, options)
  try {
    return utf8ToString(v.value, { field })
  } catch (cause) {
    throw new MalformedInputError(
      'ERR_DER_STRING_INVALID',
      `${field} at offset ${v.offset}: UTF8String is not valid UTF-8`,
      { cause, details: { field, offset: v.offset, type: 'UTF8String' }, hint: DER_HINT },
    )
  }
}

function isPrintable(b: number): boolean {
  // X.680 §41.4, table 10: A–Z a–z 0–9 space ' ( ) + , - . / : = ?
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x20 ||
    (b >= 0x27 && b <= 0x29) ||
    (b >= 0x2b && b <= 0x2f) ||
    b === 0x3a ||
    b === 0x3d ||
    b === 0x3f
  )
}

/**
 * Decode a PrintableString (X.680 §41.4): only `A–Z a–z 0–9`, space and `' ( ) + , - . / : = ?`.
 *
 * @example
 * ```ts
 * decodeDerPrintableString(parseDer(Uint8Array.of(0x13, 0x02, 0x55, 0x53)), 'countryName') // 'US'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_STRING_INVALID`.
 */
export const decodeDerPrintableString: DerStringDecoder = restrictedStringDecoder({
  tagNumber: DerUniversalTag.PRINTABLE_STRING,
  typeName: 'PrintableString',
  allowed: isPrintable,
  charsetName: 'the PrintableString set',
})

/**
 * Decode an IA5String (X.680 §41.4): 7-bit ASCII, octets 0x00–0x7F.
 *
 * @example
 * ```ts
 * decodeDerIa5String(productNameElement, 'productName') // 'Milan-B0'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_STRING_INVALID`.
 */
export const decodeDerIa5String: DerStringDecoder = restrictedStringDecoder({
  tagNumber: DerUniversalTag.IA5_STRING,
  typeName: 'IA5String',
  allowed: (b) => b < 0x80,
  charsetName: 'IA5 (7-bit ASCII)',
})
