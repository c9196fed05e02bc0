import { describe, expect, it } from 'vitest'
import { UsageError } from '@initguard/core'
import { codeOf, rejected, rejectedCode, settledOutcome, thrown } from './thrown.ts'

const refuse = (): never => {
  throw new UsageError('ERR_TEST', 'refused')
}

describe('thrown / rejected', () => {
  it('return the InitguardError and its code', async () => {
    expect(thrown(refuse).message).toBe('refused')
    expect(codeOf(refuse)).toBe('ERR_TEST')
    expect((await rejected(Promise.reject(new UsageError('ERR_A', 'a')))).code).toBe('ERR_A')
    expect(await rejectedCode(() => Promise.reject(new UsageError('ERR_B', 'b')))).toBe('ERR_B')
  })

  it('fail the test when nothing or something foreign is thrown', async () => {
    expect(() => thrown(() => 1)).toThrow(/nothing was thrown/)
    expect(() => thrown(() => JSON.parse('{'))).toThrow(
      /expected an InitguardError, got SyntaxError/,
    )
    await expect(rejected(Promise.resolve(1))).rejects.toThrow(/the promise resolved/)
    await expect(rejected(Promise.reject(new Error('x')))).rejects.toThrow(/got Error: x/)
  })
})

describe('settledOutcome', () => {
  it('says accepted, or the category and code of the coded rejection; a foreign one fails', async () => {
    expect(await settledOutcome(Promise.resolve(1))).toBe('accepted')
    expect(await settledOutcome(Promise.reject(new UsageError('ERR_A', 'a')))).toBe('usage ERR_A')
    await expect(settledOutcome(Promise.reject(new Error('x')))).rejects.toThrow(/got Error: x/)
  })
})
