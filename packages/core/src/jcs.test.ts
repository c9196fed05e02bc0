import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import canonicalizeDefault from 'canonicalize'
import { canonicalizeJson, canonicalizeJsonToBytes } from './jcs.ts'
import { bytesToHex } from './encoding.ts'
import { isInitguardError, MalformedInputError } from './errors.ts'
import type { InitguardError } from './errors.ts'

/** Run `fn`, which must throw an InitguardError, and return the error. */
function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

// canonicalize 2.x is CommonJS (`module.exports = serialize`) while its .d.ts declares an ES default
// export, so under NodeNext TypeScript types the default import as the module object. At run time
// the default import is the function itself.
const canonicalize = canonicalizeDefault as unknown as (input: unknown) => string | undefined

function fromIeee754(hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${hex}`))
  return view.getFloat64(0)
}

describe('RFC 8785 examples', () => {
  // RFC 8785 §3.2.2, with the output given in §3.2.3 … §3.2.4.
  const input: unknown = JSON.parse(String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`)
  const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`

  it('canonicalizes the §3.2.2 example', () => {
    expect(canonicalizeJson(input)).toBe(expected)
  })

  it('produces the §3.2.4 UTF-8 bytes', () => {
    const hex = `
      7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
      75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
      5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
      65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
      5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
      30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d`
    expect(bytesToHex(canonicalizeJsonToBytes(input))).toBe(hex.replace(/\s+/g, ''))
  })

  it('sorts keys by UTF-16 code units (§3.2.3)', () => {
    const sorting: unknown = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`)
    expect(canonicalizeJson(sorting)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  const numbers: readonly [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ]
  for (const [bits, text] of numbers) {
    it(`serializes ${bits} as ${text} (Appendix B)`, () => {
      expect(canonicalizeJson(fromIeee754(bits))).toBe(text)
      expect(canonicalizeJson([fromIeee754(bits)])).toBe(`[${text}]`)
    })
  }

  it('rejects the Appendix B NaN and Infinity patterns', () => {
    for (const bits of ['7fffffffffffffff', '7ff0000000000000']) {
      expect(thrown(() => canonicalizeJson(fromIeee754(bits))).code).toBe(
        'ERR_JCS_NUMBER_NOT_FINITE',
      )
    }
  })
})

describe('canonicalizeJson', () => {
  it('serializes primitives and empty containers', () => {
    expect(canonicalizeJson(null)).toBe('null')
    expect(canonicalizeJson(true)).toBe('true')
    expect(canonicalizeJson(false)).toBe('false')
    expect(canonicalizeJson('')).toBe('""')
    expect(canonicalizeJson([])).toBe('[]')
    expect(canonicalizeJson({})).toBe('{}')
    expect(canonicalizeJson(-0)).toBe('0')
  })

  it('escapes strings as JSON.stringify does', () => {
    expect(canonicalizeJson('\u0000\u0008\t\n\u000b\f\r\u001f "\\/\u007f\u2028\ud83d\ude00')).toBe(
      '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/\u007f\u2028😀"',
    )
  })

  it('accepts the same object twice (a DAG) and null-prototype objects', () => {
    const shared = { x: 1 }
    expect(canonicalizeJson({ b: shared, a: [shared, shared] })).toBe(
      '{"a":[{"x":1},{"x":1}],"b":{"x":1}}',
    )
    const bare = Object.create(null) as Record<string, unknown>
    bare['z'] = 1
    bare['a'] = 2
    expect(canonicalizeJson(bare)).toBe('{"a":2,"z":1}')
  })

  it('keeps __proto__ as an ordinary key', () => {
    const value: unknown = JSON.parse('{"__proto__":{"a":1},"b":2}')
    expect(canonicalizeJson(value)).toBe('{"__proto__":{"a":1},"b":2}')
  })

  it('encodes to UTF-8', () => {
    expect([...canonicalizeJsonToBytes({ k: 'é😀' })]).toEqual([
      ...new TextEncoder().encode('{"k":"é😀"}'),
    ])
  })
})

