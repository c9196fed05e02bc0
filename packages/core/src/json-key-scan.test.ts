/**
 * `parseStrictJsonValue` (the key scan, then `JSON.parse`) accepts exactly what the strict tree
 * reader accepts, gives what `JSON.parse` gives, and refuses every repeated key, however it is
 * spelled or nested, with its path.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from './errors.ts'
import { parseStrictJsonValue, scanJsonKeys } from './json-key-scan.ts'
import { jsonNodeValue, parseStrictJson, type StrictJsonOptions } from './strict-json.ts'

const OPTIONS: StrictJsonOptions = {
  what: 'doc',
  syntaxCode: 'ERR_TEST_JSON',
  duplicateKeyCode: 'ERR_TEST_DUPLICATE',
  tooDeepCode: 'ERR_TEST_DEEP',
  maxDepth: 6,
}

/** The code `parse` refuses `text` with, or `ok`. */
function outcome(parse: () => unknown): string {
  try {
    parse()
    return 'ok'
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return error.code
  }
}

/** JSON text of `value` with a repeat of one member of the `which`-th object (in text order). */
function withRepeat(value: unknown, which: number): { text: string; repeated: boolean } {
  let seen = 0
  let repeated = false
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v)
      const members = entries.map(([k, item]) => `${JSON.stringify(k)}:${write(item)}`)
      const first = entries[0]
      if (seen++ === which && first !== undefined) {
        repeated = true
        // The repeat spells the key with escapes, as a sender hiding it might.
        // Per UTF-16 code unit, so a character beyond the BMP is two escapes, as JSON spells it.
        const key = first[0]
        const escaped = Array.from(
          { length: key.length },
          (_, i) => `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`,
        ).join('')
        members.push(`"${escaped}":${write(first[1])}`)
      }
      return `{${members.join(',')}}`
    }
    return JSON.stringify(v)
  }
  return { text: write(value), repeated }
}

describe('parseStrictJsonValue', () => {
  it('gives what JSON.parse gives for any JSON without a repeated key', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'small', maxDepth: 5 }), (text) => {
        expect(parseStrictJsonValue(text, OPTIONS)).toEqual(JSON.parse(text))
      }),
    )
  })

  it('refuses a repeated key in any object, spelled with escapes, naming the key', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.nat(20), (value, which) => {
        const { text, repeated } = withRepeat(value, which)
        expect(outcome(() => parseStrictJsonValue(text, { ...OPTIONS, maxDepth: 64 }))).toBe(
          repeated ? 'ERR_TEST_DUPLICATE' : 'ok',
        )
      }),
    )
  })

  it('agrees with the strict tree reader on any text, JSON or not', () => {
    const pieces = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"a"',
      '"b"',
      '"\\u0061"',
      '"\\"',
      '"\\\\"',
      '1',
      'true',
      'null',
      ' ',
      '"x\\"y"',
      '-',
      '0.5e3',
      '"{"',
      '"\\u00"',
    )
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const text = parts.join('')
        const tree = outcome(() => jsonNodeValue(parseStrictJson(text, OPTIONS)))
        expect(
          outcome(() => parseStrictJsonValue(text, OPTIONS)),
          text,
        ).toBe(tree)
      }),
      { numRuns: 2000 },
    )
  })

  it('names where the repeat is, and is not fooled by brackets and quotes inside strings', () => {
    const text = '{"a":[{"k":"}{\\"k\\":","k":2}],"z":1}'
    expect(() => parseStrictJsonValue(text, OPTIONS)).toThrow(
      expect.objectContaining({
        code: 'ERR_TEST_DUPLICATE',
        details: expect.objectContaining({ field: 'a[0].k' }) as unknown,
      }),
    )
    expect(parseStrictJsonValue('{"a":"\\\\","b":{"a":1}}', OPTIONS)).toEqual({
      a: '\\',
      b: { a: 1 },
    })
  })

  it('refuses nesting past the bound before parsing, even 100 000 levels', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    expect(
      outcome(() => {
        scanJsonKeys(deep, OPTIONS)
      }),
    ).toBe('ERR_TEST_DEEP')
    expect(outcome(() => parseStrictJsonValue('[[[[[[1]]]]]]', OPTIONS))).toBe('ok')
    expect(outcome(() => parseStrictJsonValue('[[[[[[[1]]]]]]]', OPTIONS))).toBe('ERR_TEST_DEEP')
  })

  it('refuses text that is not JSON with the syntax code and the parser reason', () => {
    expect(() => parseStrictJsonValue('{"a":1,}', OPTIONS)).toThrow(
      expect.objectContaining({ code: 'ERR_TEST_JSON' }),
    )
    expect(outcome(() => parseStrictJsonValue('"unterminated', OPTIONS))).toBe('ERR_TEST_JSON')
  })

  it('passes a long string of escaped JSON in one pass (evidence inside a request body)', () => {
    const evidence = JSON.stringify({ report: Array.from({ length: 20_000 }, (_, i) => i % 256) })
    const body = JSON.stringify({ 'tee-evidence': evidence, nested: JSON.stringify(evidence) })
    expect(parseStrictJsonValue(body, OPTIONS)).toEqual(JSON.parse(body))
  })

  it('stays linear on hostile shapes: 2 MiB of short strings, objects or keys', () => {
    // A bound on the shape of the cost, not a speed goal: a search per string that ran to the end
    // of the text took 360 times the parse (7 s for one such request body).
    const size = 2 * 1024 * 1024
    const shapes = [
      `{"k":[${'"",'.repeat(size / 3)}""]}`,
      `[${'{"a":1},'.repeat(size / 8)}{}]`,
      `{${Array.from({ length: size / 16 }, (_, i) => `"k${String(i)}":0`).join(',')}}`,
      `["\\\\"${',"a\\"b\\\\"'.repeat(size / 10)}]`,
    ]
    const best = (work: () => void): number => {
      let fastest = Infinity
      for (let i = 0; i < 3; i++) {
        const began = performance.now()
        work()
        fastest = Math.min(fastest, performance.now() - began)
      }
      return fastest
    }
    for (const text of shapes) {
      const parse = best(() => JSON.parse(text) as unknown)
      const scan = best(() => {
        scanJsonKeys(text, { ...OPTIONS, maxDepth: 64 })
      })
      expect(scan, text.slice(0, 30)).toBeLessThan(20 * parse + 50)
    }
  })
})
