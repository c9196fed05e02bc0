/**
 * `openResource` against jose, both ways: what jose encrypts (every curve and RSA, with and
 * without apu/apv, random keys and plaintexts) opens; what `sealResource` makes opens with jose
 * too; and every variant jose refuses, ours refuses — including variants whose content would
 * decrypt (the edited header is the AAD they were sealed under), so the header checks themselves
 * are what refuses them.
 */
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { rejected } from '@initguard/testkit'
import fc from 'fast-check'
import { FlattenedEncrypt, flattenedDecrypt, type FlattenedJWE } from 'jose'
import { describe, expect, it } from 'vitest'
import { generateEcKeyPair, keptEcdh } from './ec-key-pair.ts'
import type { TeePublicJwk } from './messages.ts'
import { openResource } from './resource-jwe-open.ts'
import { sealResource } from './resource-jwe.ts'
import { b64url, trusteeStyleJwe } from './resource-jwe-test-support.ts'
import { generateTeeKeyPair, type TeeKeyKind } from './tee-key.ts'

const CURVES = ['P-256', 'P-384', 'P-521'] as const
const headerOf = (jwe: { protected?: string }): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwe.protected ?? '', 'base64url').toString()) as Record<string, unknown>

/** jose opening as `openResource` did before: the key's algorithm and A256GCM only. */
async function joseOpens(privateKey: KeyObject, jwe: unknown): Promise<Uint8Array> {
  const alg = privateKey.asymmetricKeyType === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW'
  const { plaintext } = await flattenedDecrypt(jwe as FlattenedJWE, privateKey, {
    keyManagementAlgorithms: [alg],
    contentEncryptionAlgorithms: ['A256GCM'],
  })
  return plaintext
}

async function joseSeals(
  publicJwk: TeePublicJwk,
  plaintext: Uint8Array,
  party?: { apu: Uint8Array; apv: Uint8Array },
): Promise<FlattenedJWE> {
  const key = createPublicKey({ key: { ...publicJwk }, format: 'jwk' })
  const encrypt = new FlattenedEncrypt(plaintext).setProtectedHeader({
    alg: publicJwk.alg,
    enc: 'A256GCM',
  })
  if (party !== undefined) encrypt.setKeyManagementParameters(party)
  return encrypt.encrypt(key)
}

async function ourRefusal(
  privateKey: KeyObject,
  jwe: unknown,
): Promise<{ code: string; reason: unknown }> {
  const error = await rejected(openResource(privateKey, jwe))
  return { code: error.code, reason: error.details['reason'] }
}

const secret = new TextEncoder().encode('the workload secret')

