/**
 * A strict DER reader (ITU-T X.690 §8 basic rules as restricted by §10 and §11) for X.509
 * certificates, CRLs and their extensions (AMD VCEK/VLEK, Intel PCK SGX extensions).
 *
 * {@link parseDer} reads one element and all elements nested in it, and rejects everything DER
 * forbids that can be checked without a schema: indefinite lengths, non-minimal lengths and tag
 * numbers, the constructed form of string types, trailing data, children that do not exactly fill
 * their parent. The `decodeDer*` functions then read typed values with DER's canonical-encoding
 * rules (minimal INTEGERs, BOOLEAN as 0x00/0xFF, zero unused bits in BIT STRINGs, `Z`-terminated
 * times with seconds, …). There is exactly one valid encoding of each value, so a signature checked
 * over {@link DerElement.encoded} covers exactly the value that was decoded.
 *
 * Not checked here because they need the schema: the order of SET and SET OF components (X.690
 * §10.3, §11.6), DEFAULT values being omitted (§11.5), and trailing zero bits of named-bit BIT
 * STRINGs (§11.2.2).
 *
 * @see ITU-T X.690 (02/2021) §8 (basic encoding rules), §10 (DER), §11 (CER/DER common rules).
 * @module
 */
import { Buffer } from 'node:buffer'
import { bytesToHex, utf8ToString } from './encoding.ts'
import { MalformedInputError, UsageError } from './errors.ts'

/** The class of a tag: bits 8–7 of the identifier octet (X.690 §8.1.2.2, table 1). */
export type DerTagClass = 'universal' | 'application' | 'context' | 'private'

/**
 * One DER element (a tag-length-value triple) and everything nested in it.
 *
 * ```text
 * identifier   class (2 bits) | constructed (1 bit) | tag number (5 bits, 31 = more octets follow)
 * length       0x00–0x7F: the length; 0x81–0x84: that many big-endian length octets follow
 * contents     `length` octets; for the constructed form, a series of complete elements
 * ```
 */
export interface DerElement {
  /** The tag's class. */
  readonly tagClass: DerTagClass
  /** True for the constructed form (bit 6 of the identifier octet): the contents are elements. */
  readonly constructed: boolean
  /** The tag number (X.690 §8.1.2), e.g. 16 for a universal SEQUENCE or 0 for `[0]`. */
  readonly tagNumber: number
  /** The contents octets (a view). */
  readonly value: Uint8Array
  /** The whole encoding, identifier through contents (a view): what a signature covers. */
  readonly encoded: Uint8Array
  /** Offset of the identifier octet in the bytes given to {@link parseDer}. */
  readonly offset: number
  /** For the constructed form, the elements of the contents in order; empty for the primitive form. */
  readonly children: readonly DerElement[]
}

/** Options for {@link parseDer}. */
export interface DerParseOptions {
  /** What is being parsed (`"VCEK certificate"`); prefixes error messages. Default `"DER input"`. */
  readonly name?: string
  /**
   * The deepest nesting accepted, counting the outermost element as 1. Default 32; an X.509
   * certificate needs about 8. At most 1000.
   */
  readonly maxDepth?: number
}

/** A tag to expect: class (default universal), number and form. */
export interface DerTagSpec {
  /** Default `'universal'`. */
  readonly tagClass?: DerTagClass
  /** The tag number. */
  readonly tagNumber: number
  /** True for the constructed form. */
  readonly constructed: boolean
}

/** Options for the `decodeDer*` functions. */
export interface DerDecodeOptions {
  /**
   * The element carries an IMPLICIT tag (X.680 §31.2.7) instead of the type's universal tag, e.g.
   * `{ tagClass: 'context', tagNumber: 2 }` for a `dNSName [2] IMPLICIT IA5String`. The form
   * (primitive or constructed) is still the type's own.
   */
  readonly implicitTag?: { readonly tagClass: DerTagClass; readonly tagNumber: number }
}

