/**
 * Find the number and date-time values that smol-toml reads but CoCo's other TOML parsers refuse or
 * read differently. smol-toml (1.9) turns them into a value silently; the text no longer says what
 * was written, so this looks at the text itself (already parsed by smol-toml: the scan only tells
 * keys from values, it does not validate).
 *
 * What is found, and what the others do (Rust `toml` 0.5.11: the Kata agent and runtime-rs before
 * Kata 4.0; `toml` 0.8 over `toml_edit` 0.22: guest-components before 0.16/0.17; `toml` 0.9 and 1.x:
 * later guest-components and Trustee; BurntSushi/toml 1.3 to 1.6: the Kata Go runtime):
 *
 * - a float too large for a 64-bit float (`1e400`, `-1e400`): smol-toml reads ±Infinity. `toml`
 *   0.5 refuses both (`de.rs`, "invalid number" unless finite), `toml` 0.9 and 1.x refuse both
 *   ("floating-point number overflowed"), BurntSushi/toml refuses both (`strconv.ErrRange`), and
 *   `toml_edit` 0.22 refuses `1e400` but reads `-1e400` as -inf. The literals `inf` and `nan` are
 *   TOML and read alike, so they are kept. Underflow (`1e-400`) reads as 0 everywhere, so it is too.
 * - a date that does not exist (`1979-02-30`, `1979-02-29`, `1979-04-31`): smol-toml rolls it over
 *   into the next month (1979-03-02). `toml` 0.8 and later and BurntSushi/toml (Go's `time.Parse`)
 *   refuse it; `toml` 0.5 checks only day ≤ 31 and keeps Feb 30 as written.
 * - fractional seconds finer than a millisecond (`07:32:00.1234`): smol-toml keeps milliseconds,
 *   the others nanoseconds, so the values differ. Past the ninth digit the Rust crate truncates,
 *   and BurntSushi/toml refuses the value when built with Go 1.19 (`time.Parse`), so more than
 *   nine digits are refused too.
 * - a time without seconds (`07:32`, `1979-05-27T07:32Z`): TOML 1.1 allows it; `toml` 0.5 and 0.8
 *   and BurntSushi/toml before 1.6 (without its TOML 1.1 switch) refuse it. Reported as TOML 1.1.
 *
 * What smol-toml refuses already is not looked at: hour 24 (`toml` 0.5 accepts it), minute 60,
 * second 60 (a leap second, which the Rust crate accepts and Go refuses), month 00 or 13, integers
 * beyond ±2^53 (smol-toml refuses what it cannot represent exactly; the others read up to the 64-bit
 * limits), leading zeros and misplaced underscores (refused by every parser).
 *
 * @module
 */
import { scanToml } from './toml-scan.ts'

/**
 * Where a value that parsers read differently is, and what it is: `toml-1.1` for a time without
 * seconds, `value` for the other cases, with how to write it so every parser reads it alike.
 */
export type TomlValueHazard =
  | { readonly kind: 'toml-1.1'; readonly offset: number; readonly what: string }
  | { readonly kind: 'value'; readonly offset: number; readonly what: string; readonly fix: string }

/** The characters that end a bare value (a number, a boolean or a date-time). */
const VALUE_END = new Set([' ', '\t', '\r', '\n', ',', ']', '}', '#'])

/**
 * The first hazard in the bare values of `text`, or `undefined`. Keys that look like values
 * (`1979-02-30 = 1`, `[1e400]`) and strings are not values and are not looked at.
 */
