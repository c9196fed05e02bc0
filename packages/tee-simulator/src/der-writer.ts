/**
 * A small DER encoder (ITU-T X.690 §8 as restricted by §10 and §11) for building test
 * certificates, extensions and other ASN.1 fixtures.
 *
 * Every function returns one complete element (identifier, minimal length, contents) as a fresh
 * `Uint8Array`, so encodings compose by nesting calls:
 *
 * ```ts
 * derSequence([derOid('2.5.4.3'), derUtf8String('SEV-VCEK')])
 * ```
 *
 * The encoder produces only canonical DER: minimal lengths and tag numbers, minimal
 * two's-complement INTEGERs, BOOLEAN as 0x00/0xFF, primitive strings, zero unused bits in BIT
 * STRINGs, `Z`-terminated times with seconds. Values DER cannot express (a PrintableString with a
 * `*`, a UTCTime in 2050, an unused bit set) are refused with a {@link UsageError} rather than
 * encoded wrongly. It is the writing counterpart of `parseDer` in `@initguard/core`, and its tests
 * round-trip every type through that reader.
 *
 * @see ITU-T X.690 (02/2021) §8 (basic encoding rules), §10 (DER), §11 (CER/DER common rules).
 * @module
 */
import { DerUniversalTag, concatBytes, parseDer, UsageError } from '@initguard/core'
import type { DerTagClass } from '@initguard/core'
import { builderError, type BuilderError } from './builder-error.ts'

/** The tag of an element to write: class (default universal), number and form. */
export interface DerWriteTag {
  /** Default `'universal'`. */
  readonly tagClass?: DerTagClass
  /** The tag number, 0 to 2^28 − 1 (numbers from 31 use the high-tag-number form). */
  readonly tagNumber: number
  /** True for the constructed form: the contents are complete elements. */
  readonly constructed: boolean
}

const CLASS_BITS: Readonly<Record<DerTagClass, number>> = {
  universal: 0x00,
  application: 0x40,
  context: 0x80,
  private: 0xc0,
}

const MAX_TAG_NUMBER = 2 ** 28 - 1

const usage: BuilderError<'ERR_DER_WRITE_'> = builderError

function identifierOctets(tag: DerWriteTag): Uint8Array {
  const { tagNumber } = tag
  if (!Number.isSafeInteger(tagNumber) || tagNumber < 0 || tagNumber > MAX_TAG_NUMBER) {
    throw usage(
      'ERR_DER_WRITE_TAG_INVALID',
      `tag number must be an integer from 0 to ${MAX_TAG_NUMBER} (got ${String(tagNumber)})`,
      { tagNumber: String(tagNumber) },
    )
  }
  const first = CLASS_BITS[tag.tagClass ?? 'universal'] | (tag.constructed ? 0x20 : 0)
  if (tagNumber < 31) return Uint8Array.of(first | tagNumber)
  // High-tag-number form (§8.1.2.4): base-128 digits, most significant first, bit 8 set on all
  // but the last, no leading zero digit.
  const digits: number[] = []
  for (let t = tagNumber; t > 0; t = Math.floor(t / 128)) digits.unshift(t % 128)
  return Uint8Array.of(
    first | 0x1f,
    ...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d)),
  )
}

function lengthOctets(length: number): Uint8Array {
  // §10.1: the definite form, short when the length fits in 7 bits, otherwise the fewest octets.
  if (length < 0x80) return Uint8Array.of(length)
  const octets: number[] = []
  for (let v = length; v > 0; v = Math.floor(v / 256)) octets.unshift(v % 256)
  return Uint8Array.of(0x80 | octets.length, ...octets)
}

/**
 * Encode one element from its tag and contents octets, with the minimal definite length
 * (X.690 §8.1, §10.1). The building block of every other function here.
 *
 * The contents are taken as given: for the constructed form they must be a series of complete
 * elements (the output of other `der*` calls, concatenated).
 *
 * @example
 * ```ts
 * derTlv({ tagNumber: 4, constructed: false }, Uint8Array.of(1, 2)) // 04 02 01 02
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_TAG_INVALID` when the tag number is not an integer
 *   from 0 to 2^28 − 1.
 */
