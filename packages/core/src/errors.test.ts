import { describe, expect, it } from 'vitest'
import {
  ExpectationError,
  InternalError,
  LocalIoError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
  isInitguardError,
} from './errors.ts'

describe('InitguardError', () => {
  it('carries a stable code, a category per subclass, details, hint and cause', () => {
    const cause = new Error('low level')
    const error = new MalformedInputError('ERR_X_BROKEN', 'x is broken', {
      cause,
      details: { field: 'x', offset: 4 },
      hint: 'fix x',
    })
    expect(error.code).toBe('ERR_X_BROKEN')
    expect(error.category).toBe('malformed')
    expect(error.name).toBe('MalformedInputError')
    expect(error.cause).toBe(cause)
    expect(error.toJSON()).toEqual({
      code: 'ERR_X_BROKEN',
      category: 'malformed',
      message: 'x is broken',
      hint: 'fix x',
      details: { field: 'x', offset: 4 },
    })
    expect(error).toBeInstanceOf(Error)
  })

  it('has one category per subclass', () => {
    const categories = [
      new UsageError('ERR_A', 'a'),
      new MalformedInputError('ERR_A', 'a'),
      new VerificationError('ERR_A', 'a'),
      new ExpectationError('ERR_A', 'a'),
      new UnavailableError('ERR_A', 'a'),
      new LocalIoError('ERR_A', 'a'),
      new InternalError('ERR_A', 'a'),
    ].map((e) => e.category)
    expect(new Set(categories).size).toBe(7)
  })

  it('tells our errors from others', () => {
    expect(isInitguardError(new UsageError('ERR_A', 'a'))).toBe(true)
    expect(isInitguardError(new Error('a'))).toBe(false)
    expect(isInitguardError({ code: 'ERR_A' })).toBe(false)
    expect(new UsageError('ERR_A', 'a').toJSON()).not.toHaveProperty('hint')
  })
})
