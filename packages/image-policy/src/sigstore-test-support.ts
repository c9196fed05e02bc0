/**
 * Shared fixtures for the sigstore tests: keys, a Rekor log and a Fulcio-shaped CA made once per
 * test file (RSA key generation is slow), and helpers to alter annotations.
 */
import {
  buildCosignSignature,
  createFulcioTestPki,
  createRekorTestLog,
  generateSigstoreKeyPair,
  publicKeyPem,
  type CosignTestSignature,
  type FulcioTestPki,
  type RekorTestLog,
  type SigstoreKeyAlgorithm,
  type TestKeyPair,
} from '@initguard/tee-simulator'
import type { SigstoreSignature, SigstoreTrust } from './sigstore-signature.ts'

export const DIGEST = `sha256:${'ab'.repeat(32)}`
export const REFERENCE = 'registry.example.com/team/app'
export const ISSUER = 'https://accounts.example.com'
export const EMAIL = 'signer@example.com'
/** When the signatures were logged. */
export const LOGGED = new Date('2024-06-01T12:00:00Z')
/** When the tests verify. */
export const NOW = new Date('2025-01-01T00:00:00Z')

export { codeOf, thrown } from '@initguard/testkit'

export interface SigstoreWorld {
  readonly keys: Record<SigstoreKeyAlgorithm, TestKeyPair>
  readonly otherKey: TestKeyPair
  readonly rekor: RekorTestLog
  readonly otherRekor: RekorTestLog
  readonly fulcio: FulcioTestPki
  readonly foreignFulcio: FulcioTestPki
}

let world: SigstoreWorld | undefined

export function sigstoreWorld(): SigstoreWorld {
  world ??= {
    keys: {
      'ecdsa-p256': generateSigstoreKeyPair('ecdsa-p256'),
      'ecdsa-p384': generateSigstoreKeyPair('ecdsa-p384'),
      rsa: generateSigstoreKeyPair('rsa'),
      ed25519: generateSigstoreKeyPair('ed25519'),
    },
    otherKey: generateSigstoreKeyPair('ecdsa-p256'),
    rekor: createRekorTestLog(),
    otherRekor: createRekorTestLog(),
    fulcio: createFulcioTestPki({
      notBefore: new Date('2022-01-01T00:00:00Z'),
      notAfter: new Date('2032-01-01T00:00:00Z'),
    }),
    foreignFulcio: createFulcioTestPki({
      notBefore: new Date('2022-01-01T00:00:00Z'),
      notAfter: new Date('2032-01-01T00:00:00Z'),
      name: 'foreign',
    }),
  }
  return world
}

/** A key-signed cosign signature, logged in Rekor unless `rekor` is false. */
export function keySignature(
  algorithm: SigstoreKeyAlgorithm = 'ecdsa-p256',
  rekor = true,
): CosignTestSignature {
  const w = sigstoreWorld()
  return buildCosignSignature({
    manifestDigest: DIGEST,
    dockerReference: REFERENCE,
    keyPair: w.keys[algorithm],
    ...(rekor ? { rekor: { log: w.rekor, integratedTime: LOGGED } } : {}),
  })
}

/** A Fulcio leaf valid for ten minutes around {@link LOGGED}, for {@link EMAIL} at {@link ISSUER}. */
export function fulcioSignature(
  leafOptions: Partial<Parameters<FulcioTestPki['issueLeaf']>[0]> = {},
  pki: FulcioTestPki = sigstoreWorld().fulcio,
): CosignTestSignature {
  const w = sigstoreWorld()
  const leaf = pki.issueLeaf({
    notBefore: new Date(LOGGED.getTime() - 60_000),
    notAfter: new Date(LOGGED.getTime() + 540_000),
    emails: [EMAIL],
    oidcIssuerV1: ISSUER,
    ...leafOptions,
  })
  return buildCosignSignature({
    manifestDigest: DIGEST,
    dockerReference: REFERENCE,
    keyPair: leaf.keyPair,
    certificate: { pem: leaf.pem, chainPem: pki.chainPem },
    rekor: { log: w.rekor, integratedTime: LOGGED },
  })
}

export function keyTrust(
  algorithm: SigstoreKeyAlgorithm = 'ecdsa-p256',
  rekor = true,
): SigstoreTrust {
  const w = sigstoreWorld()
  return {
    publicKeys: [publicKeyPem(w.keys[algorithm].publicKey)],
    ...(rekor ? { rekorPublicKeys: [w.rekor.publicKeyPem] } : {}),
  }
}

export function fulcioTrust(
  overrides: Partial<{ oidcIssuer: string; subjectEmail: string }> = {},
): SigstoreTrust {
  const w = sigstoreWorld()
  return {
    fulcio: {
      caCertificates: w.fulcio.caPem,
      oidcIssuer: ISSUER,
      subjectEmail: EMAIL,
      ...overrides,
    },
    rekorPublicKeys: [w.rekor.publicKeyPem],
  }
}

/** A copy of `sig` with annotation `key` set to `value`, or removed when `value` is undefined. */
export function withAnnotation(
  sig: SigstoreSignature,
  key: string,
  value: string | undefined,
): SigstoreSignature {
  const annotations = new Map(sig.annotations)
  if (value === undefined) annotations.delete(key)
  else annotations.set(key, value)
  return { payload: sig.payload, annotations }
}
