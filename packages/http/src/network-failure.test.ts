/**
 * Which failures are worth another attempt: a host that does not resolve or refuses the connection
 * is not (reported at once); a timeout or a reset connection may be; a bug is never retried.
 */
import { describe, expect, it } from 'vitest'
import {
  finalTransportFailure,
  hopelessNetworkFailure,
  isTransportFailure,
} from './network-failure.ts'

describe('hopeless network failures', () => {
  it('leaves timeouts and other failures to the retries', () => {
    const timeout = new Error('aborted')
    timeout.name = 'TimeoutError'
    expect(hopelessNetworkFailure(timeout)).toBeUndefined()
    expect(
      hopelessNetworkFailure(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } })),
    ).toBeUndefined()
    expect(
      hopelessNetworkFailure(
        new TypeError('fetch failed', {
          cause: new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
        }),
      )?.code,
    ).toBe('ECONNREFUSED')
  })

  it('names DNS, refused and unreachable failures wherever undici nests them', () => {
    const nested = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND x.invalid'), { code: 'ENOTFOUND' }),
    })
    expect(hopelessNetworkFailure(nested)).toEqual({
      code: 'ENOTFOUND',
      reason: 'the host name does not resolve (no network, no DNS, or a wrong name) (ENOTFOUND)',
    })
    expect(
      hopelessNetworkFailure(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' }))?.code,
    ).toBe('EHOSTUNREACH')
    expect(hopelessNetworkFailure('ENOTFOUND')).toBeUndefined()
  })
})

describe('isTransportFailure', () => {
  it('is true for network failures, bodies cut short and timeouts', () => {
    const timeout = new Error('no progress')
    timeout.name = 'TimeoutError'
    expect(isTransportFailure(timeout)).toBe(true)
    expect(isTransportFailure(new TypeError('fetch failed'))).toBe(true)
    expect(
      isTransportFailure(new TypeError('terminated', { cause: { code: 'UND_ERR_SOCKET' } })),
    ).toBe(true)
    expect(isTransportFailure(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true)
  })

  it('is false for our own bugs: bad URLs, bad arguments, anything without a network cause', () => {
    expect(isTransportFailure(new TypeError('Invalid URL'))).toBe(false)
    expect(
      isTransportFailure(
        new TypeError('Failed to parse URL from x', {
          cause: Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' }),
        }),
      ),
    ).toBe(false)
    expect(
      isTransportFailure(Object.assign(new Error('bad'), { code: 'UND_ERR_INVALID_ARG' })),
    ).toBe(false)
    expect(isTransportFailure(new RangeError('out of range'))).toBe(false)
    expect(isTransportFailure('fetch failed')).toBe(false)
  })
})

describe('final transport failures', () => {
  const failed = (code: string, message = 'x'): TypeError =>
    new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) })

  it('names an untrusted certificate tls, before anything else', () => {
    expect(finalTransportFailure(failed('CERT_HAS_EXPIRED', 'certificate has expired'))).toEqual({
      kind: 'tls',
      reason: "the server's certificate is not trusted: certificate has expired",
      systemCode: 'CERT_HAS_EXPIRED',
    })
  })

  it('names no DNS or nothing listening unreachable', () => {
    expect(finalTransportFailure(failed('ECONNREFUSED'))).toMatchObject({
      kind: 'unreachable',
      systemCode: 'ECONNREFUSED',
    })
  })

  it('leaves a reset connection to the retries', () => {
    expect(finalTransportFailure(failed('ECONNRESET'))).toBeUndefined()
  })
})
