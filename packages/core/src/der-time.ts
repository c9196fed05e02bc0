/**
 * Decoders for the DER time types: UTCTime, GeneralizedTime, and the X.509 `Time` choice between
 * them, in DER's one canonical form (UTC, seconds present, no trailing zeros).
 *
 * @see ITU-T X.680 §46 and §47 (the types), X.690 §11.7 and §11.8 (their DER form), RFC 5280
 *   §4.1.2.5 (X.509 Time).
 * @module
 */
import { MalformedInputError } from './errors.ts'
import { DER_HINT } from './der-parse.ts'
import type { DerElement } from './der-parse.ts'
import { decodeError, expectTypeTag } from './der-structure.ts'
import type { DerDecodeOptions } from './der-structure.ts'
import { latin1 } from './der-strings.ts'
import { DerUniversalTag, describeTag } from './der-tags.ts'

/** Longest fraction of a second a `Date` can hold. */
const MAX_FRACTION_DIGITS = 3

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

/** Each time type's tag, and its DER form as a pattern and in words. */
const TIME_FORMS = {
  UTCTime: {
    tag: DerUniversalTag.UTC_TIME,
    pattern: UTC_TIME_PATTERN,
    form: 'YYMMDDHHMMSSZ (X.690 §11.8)',
  },
  GeneralizedTime: {
    tag: DerUniversalTag.GENERALIZED_TIME,
    pattern: GENERALIZED_TIME_PATTERN,
    form: 'YYYYMMDDHHMMSS[.fff]Z with no trailing zeros in the fraction (X.690 §11.7)',
  },
} as const

/**
 * The element, which must be a `typeName`, and its text matched against the type's DER form.
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`; `ERR_DER_TIME_INVALID` when the
 *   text is not in the DER form.
 */
function matchTime(
  el: DerElement | undefined,
  typeName: keyof typeof TIME_FORMS,
  field: string,
  options: DerDecodeOptions | undefined,
): { readonly v: DerElement; readonly m: RegExpExecArray } {
  const { tag, pattern, form } = TIME_FORMS[typeName]
  const v = expectTypeTag(el, tag, false, field, options)
  const m = pattern.exec(latin1(v.value))
  if (m === null) {
    throw decodeError(
      v,
      'ERR_DER_TIME_INVALID',
      field,
      `${typeName} is not in the DER form ${form}`,
      { type: typeName, length: v.value.length },
    )
  }
  return { v, m }
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
  const { v, m } = matchTime(el, 'UTCTime', field, options)
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
  const { v, m } = matchTime(el, 'GeneralizedTime', field, options)
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