export function findTomlValueHazard(text: string): TomlValueHazard | undefined {
  // Containers open around the current position: an array holds values, an inline table keys.
  const open: ('array' | 'table')[] = []
  let expectValue = false
  let skipUntil = 0 // the end of the bare value just checked
  return scanToml<TomlValueHazard>(
    text,
    () => {
      // A string after `=` or in an array is the whole value; anywhere else it is a key.
      expectValue = false
      return undefined
    },
    (i, c) => {
      if (i < skipUntil) return undefined
      const inside = open.at(-1)
      if (!expectValue) {
        if (c === '=') expectValue = true
        else if (c === ',' && inside === 'array') expectValue = true
        else if ((c === ']' && inside === 'array') || (c === '}' && inside === 'table')) open.pop()
        // Anything else outside a value is a key, a table header, a dot or white space.
        return undefined
      }
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') return undefined
      if (c === '[') {
        open.push('array')
        return undefined
      }
      if (c === '{') {
        open.push('table')
        expectValue = false
        return undefined
      }
      if (c === ']') {
        // An empty array, or one with a trailing comma.
        open.pop()
        expectValue = false
        return undefined
      }
      expectValue = false
      skipUntil = bareValueEnd(text, i)
      return valueHazard(text.slice(i, skipUntil), i)
    },
  )
}

/** The end of the bare value that starts at `start`, a date and time apart by a space included. */
function bareValueEnd(text: string, start: number): number {
  let end = start
  while (end < text.length && !VALUE_END.has(text.charAt(end))) end++
  // `1979-05-27 07:32:00`: the space is the date-time's separator, not the value's end.
  if (
    /^\d{4}-\d{2}-\d{2}$/.test(text.slice(start, end)) &&
    /^ \d{2}:/.test(text.slice(end, end + 4))
  ) {
    end++
    while (end < text.length && !VALUE_END.has(text.charAt(end))) end++
  }
  return end
}

const FLOAT = /^[+-]?\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})/
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?/
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
]

/** What is wrong with the bare value `value` at `offset`, if anything. */
function valueHazard(value: string, offset: number): TomlValueHazard | undefined {
  if (FLOAT.test(value) && !Number.isFinite(Number(value.replace(/_/g, '')))) {
    return {
      kind: 'value',
      offset,
      what: `the float ${value}, beyond the largest 64-bit float (smol-toml reads it as ${value.startsWith('-') ? '-' : ''}Infinity; the Rust toml crate and BurntSushi/toml refuse it)`,
      fix: 'write a float within ±1.7976931348623157e308, or inf / -inf if infinity is meant',
    }
  }
  const date = DATE.exec(value)
  if (date !== null) {
    const [, year = '', month = '', day = ''] = date
    const days = daysInMonth(Number(year), Number(month))
    if (Number(day) > days) {
      return {
        kind: 'value',
        offset,
        what: `the date ${date[0]}, which does not exist (${MONTHS[Number(month) - 1] ?? month} ${year} has ${String(days)} days; smol-toml reads it as a day of the next month, the Rust toml crate and BurntSushi/toml refuse it)`,
        fix: 'write a date that exists (February has 29 days only in leap years)',
      }
    }
  }
  // The time of a date-time follows the date and its `T`, `t` or space; a local time stands alone.
  const timeAt = date === null ? 0 : date[0].length + 1
  const time =
    date === null || value.length > date[0].length ? TIME.exec(value.slice(timeAt)) : null
  if (time === null) return undefined
  const [text, , , seconds, fraction] = time
  if (seconds === undefined) {
    return {
      kind: 'toml-1.1',
      offset: offset + timeAt,
      what: `a time without seconds (${text})`,
    }
  }
  if (fraction !== undefined && (fraction.length > 9 || /[1-9]/.test(fraction.slice(3)))) {
    return {
      kind: 'value',
      offset: offset + timeAt,
      what:
        fraction.length > 9
          ? `the time ${text}, with more than nine fractional digits (BurntSushi/toml built with Go before 1.20 refuses it)`
          : `the time ${text}, finer than a millisecond (smol-toml keeps milliseconds, the Rust toml crate and BurntSushi/toml nanoseconds, so they read different times)`,
      fix: 'round the fractional seconds to at most three digits',
    }
  }
  return undefined
}

/** The days of `month` (1–12) in `year`, in the proleptic Gregorian calendar as RFC 3339 has it. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}