describe('openResource and jose', () => {
  it.each([...CURVES, 'RSA-2048'] as const)('opens what jose seals to a %s key', async (kind) => {
    const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
    expect(await openResource(privateKey, await joseSeals(publicJwk, secret))).toEqual(secret)
    if (publicJwk.kty === 'EC') {
      const party = { apu: randomBytes(17), apv: randomBytes(5) }
      const withParties = await joseSeals(publicJwk, secret, party)
      expect(headerOf(withParties)).toMatchObject({
        apu: b64url(party.apu),
        apv: b64url(party.apv),
      })
      expect(await openResource(privateKey, withParties)).toEqual(secret)
    }
  })

  it('agrees with jose over random keys and plaintexts, both directions', async () => {
    const rsa = [await generateTeeKeyPair('RSA-2048'), await generateTeeKeyPair('RSA-3072')]
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<TeeKeyKind>(...CURVES, 'RSA-2048', 'RSA-3072'),
        fc.uint8Array({ maxLength: 300 }),
        async (kind, plaintext) => {
          const pair = kind.startsWith('RSA') ? rsa[kind === 'RSA-2048' ? 0 : 1] : undefined
          const { publicJwk, privateKey } = pair ?? (await generateTeeKeyPair(kind))
          expect(await openResource(privateKey, await joseSeals(publicJwk, plaintext))).toEqual(
            plaintext,
          )
          expect(await joseOpens(privateKey, await sealResource(publicJwk, plaintext))).toEqual(
            plaintext,
          )
        },
      ),
      { numRuns: 60 },
    )
  })

  it.each(CURVES)(
    'refuses every header variant jose refuses, before any decryption (%s)',
    async (crv) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(crv)
      if (publicJwk.kty !== 'EC') throw new Error('an EC key')
      const other = CURVES.find((c) => c !== crv) ?? 'P-256'
      const otherPoint = generateEcKeyPair(other).jwk
      type Header = Record<string, unknown>
      const epkOf = (h: Header): Record<string, unknown> => h['epk'] as Record<string, unknown>
      const variants: [string, string, (h: Header) => unknown][] = [
        ['zip', 'ERR_JOSE_NOT_SUPPORTED', (h) => ({ ...h, zip: 'DEF' })],
        ['crit', 'ERR_JOSE_NOT_SUPPORTED', (h) => ({ ...h, crit: ['exp'], exp: 1 })],
        ['empty crit', 'ERR_JOSE_NOT_SUPPORTED', (h) => ({ ...h, crit: [] })],
        ['alg ECDH-ES', 'ERR_JOSE_ALG_NOT_ALLOWED', (h) => ({ ...h, alg: 'ECDH-ES' })],
        ['alg A128KW', 'ERR_JOSE_ALG_NOT_ALLOWED', (h) => ({ ...h, alg: 'ECDH-ES+A128KW' })],
        ['no alg', 'ERR_JWE_INVALID', ({ alg: _, ...h }) => h],
        ['enc A128GCM', 'ERR_JOSE_ALG_NOT_ALLOWED', (h) => ({ ...h, enc: 'A128GCM' })],
        ['enc CBC', 'ERR_JOSE_ALG_NOT_ALLOWED', (h) => ({ ...h, enc: 'A256CBC-HS512' })],
        ['enc not a string', 'ERR_JWE_INVALID', (h) => ({ ...h, enc: 1 })],
        ['no epk', 'ERR_JWE_INVALID', ({ epk: _, ...h }) => h],
        ['epk a string', 'ERR_JWE_INVALID', (h) => ({ ...h, epk: 'key' })],
        [
          'epk on another curve',
          'ERR_JWE_INVALID',
          (h) => ({ ...h, epk: { kty: 'EC', crv: other, x: otherPoint.x, y: otherPoint.y } }),
        ],
        [
          'epk naming another curve',
          'ERR_JWE_INVALID',
          (h) => ({ ...h, epk: { ...epkOf(h), crv: other } }),
        ],
        [
          'epk off the curve',
          'ERR_JWE_INVALID',
          (h) => ({ ...h, epk: { ...epkOf(h), y: epkOf(h)['x'] } }),
        ],
        ['epk OKP', 'ERR_JWE_INVALID', (h) => ({ ...h, epk: { ...epkOf(h), kty: 'OKP' } })],
        ['apu not a string', 'ERR_JWE_INVALID', (h) => ({ ...h, apu: 7 })],
        ['apu not base64url', 'ERR_JWE_INVALID', (h) => ({ ...h, apu: 'a+b/' })],
        ['apv unused at sealing', 'ERR_JWE_DECRYPTION_FAILED', (h) => ({ ...h, apv: 'AAAA' })],
        ['an array', 'ERR_JWE_INVALID', (h) => [h]],
      ]
      for (const [name, reason, edit] of variants) {
        const jwe = trusteeStyleJwe(publicJwk, secret, undefined, edit)
        await expect(joseOpens(privateKey, jwe), name).rejects.toThrow()
        expect(await ourRefusal(privateKey, jwe), name).toEqual({
          code: 'ERR_KBS_RESOURCE_DECRYPT',
          reason,
        })
      }
      // Members outside the JWE registry are ignored by both (RFC 7516 §4), unless named in crit.
      const extra = trusteeStyleJwe(publicJwk, secret, undefined, (h) => ({
        ...h,
        kid: 'k',
        typ: 'x',
        exp: 1,
      }))
      expect(await joseOpens(privateKey, extra)).toEqual(secret)
      expect(await openResource(privateKey, extra)).toEqual(secret)
      // A private scalar in epk: jose refuses it; so do we (epk is exactly kty, crv, x, y).
      const dInEpk = trusteeStyleJwe(publicJwk, secret, undefined, (h) => ({
        ...h,
        epk: { ...epkOf(h), d: 'AA' },
      }))
      await expect(joseOpens(privateKey, dInEpk)).rejects.toThrow()
      expect((await ourRefusal(privateKey, dInEpk)).reason).toBe('ERR_JWE_INVALID')
    },
  )

  it.each(['P-256', 'RSA-2048'] as const)(
    'refuses tampered bytes as jose does, as one failed decryption (%s)',
    async (kind) => {
      const { publicJwk, privateKey } = await generateTeeKeyPair(kind)
      const jwe = await sealResource(publicJwk, secret)
      const bytes = (text: string): Buffer => Buffer.from(text, 'base64url')
      const flip = (text: string, at: number): string => {
        const b = bytes(text)
        b[at % b.length] = (b[at % b.length] ?? 0) ^ 1
        return b64url(b)
      }
      const notJson = b64url(Buffer.from('{"alg":'))
      const variants: [string, unknown, string][] = [
        ['tag', { ...jwe, tag: flip(jwe.tag, 15) }, 'ERR_JWE_DECRYPTION_FAILED'],
        ['iv', { ...jwe, iv: flip(jwe.iv, 3) }, 'ERR_JWE_DECRYPTION_FAILED'],
        [
          'ciphertext',
          { ...jwe, ciphertext: flip(jwe.ciphertext, 2) },
          'ERR_JWE_DECRYPTION_FAILED',
        ],
        [
          'wrapped key',
          { ...jwe, encrypted_key: flip(jwe.encrypted_key, 9) },
          'ERR_JWE_DECRYPTION_FAILED',
        ],
        [
          'short wrapped key',
          { ...jwe, encrypted_key: b64url(bytes(jwe.encrypted_key).subarray(8)) },
          'ERR_JWE_DECRYPTION_FAILED',
        ],
        ['header not JSON', { ...jwe, protected: notJson }, 'ERR_JWE_INVALID'],
        [
          'header not UTF-8',
          { ...jwe, protected: b64url(Buffer.from([0x7b, 0xff, 0x7d])) },
          'ERR_JWE_INVALID',
        ],
      ]
      for (const [name, tampered, reason] of variants) {
        await expect(joseOpens(privateKey, tampered), name).rejects.toThrow()
        expect(await ourRefusal(privateKey, tampered), name).toEqual({
          code: 'ERR_KBS_RESOURCE_DECRYPT',
          reason,
        })
      }
    },
  )

  it('refuses a key it cannot use as a caller error, not a refusal of the response', async () => {
    const jwe = await sealResource((await generateTeeKeyPair('P-256')).publicJwk, secret)
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey
    await expect(openResource(k256, jwe)).rejects.toThrow(TypeError)
    const ed = generateKeyPairSync('ed25519').privateKey
    await expect(openResource(ed, jwe)).rejects.toThrow(TypeError)
    const pub = (await generateTeeKeyPair('P-256')).privateKey
    await expect(openResource(createPublicKey(pub), jwe)).rejects.toThrow(TypeError)
  })
})

