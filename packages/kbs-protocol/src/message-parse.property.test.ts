/**
 * Adversarial and property tests of the message parsers: any JSON value, and any fixture with one
 * member replaced, removed or added, either parses to a message that serialises back to itself or
 * fails with one of the stable codes; never another error, never a crash.
 */
import { isInitguardError } from '@initguard/core'
import { jsonMemberPaths, withJsonMember, type JsonPath } from '@initguard/testkit'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseKbsRequest } from './message-parse.ts'
import { FIXTURE_PARSERS, fixtureJson as fixture } from './message-test-support.ts'

const CODES = new Set([
  'ERR_KBS_MESSAGE_INVALID',
  'ERR_KBS_PROTOCOL_VERSION',
  'ERR_KBS_TEE_UNSUPPORTED',
  'ERR_KBS_TEE_KEY_UNSUPPORTED',
])

/** Parse, and require either a self-reproducing message or a coded malformed-input error. */
function parsesOrRefuses(parse: (value: unknown) => unknown, value: unknown): void {
  let parsed: unknown
  try {
    parsed = parse(value)
  } catch (error) {
    expect(isInitguardError(error) && CODES.has(error.code), String(error)).toBe(true)
    expect(isInitguardError(error) && error.category).toBe('malformed')
    return
  }
  const text = JSON.stringify(parsed)
  expect(JSON.stringify(parse(JSON.parse(text)))).toBe(text)
}

function at(value: unknown, path: JsonPath): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<string | number, unknown>)[key], value)
}

describe.each(FIXTURE_PARSERS)('%s', (name, parse, strictTop) => {
  const original = fixture(name)
  const places = jsonMemberPaths(original, { maxDepth: 4, maxItems: 3 })

  it('any JSON value parses or is refused with a stable code', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parsesOrRefuses(parse, value)
      }),
      { numRuns: 200 },
    )
  })

  it('one member replaced or removed: parses or is refused with a stable code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...places),
        fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
        (path, replacement) => {
          parsesOrRefuses(parse, withJsonMember(original, path, replacement))
        },
      ),
      { numRuns: 300 },
    )
  })

  // Every object the parser is strict about: not the TEE's own evidence JSON (its verifier reads
  // it), not the free-form extra-params, not a lenient top level.
  const strict = [...(strictTop ? [[]] : []), ...places].filter((path) => {
    const target = at(original, path)
    return (
      typeof target === 'object' &&
      target !== null &&
      !Array.isArray(target) &&
      !path.includes('primary_evidence') &&
      !path.includes('extra-params')
    )
  })
  if (strict.length > 0)
    it('an unknown member of a strict object is refused', () => {
      fc.assert(
        fc.property(fc.constantFrom(...strict), fc.string({ minLength: 1 }), (path, key) => {
          fc.pre(!Object.hasOwn(at(original, path) as object, key))
          expect(() => parse(withJsonMember(original, [...path, key], 1))).toThrow(
            /is not a member of this object/,
          )
        }),
        { numRuns: 100 },
      )
    })
})

describe('requests', () => {
  it('any extra-params JSON round-trips unchanged', () => {
    fc.assert(
      fc.property(fc.constantFrom('snp', 'tdx', 'sgx'), fc.jsonValue(), (tee, extra) => {
        const request = { version: '0.4.0', tee, 'extra-params': extra }
        expect(JSON.stringify(parseKbsRequest(JSON.parse(JSON.stringify(request))))).toBe(
          JSON.stringify(request),
        )
      }),
    )
  })
})
