import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { generateKeyPairSync, sign } from 'node:crypto'
import { isInitguardError } from '@initguard/core'
import { derToPem, publicKeyPem } from '@initguard/tee-simulator'
import {
  looksLikeDerEcdsa,
  parseSigstorePublicKey,
  readsAsDerEcdsa,
  verifyWithSigstoreKey,
} from './sigstore-public-key.ts'
import { readPemBlocks } from './sigstore-pem.ts'
import { codeOf, sigstoreWorld } from './sigstore-test-support.ts'

const enc = (t: string): Uint8Array => new TextEncoder().encode(t)
const pemText = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('parseSigstorePublicKey', () => {
  it('reads SPKI and PKCS #1 RSA keys, skipping text before the block as Go does', () => {
    const w = sigstoreWorld()
    const p256 = parseSigstorePublicKey(publicKeyPem(w.keys['ecdsa-p256'].publicKey))
    expect(p256.description).toMatch(/^ECDSA P-256 key sha256:/)
    expect(p256.fingerprint).toHaveLength(64)
    const pkcs1 = w.keys.rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    expect(parseSigstorePublicKey(enc(pkcs1)).description).toMatch(/^RSA-2048/)
    const commented = `# cosign key\n${pemText(publicKeyPem(w.keys.ed25519.publicKey))}\n`
    expect(parseSigstorePublicKey(enc(commented)).description).toMatch(/^Ed25519/)
  })

  it('refuses key types and sizes that are not used for sigstore signatures', () => {
    const spki = (k: ReturnType<typeof generateKeyPairSync>['publicKey']): Uint8Array =>
      publicKeyPem(k)
    const unsupported = [
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-224' }).publicKey,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey,
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey,
      generateKeyPairSync('x25519').publicKey,
      generateKeyPairSync('ed448').publicKey,
    ]
    for (const key of unsupported) {
      expect(
        codeOf(() => parseSigstorePublicKey(spki(key))),
        key.asymmetricKeyType,
      ).toBe('ERR_SIGSTORE_KEY_UNSUPPORTED')
    }
  })

  it('refuses anything but exactly one PEM public key', () => {
    const w = sigstoreWorld()
    const one = pemText(publicKeyPem(w.keys['ecdsa-p256'].publicKey))
    const bad = [
      '',
      'no pem',
      one + one,
      one.replace('-----END PUBLIC KEY-----', ''),
      one.replace('PUBLIC KEY-----\n', 'PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n\n'),
      `${one}trailing`,
      w.keys['ecdsa-p256'].privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      derToPem(new Uint8Array([0x30, 0x00]), 'PUBLIC KEY'),
      one.replace(/\n[A-Za-z0-9]/, '\n!'),
    ]
    for (const text of bad) {
      expect(
        codeOf(() => parseSigstorePublicKey(enc(text))),
        text.slice(0, 40),
      ).toBe('ERR_SIGSTORE_KEY_INVALID')
    }
  })
})

describe('verifyWithSigstoreKey', () => {
  it('takes DER or P1363 ECDSA, but not DER with trailing bytes', () => {
    const w = sigstoreWorld()
    const key = parseSigstorePublicKey(publicKeyPem(w.keys['ecdsa-p384'].publicKey))
    const data = enc('payload')
    const der = sign('sha256', data, w.keys['ecdsa-p384'].privateKey)
    expect(verifyWithSigstoreKey(key, data, der)).toBe(true)
    expect(verifyWithSigstoreKey(key, data, new Uint8Array([...der, 0]))).toBe(false)
    const p1363 = sign('sha256', data, {
      key: w.keys['ecdsa-p384'].privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    expect(verifyWithSigstoreKey(key, data, p1363)).toBe(true)
    expect(verifyWithSigstoreKey(key, data, new Uint8Array())).toBe(false)
    expect(verifyWithSigstoreKey(key, data, new Uint8Array(134))).toBe(false)
  })

  it('never throws on random signature bytes (property)', () => {
    const w = sigstoreWorld()
    const keys = (['ecdsa-p256', 'rsa', 'ed25519'] as const).map((a) =>
      parseSigstorePublicKey(publicKeyPem(w.keys[a].publicKey)),
    )
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.uint8Array({ maxLength: 300 }), (key, sig) => {
        expect(verifyWithSigstoreKey(key, enc('x'), sig)).toBe(false)
      }),
      { numRuns: 200 },
    )
  })
})

describe('readPemBlocks', () => {
  it('only ever throws our errors (property)', () => {
    const one = pemText(publicKeyPem(sigstoreWorld().keys['ecdsa-p256'].publicKey))
    fc.assert(
      fc.property(fc.nat(one.length - 1), fc.string({ maxLength: 3 }), (i, s) => {
        try {
          readPemBlocks(one.slice(0, i) + s + one.slice(i + 1), 'key', 'ERR_TEST_PEM')
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('the parsed-key cache', () => {
  it('parses a key once and keeps refusing a bad one', () => {
    const w = sigstoreWorld()
    const pem = publicKeyPem(w.keys['ecdsa-p256'].publicKey)
    expect(parseSigstorePublicKey(pem)).toBe(parseSigstorePublicKey(Uint8Array.from(pem)))
    const bad = enc('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')
    for (let i = 0; i < 2; i++) {
      expect(codeOf(() => parseSigstorePublicKey(bad))).toBe('ERR_SIGSTORE_KEY_INVALID')
    }
  })
})

describe('looksLikeDerEcdsa', () => {
  // Signature-shaped bytes: SEQUENCE { INTEGER, INTEGER } with lengths and leading bytes drawn to
  // hit both forms, redundant leading octets, empty and overlong integers, and trailing bytes.
  const integer = fc
    .tuple(fc.constantFrom(0x02, 0x02, 0x02, 0x03), fc.uint8Array({ maxLength: 40 }), fc.nat(3))
    .map(([tag, value, lengthDelta]) => [
      tag,
      Math.max(0, value.length + 1 - lengthDelta),
      ...value,
    ])
  const shaped = fc
    .tuple(integer, integer, fc.uint8Array({ maxLength: 3 }), fc.integer({ min: -2, max: 2 }))
    .map(([r, s, extra, delta]) => {
      const inner = [...r, ...s, ...extra]
      return Uint8Array.from([0x30, Math.max(0, inner.length + delta) & 0xff, ...inner])
    })

  it('answers as the general DER reader does, for signature-shaped and random bytes', () => {
    fc.assert(
      fc.property(fc.oneof(shaped, fc.uint8Array({ maxLength: 80 })), (bytes) => {
        expect(looksLikeDerEcdsa(bytes)).toBe(readsAsDerEcdsa(bytes))
      }),
      { numRuns: 5000 },
    )
  })

  it('takes a real DER signature and refuses a redundant leading zero', () => {
    const der = sign(
      'sha256',
      enc('x'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    )
    expect(looksLikeDerEcdsa(der)).toBe(true)
    expect(
      looksLikeDerEcdsa(Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01])),
    ).toBe(false)
  })
})
