/**
 * `generateTeeKeyPair`: its EC public JWK is remembered as the public half of the private key it
 * made (whose import validated the point), so checking it finds that key instead of importing and
 * validating the same point again; and the check still imports, and refuses, every point that is
 * not the one remembered. The imports are counted on `node:crypto`'s `createPublicKey`.
 */
import * as crypto from 'node:crypto'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { generateTeeKeyPair } from './tee-key.ts'
import { checkTeePublicJwk } from './tee-public-jwk.ts'

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>()
  return { ...original, createPublicKey: vi.fn(original.createPublicKey) }
})

/** How many JWKs `createPublicKey` has imported since the last `mockClear`. */
function jwkImports(): number {
  return vi
    .mocked(crypto.createPublicKey)
    .mock.calls.filter(
      ([input]) => typeof input === 'object' && 'format' in input && input.format === 'jwk',
    ).length
}

beforeEach(() => {
  vi.mocked(crypto.createPublicKey).mockClear()
})

describe('generateTeeKeyPair', () => {
  it.each(['P-256', 'P-384', 'P-521'] as const)(
    'checks its %s public JWK as the public half of its private key, without importing it again',
    async (kind) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
      if (publicJwk.kty !== 'EC') throw new Error('an EC key')
      const { key, jwk } = checkTeePublicJwk(publicJwk, 'TEE key')
      expect(jwk).toEqual(publicJwk)
      expect(key.type).toBe('public')
      expect(key.equals(crypto.createPublicKey(privateKey))).toBe(true)
      // Neither making the pair nor checking its public JWK imported the point as a JWK.
      expect(jwkImports()).toBe(0)
      // A point one bit away is another key: not found, so imported and refused as before.
      const y = Buffer.from(publicJwk.y, 'base64url')
      y[y.length - 1] = (y[y.length - 1] ?? 0) ^ 1
      expect(() => checkTeePublicJwk({ ...publicJwk, y: y.toString('base64url') })).toThrow(
        /is not a point on/,
      )
      expect(jwkImports()).toBe(1)
    },
  )
})
