import { Buffer } from 'node:buffer'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { constantTimeEqual, constantTimeIncludes } from './constant-time.ts'
import { UsageError } from './errors.ts'

describe('constantTimeEqual', () => {
  it('is true for equal bytes and false for any difference', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(0, 2, 3), Uint8Array.of(1, 2, 3))).toBe(false)
  })

  it('returns false for different lengths instead of throwing', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false)
    expect(constantTimeEqual(new Uint8Array(0), Uint8Array.of(0))).toBe(false)
    expect(constantTimeEqual(new Uint8Array(48), new Uint8Array(32))).toBe(false)
  })

  it('compares the bytes of views and Buffers, not their backing stores', () => {
    const backing = Uint8Array.of(9, 1, 2, 3, 9)
    expect(constantTimeEqual(backing.subarray(1, 4), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), backing.subarray(1, 4))).toBe(true)
    expect(constantTimeEqual(backing.subarray(0, 3), backing.subarray(1, 4))).toBe(false)
  })

  it('rejects arguments that are not Uint8Arrays with a UsageError', () => {
    const notBytes = ['abc', [1, 2, 3], new Uint16Array(2), null, undefined]
    for (const value of notBytes) {
      for (const call of [
        () => constantTimeEqual(value as unknown as Uint8Array, new Uint8Array(3)),
        () => constantTimeEqual(new Uint8Array(3), value as unknown as Uint8Array),
      ]) {
        let error: unknown
        try {
          call()
        } catch (e) {
          error = e
        }
        expect(error).toBeInstanceOf(UsageError)
        expect((error as UsageError).code).toBe('ERR_CONSTANT_TIME_ARGUMENT')
      }
    }
  })

  it('agrees with Buffer.equals', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        (a, b, same) => {
          const other = same ? a.slice() : b
          expect(constantTimeEqual(a, other)).toBe(Buffer.from(a).equals(Buffer.from(other)))
        },
      ),
    )
  })
})

describe('constantTimeIncludes', () => {
  it('is true when one of the allowed values holds the same bytes', () => {
    const allowed = [Uint8Array.of(1, 2), Uint8Array.of(3, 4)]
    expect(constantTimeIncludes(allowed, Uint8Array.of(3, 4))).toBe(true)
    expect(constantTimeIncludes(allowed, Uint8Array.of(3, 5))).toBe(false)
    expect(constantTimeIncludes(allowed, Uint8Array.of(3))).toBe(false)
    expect(constantTimeIncludes([], Uint8Array.of(1, 2))).toBe(false)
  })

  it('rejects an argument that is not a Uint8Array, as constantTimeEqual does', () => {
    expect(() => constantTimeIncludes([Uint8Array.of(1)], '01' as unknown as Uint8Array)).toThrow(
      UsageError,
    )
  })
})
