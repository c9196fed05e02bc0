/**
 * One strict parser per kind of option value, used by every command. Each string option declares
 * its kind in its {@link OptionSpec}; `parseCommandArgs` parses every value given before a command
 * runs, so a malformed value is a usage error (exit 2, `ERR_OPTION_VALUE`) naming the option and
 * never reaches a command as "no bound". Values that are free text (paths, host names) are of kind
 * `free`, and only they are merely refused when empty.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
// From the parsers' entry: every command parses its options with this module, and the root entry
// would load the whole SEV-SNP verifier into each (the agent's cold start is measured).
import {
  SNP_GUEST_POLICY_RULE_KEYS,
  SNP_PLATFORM_INFO_RULE_KEYS,
  type SnpGuestPolicyRule,
  type SnpPlatformInfoRule,
} from '@initguard/snp/parsers'

/**
 * What kind of value an option takes, with the facts a test needs to make malformed ones. `free`
 * is text no parser can check (paths, host names): only refused when empty.
 */
export type ValueKind =
  | { readonly name: 'integer'; readonly min: number; readonly max: number }
  | { readonly name: 'hex'; readonly length: number }
  | { readonly name: 'hex-up-to'; readonly maxLength: number }
  | { readonly name: 'choice'; readonly accepted: readonly string[] }
  | { readonly name: 'bit-rule'; readonly keys: readonly string[] }
  | {
      readonly name:
        | 'time'
        | 'snp-tcb'
        | 'snp-firmware'
        | 'rtmr'
        | 'platform'
        | 'url'
        | 'resource-path'
        | 'workload-name'
        | 'admin-audience'
        | 'registry-host'
        | 'data-entry'
        | 'tee-field-value'
    }
  | { readonly name: 'free'; readonly what: string }

/** How one kind of option value is parsed. */
export interface OptionValue<T> {
  readonly kind: ValueKind
  /** What a valid value is, for messages: "a whole number from 0 to 3". */
  readonly expected: string
  /** An example of a valid value (the property test checks it is accepted). */
  readonly example: string
  /**
   * Parse `text`, given for `--option`.
   *
   * @throws {@link UsageError} `ERR_OPTION_VALUE` naming the option.
   */
  parse(text: string, option: string): T
}

/** The usage error for a malformed value of `--option`. */
export function badValue(
  option: string,
  text: string,
  expected: string,
  hint?: string,
): UsageError {
  return new UsageError(
    'ERR_OPTION_VALUE',
    `--${option} ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}: expected ${expected}`,
    { details: { option: `--${option}` }, ...(hint === undefined ? {} : { hint }) },
  )
}

/**
 * An option value of kind `kind` read by `read`, which calls `refuse` (with a hint, when one
 * helps) for a malformed value: refused as {@link badValue} with `expected`.
 */
export function checkedValue<T>(
  kind: ValueKind,
  expected: string,
  example: string,
  read: (text: string, refuse: (hint?: string) => never) => T,
): OptionValue<T> {
  return {
    kind,
    expected,
    example,
    parse: (text, option) =>
      read(text, (hint) => {
        throw badValue(option, text, expected, hint)
      }),
  }
}

/** A whole number in decimal digits (no sign, no fraction, no spaces) from `min` to `max`. */
export function integerValue(min: number, max: number, field?: string): OptionValue<number> {
  const expected = `a whole number from ${min} to ${max}${field === undefined ? '' : ` (${field})`}`
  return {
    kind: { name: 'integer', min, max },
    expected,
    example: String(min),
    parse(text, option) {
      // Digits only, then compared as a bigint: "1e3", "0x10", " 1", "1.0" and 2^64 are refused.
      if (!/^[0-9]{1,20}$/.test(text)) throw badValue(option, text, expected)
      const value = BigInt(text)
      if (value < BigInt(min) || value > BigInt(max)) throw badValue(option, text, expected)
      return Number(value)
    },
  }
}

/** Hex of exactly `length` bytes (either case; no prefix, separators or spaces). */
export function hexValue(length: number, field: string): OptionValue<Uint8Array> {
  const expected = `${field}: exactly ${length} bytes as ${length * 2} hex digits`
  return {
    kind: { name: 'hex', length },
    expected,
    example: 'ab'.repeat(length),
    parse(text, option) {
      if (text.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(text)) {
        const hint = /^0x/i.test(text)
          ? 'drop the 0x prefix'
          : /^[0-9a-fA-F]*$/.test(text)
            ? `got ${text.length} hex digits; a ${field} is ${length * 2}`
            : 'give hex digits only (0-9, a-f), with no spaces or separators'
        throw badValue(option, text, expected, hint)
      }
      return new Uint8Array(Buffer.from(text, 'hex'))
    },
  }
}

/**
 * Hex of 1 to `maxLength` bytes (either case; an even number of digits; no prefix, separators or
 * spaces). Nothing is padded here: the command says what it does with a shorter value.
 */
