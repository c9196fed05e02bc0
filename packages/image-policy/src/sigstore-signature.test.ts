import { describe, it, expect } from 'vitest'
import { sign } from 'node:crypto'
import {
  buildCosignSignature,
  buildHashedRekordBody,
  buildRekorBundle,
  COSIGN_ANNOTATION,
  publicKeyPem,
  type SigstoreKeyAlgorithm,
} from '@initguard/tee-simulator'
import { bytesToBase64, VerificationError } from '@initguard/core'
import { CLOCK_SKEW_SECONDS } from './clock-skew.ts'
import { verifySigstoreSignature, type SigstoreTrust } from './sigstore-signature.ts'
import {
  DIGEST,
  LOGGED,
  NOW,
  REFERENCE,
  codeOf,
  keySignature,
  keyTrust,
  sigstoreWorld,
  thrown,
  withAnnotation,
} from './sigstore-test-support.ts'

const ALGORITHMS: SigstoreKeyAlgorithm[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa', 'ed25519']

describe('verifySigstoreSignature with public keys', () => {
  it.each(ALGORITHMS)('accepts a %s signature without and with Rekor', (algorithm) => {
    const plain = keySignature(algorithm, false)
    const verified = verifySigstoreSignature(plain, keyTrust(algorithm, false), NOW)
    expect(verified.payloadBytes).toEqual(plain.payload)
    expect(verified.rekorIntegratedTime).toBeUndefined()
    expect(verified.keyDescription).toMatch(/key sha256:[0-9a-f]{16}$/)
    expect(verified.signerFingerprint).toMatch(/^[0-9a-f]{64}$/)

    const logged = verifySigstoreSignature(keySignature(algorithm), keyTrust(algorithm), NOW)
    expect(logged.rekorIntegratedTime).toEqual(LOGGED)
  })

  it('accepts when any of several keys verifies, in any order', () => {
    const w = sigstoreWorld()
    const sig = keySignature()
    const mine = publicKeyPem(w.keys['ecdsa-p256'].publicKey)
    const other = publicKeyPem(w.otherKey.publicKey)
    for (const publicKeys of [
      [mine, other],
      [other, mine],
    ]) {
      const trust = {
        publicKeys,
        rekorPublicKeys: [w.otherRekor.publicKeyPem, w.rekor.publicKeyPem],
      }
      expect(verifySigstoreSignature(sig, trust, NOW).payloadBytes).toEqual(sig.payload)
    }
  })

  it('returns a copy: changing the input afterwards changes nothing', () => {
    const sig = keySignature('ecdsa-p256', false)
    const payload = sig.payload.slice()
    const verified = verifySigstoreSignature(
      { ...sig, payload },
      keyTrust('ecdsa-p256', false),
      NOW,
    )
    payload[0] = 0
    expect(verified.payloadBytes[0]).toBe(sig.payload[0])
    // A Node Buffer too, whose own slice() is a view of the caller's memory.
    const buffer = Buffer.from(sig.payload)
    const fromBuffer = verifySigstoreSignature(
      { ...sig, payload: buffer },
      keyTrust('ecdsa-p256', false),
      NOW,
    )
    buffer[0] = 0
    expect(fromBuffer.payloadBytes[0]).toBe(sig.payload[0])
  })

  it('accepts an IEEE P1363 ECDSA signature, as sigstore does', () => {
    const w = sigstoreWorld()
    const sig = keySignature('ecdsa-p256', false)
    const p1363 = sign('sha256', sig.payload, {
      key: w.keys['ecdsa-p256'].privateKey,
      dsaEncoding: 'ieee-p1363',
    })
    const altered = withAnnotation(sig, COSIGN_ANNOTATION.signature, bytesToBase64(p1363))
    expect(() => verifySigstoreSignature(altered, keyTrust('ecdsa-p256', false), NOW)).not.toThrow()
  })

  it('accepts a base64 signature wrapped in lines, as Go decodes it', () => {
    const sig = keySignature('rsa', false)
    const wrapped = (sig.annotations.get(COSIGN_ANNOTATION.signature) ?? '').replace(
      /(.{76})/g,
      '$1\n',
    )
    const altered = withAnnotation(sig, COSIGN_ANNOTATION.signature, wrapped)
    expect(() => verifySigstoreSignature(altered, keyTrust('rsa', false), NOW)).not.toThrow()
  })

  it('refuses a wrong key, a tampered payload and a tampered signature', () => {
    const sig = keySignature('ecdsa-p256', false)
    const other: SigstoreTrust = { publicKeys: [publicKeyPem(sigstoreWorld().otherKey.publicKey)] }
    const e = thrown(() => verifySigstoreSignature(sig, other, NOW))
    expect(e).toBeInstanceOf(VerificationError)
    expect(e.code).toBe('ERR_SIGSTORE_SIGNATURE_INVALID')
    expect(e.hint).toBeTruthy()

    const payload = sig.payload.slice()
    payload[10] = (payload[10] ?? 0) ^ 1
    expect(
      codeOf(() =>
        verifySigstoreSignature({ ...sig, payload }, keyTrust('ecdsa-p256', false), NOW),
      ),
    ).toBe('ERR_SIGSTORE_SIGNATURE_INVALID')
    for (const algorithm of ALGORITHMS) {
      const s = keySignature(algorithm, false)
      const raw = s.signature.slice()
      raw[raw.length - 5] = (raw[raw.length - 5] ?? 0) ^ 0x10
      const altered = withAnnotation(s, COSIGN_ANNOTATION.signature, bytesToBase64(raw))
      expect(codeOf(() => verifySigstoreSignature(altered, keyTrust(algorithm, false), NOW))).toBe(
        'ERR_SIGSTORE_SIGNATURE_INVALID',
      )
    }
  })

  it('refuses an RSA signature one byte short (Go wants exactly the modulus length)', () => {
    const s = keySignature('rsa', false)
    const altered = withAnnotation(
      s,
      COSIGN_ANNOTATION.signature,
      bytesToBase64(s.signature.subarray(1)),
    )
    expect(codeOf(() => verifySigstoreSignature(altered, keyTrust('rsa', false), NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_INVALID',
    )
  })

  it('refuses a missing or garbled signature annotation', () => {
    const sig = keySignature('ecdsa-p256', false)
    const trust = keyTrust('ecdsa-p256', false)
    const none = withAnnotation(sig, COSIGN_ANNOTATION.signature, undefined)
    expect(codeOf(() => verifySigstoreSignature(none, trust, NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_MISSING',
    )
    for (const garbled of ['not base64!', 'QUJD=', '']) {
      const g = withAnnotation(sig, COSIGN_ANNOTATION.signature, garbled)
      expect(codeOf(() => verifySigstoreSignature(g, trust, NOW))).toMatch(
        /^ERR_SIGSTORE_SIGNATURE_(ENCODING|INVALID)$/,
      )
    }
  })

  it('requires the Rekor bundle when Rekor keys are trusted', () => {
    const sig = keySignature('ecdsa-p256', false)
    expect(codeOf(() => verifySigstoreSignature(sig, keyTrust(), NOW))).toBe(
      'ERR_SIGSTORE_BUNDLE_MISSING',
    )
  })

  it('refuses a SET by a wrong key, a logID mismatch and bodies naming something else', () => {
    const w = sigstoreWorld()
    const keys = w.keys['ecdsa-p256']
    const base = keySignature('ecdsa-p256', false)
    const bodyFields = {
      signature: base.signature,
      payload: base.payload,
      publicKeyOrCertificatePem: publicKeyPem(keys.publicKey),
    }
    const withBundle = (bundle: string): ReturnType<typeof withAnnotation> =>
      withAnnotation(base, COSIGN_ANNOTATION.bundle, bundle)
    const body = buildHashedRekordBody(bodyFields)
    const cases: [string, string][] = [
      [
        'ERR_REKOR_SET_SIGNATURE_INVALID',
        buildRekorBundle({
          log: w.rekor,
          body,
          integratedTime: LOGGED,
          signingKey: w.otherRekor.keyPair.privateKey,
        }),
      ],
      [
        'ERR_REKOR_LOG_ID_MISMATCH',
        buildRekorBundle({ log: w.rekor, body, integratedTime: LOGGED, logId: w.otherRekor.logId }),
      ],
      [
        'ERR_REKOR_SIGNATURE_MISMATCH',
        buildRekorBundle({
          log: w.rekor,
          body: buildHashedRekordBody({
            ...bodyFields,
            signature: keySignature('ecdsa-p384', false).signature,
          }),
          integratedTime: LOGGED,
        }),
      ],
      [
        'ERR_REKOR_KEY_MISMATCH',
        buildRekorBundle({
          log: w.rekor,
          body: buildHashedRekordBody({
            ...bodyFields,
            publicKeyOrCertificatePem: publicKeyPem(w.otherKey.publicKey),
          }),
          integratedTime: LOGGED,
        }),
      ],
      [
        'ERR_REKOR_PAYLOAD_MISMATCH',
        buildRekorBundle({
          log: w.rekor,
          body: buildHashedRekordBody({ ...bodyFields, payload: new Uint8Array([1, 2, 3]) }),
          integratedTime: LOGGED,
        }),
      ],
    ]
    for (const [code, bundle] of cases) {
      const e = thrown(() => verifySigstoreSignature(withBundle(bundle), keyTrust(), NOW))
      expect(e.code, code).toBe(code)
      expect(e).toBeInstanceOf(VerificationError)
      expect(e.hint).toBeTruthy()
    }
  })

  it('uses only the key the Rekor entry names', () => {
    // Signed by key A, logged with key A; trust [B, A]: the entry picks A, which verifies.
    const w = sigstoreWorld()
    const sig = keySignature()
    const trust = {
      publicKeys: [
        publicKeyPem(w.otherKey.publicKey),
        publicKeyPem(w.keys['ecdsa-p256'].publicKey),
      ],
      rekorPublicKeys: [w.rekor.publicKeyPem],
    }
    expect(verifySigstoreSignature(sig, trust, NOW).keyDescription).toContain('ECDSA P-256')
  })

  it('refuses unusable trust material and arguments', () => {
    const sig = keySignature('ecdsa-p256', false)
    const rsa = publicKeyPem(sigstoreWorld().keys.rsa.publicKey)
    expect(codeOf(() => verifySigstoreSignature(sig, { publicKeys: [] }, NOW))).toBe(
      'ERR_SIGSTORE_TRUST_INVALID',
    )
    expect(
      codeOf(() => verifySigstoreSignature(sig, { publicKeys: [rsa], rekorPublicKeys: [] }, NOW)),
    ).toBe('ERR_SIGSTORE_TRUST_INVALID')
    expect(
      codeOf(() =>
        verifySigstoreSignature(sig, { publicKeys: [rsa], rekorPublicKeys: [rsa] }, NOW),
      ),
    ).toBe('ERR_REKOR_KEY_UNSUPPORTED')
    expect(
      codeOf(() =>
        verifySigstoreSignature(sig, { publicKeys: [new TextEncoder().encode('junk')] }, NOW),
      ),
    ).toBe('ERR_SIGSTORE_KEY_INVALID')
    expect(
      codeOf(() =>
        verifySigstoreSignature(sig, keyTrust('ecdsa-p256', false), new Date(Number.NaN)),
      ),
    ).toBe('ERR_SIGSTORE_NOW_INVALID')
    const bad = { payload: 'x', annotations: {} } as unknown as typeof sig
    expect(codeOf(() => verifySigstoreSignature(bad, keyTrust('ecdsa-p256', false), NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_ARGUMENT',
    )
  })

  it('refuses a Rekor entry dated after now', () => {
    const w = sigstoreWorld()
    const sig = buildCosignSignature({
      manifestDigest: DIGEST,
      dockerReference: REFERENCE,
      keyPair: w.keys['ecdsa-p256'],
      rekor: { log: w.rekor, integratedTime: new Date(NOW.getTime() + 3_600_000) },
    })
    expect(codeOf(() => verifySigstoreSignature(sig, keyTrust(), NOW))).toBe(
      'ERR_REKOR_INTEGRATED_TIME_FUTURE',
    )
  })

  // containers/image sets no bound; ours is CLOCK_SKEW_SECONDS (see clock-skew.ts).
  it('accepts a Rekor entry dated up to CLOCK_SKEW_SECONDS after now, and not a second more', () => {
    const w = sigstoreWorld()
    const at = (seconds: number) =>
      buildCosignSignature({
        manifestDigest: DIGEST,
        dockerReference: REFERENCE,
        keyPair: w.keys['ecdsa-p256'],
        rekor: { log: w.rekor, integratedTime: new Date(NOW.getTime() + seconds * 1000) },
      })
    const trust = keyTrust()
    expect(verifySigstoreSignature(at(CLOCK_SKEW_SECONDS), trust, NOW).rekorIntegratedTime).toEqual(
      new Date(NOW.getTime() + CLOCK_SKEW_SECONDS * 1000),
    )
    const late = thrown(() => verifySigstoreSignature(at(CLOCK_SKEW_SECONDS + 1), trust, NOW))
    expect(late.code).toBe('ERR_REKOR_INTEGRATED_TIME_FUTURE')
    expect(late.message).toContain('more than 300 s after the current time')
  })
})