/** A decoded BIT STRING: the bit octets, and how many low-order bits of the last one are unused. */
export interface DerBitString {
  /** The octets holding the bits, first bit in the high-order bit of the first octet. */
  readonly bytes: Uint8Array
  /** Unused bits at the end of the last octet, 0–7 (always 0 when `bytes` is empty). */
  readonly unusedBits: number
}

/**
 * Universal tag numbers (X.680 §8.4, table 1) of the types this module decodes.
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

const DEFAULT_MAX_DEPTH = 32
const MAX_MAX_DEPTH = 1000
/** At most 4 length octets: contents up to 4 GiB − 1, far beyond anything we parse. */
const MAX_LENGTH_OCTETS = 4
/** At most 4 tag-number octets after the first: tag numbers below 2^28. */
const MAX_TAG_OCTETS = 4
/** Longest OID arc accepted, in octets: 140 bits, enough for `2.25.<128-bit UUID>`. */
const MAX_OID_ARC_OCTETS = 20
/** Longest fraction of a second a `Date` can hold. */
const MAX_FRACTION_DIGITS = 3

const TAG_CLASSES = ['universal', 'application', 'context', 'private'] as const

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
// have no primitive form. Enforcing it here keeps "one value, one encoding" and stops a constructed
// OCTET STRING from being read as its raw concatenated children.
const CONSTRUCTED_ONLY = new Set([8, 11, 16, 17, 29])
const PRIMITIVE_ONLY = new Set([
  1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13, 14, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32,
  33, 34, 35, 36,
])