export function hexUpToValue(maxLength: number, field: string): OptionValue<Uint8Array> {
  const expected = `${field}: 1 to ${maxLength} bytes as hex digits (2 to ${maxLength * 2}, an even number)`
  return {
    kind: { name: 'hex-up-to', maxLength },
    expected,
    example: 'ab'.repeat(maxLength),
    parse(text, option) {
      const digits = /^[0-9a-fA-F]*$/.test(text)
      if (!digits || text.length === 0 || text.length % 2 !== 0 || text.length > maxLength * 2) {
        const hint = /^0x/i.test(text)
          ? 'drop the 0x prefix'
          : !digits
            ? 'give hex digits only (0-9, a-f), with no spaces or separators'
            : text.length % 2 !== 0
              ? `got ${text.length} hex digits: an odd number is not whole bytes`
              : `got ${text.length / 2} bytes; at most ${maxLength} fit`
        throw badValue(option, text, expected, hint)
      }
      return new Uint8Array(Buffer.from(text, 'hex'))
    },
  }
}

/** One of a fixed set of words. */
export function choiceValue<T extends string>(accepted: readonly T[]): OptionValue<T> {
  const expected = `one of ${accepted.join(', ')}`
  return {
    kind: { name: 'choice', accepted },
    expected,
    example: accepted[0] ?? '',
    parse(text, option) {
      if (!(accepted as readonly string[]).includes(text)) throw badValue(option, text, expected)
      return text as T
    },
  }
}

/** Free text no parser can check: a path, a host name, `KEY=FILE`. Only refused when empty. */
export function freeValue(what: string, example: string): OptionValue<string> {
  return {
    kind: { name: 'free', what },
    expected: `${what} (not empty)`,
    example,
    parse(text, option) {
      // An empty path would resolve to the working directory: never what was meant.
      if (text === '' || text.includes('\0')) throw badValue(option, text, `${what} (not empty)`)
      return text
    },
  }
}

/** A file or directory path. */
export const PATH_VALUE: OptionValue<string> = freeValue('a path', 'file.bin')

/** An `http://` or `https://` URL. */
export const URL_VALUE: OptionValue<string> = checkedValue(
  { name: 'url' },
  'an http:// or https:// URL',
  'https://example.com',
  (text, refuse) => {
    const url = URL.canParse(text) ? new URL(text) : undefined
    if (
      url === undefined ||
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      url.host === '' ||
      text.trim() !== text
    )
      return refuse()
    return text
  },
)

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
// ISO 8601 with a zone, or a date alone (midnight UTC): nothing depends on this machine's TZ.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2})))?$/

/** An ISO 8601 time with its zone (`2026-01-31T12:00:00Z`, `…+02:00`), or a date (UTC). */
export const TIME_VALUE: OptionValue<Date> = checkedValue(
  { name: 'time' },
  'an ISO 8601 time with its zone, e.g. 2026-01-31T12:00:00Z, or a date (UTC)',
  '2026-01-31T12:00:00Z',
  (text, refuse) => {
    const match = ISO_TIME.exec(text)
    const [, year, month, day, hour, minute, second, , zoneHours, zoneMinutes] = (match ?? []) as (
      string | undefined
    )[]
    const n = (part: string | undefined): number => Number(part ?? '0')
    const leap = n(year) % 4 === 0 && (n(year) % 100 !== 0 || n(year) % 400 === 0)
    const dayLimit = n(month) === 2 && !leap ? 28 : (DAYS_IN_MONTH[n(month) - 1] ?? 0)
    // Date.parse rolls 2026-02-30 over to March and takes 24:00; a typo must not move the time.
    if (
      match === null ||
      n(month) < 1 ||
      n(day) < 1 ||
      n(day) > dayLimit ||
      n(hour) > 23 ||
      n(minute) > 59 ||
      n(second) > 59 ||
      n(zoneHours) > 23 ||
      n(zoneMinutes) > 59
    )
      return refuse()
    const time = new Date(text)
    if (Number.isNaN(time.getTime())) return refuse()
    return time
  },
)

/** An SEV-SNP TCB minimum: `bl=N,tee=N,snp=N,ucode=N[,fmc=N]`, each an SPL from 0 to 255. */
export const SNP_TCB_VALUE: OptionValue<{
  readonly fmc?: number
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
}> = checkedValue(
  { name: 'snp-tcb' },
  'bl=N,tee=N,snp=N,ucode=N[,fmc=N]: each component once, each a whole number from 0 to 255',
  'bl=1,tee=0,snp=8,ucode=115',
  (text, refuse) => {
    const parts = new Map<string, number>()
    for (const item of text.split(',')) {
      const match = /^(fmc|bl|tee|snp|ucode)=([0-9]{1,3})$/.exec(item)
      const name = match?.[1] ?? ''
      const value = Number(match?.[2])
      if (match === null || value > 255 || parts.has(name)) return refuse()
      parts.set(name, value)
    }
    const get = (name: string): number => {
      const value = parts.get(name)
      // A component left out would be no bound on it: every one must be given.
      if (value === undefined) return refuse(`${name}= is missing; give every component`)
      return value
    }
    const fmc = parts.get('fmc')
    return {
      ...(fmc === undefined ? {} : { fmc }),
      bootloader: get('bl'),
      tee: get('tee'),
      snp: get('snp'),
      microcode: get('ucode'),
    }
  },
)

