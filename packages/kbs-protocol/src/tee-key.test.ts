/**
 * `generateTeeKeyPair`: its EC public JWK is remembered as the public half of the private key it
 * made (whose import validated the point), so checking it finds that key; and the check still
 * refuses every point that is not the one remembered.
 */
import { createPublicKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateTeeKeyPair } from './tee-key.ts'
import { checkTeePublicJwk } from './tee-public-jwk.ts'

describe('generateTeeKeyPair', () => {
  it.each(['P-256', 'P-384', 'P-521'] as const)(
    'checks its %s public JWK as the public half of its private key',
    async (kind) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
      if (publicJwk.kty !== 'EC') throw new Error('an EC key')
      const { key, jwk } = checkTeePublicJwk(publicJwk, 'TEE key')
      expect(jwk).toEqual(publicJwk)
      expect(key.type).toBe('public')
      expect(key.equals(createPublicKey(privateKey))).toBe(true)
      // A point one bit away is another key: not found, so imported and refused as before.
      const y = Buffer.from(publicJwk.y, 'base64url')
      y[y.length - 1] = (y[y.length - 1] ?? 0) ^ 1
      expect(() => checkTeePublicJwk({ ...publicJwk, y: y.toString('base64url') })).toThrow(
        /is not a point on/,
      )
    },
  )
})