function tagName(tagClass: DerTagClass, tagNumber: number): string {
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

function describeTag(tagClass: DerTagClass, tagNumber: number, constructed: boolean): string {
  return `${tagName(tagClass, tagNumber)} (${constructed ? 'constructed' : 'primitive'})`
}

interface ParseContext {
  readonly bytes: Uint8Array
  readonly name: string
  readonly maxDepth: number
}

const DER_HINT =
  'the data is not valid DER: check that it is the file you meant (not PEM text or BER output) and that it was not truncated or edited'

function malformed(
  ctx: ParseContext,
  code: `ERR_DER_${string}`,
  message: string,
  details: Readonly<Record<string, string | number>>,
): MalformedInputError {
  return new MalformedInputError(code, `${ctx.name}: ${message}`, {
    details: { name: ctx.name, ...details },
    hint: DER_HINT,
  })
}

function truncated(
  ctx: ParseContext,
  part: string,
  offset: number,
  needed: number,
  available: number,
  parent: string | undefined,
): MalformedInputError {
  const where = parent === undefined ? 'the input' : `its enclosing ${parent}`
  return malformed(
    ctx,
    'ERR_DER_TRUNCATED',
    `${part} at offset ${offset} needs ${needed} byte${needed === 1 ? '' : 's'} but ${where} has only ${available} left`,
    { part, offset, needed, available },
  )
}

/**
 * Parse one element starting at `start`, inside a parent whose contents end at `end`.
 * `parent` names the enclosing element for messages (undefined at top level).
 */
function parseElement(
  ctx: ParseContext,
  start: number,
  end: number,
  depth: number,
  parent: string | undefined,
): DerElement {
  const bytes = ctx.bytes
  if (depth > ctx.maxDepth) {
    // A bound on nesting is a bound on recursion: a few bytes of nested headers must not be able
    // to exhaust the stack.
    throw malformed(
      ctx,
      'ERR_DER_DEPTH',
      `element at offset ${start} is nested deeper than ${ctx.maxDepth} levels`,
      { offset: start, maxDepth: ctx.maxDepth },
    )
  }

  // Identifier octets (X.690 §8.1.2).
  let p = start
  const first = bytes[p]
  if (first === undefined || p >= end) {
    throw truncated(ctx, 'identifier', start, 1, 0, parent)
  }
  p += 1
  const tagClass: DerTagClass = TAG_CLASSES[(first >> 6) as 0 | 1 | 2 | 3]
  const constructed = (first & 0x20) !== 0
  let tagNumber = first & 0x1f
  if (tagNumber === 0x1f) {
    // High-tag-number form (§8.1.2.4): base-128 digits, bit 8 set on all but the last.
    tagNumber = 0
    for (let count = 1; ; count += 1) {
      const b = p < end ? bytes[p] : undefined
      if (b === undefined) {
        throw truncated(ctx, 'tag number', p, 1, 0, parent)
      }
      if (count === 1 && b === 0x80) {
        // §8.1.2.4.2 c: bits 7–1 of the first subsequent octet shall not all be zero.
        throw malformed(
          ctx,
          'ERR_DER_TAG_NOT_MINIMAL',
          `tag number at offset ${start} has a leading zero digit`,
          { offset: start },
        )
      }
      if (count > MAX_TAG_OCTETS) {
        throw malformed(
          ctx,
          'ERR_DER_TAG_TOO_LARGE',
          `tag number at offset ${start} has more than ${MAX_TAG_OCTETS} octets`,
          { offset: start, maxOctets: MAX_TAG_OCTETS },
        )
      }
      p += 1
      tagNumber = tagNumber * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) break
    }
    if (tagNumber < 0x1f) {
      // §8.1.2.2: tag numbers 0–30 are encoded in the first octet.
      throw malformed(
        ctx,
        'ERR_DER_TAG_NOT_MINIMAL',
        `tag number ${tagNumber} at offset ${start} uses the high-tag-number form`,
        { offset: start, tagNumber },
      )
    }
  }
  const name = describeTag(tagClass, tagNumber, constructed)
  if (tagClass === 'universal' && tagNumber === 0) {
    // Universal 0 is the end-of-contents marker of indefinite lengths (§8.1.5), never used in DER.
    throw malformed(
      ctx,
      'ERR_DER_TAG_INVALID',
      `end-of-contents marker (universal tag 0) at offset ${start}; DER has no indefinite lengths`,
      { offset: start },
    )
  }
  if (tagClass === 'universal' && constructed && PRIMITIVE_ONLY.has(tagNumber)) {
    throw malformed(
      ctx,
      'ERR_DER_FORM_INVALID',
      `${tagName(tagClass, tagNumber)} at offset ${start} uses the constructed form; DER requires the primitive form (X.690 §10.2)`,
      { offset: start, tag: tagName(tagClass, tagNumber) },
    )
  }
  if (tagClass === 'universal' && !constructed && CONSTRUCTED_ONLY.has(tagNumber)) {
    throw malformed(
      ctx,
      'ERR_DER_FORM_INVALID',
      `${tagName(tagClass, tagNumber)} at offset ${start} uses the primitive form; it must be constructed`,
      { offset: start, tag: tagName(tagClass, tagNumber) },
    )
  }

  // Length octets (§8.1.3, restricted by §10.1).
  const lengthOffset = p
  const l0 = p < end ? bytes[p] : undefined
  if (l0 === undefined) {
    throw truncated(ctx, `length of ${name}`, p, 1, 0, parent)
  }
  p += 1
  let length: number
  if (l0 < 0x80) {
    length = l0
  } else if (l0 === 0x80) {
    // §10.1: the definite form of length encoding shall be used.
    throw malformed(
      ctx,
      'ERR_DER_INDEFINITE_LENGTH',
      `${name} at offset ${start} has an indefinite length; DER requires definite lengths (X.690 §10.1)`,
      { offset: start },
    )
  } else {
    const count = l0 & 0x7f
    if (count > MAX_LENGTH_OCTETS) {
      // Also catches 0xFF, reserved by §8.1.3.5 c.
      throw malformed(
        ctx,
        'ERR_DER_LENGTH_TOO_LARGE',
        `${name} at offset ${start} has ${count} length octets; at most ${MAX_LENGTH_OCTETS} are accepted`,
        { offset: start, lengthOctets: count, maxLengthOctets: MAX_LENGTH_OCTETS },
      )
    }
    if (count > end - p) {
      throw truncated(ctx, `length of ${name}`, p, count, end - p, parent)
    }
    if (bytes[p] === 0) {
      // §10.1: the length shall be encoded in the minimum number of octets.
      throw malformed(
        ctx,
        'ERR_DER_LENGTH_NOT_MINIMAL',
        `length of ${name} at offset ${lengthOffset} has a leading zero octet (X.690 §10.1)`,
        { offset: lengthOffset },
      )
    }
    length = 0
    for (const b of bytes.subarray(p, p + count)) length = length * 256 + b
    p += count
    if (length < 0x80) {
      throw malformed(
        ctx,
        'ERR_DER_LENGTH_NOT_MINIMAL',
        `length ${length} of ${name} at offset ${lengthOffset} uses the long form; DER requires the short form below 128 (X.690 §10.1)`,
        { offset: lengthOffset, length },
      )
    }
  }

  // Contents octets (§8.1.4).
  if (length > end - p) {
    throw truncated(ctx, `contents of ${name}`, p, length, end - p, parent)
  }
  const contentEnd = p + length
  const children: DerElement[] = []
  if (constructed) {
    // §8.1.1: the contents of the constructed form are complete encodings. Each child is parsed
    // against the parent's end, so the children fill the contents exactly or the parse fails.
    let q = p
    while (q < contentEnd) {
      const child = parseElement(ctx, q, contentEnd, depth + 1, name)
      children.push(child)
      q += child.encoded.length
    }
  }
  return {
    tagClass,
    constructed,
    tagNumber,
    value: bytes.subarray(p, contentEnd),
    encoded: bytes.subarray(start, contentEnd),
    offset: start,
    children,
  }
}

