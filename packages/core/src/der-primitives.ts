/**
 * Decoders for the simple DER types: INTEGER, ENUMERATED, BOOLEAN, NULL, OBJECT IDENTIFIER,
 * OCTET STRING and BIT STRING, each with DER's canonical-encoding rules.
 *
 * @see ITU-T X.690 §8.2–§8.8 and §8.19 (encodings), §10 and §11 (DER restrictions).
 * @module
 */
import { bytesToHex } from './encoding.ts'
import type { DerElement } from './der-parse.ts'
import { decodeError, expectTypeTag } from './der-structure.ts'
import type { DerDecodeOptions } from './der-structure.ts'
import { DerUniversalTag } from './der-tags.ts'

/** A decoded BIT STRING: the bit octets, and how many low-order bits of the last one are unused. */
export interface DerBitString {
  /** The octets holding the bits, first bit in the high-order bit of the first octet. */
  readonly bytes: Uint8Array
  /** Unused bits at the end of the last octet, 0–7 (always 0 when `bytes` is empty). */
  readonly unusedBits: number
}

/** Longest OID arc accepted, in octets: 140 bits, enough for `2.25.<128-bit UUID>`. */
const MAX_OID_ARC_OCTETS = 20

/**
 * Decode an INTEGER (X.690 §8.3) as a `bigint`, two's complement.
 *
 * DER: the contents are one or more octets, and the first nine bits are neither all zero nor all
 * one (the minimal two's-complement form, §8.3.2).
 *
 * @example
 * ```ts
 * decodeDerInteger(parseDer(Uint8Array.of(0x02, 0x02, 0x00, 0x80)), 'serialNumber') // 128n
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_INTEGER_INVALID` (empty),
 *   `ERR_DER_INTEGER_NOT_MINIMAL`.
 */
export function decodeDerInteger(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): bigint {
  const v = expectTypeTag(el, DerUniversalTag.INTEGER, false, field, options)
  return integerContents(v, field)
}

function integerContents(el: DerElement, field: string): bigint {
  const v = el.value
  const b0 = v[0]
  if (b0 === undefined) {
    throw decodeError(el, 'ERR_DER_INTEGER_INVALID', field, 'INTEGER has no contents octets')
  }
  const b1 = v[1]
  if (b1 !== undefined && ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80))) {
    throw decodeError(
      el,
      'ERR_DER_INTEGER_NOT_MINIMAL',
      field,
      'INTEGER is not in minimal two-octet-complement form: a redundant leading 0x00 or 0xFF (X.690 §8.3.2)',
      { length: v.length },
    )
  }
  const magnitude = BigInt(`0x${bytesToHex(v)}`)
  return b0 >= 0x80 ? magnitude - (1n << BigInt(v.length * 8)) : magnitude
}

/**
 * Decode an ENUMERATED (X.690 §8.4: encoded as an INTEGER) as a `bigint`.
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_INTEGER_INVALID`,
 *   `ERR_DER_INTEGER_NOT_MINIMAL`.
 */
export function decodeDerEnumerated(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): bigint {
  return integerContents(
    expectTypeTag(el, DerUniversalTag.ENUMERATED, false, field, options),
    field,
  )
}

/**
 * Decode a BOOLEAN (X.690 §8.2). DER: exactly one octet, 0x00 for false and 0xFF for true
 * (§11.1).
 *
 * @example
 * ```ts
 * decodeDerBoolean(parseDer(Uint8Array.of(0x01, 0x01, 0xff)), 'cA') // true
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_BOOLEAN_INVALID`.
 */
export function decodeDerBoolean(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): boolean {
  const v = expectTypeTag(el, DerUniversalTag.BOOLEAN, false, field, options)
  const b = v.value.length === 1 ? v.value[0] : undefined
  if (b === 0x00) return false
  if (b === 0xff) return true
  throw decodeError(
    v,
    'ERR_DER_BOOLEAN_INVALID',
    field,
    `BOOLEAN must be the single octet 0x00 or 0xFF (X.690 §11.1); its contents are ${v.value.length} octet${v.value.length === 1 ? ' of another value' : 's'}`,
    { length: v.value.length },
  )
}

/**
 * Decode a NULL (X.690 §8.8): no contents octets.
 *
 * @example
 * ```ts
 * decodeDerNull(parseDer(Uint8Array.of(0x05, 0x00)), 'parameters') // null
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_NULL_INVALID`.
 */
export function decodeDerNull(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): null {
  const v = expectTypeTag(el, DerUniversalTag.NULL, false, field, options)
  if (v.value.length !== 0) {
    throw decodeError(
      v,
      'ERR_DER_NULL_INVALID',
      field,
      `NULL must have no contents octets; got ${v.value.length}`,
      { length: v.value.length },
    )
  }
  return null
}