describe('canonicalizeJson rejects what JSON cannot represent', () => {
  it('rejects non-finite numbers and names the path', () => {
    for (const n of [Number.NaN, Infinity, -Infinity]) {
      const err = thrown(() => canonicalizeJson({ a: [1, { b: n }] }))
      expect(err).toBeInstanceOf(MalformedInputError)
      expect(err.code).toBe('ERR_JCS_NUMBER_NOT_FINITE')
      expect(err.details).toEqual({ path: '$.a[1].b' })
      expect(err.message).toContain('$.a[1].b')
    }
  })

  it('rejects lone surrogates in strings', () => {
    for (const s of ['\ud800', 'a\udc00', '\ud800x', 'x\udbff', '\udc00\ud800']) {
      const err = thrown(() => canonicalizeJson({ s }))
      expect(err.code).toBe('ERR_JCS_LONE_SURROGATE')
      expect(err.details['path']).toBe('$.s')
    }
    expect(thrown(() => canonicalizeJson(['ok', 'ab\ud83d'])).details).toEqual({
      path: '$[1]',
      position: 2,
    })
  })

  it('rejects lone surrogates in keys, naming the key escaped', () => {
    const err = thrown(() => canonicalizeJson({ outer: { ['k\udfff']: 1 } }))
    expect(err.code).toBe('ERR_JCS_LONE_SURROGATE')
    expect(err.details['path']).toBe('$.outer["k\\udfff"]')
    expect(err.message).toContain('object key')
  })

  it('rejects values with no JSON form', () => {
    class Point {
      x = 1
    }
    const cases: readonly [unknown, string][] = [
      [undefined, '$'],
      [{ a: undefined }, '$.a'],
      [[1, undefined], '$[1]'],
      [{ f: () => 1 }, '$.f'],
      [{ n: 10n }, '$.n'],
      [{ s: Symbol('s') }, '$.s'],
      [{ d: new Date(0) }, '$.d'],
      [{ m: new Map() }, '$.m'],
      [{ u: new Uint8Array(2) }, '$.u'],
      [{ p: new Point() }, '$.p'],
      [{ w: new String('x') }, '$.w'],
      [{ j: { toJSON: () => 'x' } }, '$.j.toJSON'],
      [{ ['a b']: [new Set()] }, '$["a b"][0]'],
    ]
    for (const [value, path] of cases) {
      const err = thrown(() => canonicalizeJson(value))
      expect(err.code).toBe('ERR_JCS_UNSUPPORTED_VALUE')
      expect(err.details).toEqual({ path })
    }
    expect(thrown(() => canonicalizeJson({ p: new Point() })).message).toContain('Point')
    expect(thrown(() => canonicalizeJson(Object.create({ x: 1 }))).message).toContain(
      'custom prototype',
    )
    expect(
      thrown(() =>
        canonicalizeJson(
          new (class {
            readonly x = 1
          })(),
        ),
      ).message,
    ).toContain('custom prototype')
    expect(thrown(() => canonicalizeJson(1n)).hint).toContain('bigint')
  })

  it('rejects holes, getters and symbol-keyed properties', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(thrown(() => canonicalizeJson([1, , 3])).details).toEqual({ path: '$[1]' })
    const getter = Object.defineProperty({}, 'g', { get: () => 1, enumerable: true })
    expect(thrown(() => canonicalizeJson({ o: getter })).details).toEqual({ path: '$.o.g' })
    const withSymbol = { a: 1, [Symbol('hidden')]: 2 }
    expect(thrown(() => canonicalizeJson(withSymbol)).code).toBe('ERR_JCS_UNSUPPORTED_VALUE')
    // Non-enumerable properties are not part of the value, as for JSON.stringify.
    expect(canonicalizeJson(Object.defineProperty({ a: 1 }, 'b', { value: 2 }))).toBe('{"a":1}')
  })

  it('rejects cycles', () => {
    const o: Record<string, unknown> = { a: 1 }
    o['self'] = o
    const err = thrown(() => canonicalizeJson(o))
    expect(err.code).toBe('ERR_JCS_CYCLE')
    expect(err.details).toEqual({ path: '$.self' })
    const arr: unknown[] = []
    arr.push({ back: [arr] })
    expect(thrown(() => canonicalizeJson(arr)).details).toEqual({ path: '$[0].back[0]' })
  })

  it('limits depth to 1000 with a coded error, never a stack overflow', () => {
    const nest = (depth: number): unknown => {
      let v: unknown = 0
      for (let i = 0; i < depth; i += 1) v = i % 2 === 0 ? [v] : { k: v }
      return v
    }
    expect(canonicalizeJson(nest(1000)).length).toBeGreaterThan(1000)
    expect(thrown(() => canonicalizeJson(nest(1001))).code).toBe('ERR_JCS_DEPTH')
    expect(thrown(() => canonicalizeJson(nest(200_000))).code).toBe('ERR_JCS_DEPTH')
    const parsed: unknown = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)
    expect(thrown(() => canonicalizeJson(parsed)).code).toBe('ERR_JCS_DEPTH')
  })

  it('shortens long keys in paths', () => {
    const key = `${'x'.repeat(40)} y`
    const err = thrown(() => canonicalizeJson({ [key]: Number.NaN }))
    expect(err.details['path']).toBe(`$["${'x'.repeat(32)}…"]`)
  })
})

