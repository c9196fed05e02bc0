/**
 * A strict DER reader (ITU-T X.690 §8 basic rules as restricted by §10 and §11) for X.509
 * certificates, CRLs and their extensions (AMD VCEK/VLEK, Intel PCK SGX extensions).
 *
 * This module holds the element parser. {@link parseDer} reads one element and all elements nested
 * in it, and rejects everything DER forbids that can be checked without a schema: indefinite
 * lengths, non-minimal lengths and tag numbers, the constructed form of string types, trailing
 * data, children that do not exactly fill their parent. The `decodeDer*` functions then read typed
 * values with DER's canonical-encoding rules (minimal INTEGERs, BOOLEAN as 0x00/0xFF, zero unused
 * bits in BIT STRINGs, `Z`-terminated times with seconds, …): tags and constructed types in
 * `der-structure.ts`, simple types in `der-primitives.ts`, character strings in `der-strings.ts`,
 * times in `der-time.ts`. There is exactly one valid encoding of each value, so a signature checked
 * over {@link DerElement.encoded} covers exactly the value that was decoded.
 *
 * Not checked here because they need the schema: the order of SET and SET OF components (X.690
 * §10.3, §11.6), DEFAULT values being omitted (§11.5), and trailing zero bits of named-bit BIT
 * STRINGs (§11.2.2).
 *
 * @see ITU-T X.690 (02/2021) §8 (basic encoding rules), §10 (DER), §11 (CER/DER common rules).
 * @module
 */
import { MalformedInputError, UsageError } from './errors.ts'
import { CONSTRUCTED_ONLY, PRIMITIVE_ONLY, TAG_CLASSES, describeTag, tagName } from './der-tags.ts'
import type { DerTagClass } from './der-tags.ts'

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

const DEFAULT_MAX_DEPTH = 32
const MAX_MAX_DEPTH = 1000
/** At most 4 length octets: contents up to 4 GiB − 1, far beyond anything we parse. */
const MAX_LENGTH_OCTETS = 4
/** At most 4 tag-number octets after the first: tag numbers below 2^28. */
const MAX_TAG_OCTETS = 4

interface ParseContext {
  readonly bytes: Uint8Array
  readonly name: string
  readonly maxDepth: number
}

/**
 * The hint every DER error carries.
 *
 * @internal shared by the parser and the decoders.
 */
export const DER_HINT =
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
  const ctx: ParseContext = {
    bytes: new Uint8Array(bytes),
    name: options.name ?? 'DER input',
    maxDepth,
  }
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