/**
 * Decode an OBJECT IDENTIFIER (X.690 §8.19) to dotted decimal, e.g. `"1.3.6.1.4.1.3704.1.3.1"`.
 *
 * Encoding: a series of subidentifiers, each base-128 big-endian with bit 8 set on all but its last
 * octet; the first subidentifier is `X * 40 + Y` for the first two arcs X.Y (§8.19.4). DER and BER
 * alike require each subidentifier in the fewest octets: its first octet is never 0x80
 * (§8.19.2). Arcs longer than 20 octets (140 bits) are rejected.
 *
 * @example
 * ```ts
 * decodeDerOid(parseDer(Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03)), 'type') // '2.5.4.3'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_OID_INVALID` (empty,
 *   last subidentifier cut off, arc too long), `ERR_DER_OID_NOT_MINIMAL`.
 */
export function decodeDerOid(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): string {
  const v = expectTypeTag(el, DerUniversalTag.OBJECT_IDENTIFIER, false, field, options)
  const bytes = v.value
  if (bytes.length === 0) {
    throw decodeError(v, 'ERR_DER_OID_INVALID', field, 'OBJECT IDENTIFIER has no contents octets')
  }
  const arcs: string[] = []
  let arc = 0n
  let arcStart = 0
  for (const [i, b] of bytes.entries()) {
    if (i === arcStart && b === 0x80) {
      throw decodeError(
        v,
        'ERR_DER_OID_NOT_MINIMAL',
        field,
        `subidentifier at contents position ${i} has a leading 0x80 octet (X.690 §8.19.2)`,
        { position: i },
      )
    }
    if (i - arcStart >= MAX_OID_ARC_OCTETS) {
      throw decodeError(
        v,
        'ERR_DER_OID_INVALID',
        field,
        `subidentifier at contents position ${arcStart} is longer than ${MAX_OID_ARC_OCTETS} octets`,
        { position: arcStart, maxOctets: MAX_OID_ARC_OCTETS },
      )
    }
    arc = (arc << 7n) | BigInt(b & 0x7f)
    if ((b & 0x80) !== 0) continue
    if (arcs.length === 0) {
      // §8.19.4: the first subidentifier packs the first two arcs; X is 0, 1 or 2, and Y < 40
      // unless X is 2.
      const x = arc < 40n ? 0n : arc < 80n ? 1n : 2n
      arcs.push(x.toString(), (arc - x * 40n).toString())
    } else {
      arcs.push(arc.toString())
    }
    arc = 0n
    arcStart = i + 1
  }
  if (arcStart !== bytes.length) {
    throw decodeError(
      v,
      'ERR_DER_OID_INVALID',
      field,
      'the last subidentifier of the OBJECT IDENTIFIER is cut off (its last octet has bit 8 set)',
    )
  }
  return arcs.join('.')
}

/**
 * Decode an OCTET STRING (X.690 §8.7; primitive form only in DER, §10.2). Returns a view of the
 * contents.
 *
 * @example
 * ```ts
 * const extnValue = decodeDerOctetString(ext.children[2], 'extnValue')
 * const inner = parseDer(extnValue, { name: 'extension value' })
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`.
 */
export function decodeDerOctetString(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): Uint8Array {
  return expectTypeTag(el, DerUniversalTag.OCTET_STRING, false, field, options).value
}

/**
 * Decode a BIT STRING (X.690 §8.6; primitive form only in DER, §10.2).
 *
 * Encoding: an initial octet giving the number of unused bits (0–7) in the last octet, then the
 * bits. An empty bit string is the single octet 0x00 (§8.6.2.3). DER: the unused bits are zero
 * (§11.2.1).
 *
 * @example
 * ```ts
 * const { bytes, unusedBits } = decodeDerBitString(cert.children[2], 'signatureValue')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_BIT_STRING_INVALID`.
 */
export function decodeDerBitString(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): DerBitString {
  const v = expectTypeTag(el, DerUniversalTag.BIT_STRING, false, field, options)
  const unusedBits = v.value[0]
  if (unusedBits === undefined) {
    throw decodeError(
      v,
      'ERR_DER_BIT_STRING_INVALID',
      field,
      'BIT STRING has no contents octets; an empty one is encoded as 0x00 (X.690 §8.6.2.3)',
    )
  }
  if (unusedBits > 7) {
    throw decodeError(
      v,
      'ERR_DER_BIT_STRING_INVALID',
      field,
      `BIT STRING claims ${unusedBits} unused bits; the count is 0 to 7 (X.690 §8.6.2.2)`,
      { unusedBits },
    )
  }
  const bytes = v.value.subarray(1)
  const last = bytes[bytes.length - 1]
  if (last === undefined && unusedBits !== 0) {
    throw decodeError(
      v,
      'ERR_DER_BIT_STRING_INVALID',
      field,
      `empty BIT STRING claims ${unusedBits} unused bits; it must be 0 (X.690 §8.6.2.3)`,
      { unusedBits },
    )
  }
  if (last !== undefined && (last & ((1 << unusedBits) - 1)) !== 0) {
    throw decodeError(
      v,
      'ERR_DER_BIT_STRING_INVALID',
      field,
      'the unused bits at the end of the BIT STRING are not zero (X.690 §11.2.1)',
      { unusedBits },
    )
  }
  return { bytes, unusedBits }
}
