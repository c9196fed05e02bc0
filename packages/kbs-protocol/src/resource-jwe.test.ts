/**
 * The resource JWE: round trips on every curve and RSA; JWEs built independently with node:crypto
 * primitives exactly as Trustee's Rust code builds them open with `openResource` (wire
 * compatibility); tampering, another key and algorithms outside the allow-list are refused.
 */
import type { KeyObject } from 'node:crypto'
import { rejected } from '@initguard/testkit'
import { describe, expect, it } from 'vitest'
import { openResource } from './resource-jwe-open.ts'
import { sealResource } from './resource-jwe.ts'
import { b64url, trusteeStyleJwe } from './resource-jwe-test-support.ts'
import { TEE_KEY_KINDS, generateTeeKeyPair } from './tee-key.ts'

const secret = new TextEncoder().encode('the workload secret')

/** `text` with its first base64url character changed. */
function flipped(text: string): string {
  return (text.startsWith('A') ? 'B' : 'A') + text.slice(1)
}

async function refusal(key: KeyObject, jwe: unknown): Promise<string> {
  return (await rejected(openResource(key, jwe))).code
}

describe('resource JWE', () => {
  it.each(TEE_KEY_KINDS)(
    'round-trips with a %s TEE key, protected = {alg, enc[, epk]}',
    async (kind) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
      const jwe = await sealResource(publicJwk, secret)
      expect(Object.keys(jwe)).toEqual(['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag'])
      const header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString()) as object
      expect(Object.keys(header)).toEqual(
        publicJwk.kty === 'EC' ? ['alg', 'enc', 'epk'] : ['alg', 'enc'],
      )
      expect(header).toMatchObject({ alg: publicJwk.alg, enc: 'A256GCM' })
      expect(await openResource(privateKey, jwe)).toEqual(secret)
      expect(
        await openResource(privateKey, await sealResource(publicJwk, new Uint8Array())),
      ).toEqual(new Uint8Array())
    },
  )

  it.each(TEE_KEY_KINDS)(
    'makes a fresh content key, IV and (EC) ephemeral key for every seal (%s)',
    async (kind) => {
      const { publicJwk } = await generateTeeKeyPair(kind)
      const [first, second] = [
        await sealResource(publicJwk, secret),
        await sealResource(publicJwk, secret),
      ]
      // RSA's protected header is constant; an EC one carries the ephemeral key.
      const members = ['encrypted_key', 'iv', 'ciphertext', 'tag'] as const
      for (const member of publicJwk.kty === 'EC' ? [...members, 'protected' as const] : members)
        expect(first[member], member).not.toBe(second[member])
    },
  )

  it.each(['P-256', 'P-384', 'P-521', 'RSA-2048'] as const)(
    'opens a JWE built as Trustee builds it (%s)',
    async (kind) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
      expect(await openResource(privateKey, trusteeStyleJwe(publicJwk, secret))).toEqual(secret)
    },
  )

  it('refuses a tampered tag, ciphertext, IV, protected header or wrapped key', async () => {
    const { publicJwk, privateKey } = await generateTeeKeyPair('P-256')
    const jwe = await sealResource(publicJwk, secret)
    const header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString()) as object
    const reordered = b64url(Buffer.from(JSON.stringify({ enc: 'A256GCM', ...header })))
    for (const tampered of [
      { ...jwe, tag: flipped(jwe.tag) },
      { ...jwe, ciphertext: flipped(jwe.ciphertext) },
      { ...jwe, iv: flipped(jwe.iv) },
      { ...jwe, encrypted_key: flipped(jwe.encrypted_key) },
      // Same header, other bytes: the AAD changes, so the tag no longer matches.
      { ...jwe, protected: reordered },
    ])
      expect(await refusal(privateKey, tampered)).toBe('ERR_KBS_RESOURCE_DECRYPT')
    const other = await generateTeeKeyPair('P-256')
    expect(await refusal(other.privateKey, jwe)).toBe('ERR_KBS_RESOURCE_DECRYPT')
    expect(await refusal(privateKey, { ...jwe, aad: 'AA' })).toBe('ERR_KBS_MESSAGE_INVALID')
  })

  it('opens only with the key’s own algorithm and A256GCM', async () => {
    const rsa = await generateTeeKeyPair('RSA-2048')
    const pkcs1 = trusteeStyleJwe(rsa.publicJwk, secret, 'RSA1_5')
    expect(await refusal(rsa.privateKey, pkcs1)).toBe('ERR_KBS_RESOURCE_DECRYPT')
    const ec = await generateTeeKeyPair('P-256')
    // An RSA-OAEP-256 JWE offered to an EC key's holder, and an EC JWE to an RSA key's.
    expect(await refusal(ec.privateKey, await sealResource(rsa.publicJwk, secret))).toBe(
      'ERR_KBS_RESOURCE_DECRYPT',
    )
    expect(await refusal(rsa.privateKey, await sealResource(ec.publicJwk, secret))).toBe(
      'ERR_KBS_RESOURCE_DECRYPT',
    )
    const jwe = await sealResource(ec.publicJwk, secret)
    const header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString()) as object
    const a128 = b64url(Buffer.from(JSON.stringify({ ...header, enc: 'A128GCM' })))
    expect(await refusal(ec.privateKey, { ...jwe, protected: a128 })).toBe(
      'ERR_KBS_RESOURCE_DECRYPT',
    )
  })
})
