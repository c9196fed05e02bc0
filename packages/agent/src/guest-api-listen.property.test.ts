/**
 * Property tests of the guest API listen address: any text is an address or refused with
 * `ERR_AGENT_LISTEN_VALUE`; an address written out reads back as itself; and only `localhost` and
 * 127.0.0.0/8 and ::1, however spelt, are taken for loopback hosts.
 */
import { BlockList, isIP } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { isLoopbackHost, parseGuestApiAddress, type GuestApiAddress } from './guest-api-listen.ts'

function readOrRefused(text: string): GuestApiAddress | undefined {
  try {
    return parseGuestApiAddress(text)
  } catch (error) {
    expect(isInitguardError(error) && error.code, String(error)).toBe('ERR_AGENT_LISTEN_VALUE')
    return undefined
  }
}

/** Loopback by Node's own address arithmetic: 127.0.0.0/8, ::1, and 127/8 mapped into IPv6. */
const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')
loopback.addSubnet('::ffff:7f00:0', 104, 'ipv6')

const port = fc.integer({ min: 0, max: 65535 })
const host = fc.oneof(
  fc.ipV4(),
  fc.ipV6().map((a) => `[${a}]`),
  fc.domain(),
  fc.constantFrom('localhost', '[::1]', '127.0.0.1'),
)

describe('parseGuestApiAddress', () => {
  it('any text: an address or refused with ERR_AGENT_LISTEN_VALUE', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.tuple(host, fc.string({ maxLength: 7 })).map(([h, p]) => `${h}:${p}`),
          fc.tuple(fc.string(), port).map(([h, p]) => `${h}:${String(p)}`),
        ),
        (text) => {
          const address = readOrRefused(text)
          if (address === undefined) return
          // Accepted: the text is exactly HOST:PORT of what was read (a port has no leading zeros).
          expect(Number.isInteger(address.port) && address.port <= 65535).toBe(true)
          const written = address.host.includes(':') ? `[${address.host}]` : address.host
          expect(text).toBe(`${written}:${String(address.port)}`)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('an address written out reads back as itself', () => {
    fc.assert(
      fc.property(host, port, (h, p) => {
        expect(parseGuestApiAddress(`${h}:${String(p)}`)).toEqual({
          host: h.replace(/^\[(.*)\]$/, '$1'),
          port: p,
        })
      }),
      { numRuns: 200 },
    )
  })
})

describe('isLoopbackHost', () => {
  it('takes `localhost` and loopback addresses only (addresses: tested in @initguard/http)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), (host) => {
        const family = host.includes(':') ? 'ipv6' : 'ipv4'
        const isAddress = isIP(host) !== 0
        const expected = host === 'localhost' || (isAddress && loopback.check(host, family))
        expect(isLoopbackHost(host)).toBe(expected)
      }),
      { numRuns: 300 },
    )
    expect(isLoopbackHost('LocalHost')).toBe(true)
    expect(isLoopbackHost('0::1')).toBe(true)
  })
})
