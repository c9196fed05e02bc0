import { describe, it, expect } from 'vitest'
import { sign } from 'node:crypto'
import {
  buildHashedRekordBody,
  buildRekorBundle,
  COSIGN_ANNOTATION,
  generateSigstoreKeyPair,
} from '@initguard/tee-simulator'
import { bytesToBase64 } from '@initguard/core'
import { verifySigstoreSignature } from './sigstore-signature.ts'
import {
  EMAIL,
  ISSUER,
  LOGGED,
  NOW,
  codeOf,
  fulcioSignature,
  fulcioTrust,
  sigstoreWorld,
  thrown,
  withAnnotation,
} from './sigstore-test-support.ts'

describe('verifySigstoreSignature with Fulcio', () => {
  it('accepts a leaf chaining to the CA, naming the issuer and email', () => {
    const verified = verifySigstoreSignature(fulcioSignature(), fulcioTrust(), NOW)
    expect(verified.rekorIntegratedTime).toEqual(LOGGED)
    expect(verified.certificateSubject).toEqual({
      oidcIssuer: ISSUER,
      subjectEmail: EMAIL,
      emailAddresses: [EMAIL],
    })
    expect(verified.keyDescription).toContain(EMAIL)
  })

  it('accepts v2-only and consistent v1+v2 issuer extensions', () => {
    expect(() =>
      verifySigstoreSignature(
        fulcioSignature({ oidcIssuerV2: ISSUER, oidcIssuerV1: undefined }),
        fulcioTrust(),
        NOW,
      ),
    ).not.toThrow()
    const both = fulcioSignature({ oidcIssuerV2: ISSUER })
    expect(verifySigstoreSignature(both, fulcioTrust(), NOW).certificateSubject?.oidcIssuer).toBe(
      ISSUER,
    )
  })

  it('refuses every identity and chain problem with its own code', () => {
    const w = sigstoreWorld()
    const later = new Date(LOGGED.getTime() + 3_600_000)
    const cases: [string, () => unknown][] = [
      [
        'ERR_FULCIO_ISSUER_MISMATCH',
        () =>
          verifySigstoreSignature(
            fulcioSignature(),
            fulcioTrust({ oidcIssuer: 'https://other' }),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_EMAIL_MISMATCH',
        () =>
          verifySigstoreSignature(
            fulcioSignature(),
            fulcioTrust({ subjectEmail: 'x@example.com' }),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_ISSUER_INCONSISTENT',
        () =>
          verifySigstoreSignature(
            fulcioSignature({ oidcIssuerV2: 'https://other' }),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_ISSUER_MISSING',
        () =>
          verifySigstoreSignature(fulcioSignature({ oidcIssuerV1: undefined }), fulcioTrust(), NOW),
      ],
      [
        'ERR_FULCIO_CERTIFICATE_EXPIRED',
        () =>
          verifySigstoreSignature(
            fulcioSignature({
              notBefore: new Date(LOGGED.getTime() - 900_000),
              notAfter: new Date(LOGGED.getTime() - 300_000),
            }),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_CERTIFICATE_NOT_YET_VALID',
        () =>
          verifySigstoreSignature(
            fulcioSignature({ notBefore: later, notAfter: new Date(later.getTime() + 600_000) }),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_CHAIN_UNTRUSTED',
        () => verifySigstoreSignature(fulcioSignature({}, w.foreignFulcio), fulcioTrust(), NOW),
      ],
      [
        'ERR_FULCIO_KEY_USAGE',
        () =>
          verifySigstoreSignature(
            fulcioSignature({ extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'] }),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_SIGSTORE_CERTIFICATE_MISSING',
        () =>
          verifySigstoreSignature(
            withAnnotation(fulcioSignature(), COSIGN_ANNOTATION.certificate, undefined),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_SIGSTORE_BUNDLE_MISSING',
        () =>
          verifySigstoreSignature(
            withAnnotation(fulcioSignature(), COSIGN_ANNOTATION.bundle, undefined),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_CHAIN_UNTRUSTED',
        () =>
          verifySigstoreSignature(
            withAnnotation(fulcioSignature(), COSIGN_ANNOTATION.chain, undefined),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_FULCIO_CERTIFICATE_MALFORMED',
        () =>
          verifySigstoreSignature(
            withAnnotation(fulcioSignature(), COSIGN_ANNOTATION.certificate, 'not a certificate'),
            fulcioTrust(),
            NOW,
          ),
      ],
      [
        'ERR_SIGSTORE_TRUST_INVALID',
        () =>
          verifySigstoreSignature(
            fulcioSignature(),
            { ...fulcioTrust(), rekorPublicKeys: undefined },
            NOW,
          ),
      ],
      [
        'ERR_SIGSTORE_TRUST_INVALID',
        () => verifySigstoreSignature(fulcioSignature(), fulcioTrust({ subjectEmail: '' }), NOW),
      ],
      [
        'ERR_FULCIO_CA_INVALID',
        () =>
          verifySigstoreSignature(
            fulcioSignature(),
            {
              rekorPublicKeys: fulcioTrust().rekorPublicKeys,
              fulcio: { caCertificates: new Uint8Array(), oidcIssuer: ISSUER, subjectEmail: EMAIL },
            },
            NOW,
          ),
      ],
    ]
    for (const [code, run] of cases) {
      const e = thrown(run)
      expect(e.code, code).toBe(code)
      expect(e.hint, code).toBeTruthy()
    }
  })

  it('checks the certificate at the Rekor time, not at now', () => {
    // NOW is months after the ten-minute leaf expired; the SET time is inside its lifetime.
    expect(() => verifySigstoreSignature(fulcioSignature(), fulcioTrust(), NOW)).not.toThrow()
  })

  it('accepts a missing chain when the intermediate itself is trusted', () => {
    const w = sigstoreWorld()
    const sig = withAnnotation(fulcioSignature(), COSIGN_ANNOTATION.chain, undefined)
    const trust = {
      rekorPublicKeys: fulcioTrust().rekorPublicKeys,
      fulcio: {
        caCertificates: new TextEncoder().encode(w.fulcio.chainPem),
        oidcIssuer: ISSUER,
        subjectEmail: EMAIL,
      },
    }
    expect(() => verifySigstoreSignature(sig, trust, NOW)).not.toThrow()
  })

  it('refuses a Fulcio signature whose payload signature is by another key', () => {
    const sig = fulcioSignature()
    const other = generateSigstoreKeyPair('ecdsa-p256')
    const forged = sign('sha256', sig.payload, other.privateKey)
    const w = sigstoreWorld()
    const body = buildHashedRekordBody({
      signature: forged,
      payload: sig.payload,
      publicKeyOrCertificatePem: sig.annotations.get(COSIGN_ANNOTATION.certificate) ?? '',
    })
    const altered = withAnnotation(
      withAnnotation(sig, COSIGN_ANNOTATION.signature, bytesToBase64(forged)),
      COSIGN_ANNOTATION.bundle,
      buildRekorBundle({ log: w.rekor, body, integratedTime: LOGGED }),
    )
    expect(codeOf(() => verifySigstoreSignature(altered, fulcioTrust(), NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_INVALID',
    )
  })
})