/**
 * Parse exactly one DER element, and every element nested in it, from `bytes`.
 *
 * The input is copied once, so later changes to `bytes` cannot change the result; `value` and
 * `encoded` of every element are views into that copy. The whole input must be the one element:
 * a certificate followed by anything else is rejected.
 *
 * DER rules enforced (ITU-T X.690):
 * - identifier (§8.1.2): tag numbers 0–30 in one octet, larger ones in the high-tag-number form
 *   without a leading zero digit (at most 4 extra octets); universal tag 0 (end-of-contents) is
 *   rejected;
 * - form (§10.2, §8.x): universal string and simple types are primitive, SEQUENCE and SET are
 *   constructed;
 * - length (§8.1.3, §10.1): definite only, short form below 128, long form without leading zero
 *   octets and with at most 4 length octets;
 * - contents (§8.1.4, §8.1.1): must fit in the input (or in the enclosing element), and the
 *   children of a constructed element must fill its contents exactly;
 * - nesting deeper than `options.maxDepth` (default 32) is rejected before recursing further.
 *
 * @example
 * ```ts
 * const cert = parseDer(der, { name: 'VCEK certificate' })
 * const [tbs, sigAlg, sig] = decodeDerSequence(cert, 'Certificate')
 * // tbs.encoded is what the issuer signed
 * ```
 *
 * @see ITU-T X.690 §8.1 (general rules), §10.1 (length forms), §10.2 (string forms).
 * @throws {@link MalformedInputError} `ERR_DER_TRUNCATED`, `ERR_DER_INDEFINITE_LENGTH`,
 *   `ERR_DER_LENGTH_NOT_MINIMAL`, `ERR_DER_LENGTH_TOO_LARGE`, `ERR_DER_TAG_NOT_MINIMAL`,
 *   `ERR_DER_TAG_TOO_LARGE`, `ERR_DER_TAG_INVALID`, `ERR_DER_FORM_INVALID`, `ERR_DER_DEPTH`,
 *   `ERR_DER_TRAILING_DATA`; `details` has the `offset`.
 * @throws {@link UsageError} `ERR_DER_MAX_DEPTH_INVALID` when `options.maxDepth` is not an integer
 *   from 1 to 1000.
 */
