/**
 * containers/image's own sigstore fixtures (`signature/fixtures/`, Apache-2.0, copied into
 * testdata/vectors/image-signatures with their symbolic links resolved), checked against what
 * `signature/policy_eval_sigstore_test.go` expects of the signature step: keys, Rekor SETs
 * (rekor.pub), Fulcio certificates (fulcio_v1.crt.pem) and PKI certificates (pki_*_crts.pem).
 */
import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { base64ToBytes } from '@initguard/core'
import { publicKeyPem } from '@initguard/tee-simulator'
import {
  parseDirSigstoreSignature,
  SIGSTORE_SIGNATURE_MIME_TYPE,
} from './dir-sigstore-signature.ts'
import { verifyFulcioCertificate } from './fulcio-certificate.ts'
import {
  fulcioOidcIssuer,
  parseFulcioCaCertificates,
  parseFulcioChain,
  parseFulcioLeafCertificate,
} from './fulcio-parse.ts'
import { parseHashedRekordBody } from './rekor-body.ts'
import { SIGSTORE_ANNOTATION, verifySigstoreSignature } from './sigstore-signature.ts'
import { parseSigstorePublicKey } from './sigstore-public-key.ts'
import { NOW, codeOf, sigstoreWorld } from './sigstore-test-support.ts'

const VECTORS = new URL('../../../testdata/vectors/image-signatures/', import.meta.url)
const fixture = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))

const signatureFile = (dir: string, n = 1) =>
  parseDirSigstoreSignature(fixture(`${dir}/signature-${n}`))
const cosignPub = (): Uint8Array => fixture('cosign.pub')
const cosign2Pub = (): Uint8Array => fixture('cosign2.pub')

