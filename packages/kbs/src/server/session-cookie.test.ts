import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CHALLENGE_COOKIE_LENGTH } from '../storage/rcar-challenge.ts'
import { sessionCookie, sessionCookieOf } from './session-cookie.ts'

const value = 'ab'.repeat(CHALLENGE_COOKIE_LENGTH / 2)

describe('sessionCookieOf', () => {
  it('finds the value among other cookies, and only the first kbs-session-id counts', () => {
    expect(sessionCookieOf(`a=b; kbs-session-id=${value}; c=d`)).toEqual({ present: true, value })
    expect(sessionCookieOf(`kbs-session-id=x; kbs-session-id=${value}`)).toEqual({
      present: true,
    })
  })

  it('says "no cookie" apart from "not a session" (another length, case or alphabet)', () => {
    expect(sessionCookieOf(undefined)).toEqual({ present: false })
    expect(sessionCookieOf('other=1')).toEqual({ present: false })
    for (const bad of [
      '',
      'a'.repeat(32),
      value.slice(1),
      `${value}0`,
      value.toUpperCase(),
      `${value.slice(1)}g`,
      `${value.slice(1)}=`,
    ])
      expect(sessionCookieOf(`kbs-session-id=${bad}`)).toEqual({ present: true })
  })

  it('never throws, and returns only exact-shape values', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        const found = sessionCookieOf(header)
        if (found.present && found.value !== undefined)
          expect(found.value).toMatch(/^[0-9a-f]{116}$/)
      }),
    )
  })

  it('round-trips what sessionCookie sets', () => {
    const set = sessionCookie(value, new Date('2026-12-01T10:05:00Z'), true)
    expect(set).toMatch(/; HttpOnly; SameSite=Strict; Secure$/)
    expect(sessionCookieOf(set.split(';')[0])).toEqual({ present: true, value })
  })
})