export function parseDer(bytes: Uint8Array, options: DerParseOptions = {}): DerElement {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_MAX_DEPTH) {
    throw new UsageError(
      'ERR_DER_MAX_DEPTH_INVALID',
      `maxDepth must be an integer from 1 to ${MAX_MAX_DEPTH} (got ${String(maxDepth)})`,
      { details: { maxDepth: String(maxDepth) } },
    )
  }
  const ctx: ParseContext = { bytes: bytes.slice(), name: options.name ?? 'DER input', maxDepth }
  const element = parseElement(ctx, 0, ctx.bytes.length, 1, undefined)
  const consumed = element.encoded.length
  if (consumed !== ctx.bytes.length) {
    const trailing = ctx.bytes.length - consumed
    throw malformed(
      ctx,
      'ERR_DER_TRAILING_DATA',
      `${trailing} byte${trailing === 1 ? '' : 's'} of trailing data after the element ending at offset ${consumed}`,
      { offset: consumed, trailing, length: ctx.bytes.length },
    )
  }
  return element
}

function decodeError(
  el: DerElement,
  code: `ERR_DER_${string}`,
  field: string,
  message: string,
  details: Readonly<Record<string, string | number>> = {},
): MalformedInputError {
  return new MalformedInputError(code, `${field} at offset ${el.offset}: ${message}`, {
    details: { field, offset: el.offset, ...details },
    hint: DER_HINT,
  })
}

/**
 * Check an element's tag (class, number and form) and return the element.
 *
 * @example
 * ```ts
 * const ext = expectDerTag(tbs.children[7], { tagClass: 'context', tagNumber: 3, constructed: true }, 'extensions')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG` naming the field, the expected and
 *   the actual tag; `ERR_DER_MISSING` when `el` is `undefined` (a SEQUENCE had fewer children).
 */
export function expectDerTag(
  el: DerElement | undefined,
  expected: DerTagSpec,
  field: string,
): DerElement {
  const tagClass = expected.tagClass ?? 'universal'
  const want = describeTag(tagClass, expected.tagNumber, expected.constructed)
  if (el === undefined) {
    throw new MalformedInputError('ERR_DER_MISSING', `${field} is missing: expected ${want}`, {
      details: { field, expected: want },
      hint: DER_HINT,
    })
  }
  if (
    el.tagClass !== tagClass ||
    el.tagNumber !== expected.tagNumber ||
    el.constructed !== expected.constructed
  ) {
    const got = describeTag(el.tagClass, el.tagNumber, el.constructed)
    throw decodeError(el, 'ERR_DER_UNEXPECTED_TAG', field, `expected ${want}, found ${got}`, {
      expected: want,
      actual: got,
    })
  }
  return el
}

