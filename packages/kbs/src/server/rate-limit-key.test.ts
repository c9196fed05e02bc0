import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rateLimitKey } from './rate-limit-key.ts'

describe('rateLimitKey', () => {
  it('counts an IPv4 address as itself, and IPv4-mapped IPv6 as that IPv4 address', () => {
    expect(rateLimitKey('192.0.2.7')).toBe('192.0.2.7')
    expect(rateLimitKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(rateLimitKey('::ffff:c000:207')).toBe('192.0.2.7')
  })

  it('counts a whole IPv6 /64 as one client', () => {
    expect(rateLimitKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(rateLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(rateLimitKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(rateLimitKey('::1')).toBe('0:0:0:0::/64')
    expect(rateLimitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
  })

  it('gives every address of one /64 the same key, and other /64s other keys', () => {
    fc.assert(
      fc.property(
        fc.ipV6().filter((ip) => !/^::ffff:|^0*:0*:0*:0*:0*:ffff:/i.test(ip)),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
        (ip, host) => {
          const key = rateLimitKey(ip)
          const prefix = key.replace('::/64', '')
          const sibling = `${prefix}:${host.map((h) => h.toString(16)).join(':')}`
          expect(rateLimitKey(sibling)).toBe(key)
        },
      ),
    )
  })
})
