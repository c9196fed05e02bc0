/**
 * Strict parsers for the values of the KBS server configuration: durations (`500ms`, `30s`, `5m`,
 * `1h`; retention bounds also `7d`), sizes (`512KiB`, `2MiB`) and listen addresses (`HOST:PORT`, `[::1]:PORT`). A value that
 * does not parse is refused with the key it came from, never read as "no limit".
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import { parseHostPort } from '@initguard/http'

/** The usage error for a malformed configuration value. */
export function configValueError(where: string, text: string, expected: string): UsageError {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  return new UsageError(
    'ERR_KBS_CONFIG_VALUE',
    `${where} ${JSON.stringify(shown)}: expected ${expected}`,
    { details: { key: where }, hint: `fix ${where}` },
  )
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const DURATION_EXPECTED =
  'a whole number with a unit, ms, s, m or h (e.g. 30s, 5m), from 1ms to 24h'

/**
 * A duration in milliseconds from `"<digits><ms|s|m|h>"`, between 1 ms and 24 h.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function parseDuration(text: string, where: string): number {
  return parseSpan(text, where, DURATION_UNITS, 86_400_000, DURATION_EXPECTED)
}

/** `"<1–9 digits><unit>"` in ms by `units`, from 1 ms to `maxMs`; anything else refused. */
function parseSpan(
  text: string,
  where: string,
  units: Readonly<Record<string, number>>,
  maxMs: number,
  expected: string,
): number {
  const match = /^([0-9]{1,9})([a-z]{1,2})$/.exec(text)
  const unit =
    match !== null && Object.hasOwn(units, match[2] ?? '') ? units[match[2] ?? ''] : undefined
  const ms = Number(match?.[1]) * (unit ?? Number.NaN)
  if (!(ms >= 1 && ms <= maxMs)) throw configValueError(where, text, expected)
  return ms
}

const RETENTION_UNITS: Readonly<Record<string, number>> = {
  ...DURATION_UNITS,
  d: 86_400_000,
}
/** The longest retention bound: 10 years, in ms. */
const RETENTION_MAX_MS = 3650 * 86_400_000
const RETENTION_EXPECTED =
  'a whole number with a unit, ms, s, m, h or d (e.g. 7d, 36h), from 1ms to 3650d'

/**
 * A retention bound in milliseconds from `"<digits><ms|s|m|h|d>"`, between 1 ms and 3650 days:
 * a duration that may be longer than a day. Never 0 nor "none": a bound is always one.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function parseRetention(text: string, where: string): number {
  return parseSpan(text, where, RETENTION_UNITS, RETENTION_MAX_MS, RETENTION_EXPECTED)
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
}
const SIZE_EXPECTED =
  'a whole number with a unit, B, KiB, MiB or GiB (e.g. 2MiB), from 1 B to 64 GiB'

/**
 * A size in bytes from `"<digits><B|KiB|MiB|GiB>"`, between 1 B and 64 GiB.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function parseSize(text: string, where: string): number {
  const match = /^([0-9]{1,12})(B|KiB|MiB|GiB)$/.exec(text)
  const unit = SIZE_UNITS[match?.[2] ?? '']
  const bytes = Number(match?.[1]) * (unit ?? Number.NaN)
  if (!(bytes >= 1 && bytes <= 64 * 1024 ** 3)) throw configValueError(where, text, SIZE_EXPECTED)
  return bytes
}

/** Where the server listens. */
export interface ListenAddress {
  /** A host name or an IP address (IPv6 without brackets). */
  readonly host: string
  /** 0 lets the system choose (tests). */
  readonly port: number
}

const LISTEN_EXPECTED =
  'HOST:PORT (IPv6 as [ADDRESS]:PORT; HOST an IP address or a DNS name), PORT from 0 to 65535 without leading zeros'

/**
 * `HOST:PORT` or `[IPv6]:PORT`, read by {@link parseHostPort}.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function parseListen(text: string, where: string): ListenAddress {
  const address = parseHostPort(text)
  if (address === undefined) throw configValueError(where, text, LISTEN_EXPECTED)
  return address
}

/** An integer from `min` to `max`. */
export function parseIntegerInRange(
  value: unknown,
  min: number,
  max: number,
  where: string,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    // A table or array is shown as JSON, not with String(): a table whose own `toString` is not
    // a function (`max-concurrent = { toString = "x" }`) made String() throw a TypeError.
    const shown = typeof value === 'object' && value !== null ? shownValue(value) : String(value)
    throw configValueError(where, shown, `a whole number from ${min} to ${max}`)
  }
  return value
}

/** A configuration value as a message shows it: text as is, anything else as JSON. */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return 'nothing'
  try {
    return JSON.stringify(value)
  } catch {
    // JSON.stringify throws on a bigint, and on a `toJSON` that is not callable or throws.
    return Object.prototype.toString.call(value)
  }
}

/**
 * A non-empty string without NUL, or `undefined` when not given.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE` for anything else.
 */
export function optionalText(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '' || value.includes('\0'))
    throw configValueError(where, shownValue(value), 'a non-empty string')
  return value
}

/**
 * A value with a unit (a duration, a size) read by `parse`, or `fallback` when not given.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function withUnit<T>(
  value: unknown,
  where: string,
  parse: (text: string, where: string) => T,
  fallback: T,
): T {
  const given = optionalText(value, where)
  return given === undefined ? fallback : parse(given, where)
}

/**
 * An integer from `min` to `max`, or `fallback` when not given.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`.
 */
export function integerOr(
  value: unknown,
  min: number,
  max: number,
  where: string,
  fallback: number,
): number {
  return value === undefined ? fallback : parseIntegerInRange(value, min, max, where)
}

/**
 * `0ms`/`0s`/`0m`/`0h` as 0 (stated as none), else a duration up to `maxMs`.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE`, the message saying `expected`.
 */
export function durationOrZero(
  text: string,
  where: string,
  maxMs: number,
  expected: string,
): number {
  if (/^0(ms|s|m|h)$/.test(text)) return 0
  const ms = parseDuration(text, where)
  if (ms > maxMs) throw configValueError(where, text, expected)
  return ms
}