function universal(
  el: DerElement | undefined,
  tagNumber: number,
  constructed: boolean,
  field: string,
  options: DerDecodeOptions | undefined,
): DerElement {
  const implicit = options?.implicitTag
  return expectDerTag(
    el,
    implicit === undefined
      ? { tagNumber, constructed }
      : { tagClass: implicit.tagClass, tagNumber: implicit.tagNumber, constructed },
    field,
  )
}

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
  const v = universal(el, DerUniversalTag.INTEGER, false, field, options)
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
  return integerContents(universal(el, DerUniversalTag.ENUMERATED, false, field, options), field)
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
  const v = universal(el, DerUniversalTag.BOOLEAN, false, field, options)
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
  const v = universal(el, DerUniversalTag.NULL, false, field, options)
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
  const v = universal(el, DerUniversalTag.OBJECT_IDENTIFIER, false, field, options)
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
  return universal(el, DerUniversalTag.OCTET_STRING, false, field, options).value
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
  const v = universal(el, DerUniversalTag.BIT_STRING, false, field, options)
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

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function restrictedString(
  el: DerElement | undefined,
  tagNumber: number,
  typeName: string,
  allowed: (byte: number) => boolean,
  charsetName: string,
  field: string,
  options: DerDecodeOptions | undefined,
): string {
  const v = universal(el, tagNumber, false, field, options)
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
  const v = universal(el, DerUniversalTag.UTF8_STRING, false, field, options)
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
export function decodeDerPrintableString(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): string {
  return restrictedString(
    el,
    DerUniversalTag.PRINTABLE_STRING,
    'PrintableString',
    isPrintable,
    'the PrintableString set',
    field,
    options,
  )
}

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
export function decodeDerIa5String(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): string {
  return restrictedString(
    el,
    DerUniversalTag.IA5_STRING,
    'IA5String',
    (b) => b < 0x80,
    'IA5 (7-bit ASCII)',
    field,
    options,
  )
}

const UTC_TIME_PATTERN = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
const GENERALIZED_TIME_PATTERN = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
    return leap ? 29 : 28
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

function timeToDate(
  v: DerElement,
  field: string,
  typeName: string,
  year: number,
  m: RegExpExecArray,
  fraction: string,
): Date {
  // Groups 2–6 of both patterns are MMDDHHMMSS, two digits each.
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ]
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw decodeError(
      v,
      'ERR_DER_TIME_INVALID',
      field,
      `${typeName} is not a valid calendar date and time`,
      { type: typeName },
    )
  }
  const ms = fraction === '' ? 0 : Number(fraction.padEnd(3, '0'))
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, ms)
  return date
}

function timeText(v: DerElement): string {
  return latin1(v.value)
}

/**
 * Decode a UTCTime (X.680 §47) to a `Date`.
 *
 * DER form (X.690 §11.8): `YYMMDDHHMMSSZ` exactly, seconds present, UTC (`Z`), no fraction. The
 * two-digit year is read as RFC 5280 §4.1.2.5.1 says: 50–99 → 1950–1999, 00–49 → 2000–2049.
 *
 * @example
 * ```ts
 * decodeDerUtcTime(notBefore, 'notBefore') // 2022-09-24T…Z for '220924…Z'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_TIME_INVALID`.
 */
export function decodeDerUtcTime(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): Date {
  const v = universal(el, DerUniversalTag.UTC_TIME, false, field, options)
  const m = UTC_TIME_PATTERN.exec(timeText(v))
  if (m === null) {
    throw decodeError(
      v,
      'ERR_DER_TIME_INVALID',
      field,
      'UTCTime is not in the DER form YYMMDDHHMMSSZ (X.690 §11.8)',
      { type: 'UTCTime', length: v.value.length },
    )
  }
  const yy = Number(m[1])
  return timeToDate(v, field, 'UTCTime', yy >= 50 ? 1900 + yy : 2000 + yy, m, '')
}

/**
 * Decode a GeneralizedTime (X.680 §46) to a `Date`.
 *
 * DER form (X.690 §11.7): `YYYYMMDDHHMMSS[.f+]Z`: seconds present, UTC (`Z`), the fraction (if
 * any) after a `.` with no trailing zeros and omitted when zero. A `Date` holds milliseconds, so a
 * fraction of more than three digits is rejected rather than rounded. (RFC 5280 §4.1.2.5.2 forbids
 * fractions in certificates altogether; that profile rule is the caller's to apply.)
 *
 * @example
 * ```ts
 * decodeDerGeneralizedTime(notAfter, 'notAfter') // 2050-01-01T00:00:00.000Z for '20500101000000Z'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_TIME_INVALID`.
 */
