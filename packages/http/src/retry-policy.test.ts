import { describe, expect, it } from 'vitest'
import { backoffDelay, isRetryableStatus, retryAfterMs } from './retry-policy.ts'

describe('retry policy', () => {
  it('retries 429 and 5xx only', () => {
    expect([429, 500, 502, 503, 504, 599].every(isRetryableStatus)).toBe(true)
    expect([200, 301, 400, 401, 403, 404, 408, 410, 600].some(isRetryableStatus)).toBe(false)
  })

  it('reads Retry-After in seconds and as an HTTP date (IMF, RFC 850, asctime)', () => {
    expect(retryAfterMs('3', 0)).toBe(3000)
    expect(retryAfterMs(' 120 ', 0)).toBe(120_000)
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    const at = Date.parse('2030-01-01T00:00:10Z')
    const now = Date.parse('2030-01-01T00:00:00Z')
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:10 GMT', now)).toBe(at - now)
    expect(retryAfterMs('Tuesday, 01-Jan-30 00:00:10 GMT', now)).toBe(at - now)
    expect(retryAfterMs('Tue Jan  1 00:00:10 2030', now)).toBeGreaterThanOrEqual(0)
    // A date in the past is no wait at all.
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:10 GMT', at + 5000)).toBe(0)
  })

  it('ignores what is not a Retry-After', () => {
    for (const header of [null, 'soon', '', '-1', '1.5', '99999999999999', '2030-01-01'])
      expect(retryAfterMs(header, 0)).toBeUndefined()
  })

  it('backs off exponentially, jittered to 50–100 %', () => {
    expect(backoffDelay(100, 1, 0)).toBe(50)
    expect(backoffDelay(100, 1, 0.5)).toBe(75)
    expect(backoffDelay(100, 3, 0)).toBe(200)
    expect(backoffDelay(100, 3, 0.9999)).toBeCloseTo(400, 0)
  })
})
