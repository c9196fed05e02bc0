/**
 * `parseHostPort` and `isLoopbackAddress`: the one reading of listen addresses and loopback that
 * the KBS, its database transport check and the guest agent share. Loopback is checked against
 * Node's own address arithmetic for every spelling fast-check writes.
 */
import { BlockList } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isLoopbackAddress, parseHostPort } from './host-port.ts'

describe('parseHostPort', () => {
  it('reads HOST:PORT and [IPv6]:PORT', () => {
    expect(parseHostPort('127.0.0.1:8006')).toEqual({ host: '127.0.0.1', port: 8006 })
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseHostPort('[::ffff:127.0.0.1]:1')).toEqual({ host: '::ffff:127.0.0.1', port: 1 })
    expect(parseHostPort('kbs.example:65535')).toEqual({ host: 'kbs.example', port: 65535 })
    expect(parseHostPort('localhost:8443')).toEqual({ host: 'localhost', port: 8443 })
    expect(parseHostPort('1kbs.example-2.io:1')).toEqual({ host: '1kbs.example-2.io', port: 1 })
  })

  it('refuses leading zeros, numbers that are no IPv4 address, bad labels and bare IPv6', () => {
    // Each was accepted before: `08006` as 8006, and `999.1.1.1` as a name the resolver then
    // failed on (or, for `10.1`, read as the address 10.0.0.1).
    for (const bad of [
      ...['host:08006', 'host:00', 'host:65536', 'host:', ':1', 'host', '::1:8006'],
      ...['999.1.1.1:1', '10.1:1', '1.2.3:1', '127.0.0.01:1', 'a.1:1', '0x7f.1:1x'],
      ...['a..b:1', '.a:1', 'a.:1', '-a:1', 'a-:1', `${'a'.repeat(64)}.b:1`, 'a b:1'],
      ...['[zz]:1', '[127.0.0.1]:1', '[::1:1', '[::1]', `${'a.'.repeat(127)}ab:1`],
    ])
      expect(parseHostPort(bad), bad).toBeUndefined()
  })

  it('any IPv4, IPv6 or DNS host with any port reads back as itself', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6().map((a) => `[${a}]`),
      fc.domain(),
    )
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
        expect(parseHostPort(`${h}:${String(port)}`)).toEqual({
          host: h.replace(/^\[(.*)\]$/, '$1'),
          port,
        })
      }),
      { numRuns: 300 },
    )
  })

  it('any text: read back exactly as written, or refused', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-z.:[\]-]{0,24}$/)), (text) => {
        const read = parseHostPort(text)
        if (read === undefined) return
        const host = read.host.includes(':') ? `[${read.host}]` : read.host
        expect(text).toBe(`${host}:${String(read.port)}`)
      }),
      { numRuns: 500 },
    )
  })
})

/** Loopback by Node's address arithmetic, written independently of the code under test. */
const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

describe('isLoopbackAddress', () => {
  it('takes every spelling of 127.0.0.0/8 and ::1, and no name', () => {
    for (const address of [
      ...['127.0.0.1', '127.255.255.255', '::1', '0::1', '0:0:0:0:0:0:0:1', '0000::0001'],
      ...['::ffff:127.0.0.1', '::FFFF:127.1.2.3', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1'],
    ])
      expect(isLoopbackAddress(address), address).toBe(true)
    for (const address of [
      ...['localhost', '128.0.0.1', '::', '::2', '::ffff:128.0.0.1', '0.0.0.0', '10.0.0.1'],
      ...['::127.0.0.1', '[::1]', '127.1', '', 'fe80::1'],
    ])
      expect(isLoopbackAddress(address), address).toBe(false)
  })

  it('agrees with address arithmetic on any IPv4, IPv6 or mapped address', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV6(),
          fc.ipV4().map((a) => `::ffff:${a}`),
        ),
        (address) => {
          const family = address.includes(':') ? 'ipv6' : 'ipv4'
          expect(isLoopbackAddress(address)).toBe(loopback.check(address, family))
        },
      ),
      { numRuns: 500 },
    )
  })
})
