import { describe, expect, it } from 'vitest'
import { isInitguardError } from './errors.ts'
import { PolicyChecker } from './policy-checks.ts'

function faults(run: (check: PolicyChecker) => void): readonly string[] {
  const check = new PolicyChecker('ERR_TEST_POLICY_INVALID', 'test policy')
  run(check)
  try {
    check.done()
  } catch (e) {
    if (!isInitguardError(e)) throw e
    expect(e.code).toBe('ERR_TEST_POLICY_INVALID')
    expect(e.category).toBe('usage')
    return e.details['faults'] as readonly string[]
  }
  return []
}

describe('PolicyChecker', () => {
  it('accepts absent values and values inside their fields', () => {
    expect(
      faults((c) => {
        c.integer('n', undefined, 0, 3)
        c.integer('n', 3, 0, 3)
        c.bytes('b', new Uint8Array(4), 4)
        c.byteList('l', [new Uint8Array(2)], 2)
        c.boolean('f', false)
      }),
    ).toEqual([])
  })

  it('refuses NaN, fractions, out-of-range and non-numbers, naming each', () => {
    expect(
      faults((c) => {
        for (const value of [Number.NaN, 1.5, -1, 4, Number.POSITIVE_INFINITY, '2', 2n])
          c.integer('n', value, 0, 3)
      }),
    ).toEqual([
      'n must be a whole number from 0 to 3; got NaN',
      'n must be a whole number from 0 to 3; got 1.5',
      'n must be a whole number from 0 to 3; got -1',
      'n must be a whole number from 0 to 3; got 4',
      'n must be a whole number from 0 to 3; got Infinity',
      'n must be a whole number from 0 to 3; got the string "2"',
      'n must be a whole number from 0 to 3; got a value of type bigint',
    ])
  })

  it('refuses byte strings of the wrong length and lists that are not lists', () => {
    expect(
      faults((c) => {
        c.bytes('b', new Uint8Array(3), 4)
        c.bytes('b', 'abcd', 4)
        c.byteList('l', [new Uint8Array(2), new Uint8Array(1)], 2)
        c.byteList('l', new Uint8Array(2), 2)
        c.boolean('f', 'false')
      }),
    ).toEqual([
      'b must be 4 bytes; got 3 bytes',
      'b must be 4 bytes; got the string "abcd"',
      'l[1] must be 2 bytes; got 1 bytes',
      'l must be a list of 2-byte values; got a byte array',
      'f must be true or false; got the string "false"',
    ])
  })

  it('checks a table of fields by their names, in the table order, naming each fault', () => {
    const policy: Record<string, unknown> = {
      digest: new Uint8Array(3),
      allowed: [new Uint8Array(2), 'ab'],
      level: 9,
      strict: 'yes',
      absent: undefined,
    }
    expect(
      faults((c) => {
        c.byteFields(policy, { absent: 4, digest: 4 })
        c.byteListFields(policy, { allowed: 2 })
        c.integerFields(policy, { absent: [0, 3], level: [0, 3] })
        c.booleanFields(policy, ['absent', 'strict'])
      }),
    ).toEqual([
      'digest must be 4 bytes; got 3 bytes',
      'allowed[1] must be 2 bytes; got the string "ab"',
      'level must be a whole number from 0 to 3; got 9',
      'strict must be true or false; got the string "yes"',
    ])
  })

  it('names only fields the policy type has', () => {
    const policy: { readonly digest?: Uint8Array } = {}
    expect(
      faults((c) => {
        // @ts-expect-error -- `digets` is not a field of the policy: a misspelt name does not compile
        c.byteFields(policy, { digets: 4 })
        c.byteFields(policy, { digest: 4 })
      }),
    ).toEqual([])
  })

  it('refuses a policy that is not an object, and options it does not know, naming the known ones', () => {
    const known = ['digest', 'level']
    for (const policy of [null, 'digest', [], new Uint8Array(1), 3]) {
      let isObject = true
      expect(
        faults((c) => {
          isObject = c.options(policy, known)
        }),
      ).toHaveLength(1)
      expect(isObject).toBe(false)
    }
    expect(
      faults((c) => {
        expect(c.options({ digest: undefined, Level: 1, digests: [] }, known)).toBe(true)
      }),
    ).toEqual([
      'Level is not an option (known: digest, level)',
      'digests is not an option (known: digest, level)',
    ])
    expect(faults((c) => c.options({}, known))).toEqual([])
  })

  it('refuses an object option given in part, with an unknown component, or not an object', () => {
    const parts = ['major', 'minor']
    expect(
      faults((c) => {
        expect(c.object('abi', { major: 1 }, parts)).toBe(true)
        expect(c.object('abi', { major: 1, minor: 0, micro: 0 }, parts)).toBe(true)
        expect(c.object('abi', null, parts)).toBe(false)
        expect(c.object('abi', [1, 0], parts)).toBe(false)
      }),
    ).toEqual([
      'abi.minor is missing; give every component',
      'abi.micro is not a component of abi (known: major, minor)',
      'abi must be an object with major, minor; got null',
      'abi must be an object with major, minor; got an array',
    ])
    expect(faults((c) => c.object('abi', { major: 1, minor: 0, fmc: 2 }, parts, ['fmc']))).toEqual(
      [],
    )
  })
})
