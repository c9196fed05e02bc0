import { describe, it, expect } from 'vitest'
import { createHash, verify, X509Certificate } from 'node:crypto'
import { base64ToBytes, canonicalizeJsonToBytes } from '@initguard/core'
import {
  COSIGN_ANNOTATION,
  buildCosignSignature,
  cosignPayload,
  createRekorTestLog,
  encodeDirSigstoreSignature,
  generateSigstoreKeyPair,
  signSigstorePayload,
} from './sigstore-builder.ts'
import { FULCIO_TEST_OID, createFulcioTestPki } from './sigstore-fulcio-pki.ts'

const LOGGED = new Date('2024-06-01T12:00:00Z')

describe('sigstore builder', () => {
  it('signs cosign payloads with every key type', () => {
    const payload = cosignPayload(`sha256:${'00'.repeat(32)}`, 'example.com/a')
    expect(new TextDecoder().decode(payload)).toContain('"optional":null')
    for (const algorithm of ['ecdsa-p256', 'ecdsa-p384', 'rsa', 'ed25519'] as const) {
      const keys = generateSigstoreKeyPair(algorithm)
      const sig = signSigstorePayload(keys.privateKey, payload)
      const hash = algorithm === 'ed25519' ? null : 'sha256'
      expect(verify(hash, payload, keys.publicKey, sig), algorithm).toBe(true)
    }
    expect(() =>
      signSigstorePayload(generateSigstoreKeyPair('ecdsa-p256').publicKey, payload),
    ).toThrow()
  })

  it('builds a bundle whose SET verifies with the log key over the canonical Payload', () => {
    const log = createRekorTestLog()
    const keys = generateSigstoreKeyPair('ecdsa-p256')
    const sig = buildCosignSignature({
      manifestDigest: `sha256:${'11'.repeat(32)}`,
      dockerReference: 'example.com/a',
      keyPair: keys,
      rekor: { log, integratedTime: LOGGED, logIndex: 3 },
    })
    const bundle = JSON.parse(sig.annotations.get(COSIGN_ANNOTATION.bundle) ?? '') as {
      SignedEntryTimestamp: string
      Payload: { body: string; integratedTime: number; logIndex: number; logID: string }
    }
    expect(bundle.Payload.integratedTime).toBe(LOGGED.getTime() / 1000)
    expect(bundle.Payload.logID).toBe(log.logId)
    const set = base64ToBytes(bundle.SignedEntryTimestamp)
    expect(
      verify('sha256', canonicalizeJsonToBytes(bundle.Payload), log.keyPair.publicKey, set),
    ).toBe(true)
    const body = JSON.parse(new TextDecoder().decode(base64ToBytes(bundle.Payload.body))) as {
      spec: { data: { hash: { value: string } } }
    }
    expect(body.spec.data.hash.value).toBe(createHash('sha256').update(sig.payload).digest('hex'))
    const dir = encodeDirSigstoreSignature(sig)
    expect(dir[0]).toBe(0)
  })

  it('issues Fulcio-shaped leaves that chain to the root', () => {
    const pki = createFulcioTestPki({
      notBefore: new Date('2022-01-01T00:00:00Z'),
      notAfter: new Date('2032-01-01T00:00:00Z'),
    })
    const leaf = pki.issueLeaf({
      notBefore: LOGGED,
      notAfter: new Date(LOGGED.getTime() + 600_000),
      emails: ['a@example.com'],
      oidcIssuerV1: 'https://issuer',
      oidcIssuerV2: 'https://issuer',
    })
    const x509 = new X509Certificate(leaf.der)
    const intermediate = new X509Certificate(pki.intermediate.der)
    const root = new X509Certificate(pki.root.der)
    expect(x509.verify(intermediate.publicKey)).toBe(true)
    expect(intermediate.verify(root.publicKey)).toBe(true)
    expect(x509.subjectAltName).toBe('email:a@example.com')
    expect(x509.raw.includes(Buffer.from('https://issuer'))).toBe(true)
    expect(FULCIO_TEST_OID.issuerV1).toBe('1.3.6.1.4.1.57264.1.1')
    expect(pki.chainPem).toBe(pki.intermediate.pem + pki.root.pem)
  })
})
