import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isEcKey } from './ec-keys.ts'

describe('isEcKey', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const ed = generateKeyPairSync('ed25519')

  it('tells the curve and, when asked, the key type', () => {
    expect(isEcKey(p256.publicKey, 'prime256v1')).toBe(true)
    expect(isEcKey(p256.privateKey, 'prime256v1', 'private')).toBe(true)
    expect(isEcKey(p256.privateKey, 'prime256v1', 'public')).toBe(false)
    expect(isEcKey(p256.publicKey, 'secp384r1')).toBe(false)
    expect(isEcKey(p384.publicKey, 'secp384r1', 'public')).toBe(true)
    expect(isEcKey(ed.publicKey, 'prime256v1')).toBe(false)
  })
})
