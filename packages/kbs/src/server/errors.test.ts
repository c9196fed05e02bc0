import { describe, expect, it } from 'vitest'
import {
  ExpectationError,
  InternalError,
  LocalIoError,
  MalformedInputError,
  UnavailableError,
  VerificationError,
} from '@initguard/core'
import { INTERNAL_ERROR_DETAIL, problemBody, problemForError } from './errors.ts'

describe('the error mapper', () => {
  it("maps Initguard errors by category, with Trustee's variants", () => {
    const cases = [
      [new MalformedInputError('ERR_X', 'bad json'), 400, 'SerdeError', 'bad json'],
      [new VerificationError('ERR_X', 'signature'), 401, 'AttestationError', 'signature'],
      [new ExpectationError('ERR_X', 'denied'), 403, 'PolicyDeny', 'denied'],
      [new UnavailableError('ERR_X', 'pcs down'), 503, 'ServiceUnavailable', 'pcs down'],
    ] as const
    for (const [error, status, variant, detail] of cases)
      expect(problemForError(error)).toEqual({
        problem: { status, variant, detail },
        unexpected: false,
      })
  })

  it('never shows the text of an unexpected, local-file or internal error', () => {
    for (const error of [
      new Error('password=hunter2'),
      new LocalIoError('ERR_FILE_READ', '/etc/kbs/master.key'),
      new InternalError('ERR_INTERNAL', 'x'),
      'a string',
      undefined,
    ]) {
      const mapped = problemForError(error)
      expect(mapped).toEqual({
        problem: { status: 500, variant: 'InternalError', detail: INTERNAL_ERROR_DETAIL },
        unexpected: true,
      })
    }
  })

  it("maps Fastify's body errors and the rate limiter", () => {
    expect(
      problemForError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).problem.status,
    ).toBe(413)
    expect(
      problemForError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).problem,
    ).toMatchObject({ status: 400, variant: 'SerdeError' })
    expect(
      problemForError({ statusCode: 429, message: 'Rate limit exceeded' }).problem,
    ).toMatchObject({ status: 429, variant: 'TooManyRequests' })
    expect(
      problemForError({ statusCode: 431, message: 'echo <input>' }).problem.detail,
    ).not.toMatch(/input/)
  })

  it("writes Trustee's body", () => {
    expect(problemBody({ status: 403, variant: 'PolicyDeny', detail: 'no' })).toEqual({
      type: 'https://github.com/confidential-containers/kbs/errors/PolicyDeny',
      detail: 'no',
    })
  })
})