/**
 * An SEV firmware version minimum: `MAJOR.MINOR.BUILD`, all three given, each a whole number from
 * 0 to 255 in decimal digits (no sign, no spaces, no fourth part).
 */
export const SNP_FIRMWARE_VALUE: OptionValue<{
  readonly major: number
  readonly minor: number
  readonly build: number
}> = checkedValue(
  { name: 'snp-firmware' },
  'MAJOR.MINOR.BUILD, e.g. 1.55.29: each a whole number from 0 to 255',
  '1.55.29',
  (text, refuse) => {
    const match = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/.exec(text)
    const [major = 256, minor = 256, build = 256] = (match?.slice(1) ?? []).map(Number)
    if (major > 255 || minor > 255 || build > 255) return refuse()
    return { major, minor, build }
  },
)

/**
 * A rule on named bits: `KEY=0|1[,KEY=0|1…]`, each key one of `keys` and given once, 1 meaning the
 * bit must be set and 0 that it must be clear (`smt=0,singleSocket=1`). Read into an object of
 * booleans, as the library and the KBS workload take it.
 */
export function bitRuleValue<K extends string>(
  keys: readonly K[],
  what: string,
): OptionValue<Readonly<Partial<Record<K, boolean>>>> {
  return checkedValue(
    { name: 'bit-rule', keys },
    `KEY=0|1[,KEY=0|1…] with each KEY once, one of ${keys.join(', ')} (1: the ${what} bit must be set, 0: clear)`,
    `${keys[0] ?? 'key'}=0`,
    (text, refuse) => {
      const rule: Partial<Record<K, boolean>> = {}
      for (const item of text.split(',')) {
        const match = /^([A-Za-z0-9]+)=([01])$/.exec(item)
        const key = keys.find((k) => k === match?.[1])
        if (match === null) return refuse()
        if (key === undefined) return refuse(`${match[1]} is not a ${what} bit a rule may name`)
        if (rule[key] !== undefined) return refuse(`${key} is given twice`)
        rule[key] = match[2] === '1'
      }
      return rule
    },
  )
}

/** SEV-SNP GUEST_POLICY bits that must be set (1) or clear (0): `smt=0,singleSocket=1`. */
export const SNP_GUEST_POLICY_VALUE: OptionValue<SnpGuestPolicyRule> = bitRuleValue(
  SNP_GUEST_POLICY_RULE_KEYS,
  'GUEST_POLICY',
)

/** SEV-SNP PLATFORM_INFO bits that must be set (1) or clear (0): `smtEnabled=0,tsmeEnabled=1`. */
export const SNP_PLATFORM_INFO_VALUE: OptionValue<SnpPlatformInfoRule> = bitRuleValue(
  SNP_PLATFORM_INFO_RULE_KEYS,
  'PLATFORM_INFO',
)

/** A TDX RTMR expectation: `N=HEX`, N from 0 to 3, HEX 48 bytes. */
export const RTMR_VALUE: OptionValue<{ readonly index: number; readonly value: Uint8Array }> =
  checkedValue(
    { name: 'rtmr' },
    'N=HEX with N from 0 to 3 and HEX 48 bytes (96 hex digits)',
    `0=${'ab'.repeat(48)}`,
    (text, refuse) => {
      const match = /^([0-3])=([0-9a-fA-F]{96})$/.exec(text)
      if (match === null) return refuse()
      return { index: Number(match[1]), value: new Uint8Array(Buffer.from(match[2] ?? '', 'hex')) }
    },
  )

/** An image platform: `OS/ARCH[/VARIANT]`. */
export const PLATFORM_VALUE: OptionValue<{
  readonly os: string
  readonly architecture: string
  readonly variant?: string
}> = checkedValue(
  { name: 'platform' },
  'OS/ARCH[/VARIANT], e.g. linux/arm64/v8',
  'linux/arm64/v8',
  (text, refuse) => {
    const match = /^([a-z0-9_]+)\/([a-z0-9_]+)(?:\/([a-z0-9_]+))?$/.exec(text)
    if (match === null) return refuse()
    const [, os = '', architecture = '', variant] = match
    return { os, architecture, ...(variant === undefined ? {} : { variant }) }
  },
)