export function derTlv(tag: DerWriteTag, contents: Uint8Array): Uint8Array {
  return concatBytes([identifierOctets(tag), lengthOctets(contents.length), contents])
}

function universalPrimitive(tagNumber: number, contents: Uint8Array): Uint8Array {
  return derTlv({ tagNumber, constructed: false }, contents)
}

function toBigInt(value: bigint | number, field: string): bigint {
  if (typeof value === 'bigint') return value
  if (!Number.isSafeInteger(value)) {
    throw usage(
      'ERR_DER_WRITE_INTEGER_INVALID',
      `${field} must be a bigint or a safe integer (got ${String(value)})`,
      { value: String(value) },
    )
  }
  return BigInt(value)
}

/**
 * The minimal two's-complement contents octets of an integer (X.690 §8.3.2): the fewest octets
 * whose first nine bits are neither all zero nor all one.
 */
function integerContents(value: bigint): Uint8Array {
  // Find the smallest byte count n with −2^(8n−1) ≤ value < 2^(8n−1).
  let n = 1
  while (value >= 1n << BigInt(8 * n - 1) || value < -(1n << BigInt(8 * n - 1))) n += 1
  const out = new Uint8Array(n)
  let v = BigInt.asUintN(8 * n, value)
  for (let i = n - 1; i >= 0; i -= 1) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/**
 * Encode an INTEGER (X.690 §8.3) in minimal two's complement.
 *
 * @example
 * ```ts
 * derInteger(128n) // 02 02 00 80
 * derInteger(-1)   // 02 01 ff
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_INTEGER_INVALID` when a `number` is not a safe
 *   integer.
 */
export function derInteger(value: bigint | number): Uint8Array {
  return universalPrimitive(DerUniversalTag.INTEGER, integerContents(toBigInt(value, 'INTEGER')))
}

/**
 * Encode an ENUMERATED (X.690 §8.4: the contents of an INTEGER under tag 10).
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_INTEGER_INVALID` when a `number` is not a safe
 *   integer.
 */
export function derEnumerated(value: bigint | number): Uint8Array {
  return universalPrimitive(
    DerUniversalTag.ENUMERATED,
    integerContents(toBigInt(value, 'ENUMERATED')),
  )
}

/**
 * Encode a BOOLEAN: 0xFF for true, 0x00 for false (X.690 §11.1).
 *
 * @example
 * ```ts
 * derBoolean(true) // 01 01 ff
 * ```
 */
export function derBoolean(value: boolean): Uint8Array {
  return universalPrimitive(DerUniversalTag.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00))
}

/** Encode a NULL (X.690 §8.8): `05 00`. */
export function derNull(): Uint8Array {
  return universalPrimitive(DerUniversalTag.NULL, new Uint8Array(0))
}

const OID_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/

/**
 * Encode an OBJECT IDENTIFIER from dotted decimal (X.690 §8.19): the first two arcs packed as
 * `X * 40 + Y`, each subidentifier base-128 in the fewest octets.
 *
 * @example
 * ```ts
 * derOid('1.3.6.1.4.1.3704.1.3.1') // 06 0a 2b 06 01 04 01 9c 78 01 03 01
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_OID_INVALID` when the text is not at least two
 *   dot-separated decimal arcs without leading zeros, the first arc is above 2, or the second is
 *   39 or more under a first arc of 0 or 1.
 */
