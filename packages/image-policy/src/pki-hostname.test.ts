import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { certificateMatchesHostname } from './pki-hostname.ts'
import type { SigstoreCertificate } from './sigstore-x509.ts'

/** Only the SANs are read by the host name check. */
const cert = (dnsNames: string[], ipAddresses: number[][] = []): SigstoreCertificate =>
  ({ dnsNames, ipAddresses: ipAddresses.map((ip) => Uint8Array.from(ip)) }) as never

describe('certificateMatchesHostname (Go VerifyHostname)', () => {
  it.each([
    [['myhost.example.com'], 'myhost.example.com', true],
    [['myhost.example.com'], 'MYHOST.example.COM', true],
    [['myhost.example.com'], 'myhost.example.com.', true],
    [['myhost.example.com'], 'example.com', false],
    [['myhost.example.com'], 'other.example.com', false],
    [['*.example.com'], 'myhost.example.com', true],
    [['*.example.com'], 'a.b.example.com', false],
    [['*.example.com'], 'example.com', false],
    [['my*.example.com'], 'myhost.example.com', false],
    // Go's validHostname refuses a bare "*" (not a valid pattern): it is then compared exactly.
    [['*'], 'anything', false],
    [['*'], 'localhost', false],
    [['*'], 'any.thing', false],
    [['*'], '*', true],
    [['not a host'], 'not a host', true],
    [['not a host'], 'NOT A HOST', true],
    [[], 'myhost.example.com', false],
  ])('%j for %s: %s', (names, host, expected) => {
    expect(certificateMatchesHostname(cert(names), host)).toBe(expected)
  })

  it('matches IP addresses only against IP SANs, IPv4 equal to its IPv6-mapped form', () => {
    const v4 = [192, 0, 2, 1]
    const mapped = [...new Array<number>(10).fill(0), 255, 255, ...v4]
    const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]
    expect(certificateMatchesHostname(cert(['192.0.2.1'], []), '192.0.2.1')).toBe(false)
    expect(certificateMatchesHostname(cert([], [v4]), '192.0.2.1')).toBe(true)
    expect(certificateMatchesHostname(cert([], [mapped]), '192.0.2.1')).toBe(true)
    expect(certificateMatchesHostname(cert([], [v4]), '::ffff:192.0.2.1')).toBe(true)
    expect(certificateMatchesHostname(cert([], [v6]), '2001:db8::1')).toBe(true)
    expect(certificateMatchesHostname(cert([], [v6]), '[2001:DB8:0:0:0:0:0:1]')).toBe(true)
    expect(certificateMatchesHostname(cert([], [v6]), '2001:db8::2')).toBe(false)
    // Leading zeros are not an IPv4 address for Go; the name is then matched as a DNS name.
    expect(certificateMatchesHostname(cert([], [v4]), '192.0.2.01')).toBe(false)
  })

  it('never matches a certificate without SANs, whatever the host', () => {
    fc.assert(
      fc.property(fc.string(), (host) => {
        expect(certificateMatchesHostname(cert([]), host)).toBe(false)
      }),
    )
  })
})