describe('containers/image sigstore fixtures', () => {
  it('dir-img-cosign-valid verifies with cosign.pub, alone or with cosign2.pub in any order', () => {
    const sig = signatureFile('dir-img-cosign-valid')
    expect(sig.mimeType).toBe(SIGSTORE_SIGNATURE_MIME_TYPE)
    for (const publicKeys of [
      [cosignPub()],
      [cosignPub(), cosign2Pub()],
      [cosign2Pub(), cosignPub()],
    ]) {
      const verified = verifySigstoreSignature(sig, { publicKeys }, NOW)
      expect(new TextDecoder().decode(verified.payloadBytes)).toContain(
        'cosign container image signature',
      )
    }
    expect(codeOf(() => verifySigstoreSignature(sig, { publicKeys: [cosign2Pub()] }, NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_INVALID',
    )
  })

  it('the other cosign.pub fixtures verify at the signature step', () => {
    // valid-2 (both), valid-with-tag, and the copies (links upstream) whose refusal upstream comes
    // from the manifest, not the signature.
    for (const [dir, n] of [
      ['dir-img-cosign-valid-2', 1],
      ['dir-img-cosign-valid-2', 2],
      ['dir-img-cosign-valid-with-tag', 1],
      ['dir-img-cosign-modified-manifest', 1],
      ['dir-img-cosign-no-manifest', 1],
      ['dir-img-cosign-manifest-digest-error', 1],
      ['dir-img-cosign-mixed', 2],
    ] as const) {
      expect(
        () => verifySigstoreSignature(signatureFile(dir, n), { publicKeys: [cosignPub()] }, NOW),
        dir,
      ).not.toThrow()
    }
  })

  it('refuses a signature without its cryptographic signature, or with an invalid one', () => {
    const sig = signatureFile('dir-img-cosign-valid')
    expect(
      codeOf(() =>
        verifySigstoreSignature(
          { payload: sig.payload, annotations: new Map() },
          { publicKeys: [cosignPub()] },
          NOW,
        ),
      ),
    ).toBe('ERR_SIGSTORE_SIGNATURE_MISSING')
    const invalid = new Map([
      [SIGSTORE_ANNOTATION.signature, Buffer.from('invalid signature').toString('base64')],
    ])
    expect(
      codeOf(() =>
        verifySigstoreSignature(
          { payload: sig.payload, annotations: invalid },
          { publicKeys: [cosignPub()] },
          NOW,
        ),
      ),
    ).toBe('ERR_SIGSTORE_SIGNATURE_INVALID')
  })

  it('dir-img-cosign-other-attachment is not a signature attachment', () => {
    expect(signatureFile('dir-img-cosign-other-attachment').mimeType).toBe('text/plain')
  })

  it('dir-img-cosign-key-rekor-valid: cosign2.pub with or without rekor.pub; its logged entry names key, signature and payload', () => {
    const sig = signatureFile('dir-img-cosign-key-rekor-valid')
    expect(
      verifySigstoreSignature(sig, { publicKeys: [cosign2Pub()] }, NOW).keyDescription,
    ).toContain('ECDSA P-256')
    const withRekor = verifySigstoreSignature(
      sig,
      {
        publicKeys: [cosignPub(), cosign2Pub()],
        rekorPublicKeys: [cosignPub(), fixture('rekor.pub')],
      },
      NOW,
    )
    expect(withRekor.rekorIntegratedTime).toEqual(new Date(1674251859 * 1000))
    expect(codeOf(() => verifySigstoreSignature(sig, { publicKeys: [cosignPub()] }, NOW))).toBe(
      'ERR_SIGSTORE_SIGNATURE_INVALID',
    )
    // Upstream: with cosign.pub as the "Rekor key" the SET is refused.
    for (const publicKeys of [[cosign2Pub()], [cosignPub(), cosign2Pub()]]) {
      expect(
        codeOf(() =>
          verifySigstoreSignature(sig, { publicKeys, rekorPublicKeys: [cosignPub()] }, NOW),
        ),
      ).toBe('ERR_REKOR_SET_SIGNATURE_INVALID')
    }
    const w = sigstoreWorld()
    expect(
      codeOf(() =>
        verifySigstoreSignature(
          sig,
          { publicKeys: [cosign2Pub()], rekorPublicKeys: [w.rekor.publicKeyPem] },
          NOW,
        ),
      ),
    ).toBe('ERR_REKOR_SET_SIGNATURE_INVALID')
    const bundle = JSON.parse(sig.annotations.get(SIGSTORE_ANNOTATION.bundle) ?? '') as {
      Payload: { body: string; integratedTime: number }
    }
    expect(bundle.Payload.integratedTime).toBe(1674251859)
    const body = parseHashedRekordBody(base64ToBytes(bundle.Payload.body))
    expect(body.keyOrCertificate).toEqual(parseSigstorePublicKey(cosign2Pub()).spki)
    expect(body.signature).toEqual(
      base64ToBytes(sig.annotations.get(SIGSTORE_ANNOTATION.signature) ?? ''),
    )
    expect(body.hashHex).toBe(createHash('sha256').update(sig.payload).digest('hex'))
  })

  it('dir-img-cosign-fulcio-rekor-valid: issuer and email as upstream expects; chain valid at the Rekor time only', () => {
    const sig = signatureFile('dir-img-cosign-fulcio-rekor-valid')
    const leaf = parseFulcioLeafCertificate(
      sig.annotations.get(SIGSTORE_ANNOTATION.certificate) ?? '',
    )
    expect(fulcioOidcIssuer(leaf)).toBe('https://github.com/login/oauth')
    expect(leaf.emailAddresses).toEqual(['mitr@redhat.com'])
    const chainText = sig.annotations.get(SIGSTORE_ANNOTATION.chain) ?? ''
    const bundle = JSON.parse(sig.annotations.get(SIGSTORE_ANNOTATION.bundle) ?? '') as {
      Payload: { body: string; integratedTime: number }
    }
    const time = new Date(bundle.Payload.integratedTime * 1000)
    const body = parseHashedRekordBody(base64ToBytes(bundle.Payload.body))
    expect(body.keyOrCertificate).toEqual(leaf.der)
    expect(body.hashHex).toBe(createHash('sha256').update(sig.payload).digest('hex'))

    // The root cosign attached is fulcio_v1.crt.pem.
    expect(parseFulcioCaCertificates(new TextEncoder().encode(chainText)).at(-1)?.der).toEqual(
      parseFulcioCaCertificates(fixture('fulcio_v1.crt.pem'))[0]?.der,
    )
    const input = {
      roots: parseFulcioCaCertificates(fixture('fulcio_v1.crt.pem')),
      leaf,
      intermediates: parseFulcioChain(chainText),
      oidcIssuer: 'https://github.com/login/oauth',
      subjectEmail: 'mitr@redhat.com',
      time,
    }
    const verified = verifyFulcioCertificate(input)
    expect(verified.chain).toHaveLength(3)
    // …and the payload signature verifies with the leaf key.
    const keyOnly = { publicKeys: [publicKeyPem(leaf.publicKey)] }
    expect(() => verifySigstoreSignature(sig, keyOnly, NOW)).not.toThrow()
    expect(codeOf(() => verifyFulcioCertificate({ ...input, time: NOW }))).toBe(
      'ERR_FULCIO_CERTIFICATE_EXPIRED',
    )
    expect(
      codeOf(() =>
        verifyFulcioCertificate({ ...input, subjectEmail: 'this-does-not-match@example.com' }),
      ),
    ).toBe('ERR_FULCIO_EMAIL_MISMATCH')
    expect(codeOf(() => verifyFulcioCertificate({ ...input, intermediates: [] }))).toBe(
      'ERR_FULCIO_CHAIN_UNTRUSTED',
    )

    // With fulcio_v1.crt.pem and rekor.pub the whole signature verifies, as upstream's does.
    const trusted = verifySigstoreSignature(
      sig,
      {
        fulcio: {
          caCertificates: fixture('fulcio_v1.crt.pem'),
          oidcIssuer: 'https://github.com/login/oauth',
          subjectEmail: 'mitr@redhat.com',
        },
        rekorPublicKeys: [fixture('rekor.pub')],
      },
      NOW,
    )
    expect(trusted.certificateSubject?.emailAddresses).toEqual(['mitr@redhat.com'])

    // Without the Fulcio root and rekor.pub, the whole signature is refused.
    const w = sigstoreWorld()
    const foreign = {
      fulcio: {
        caCertificates: w.fulcio.caPem,
        oidcIssuer: 'https://github.com/login/oauth',
        subjectEmail: 'mitr@redhat.com',
      },
    }
    expect(
      codeOf(() =>
        verifySigstoreSignature(sig, { ...foreign, rekorPublicKeys: [w.rekor.publicKeyPem] }, NOW),
      ),
    ).toBe('ERR_REKOR_SET_SIGNATURE_INVALID')
    expect(
      codeOf(() =>
        verifyFulcioCertificate({ ...input, roots: parseFulcioCaCertificates(w.fulcio.caPem) }),
      ),
    ).toBe('ERR_FULCIO_CHAIN_UNTRUSTED')
  })

  it('dir-img-cosign-pki-valid: the RSA signature (base64 in wrapped lines) verifies with the leaf key, and with the PKI', () => {
    const sig = signatureFile('dir-img-cosign-pki-valid')
    const leaf = parseFulcioLeafCertificate(
      sig.annotations.get(SIGSTORE_ANNOTATION.certificate) ?? '',
    )
    expect(leaf.emailAddresses).toEqual(['qiwan@redhat.com'])
    const verified = verifySigstoreSignature(
      sig,
      { publicKeys: [publicKeyPem(leaf.publicKey)] },
      NOW,
    )
    expect(verified.keyDescription).toContain('RSA-4096')
    const pki = {
      caRoots: fixture('pki_root_crts.pem'),
      caIntermediates: fixture('pki_intermediate_crts.pem'),
      subjectEmail: 'qiwan@redhat.com',
      subjectHostname: 'myhost.example.com',
    }
    expect(verifySigstoreSignature(sig, { pki }, NOW).keyDescription).toBe(
      `PKI certificate for qiwan@redhat.com and myhost.example.com, ${verified.keyDescription}`,
    )
    expect(
      codeOf(() =>
        verifySigstoreSignature(sig, { pki, rekorPublicKeys: [fixture('rekor.pub')] }, NOW),
      ),
    ).toBe('ERR_SIGSTORE_TRUST_INVALID')
    expect(
      codeOf(() => verifySigstoreSignature(sig, { pki: { ...pki, caRoots: cosignPub() } }, NOW)),
    ).toBe('ERR_PKI_CA_ROOTS_INVALID')
  })
})