export function derOid(dotted: string): Uint8Array {
  const invalid = (why: string): UsageError =>
    usage('ERR_DER_WRITE_OID_INVALID', `OBJECT IDENTIFIER "${dotted}" is invalid: ${why}`, {
      oid: dotted,
    })
  if (!OID_PATTERN.test(dotted)) {
    throw invalid('expected at least two dot-separated decimal arcs without leading zeros')
  }
  const arcs = dotted.split('.').map((a) => BigInt(a))
  const [x, y, ...rest] = arcs as [bigint, bigint, ...bigint[]]
  if (x > 2n) throw invalid('the first arc must be 0, 1 or 2 (X.660)')
  if (x < 2n && y >= 40n) throw invalid('the second arc must be below 40 under arc 0 or 1')
  const out: number[] = []
  for (const arc of [x * 40n + y, ...rest]) {
    const digits: number[] = []
    let v = arc
    do {
      digits.unshift(Number(v & 0x7fn))
      v >>= 7n
    } while (v > 0n)
    out.push(...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d)))
  }
  return universalPrimitive(DerUniversalTag.OBJECT_IDENTIFIER, Uint8Array.from(out))
}

/**
 * Encode an OCTET STRING (X.690 §8.7, primitive form).
 *
 * @example
 * ```ts
 * derOctetString(derInteger(0)) // 04 03 02 01 00: an extension's extnValue
 * ```
 */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return universalPrimitive(DerUniversalTag.OCTET_STRING, bytes)
}

/**
 * Encode a BIT STRING (X.690 §8.6, primitive form): the unused-bits octet, then the bits.
 *
 * @param bytes - The bits, first bit in the high-order bit of the first octet.
 * @param unusedBits - How many low-order bits of the last octet are not part of the value, 0–7
 *   (default 0). They must be zero (X.690 §11.2.1); an empty bit string has none.
 *
 * @example
 * ```ts
 * derBitString(spkiPoint)                  // 03 62 00 04 …: a public key
 * derBitString(Uint8Array.of(0x06), 1)     // 03 02 01 06: keyCertSign | cRLSign
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_BIT_STRING_INVALID` when `unusedBits` is out of range,
 *   non-zero for an empty string, or covers bits that are set.
 */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) {
    throw usage(
      'ERR_DER_WRITE_BIT_STRING_INVALID',
      `BIT STRING unused bits must be an integer from 0 to 7 (got ${String(unusedBits)})`,
      { unusedBits: String(unusedBits) },
    )
  }
  const last = bytes[bytes.length - 1]
  if (last === undefined && unusedBits !== 0) {
    throw usage(
      'ERR_DER_WRITE_BIT_STRING_INVALID',
      `an empty BIT STRING has no unused bits (got ${unusedBits})`,
      { unusedBits },
    )
  }
  if (last !== undefined && (last & ((1 << unusedBits) - 1)) !== 0) {
    throw usage(
      'ERR_DER_WRITE_BIT_STRING_INVALID',
      `the ${unusedBits} unused bits at the end of the BIT STRING must be zero (X.690 §11.2.1)`,
      { unusedBits },
    )
  }
  return universalPrimitive(
    DerUniversalTag.BIT_STRING,
    concatBytes([Uint8Array.of(unusedBits), bytes]),
  )
}

// With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only.
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Encode a UTF8String (X.690 §8.23.10).
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_STRING_INVALID` when the text has a lone surrogate
 *   (not representable in UTF-8).
 */
export function derUtf8String(text: string): Uint8Array {
  if (LONE_SURROGATE.test(text)) {
    throw usage(
      'ERR_DER_WRITE_STRING_INVALID',
      'UTF8String text has a lone surrogate and cannot be encoded as UTF-8',
      { type: 'UTF8String' },
    )
  }
  return universalPrimitive(DerUniversalTag.UTF8_STRING, new TextEncoder().encode(text))
}

const PRINTABLE_PATTERN = /^[A-Za-z0-9 '()+,\-./:=?]*$/
// eslint-disable-next-line no-control-regex -- IA5 is exactly the 7-bit range, controls included.
const IA5_PATTERN = /^[\x00-\x7f]*$/

function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0))
}

/**
 * Encode a PrintableString (X.680 §41.4): only `A–Z a–z 0–9`, space and `' ( ) + , - . / : = ?`.
 *
 * @example
 * ```ts
 * derPrintableString('US') // 13 02 55 53: a countryName
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_STRING_INVALID` for any other character.
 */
