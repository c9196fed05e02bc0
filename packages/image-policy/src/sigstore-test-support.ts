/**
 * Shared fixtures for the sigstore tests: keys, a Rekor log and a Fulcio-shaped CA made once per
 * test file (RSA key generation is slow), and helpers to alter annotations.
 */
import { sign } from 'node:crypto'
import { bytesToBase64, canonicalizeJsonToBytes } from '@initguard/core'
import {
  buildCosignSignature,
  buildHashedRekordBody,
  buildRekorBundle,
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
import type { RekorSetInput } from './rekor-set.ts'
import type { SigstoreSignature, SigstoreTrust } from './sigstore-signature.ts'
import { parseSigstorePublicKey } from './sigstore-public-key.ts'

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

/** A Rekor SET over a key-signed entry (logIndex 7) in the test log, and what went into it. */
export interface RekorSetFixture {
  /** The verifier's input, all of it matching. */
  readonly input: RekorSetInput
  /** The hashedrekord entry body. */
  readonly body: Uint8Array
  /** The bundle's `Payload` as JSON. */
  readonly payloadObject: Record<string, unknown>
}

/** A fresh {@link RekorSetFixture}. */
export function rekorSetFixture(): RekorSetFixture {
  const w = sigstoreWorld()
  const sig = keySignature('ecdsa-p256', false)
  const keyPem = publicKeyPem(w.keys['ecdsa-p256'].publicKey)
  const key = parseSigstorePublicKey(keyPem)
  const body = buildHashedRekordBody({
    signature: sig.signature,
    payload: sig.payload,
    publicKeyOrCertificatePem: keyPem,
  })
  const bundle = buildRekorBundle({ log: w.rekor, body, integratedTime: LOGGED, logIndex: 7 })
  const payloadObject = (JSON.parse(bundle) as { Payload: Record<string, unknown> }).Payload
  return {
    input: {
      bundle,
      rekorPublicKeys: [parseSigstorePublicKey(w.rekor.publicKeyPem)],
      signature: sig.signature,
      payload: sig.payload,
      keyOrCertificateCandidates: [key.spki],
      now: NOW,
    },
    body,
    payloadObject,
  }
}

/**
 * A bundle whose Payload is `payload`, properly signed by `log` (default the test log): a SET the
 * log itself could issue. `outer` adds members beside the two a bundle has.
 */
export function signedRekorBundle(
  payload: unknown,
  outer: Record<string, unknown> = {},
  log: RekorTestLog = sigstoreWorld().rekor,
): string {
  const set = sign('sha256', canonicalizeJsonToBytes(payload), log.keyPair.privateKey)
  return JSON.stringify({ SignedEntryTimestamp: bytesToBase64(set), Payload: payload, ...outer })
}
