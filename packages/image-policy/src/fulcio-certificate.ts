/**
 * Fulcio certificates on cosign signatures, verified as containers/image does
 * (`signature/fulcio_cert.go`): the `dev.sigstore.cosign/certificate` leaf must chain to one of the
 * trusted Fulcio CA certificates, through the certificates of `dev.sigstore.cosign/chain` except its
 * last one (cosign puts the root last; the root must come from the policy, never from the
 * signature); every certificate of the chain must be valid at the Rekor `integratedTime` (not at
 * `now`: Fulcio leaves live ten minutes); every certificate with extended key usage must allow code
 * signing; the leaf's OIDC issuer extension must equal the policy's `oidcIssuer` and one of its SAN
 * `rfc822Name`s the policy's `subjectEmail` (the annotations and the OIDC issuer extensions are read
 * by `fulcio-parse.ts`).
 *
 * The path itself is checked by `sigstore-chain.ts`, shared with the `pki` key source.
 *
 * @see containers/image `signature/fulcio_cert.go`; sigstore/fulcio `docs/oid-info.md`.
 * @module
 */
import { fulcioOidcIssuer, refuse } from './fulcio-parse.ts'
import { verifyCertificateChain } from './sigstore-chain.ts'
import { sigstoreKeyFromKeyObject, type SigstorePublicKey } from './sigstore-public-key.ts'
import type { SigstoreCertificate } from './sigstore-x509.ts'

/** What {@link verifyFulcioCertificate} checks. */
export interface FulcioCertificateInput {
  /** The trusted Fulcio CA certificates (from `parseFulcioCaCertificates`). */
  readonly roots: readonly SigstoreCertificate[]
  /** The signature's leaf certificate (from `parseFulcioLeafCertificate`). */
  readonly leaf: SigstoreCertificate
  /** Untrusted intermediates (from `parseFulcioChain`). */
  readonly intermediates: readonly SigstoreCertificate[]
  /** The OIDC issuer the leaf must name, exactly. */
  readonly oidcIssuer: string
  /** The email the leaf's SAN must list, exactly. */
  readonly subjectEmail: string
  /** When the chain must be valid: the Rekor integrated time. */
  readonly time: Date
}

/** A leaf that chains to a trusted Fulcio CA and names the expected identity. */
export interface VerifiedFulcioCertificate {
  /** The leaf's key, to verify the signature with. */
  readonly publicKey: SigstorePublicKey
  /** The OIDC issuer from the leaf. */
  readonly oidcIssuer: string
  /** The SAN emails of the leaf. */
  readonly emailAddresses: readonly string[]
  /** The chain found, leaf first, trusted root last. */
  readonly chain: readonly SigstoreCertificate[]
}
/**
 * Verify a Fulcio leaf: chain, validity at `time`, OIDC issuer and email.
 *
 * @throws {@link VerificationError} `ERR_FULCIO_SIGNATURE_ALGORITHM`, `ERR_FULCIO_CHAIN_UNTRUSTED`,
 *   `ERR_FULCIO_CERTIFICATE_EXPIRED`, `ERR_FULCIO_CERTIFICATE_NOT_YET_VALID`,
 *   `ERR_FULCIO_UNSUPPORTED_EXTENSION`, `ERR_FULCIO_KEY_USAGE`, `ERR_FULCIO_CA_NOT_AUTHORIZED`,
 *   the issuer errors of {@link fulcioOidcIssuer}, `ERR_FULCIO_ISSUER_MISMATCH`,
 *   `ERR_FULCIO_EMAIL_MISMATCH`, `ERR_FULCIO_KEY_UNSUPPORTED`.
 */
export function verifyFulcioCertificate(input: FulcioCertificateInput): VerifiedFulcioCertificate {
  const { leaf } = input
  const chain = verifyCertificateChain({
    authority: 'Fulcio',
    roots: input.roots,
    leaf,
    intermediates: input.intermediates,
    time: input.time,
    untrustedHint:
      'give the Fulcio CA that issued it (fulcio.caPath / caData); the signature must also carry the dev.sigstore.cosign/chain intermediates',
  })

  const oidcIssuer = fulcioOidcIssuer(leaf)
  if (oidcIssuer !== input.oidcIssuer) {
    throw refuse(
      'ERR_FULCIO_ISSUER_MISMATCH',
      `the certificate was issued for OIDC issuer "${oidcIssuer.slice(0, 200)}", not "${input.oidcIssuer}"`,
      'the signer logged in with another identity provider; check fulcio.oidcIssuer in the policy',
      { oidcIssuer: oidcIssuer.slice(0, 200) },
    )
  }
  if (!leaf.emailAddresses.includes(input.subjectEmail)) {
    throw refuse(
      'ERR_FULCIO_EMAIL_MISMATCH',
      `the certificate does not name ${input.subjectEmail} (it names ${leaf.emailAddresses.length === 0 ? 'no email' : leaf.emailAddresses.map((e) => e.slice(0, 100)).join(', ')})`,
      'the image was signed by someone else; check fulcio.subjectEmail in the policy',
      { emails: leaf.emailAddresses.map((e) => e.slice(0, 100)) },
    )
  }
  let publicKey: SigstorePublicKey
  try {
    publicKey = sigstoreKeyFromKeyObject(leaf.publicKey, 'Fulcio leaf key')
  } catch (cause) {
    throw refuse(
      'ERR_FULCIO_KEY_UNSUPPORTED',
      'the leaf key is of a type sigstore signatures cannot use',
      'Fulcio issues ECDSA, RSA or Ed25519 certificates',
      {},
      cause,
    )
  }
  return { publicKey, oidcIssuer, emailAddresses: leaf.emailAddresses, chain }
}