export function derPrintableString(text: string): Uint8Array {
  if (!PRINTABLE_PATTERN.test(text)) {
    throw usage(
      'ERR_DER_WRITE_STRING_INVALID',
      `PrintableString text has a character outside the PrintableString set (position ${text.search(/[^A-Za-z0-9 '()+,\-./:=?]/)})`,
      { type: 'PrintableString' },
      "use derUtf8String for text outside A-Z a-z 0-9 space and ' ( ) + , - . / : = ?",
    )
  }
  return universalPrimitive(DerUniversalTag.PRINTABLE_STRING, asciiBytes(text))
}

/**
 * Encode an IA5String (X.680 §41.4): 7-bit ASCII.
 *
 * @example
 * ```ts
 * derIa5String('Milan-B0') // 16 08 4d 69 6c 61 6e 2d 42 30: a VCEK productName
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_STRING_INVALID` for a character above U+007F.
 */
export function derIa5String(text: string): Uint8Array {
  if (!IA5_PATTERN.test(text)) {
    throw usage(
      'ERR_DER_WRITE_STRING_INVALID',
      'IA5String text has a character outside 7-bit ASCII',
      { type: 'IA5String' },
    )
  }
  return universalPrimitive(DerUniversalTag.IA5_STRING, asciiBytes(text))
}

function checkDate(date: Date, type: string): void {
  if (Number.isNaN(date.getTime())) {
    throw usage('ERR_DER_WRITE_TIME_INVALID', `${type} cannot encode an invalid Date`, { type })
  }
}

/** The UTC year of a valid `date` inside the years `type` can express; `hint` says what instead. */
function yearOf(
  date: Date,
  type: string,
  years: readonly [first: number, last: number],
  hint?: string,
): number {
  checkDate(date, type)
  const year = date.getUTCFullYear()
  const [first, last] = years
  if (year < first || year > last) {
    throw usage(
      'ERR_DER_WRITE_TIME_INVALID',
      `${type} covers years ${first} to ${last} only (got year ${year})`,
      { type, year },
      hint,
    )
  }
  return year
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function timeDigits(date: Date): string {
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2)
  )
}

/**
 * Encode a UTCTime in the DER form `YYMMDDHHMMSSZ` (X.690 §11.8).
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_TIME_INVALID` for an invalid Date, a year outside
 *   1950–2049 (RFC 5280 §4.1.2.5.1 reads two-digit years in that window), or a time with
 *   milliseconds (UTCTime has no fraction).
 */
export function derUtcTime(date: Date): Uint8Array {
  const year = yearOf(
    date,
    'UTCTime',
    [1950, 2049],
    'use derGeneralizedTime, or derTime which picks the type by the RFC 5280 rule',
  )
  if (date.getUTCMilliseconds() !== 0) {
    throw usage(
      'ERR_DER_WRITE_TIME_INVALID',
      `UTCTime cannot carry fractions of a second (got ${date.getUTCMilliseconds()} ms)`,
      { type: 'UTCTime' },
      'round the time to whole seconds',
    )
  }
  const text = pad(year % 100, 2) + timeDigits(date) + 'Z'
  return universalPrimitive(DerUniversalTag.UTC_TIME, asciiBytes(text))
}

/**
 * Encode a GeneralizedTime in the DER form `YYYYMMDDHHMMSS[.fff]Z` (X.690 §11.7): a fraction only
 * when the milliseconds are not zero, without trailing zeros. (Certificates must not carry a
 * fraction, RFC 5280 §4.1.2.5.2; {@link derTime} refuses one.)
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_TIME_INVALID` for an invalid Date or a year outside
 *   0–9999.
 */