export function decodeDerGeneralizedTime(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): Date {
  const v = universal(el, DerUniversalTag.GENERALIZED_TIME, false, field, options)
  const m = GENERALIZED_TIME_PATTERN.exec(timeText(v))
  if (m === null) {
    throw decodeError(
      v,
      'ERR_DER_TIME_INVALID',
      field,
      'GeneralizedTime is not in the DER form YYYYMMDDHHMMSS[.fff]Z with no trailing zeros in the fraction (X.690 §11.7)',
      { type: 'GeneralizedTime', length: v.value.length },
    )
  }
  const fraction = m[7] ?? ''
  if (fraction.length > MAX_FRACTION_DIGITS) {
    throw decodeError(
      v,
      'ERR_DER_TIME_INVALID',
      field,
      `GeneralizedTime has ${fraction.length} fractional digits; at most ${MAX_FRACTION_DIGITS} (milliseconds) are supported`,
      { type: 'GeneralizedTime', fractionDigits: fraction.length },
    )
  }
  return timeToDate(v, field, 'GeneralizedTime', Number(m[1]), m, fraction)
}

/**
 * Decode an X.509 `Time` (RFC 5280 §4.1.2.5): `CHOICE { utcTime UTCTime, generalTime
 * GeneralizedTime }`. Which of the two a certificate must use for which years is a profile rule
 * left to the caller.
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG` (neither type),
 *   `ERR_DER_TIME_INVALID`.
 */
export function decodeDerTime(el: DerElement | undefined, field: string): Date {
  if (el?.tagClass === 'universal' && el.tagNumber === DerUniversalTag.GENERALIZED_TIME) {
    return decodeDerGeneralizedTime(el, field)
  }
  if (el?.tagClass === 'universal' && el.tagNumber === DerUniversalTag.UTC_TIME) {
    return decodeDerUtcTime(el, field)
  }
  if (el === undefined) {
    throw new MalformedInputError(
      'ERR_DER_MISSING',
      `${field} is missing: expected UTCTime or GeneralizedTime`,
      { details: { field, expected: 'UTCTime or GeneralizedTime' }, hint: DER_HINT },
    )
  }
  const got = describeTag(el.tagClass, el.tagNumber, el.constructed)
  throw decodeError(
    el,
    'ERR_DER_UNEXPECTED_TAG',
    field,
    `expected UTCTime or GeneralizedTime, found ${got}`,
    { expected: 'UTCTime or GeneralizedTime', actual: got },
  )
}

/**
 * Check that `el` is a SEQUENCE (X.690 §8.9; constructed) and return its components in order.
 *
 * @example
 * ```ts
 * const [tbs, signatureAlgorithm, signatureValue] = decodeDerSequence(cert, 'Certificate')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`.
 */
export function decodeDerSequence(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): readonly DerElement[] {
  return universal(el, DerUniversalTag.SEQUENCE, true, field, options).children
}

/**
 * Check that `el` is a SET or SET OF (X.690 §8.11, §8.12; constructed) and return its components
 * in encoded order. The DER ordering rules (§10.3, §11.6) depend on the schema and are not checked.
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`.
 */
export function decodeDerSet(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): readonly DerElement[] {
  return universal(el, DerUniversalTag.SET, true, field, options).children
}

/**
 * Unwrap an EXPLICIT context-specific tag (X.690 §8.14.3): check that `el` is `[tagNumber]` in
 * the constructed form with exactly one child, and return that child.
 *
 * @example
 * ```ts
 * // version [0] EXPLICIT Version DEFAULT v1
 * const version = decodeDerInteger(decodeDerExplicit(tbs[0], 0, 'version'), 'version')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`,
 *   `ERR_DER_EXPLICIT_INVALID` (not exactly one child).
 */
export function decodeDerExplicit(
  el: DerElement | undefined,
  tagNumber: number,
  field: string,
): DerElement {
  const v = expectDerTag(el, { tagClass: 'context', tagNumber, constructed: true }, field)
  const [child] = v.children
  if (child === undefined || v.children.length !== 1) {
    throw decodeError(
      v,
      'ERR_DER_EXPLICIT_INVALID',
      field,
      `explicit tag [${tagNumber}] must wrap exactly one element; it wraps ${v.children.length}`,
      { children: v.children.length },
    )
  }
  return child
}
