import { describe, expect, it } from 'vitest'
import { AppraisalFailures, throwIfAppraisalFailed } from './appraisal.ts'
import { isInitguardError } from './errors.ts'

describe('AppraisalFailures', () => {
  it('passes every rule the policy does not set, and every rule the evidence meets', () => {
    const failures = new AppraisalFailures()
    failures.exact('ERR_TEST_A', 'A', Uint8Array.of(1), undefined, 'hint')
    failures.exact('ERR_TEST_A', 'A', Uint8Array.of(1), Uint8Array.of(1), 'hint')
    failures.oneOf('ERR_TEST_B', 'B', Uint8Array.of(1), undefined, 'hint')
    failures.oneOf('ERR_TEST_B', 'B', Uint8Array.of(1), [Uint8Array.of(0), Uint8Array.of(1)], 'h')
    failures.atLeast('ERR_TEST_C', 'C', 3, undefined, 'hint')
    failures.atLeast('ERR_TEST_C', 'C', 3, 3, 'hint')
    failures.add(undefined)
    expect(failures.list).toEqual([])
    expect(() => {
      throwIfAppraisalFailed(failures.list, 'test evidence')
    }).not.toThrow()
  })

  it('names each failed rule with the actual and expected values, in the order checked', () => {
    const failures = new AppraisalFailures<`ERR_TEST_${string}`>()
    failures.atLeast('ERR_TEST_SVN', 'SVN', 2, 3, 'update')
    failures.exact('ERR_TEST_DATA', 'DATA', Uint8Array.of(0xab), Uint8Array.of(0xcd), 'check')
    failures.oneOf(
      'ERR_TEST_ID',
      'ID',
      Uint8Array.of(1),
      [Uint8Array.of(2), Uint8Array.of(3)],
      'add',
    )
    failures.add({ code: 'ERR_TEST_OWN', message: 'own rule' })
    expect(failures.list).toEqual([
      { code: 'ERR_TEST_SVN', message: 'SVN is 2, expected at least 3', hint: 'update' },
      { code: 'ERR_TEST_DATA', message: 'DATA is ab, expected cd', hint: 'check' },
      { code: 'ERR_TEST_ID', message: 'ID 01 is not one of the 2 expected', hint: 'add' },
      { code: 'ERR_TEST_OWN', message: 'own rule' },
    ])
    let caught: unknown
    try {
      throwIfAppraisalFailed(failures.list, 'test evidence')
    } catch (e) {
      caught = e
    }
    expect(isInitguardError(caught) && caught.code).toBe('ERR_TEST_SVN')
  })
})
