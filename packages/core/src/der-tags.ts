/**
 * DER tags: the tag classes, the universal tag numbers the `decodeDer*` functions read, how tags are
 * named in error messages, and which universal types DER allows only in the primitive or only in
 * the constructed form. Shared by the parser (`parseDer`) and the decoders.
 *
 * @see ITU-T X.680 §8.4 (universal tags), X.690 §8.1.2 (identifier octets), §10.2 (string forms).
 * @module
 */

/** The class of a tag: bits 8–7 of the identifier octet (X.690 §8.1.2.2, table 1). */
export type DerTagClass = 'universal' | 'application' | 'context' | 'private'

/**
 * Universal tag numbers (X.680 §8.4, table 1) of the types the `decodeDer*` functions decode.
 *
 * @example
 * ```ts
 * expectDerTag(el, { tagNumber: DerUniversalTag.SEQUENCE, constructed: true }, 'tbsCertificate')
 * ```
 */
export const DerUniversalTag = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OBJECT_IDENTIFIER: 6,
  ENUMERATED: 10,
  UTF8_STRING: 12,
  SEQUENCE: 16,
  SET: 17,
  PRINTABLE_STRING: 19,
  IA5_STRING: 22,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
} as const

/**
 * The tag classes in the order of their two class bits (`identifier >> 6`).
 *
 * @internal shared with the parser.
 */
export const TAG_CLASSES = ['universal', 'application', 'context', 'private'] as const

const UNIVERSAL_NAMES: Readonly<Record<number, string>> = {
  1: 'BOOLEAN',
  2: 'INTEGER',
  3: 'BIT STRING',
  4: 'OCTET STRING',
  5: 'NULL',
  6: 'OBJECT IDENTIFIER',
  7: 'ObjectDescriptor',
  8: 'EXTERNAL',
  9: 'REAL',
  10: 'ENUMERATED',
  11: 'EMBEDDED PDV',
  12: 'UTF8String',
  13: 'RELATIVE-OID',
  14: 'TIME',
  16: 'SEQUENCE',
  17: 'SET',
  18: 'NumericString',
  19: 'PrintableString',
  20: 'TeletexString',
  21: 'VideotexString',
  22: 'IA5String',
  23: 'UTCTime',
  24: 'GeneralizedTime',
  25: 'GraphicString',
  26: 'VisibleString',
  27: 'GeneralString',
  28: 'UniversalString',
  29: 'CHARACTER STRING',
  30: 'BMPString',
  31: 'DATE',
  32: 'TIME-OF-DAY',
  33: 'DATE-TIME',
  34: 'DURATION',
  35: 'OID-IRI',
  36: 'RELATIVE-OID-IRI',
}

// X.690 §10.2 and §8.x: in DER, string types use the primitive form only, the other simple types
// have no constructed form at all, and SEQUENCE, SET, EXTERNAL, EMBEDDED PDV and CHARACTER STRING
// have no primitive form. Enforcing it in the parser keeps "one value, one encoding" and stops a
// constructed OCTET STRING from being read as its raw concatenated children.
/**
 * Universal tag numbers that DER allows only in the constructed form.
 *
 * @internal shared with the parser.
 */
export const CONSTRUCTED_ONLY: ReadonlySet<number> = new Set([8, 11, 16, 17, 29])

/**
 * Universal tag numbers that DER allows only in the primitive form.
 *
 * @internal shared with the parser.
 */
export const PRIMITIVE_ONLY: ReadonlySet<number> = new Set([
  1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 14, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32,
  33, 34, 35, 36,
])

/**
 * The tag's name as X.680 writes it: `INTEGER`, `[3]`, `[APPLICATION 7]`, …
 *
 * @internal shared by the parser and the decoders, so all messages name tags alike.
 */
export function tagName(tagClass: DerTagClass, tagNumber: number): string {
  switch (tagClass) {
    case 'universal':
      return UNIVERSAL_NAMES[tagNumber] ?? `[UNIVERSAL ${tagNumber}]`
    case 'application':
      return `[APPLICATION ${tagNumber}]`
    case 'context':
      return `[${tagNumber}]`
    case 'private':
      return `[PRIVATE ${tagNumber}]`
  }
}

/**
 * The tag's name and form for messages, e.g. `SEQUENCE (constructed)`.
 *
 * @internal shared by the parser and the decoders, so all messages name tags alike.
 */
export function describeTag(
  tagClass: DerTagClass,
  tagNumber: number,
  constructed: boolean,
): string {
  return `${tagName(tagClass, tagNumber)} (${constructed ? 'constructed' : 'primitive'})`
}
