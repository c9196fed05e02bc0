import { createPublicKey, diffieHellman, sign, verify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ephemeralAgreement, generateEcKeyPair, type EcKeyCurve } from './ec-key-pair.ts'
import { EC_COORDINATE_BYTES, parseTeePublicJwk } from './tee-public-jwk.ts'

const CURVES: readonly EcKeyCurve[] = ['P-256', 'P-384', 'P-521']
const bytesOf = (b64url: string): number => Buffer.from(b64url, 'base64url').length

describe('generateEcKeyPair', () => {
  it.each(CURVES)('makes a working %s pair whose JWK members have the full length', (curve) => {
    const { privateKey, jwk } = generateEcKeyPair(curve)
    const publicKey = createPublicKey(privateKey)
    expect(jwk.kty).toBe('EC')
    expect(jwk.crv).toBe(curve)
    for (const member of [jwk.x, jwk.y, jwk.d])
      expect(bytesOf(member)).toBe(EC_COORDINATE_BYTES[curve])
    expect(privateKey.type).toBe('private')
    expect(publicKey.type).toBe('public')
    const message = Buffer.from('bound')
    expect(verify(null, message, publicKey, sign(null, message, privateKey))).toBe(true)
    // The public key and the JWK name the same point, and a peer accepts it as a TEE key.
    const der = publicKey.export({ type: 'spki', format: 'der' })
    const length = EC_COORDINATE_BYTES[curve]
    expect(der.subarray(-2 * length).toString('base64url')).toBe(
      Buffer.concat([Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString(
        'base64url',
      ),
    )
    const { x, y } = jwk
    expect(() =>
      parseTeePublicJwk({ kty: 'EC', crv: curve, alg: 'ECDH-ES+A256KW', x, y }),
    ).not.toThrow()
  })

  it('pads a private scalar with leading zeros to the full length (P-521: about every other key)', () => {
    // A P-521 scalar is below 2^521, so its first of 66 bytes is 0 or 1; OpenSSL drops a 0.
    let padded = 0
    for (let n = 0; n < 64; n++) {
      const { jwk, privateKey } = generateEcKeyPair('P-521')
      const publicKey = createPublicKey(privateKey)
      const d = Buffer.from(jwk.d, 'base64url')
      expect(d.length).toBe(66)
      if (d[0] === 0) padded++
      const message = Buffer.of(n)
      expect(verify(null, message, publicKey, sign(null, message, privateKey))).toBe(true)
    }
    expect(padded).toBeGreaterThan(0)
  })

  it('makes a different key every time', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CURVES), (curve) => {
        expect(generateEcKeyPair(curve).jwk.d).not.toBe(generateEcKeyPair(curve).jwk.d)
      }),
      { numRuns: 30 },
    )
  })
})

describe('ephemeralAgreement', () => {
  it.each(CURVES)('agrees on %s with the peer, as diffieHellman computes it', (curve) => {
    const peer = generateEcKeyPair(curve)
    const agreement = ephemeralAgreement(curve, peer.jwk)
    const ephemeralPublic = createPublicKey({
      key: { kty: 'EC', crv: curve, x: agreement.x, y: agreement.y },
      format: 'jwk',
    })
    expect(agreement.sharedSecret).toEqual(
      diffieHellman({ privateKey: peer.privateKey, publicKey: ephemeralPublic }),
    )
    expect(agreement.sharedSecret.length).toBe(EC_COORDINATE_BYTES[curve])
    expect(ephemeralAgreement(curve, peer.jwk).x).not.toBe(agreement.x)
  })

  it('refuses a point that is not on the curve', () => {
    const { x } = generateEcKeyPair('P-256').jwk
    expect(() => ephemeralAgreement('P-256', { x, y: x })).toThrow()
  })
})
