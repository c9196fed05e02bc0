import { describe, expect, it } from 'vitest'
import { UsageError } from './errors.ts'
import { requireUint8Array } from './input-bytes.ts'

describe('requireUint8Array', () => {
  it('returns the bytes themselves (no copy: the parser copies once)', () => {
    const bytes = Uint8Array.of(1, 2, 3)
    expect(requireUint8Array(bytes, 'ERR_X_INPUT_TYPE', 'an X')).toBe(bytes)
  })

  it.each([
    ['a string', '0102', 'string'],
    ['an array', [1, 2], 'object'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['an ArrayBuffer', new ArrayBuffer(2), 'object'],
  ])('refuses %s with the caller code and the type', (_name, input, type) => {
    let thrown: unknown
    try {
      requireUint8Array(input, 'ERR_X_INPUT_TYPE', 'an X report')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(UsageError)
    const error = thrown as UsageError
    expect(error.code).toBe('ERR_X_INPUT_TYPE')
    expect(error.message).toBe('an X report must be given as a Uint8Array')
    expect(error.details).toEqual({ what: 'an X report', type })
  })
})
