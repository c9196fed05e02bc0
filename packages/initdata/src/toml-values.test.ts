import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { parse } from 'smol-toml'
import { parseConfigToml } from './toml-table.ts'

const ERROR = { code: 'ERR_TEST_CONFIG_TOML', what: 'aa.toml', hint: 'fix aa.toml' } as const

/** `accepted`, or the refusal's line:column and whether it names TOML 1.1 (or a syntax error). */
function refusal(text: string): string {
  try {
    parseConfigToml(text, ERROR)
    return 'accepted'
  } catch (e) {
    if (!isInitguardError(e)) throw e
    expect(e.code).toBe('ERR_TEST_CONFIG_TOML')
    if (e.message.includes('not valid TOML')) return `syntax: ${e.message}`
    const at = `${String(e.details['line'])}:${String(e.details['column'])}`
    return e.message.includes('TOML 1.1') ? `toml-1.1 ${at}` : at
  }
}

describe('numbers and dates smol-toml reads differently from the Rust toml crate and Go', () => {
  it('refuses a float beyond the largest 64-bit float, which smol-toml reads as Infinity', () => {
    // toml 0.5/0.9/1.x and BurntSushi/toml refuse both signs; toml_edit 0.22 reads -1e400 as -inf.
    expect(refusal('a = 1e400\n')).toBe('1:5')
    expect(refusal('a = -1e400\n')).toBe('1:5')
    expect(refusal('a = 1.7976931348623159e308\n')).toBe('1:5')
    expect(refusal('a = 1_0.0e3_08\n')).toBe('1:5')
    expect(refusal('[t]\nb = [1.0, 2e999]\n')).toBe('2:11')
    const error = thrown(() => parseConfigToml('a = +1e400\n', ERROR))
    expect(error.message).toContain('Infinity')
    expect(error.hint).toContain('inf / -inf')
  })

  it('keeps inf, nan, the largest float and underflow to 0, which every parser reads alike', () => {
    const text = 'a = inf\nb = -inf\nc = nan\nd = 1.7976931348623157e308\ne = 1e-400\nf = 5e-324\n'
    expect(refusal(text)).toBe('accepted')
    expect(parseConfigToml(text, ERROR)).toMatchObject({ a: Infinity, b: -Infinity, e: 0 })
  })

  it('refuses a date that does not exist, which smol-toml rolls into the next month', () => {
    // What smol-toml does with it:
    expect((parse('a = 1979-02-30')['a'] as Date).toISOString()).toBe('1979-03-02')
    expect(refusal('a = 1979-02-30\n')).toBe('1:5')
    expect(refusal('a = 1979-02-29T07:32:00Z\n')).toBe('1:5')
    expect(refusal('a = 1900-02-29 07:32:00\n')).toBe('1:5')
    expect(refusal('x = { y = [1979-04-31] }\n')).toBe('1:12')
    expect(refusal('a = 1979-06-31T00:00:00+01:00\n')).toBe('1:5')
    expect(thrown(() => parseConfigToml('a = 2023-02-29\n', ERROR)).message).toContain(
      'February 2023 has 28 days',
    )
    for (const leap of ['1980-02-29', '2000-02-29', '1979-01-31', '1979-12-31', '0000-02-29'])
      expect(refusal(`a = ${leap}\n`), leap).toBe('accepted')
  })

  it('refuses a time without seconds: TOML 1.1, refused by toml 0.5 and 0.8 and Go before 1.6', () => {
    expect(refusal('a = 07:32\n')).toBe('toml-1.1 1:5')
    expect(refusal('a = 1979-05-27T07:32\n')).toBe('toml-1.1 1:16')
    expect(refusal('a = 1979-05-27 07:32Z\n')).toBe('toml-1.1 1:16')
    expect(refusal('a = [1979-05-27t07:32+01:00]\n')).toBe('toml-1.1 1:17')
    expect(refusal('a = 07:32:00\nb = 1979-05-27 07:32:00-07:00\n')).toBe('accepted')
  })

  it('refuses fractional seconds finer than a millisecond, which smol-toml truncates', () => {
    expect((parse('a = 07:32:00.1234')['a'] as Date).toISOString()).toBe('07:32:00.123') // smol-toml
    expect(refusal('a = 07:32:00.1234\n')).toBe('1:5')
    expect(refusal('a = 1979-05-27T07:32:00.000001Z\n')).toBe('1:16')
    expect(refusal('a = 1979-05-27 07:32:00.9999999999\n')).toBe('1:16')
    // More than nine digits: BurntSushi/toml built with Go 1.19 refuses them, even zeros.
    expect(refusal('a = 07:32:00.1230000000\n')).toBe('1:5')
    for (const same of ['07:32:00.123', '07:32:00.123000000', '1979-05-27T07:32:00.5Z'])
      expect(refusal(`a = ${same}\n`), same).toBe('accepted')
  })

  it('looks only at values: keys, strings and comments that look like them are kept', () => {
    const text = [
      '1979-02-30 = 1',
      '1e400 = "1e400"',
      "a.1979-02-30 = '07:32'",
      '"07:32" = 1 # 1e400, 1979-02-30',
      '[1979-02-31]',
      'x = { 1979-02-30 = "1979-02-30", 07 = [ { 1e400 = 2 } ] }',
      '[[2e400.y]]',
      'z = [',
      '  # 1979-02-30',
      '  "07:32", 1979-02-28, [],',
      ']',
      '',
    ].join('\n')
    expect(refusal(text)).toBe('accepted')
  })

  it('checks every value that follows, whatever came before it (property)', () => {
    const bad = fc.constantFrom('1e400', '-2.5e308', '1979-02-30', '2100-02-29', '07:32:00.0001')
    const good = fc.constantFrom(
      '1',
      '-0',
      '1e308',
      'inf',
      'nan',
      'true',
      '"a = 1e400"',
      "'1979-02-30'",
      '"""\n[1e400]\n"""',
      '1979-02-28',
      '2000-02-29 23:59:59.999',
      '[]',
      '{}',
    )
    // A value nested in arrays and inline tables, keys that look like values, comments.
    const nest = (value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
      fc.oneof(
        value,
        fc.tuple(value, good).map(([v, g]) => `[${g}, ${v}]`),
        fc.tuple(value, good).map(([v, g]) => `[\n  ${v}, # 1e400\n  ${g},\n]`),
        value.map((v) => `{ 1979-02-30 = ${v}, "k" = 1 }`),
        value.map((v) => `[{ a = [${v}] }]`),
      )
    const key = fc.constantFrom('a', '1979-02-30', '1e400', '"07:32"', 'b.1979-02-31')
    const entry = fc.tuple(key, fc.boolean(), fc.nat(99))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(entry, nest(good)), { maxLength: 4 }),
        fc.option(fc.tuple(entry, nest(bad))),
        (goods, bads) => {
          const all = bads === null ? goods : [...goods, bads]
          // Each entry in a table of its own, so that keys never clash.
          const text = all
            .map(
              ([[k, comment, n], v], i) =>
                `[t${String(i)}.${String(n)}]\n${k} = ${v}${comment ? ' # 1e400' : ''}\n`,
            )
            .join('')
          expect(refusal(text) === 'accepted', text).toBe(bads === null)
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('reads every date it accepts as written, and refuses the rest (property)', () => {
    const pad = (n: number, width: number): string => String(n).padStart(width, '0')
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        (year, month, day) => {
          const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
          // The calendar as an independent oracle: does the day exist in that month?
          const oracle = new Date(0)
          oracle.setUTCFullYear(year, month - 1, day)
          const exists = oracle.getUTCDate() === day
          const result = refusal(`a = ${date}T00:00:00Z\n`)
          expect(result === 'accepted', date).toBe(exists)
          if (exists) expect((parse(`a = ${date}`)['a'] as Date).toISOString(), date).toBe(date)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('accepts a float only when smol-toml reads a finite number (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('', '-', '+'),
        fc.integer({ min: 1, max: 9 }),
        fc.option(fc.nat(999)),
        fc.integer({ min: 280, max: 330 }),
        (sign, lead, fraction, exponent) => {
          const float = `${sign}${String(lead)}${fraction === null ? '' : `.${String(fraction)}`}e${String(exponent)}`
          const finite = Number.isFinite(parse(`a = ${float}`)['a'])
          expect(refusal(`a = ${float}\n`) === 'accepted', float).toBe(finite)
        },
      ),
      { numRuns: 2000 },
    )
  })
})