export function derGeneralizedTime(date: Date): Uint8Array {
  const year = yearOf(date, 'GeneralizedTime', [0, 9999])
  const ms = date.getUTCMilliseconds()
  const fraction = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`
  const text = pad(year, 4) + timeDigits(date) + fraction + 'Z'
  return universalPrimitive(DerUniversalTag.GENERALIZED_TIME, asciiBytes(text))
}

/**
 * Encode an X.509 `Time` (RFC 5280 §4.1.2.5): UTCTime for 1950 through 2049, GeneralizedTime
 * from 2050 (and before 1950, which UTCTime cannot express), always in whole seconds.
 *
 * @example
 * ```ts
 * derTime(new Date('2029-09-24T00:55:28Z')) // 17 0d "290924005528Z"
 * derTime(new Date('2050-01-01T00:00:00Z')) // 18 0f "20500101000000Z"
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_TIME_INVALID` for an invalid Date, a year outside
 *   0–9999, or a time with milliseconds.
 */
export function derTime(date: Date): Uint8Array {
  checkDate(date, 'Time')
  if (date.getUTCMilliseconds() !== 0) {
    throw usage(
      'ERR_DER_WRITE_TIME_INVALID',
      `an X.509 Time is whole seconds (RFC 5280 §4.1.2.5); got ${date.getUTCMilliseconds()} ms`,
      { type: 'Time' },
      'round the time to whole seconds',
    )
  }
  const year = date.getUTCFullYear()
  return year >= 1950 && year <= 2049 ? derUtcTime(date) : derGeneralizedTime(date)
}

/**
 * Encode a SEQUENCE or SEQUENCE OF (X.690 §8.9, §8.10) of complete elements, in the order given.
 *
 * @example
 * ```ts
 * derSequence([derOid('1.2.840.10045.4.3.3')]) // AlgorithmIdentifier ecdsa-with-SHA384
 * ```
 */
export function derSequence(elements: readonly Uint8Array[]): Uint8Array {
  return derTlv({ tagNumber: DerUniversalTag.SEQUENCE, constructed: true }, concatBytes(elements))
}

/**
 * Encode a SET (X.690 §8.11) of complete elements, in the order given. For a SET OF, whose DER
 * encoding sorts the components, use {@link derSetOf}.
 */
export function derSet(elements: readonly Uint8Array[]): Uint8Array {
  return derTlv({ tagNumber: DerUniversalTag.SET, constructed: true }, concatBytes(elements))
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return a.length - b.length
}

/**
 * Encode a SET OF (X.690 §8.12) with its components in DER order: ascending by their encodings,
 * the shorter first when one is a prefix of the other (X.690 §11.6).
 */
export function derSetOf(elements: readonly Uint8Array[]): Uint8Array {
  return derSet([...elements].sort(compareBytes))
}

/**
 * Wrap a complete element in an EXPLICIT tag (X.690 §8.14.3): a constructed `[tagNumber]` whose
 * contents are the element.
 *
 * @example
 * ```ts
 * derExplicit(0, derInteger(2)) // a0 03 02 01 02: version [0] EXPLICIT v3
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_TAG_INVALID` for a bad tag number.
 */
export function derExplicit(
  tagNumber: number,
  element: Uint8Array,
  tagClass: DerTagClass = 'context',
): Uint8Array {
  return derTlv({ tagClass, tagNumber, constructed: true }, element)
}

/**
 * Re-tag a complete element with an IMPLICIT tag (X.680 §31.2.7): the identifier is replaced by
 * `[tagNumber]`, keeping the element's form (primitive or constructed) and contents.
 *
 * @example
 * ```ts
 * derImplicit(6, derIa5String('https://kdsintf.amd.com/vcek/v1/Milan/crl')) // 86 29 …: a URI
 * derImplicit(0, derSequence([…]))                                          // a0 …
 * ```
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_ELEMENT_INVALID` when `element` is not exactly one DER
 *   element; `ERR_DER_WRITE_TAG_INVALID` for a bad tag number.
 */
export function derImplicit(
  tagNumber: number,
  element: Uint8Array,
  tagClass: DerTagClass = 'context',
): Uint8Array {
  let parsed
  try {
    parsed = parseDer(element, { name: 'element to re-tag', maxDepth: 1000 })
  } catch (cause) {
    throw new UsageError(
      'ERR_DER_WRITE_ELEMENT_INVALID',
      'derImplicit needs exactly one complete DER element to re-tag',
      { cause, hint: 'pass the output of another der* function' },
    )
  }
  return derTlv({ tagClass, tagNumber, constructed: parsed.constructed }, parsed.value)
}
