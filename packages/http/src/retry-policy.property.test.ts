/**
 * Property tests of the `Retry-After` reader: a server's header is untrusted text, so any value
 * gives either no wait or a finite, non-negative one, and both forms read back what was written.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { retryAfterMs } from './retry-policy.ts'

const now = fc.integer({ min: 0, max: 253_402_300_799_000 })

describe('retryAfterMs properties', () => {
  it('any text gives undefined or a finite wait of at least 0 ms, and never throws', () => {
    const header = fc.oneof(
      fc.string(),
      fc.stringMatching(/^[A-Za-z]{3,9},? [ -~]{0,30}$/),
      fc.stringMatching(/^\s*-?[0-9]{0,14}(\.[0-9]{0,3})?\s*$/),
    )
    fc.assert(
      fc.property(header, now, (h, at) => {
        const wait = retryAfterMs(h, at)
        if (wait !== undefined) {
          expect(Number.isFinite(wait)).toBe(true)
          expect(wait).toBeGreaterThanOrEqual(0)
        }
      }),
    )
  })

  it('reads delta seconds back in milliseconds, surrounding whitespace ignored', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), now, (seconds, at) => {
        expect(retryAfterMs(` ${seconds}\t`, at)).toBe(seconds * 1000)
      }),
    )
  })

  it('reads an HTTP date as the time until it (0 once past)', () => {
    const date = fc.date({
      min: new Date('1970-01-01'),
      max: new Date('9999-12-31'),
      noInvalidDate: true,
    })
    fc.assert(
      fc.property(date, now, (d, at) => {
        const whole = Math.floor(d.getTime() / 1000) * 1000
        expect(retryAfterMs(d.toUTCString(), at)).toBe(Math.max(0, whole - at))
      }),
    )
  })

  it('takes no number of seconds as a date, nor a negative or fractional delta', () => {
    for (const h of ['-1', '1.5', '3 ', '2024', '99999999999', '', 'soon'])
      expect(retryAfterMs(h, 0), h).toBe(/^\s*\d{1,10}\s*$/.test(h) ? Number(h) * 1000 : undefined)
  })
})