/** P-256's field prime and curve coefficient b (SEC 2 §2.4.2; a = -3), for test points only. */
const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n
  for (let b = base % modulus, e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus)
    if ((e & 1n) === 1n) result = (result * b) % modulus
  return result
}

const coordinate32 = (value: bigint): string =>
  Buffer.from(value.toString(16).padStart(64, '0'), 'hex').toString('base64url')

/** The P-256 point with the smallest x ≥ 1 (y² = x³ - 3x + b has a root; p ≡ 3 mod 4). */
function smallP256Point(): { x: bigint; y: bigint } {
  for (let x = 1n; ; x++) {
    const rhs = (((x * x * x - 3n * x + P256_B) % P256_P) + P256_P) % P256_P
    const y = modPow(rhs, (P256_P + 1n) / 4n, P256_P)
    if ((y * y) % P256_P === rhs) return { x, y }
  }
}

describe('the epk checks of both ECDH paths (P-256)', () => {
  // generateTeeKeyPair's P-256 key derives with the ECDH object it was made with; the same key
  // imported anew derives with diffieHellman after importing epk. Each refusal must be the same.
  const made = generateEcKeyPair('P-256')
  const { kty, crv, x, y } = made.jwk
  const publicJwk: TeePublicJwk = { kty, crv, alg: 'ECDH-ES+A256KW', x, y }
  const imported = createPrivateKey({ key: { ...made.jwk }, format: 'jwk' })
  const paths: [string, KeyObject][] = [
    ['the kept ECDH object', made.privateKey],
    ['an imported KeyObject', imported],
  ]

  it('takes the ECDH path for P-256 keys it made, and only for those', async () => {
    expect(keptEcdh(made.privateKey)).toBeDefined()
    expect(keptEcdh((await generateTeeKeyPair('P-256')).privateKey)).toBeDefined()
    expect(keptEcdh(imported)).toBeUndefined()
    expect(keptEcdh(generateEcKeyPair('P-384').privateKey)).toBeUndefined()
    expect(keptEcdh(generateEcKeyPair('P-521').privateKey)).toBeUndefined()
  })

  const small = smallP256Point()
  const k1 = createECDH('secp256k1').generateKeys()
  const p384 = generateEcKeyPair('P-384').jwk
  type Epk = Record<string, unknown>
  const variants: [string, string, (epk: Epk) => Epk][] = [
    [
      'off the curve (a bit of y flipped)',
      'not a point',
      (epk) => {
        const bytes = Buffer.from(epk['y'] as string, 'base64url')
        bytes[31] = (bytes[31] ?? 0) ^ 1
        return { ...epk, y: bytes.toString('base64url') }
      },
    ],
    [
      'a secp256k1 point named P-256 (same lengths)',
      'not a point',
      (epk) => ({
        ...epk,
        x: k1.subarray(1, 33).toString('base64url'),
        y: k1.subarray(33).toString('base64url'),
      }),
    ],
    [
      'x of the field prime or more (x + p, on the curve mod p)',
      'not a point',
      (epk) => ({
        ...epk,
        x: coordinate32(small.x + P256_P),
        y: coordinate32(small.y),
      }),
    ],
    [
      'x and y zero',
      'not a point',
      (epk) => ({
        ...epk,
        x: coordinate32(0n),
        y: coordinate32(0n),
      }),
    ],
    ['x of all ones', 'not a point', (epk) => ({ ...epk, x: coordinate32(2n ** 256n - 1n) })],
    ['a P-384 point named P-256', 'is not 32 bytes', (epk) => ({ ...epk, x: p384.x, y: p384.y })],
    [
      'a P-384 point named P-384',
      'not an EC key on P-256',
      () => ({
        kty: 'EC',
        crv: 'P-384',
        x: p384.x,
        y: p384.y,
      }),
    ],
  ]

  it.each(paths)('refuses a bad epk as ERR_JWE_INVALID, before any unwrap (%s)', async (_, key) => {
    for (const [name, message, edit] of variants) {
      const jwe = trusteeStyleJwe(publicJwk, secret, undefined, (h) => ({
        ...h,
        epk: edit(h['epk'] as Epk),
      }))
      const error = await rejected(openResource(key, jwe))
      expect({ code: error.code, reason: error.details['reason'] }, name).toEqual({
        code: 'ERR_KBS_RESOURCE_DECRYPT',
        reason: 'ERR_JWE_INVALID',
      })
      expect(error.message, name).toContain(message)
    }
  })

  it.each(paths)('gets past the point check with a point that is on P-256 (%s)', async (_, key) => {
    // The small point itself is on the curve (node imports it), so the x + p refusal above is
    // the range check, not a point that fails anyway; with it as epk the unwrap is what fails.
    expect(() =>
      createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: coordinate32(small.x), y: coordinate32(small.y) },
        format: 'jwk',
      }),
    ).not.toThrow()
    const jwe = trusteeStyleJwe(publicJwk, secret, undefined, (h) => ({
      ...h,
      epk: { kty: 'EC', crv: 'P-256', x: coordinate32(small.x), y: coordinate32(small.y) },
    }))
    expect(await ourRefusal(key, jwe)).toEqual({
      code: 'ERR_KBS_RESOURCE_DECRYPT',
      reason: 'ERR_JWE_DECRYPTION_FAILED',
    })
  })

  it.each(paths)('opens its own JWE and refuses one sealed to another key (%s)', async (_, key) => {
    expect(await openResource(key, await sealResource(publicJwk, secret))).toEqual(secret)
    expect(await openResource(key, trusteeStyleJwe(publicJwk, secret))).toEqual(secret)
    const other = (await generateTeeKeyPair('P-256')).publicJwk
    for (const jwe of [await sealResource(other, secret), trusteeStyleJwe(other, secret)])
      expect(await ourRefusal(key, jwe)).toEqual({
        code: 'ERR_KBS_RESOURCE_DECRYPT',
        reason: 'ERR_JWE_DECRYPTION_FAILED',
      })
  })
})