describe('canonicalizeJson properties', () => {
  /** Rebuild every object of a JSON value with its keys inserted in a shuffled order. */
  function shuffleKeys(value: unknown, seed: number): unknown {
    if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i))
    if (value === null || typeof value !== 'object') return value
    const entries = Object.entries(value)
    // A deterministic Fisher–Yates driven by the seed.
    let s = seed >>> 0
    for (let i = entries.length - 1; i > 0; i -= 1) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0
      const j = s % (i + 1)
      const a = entries[i]
      const b = entries[j]
      if (a !== undefined && b !== undefined) {
        entries[i] = b
        entries[j] = a
      }
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of entries) {
      Object.defineProperty(out, k, {
        value: shuffleKeys(v, s + k.length),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }

  it('matches the canonicalize package on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalizeJson(value)).toBe(canonicalize(value))
      }),
      { numRuns: 1000 },
    )
  })

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalizeJson(shuffleKeys(value, seed))).toBe(canonicalizeJson(value))
      }),
      { numRuns: 500 },
    )
  })

  it('is a fixed point: parsing the output and canonicalizing again gives the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalizeJson(value)
        expect(canonicalizeJson(JSON.parse(text))).toBe(text)
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: 500 },
    )
  })

  it('accepts a string exactly when it is well-formed UTF-16', () => {
    const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u))
    const biased = fc.oneof(codeUnit, fc.constantFrom('\ud800', '\udc00', '\ud83d\ude00', 'a'))
    fc.assert(
      fc.property(fc.string({ unit: biased }), (s) => {
        let wellFormed = true
        try {
          encodeURIComponent(s)
        } catch {
          wellFormed = false
        }
        if (wellFormed) {
          expect(canonicalizeJson({ [s]: s })).toBe(canonicalize({ [s]: s }))
        } else {
          expect(thrown(() => canonicalizeJson(s)).code).toBe('ERR_JCS_LONE_SURROGATE')
          expect(thrown(() => canonicalizeJson({ [s]: 1 })).code).toBe('ERR_JCS_LONE_SURROGATE')
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('throws nothing but InitguardError on anything, and agrees with canonicalize when it accepts', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
        }),
        (value) => {
          let text: string
          try {
            text = canonicalizeJson(value)
          } catch (e) {
            expect(isInitguardError(e)).toBe(true)
            return
          }
          expect(text).toBe(canonicalize(value))
        },
      ),
      { numRuns: 1000 },
    )
  })
})
