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
 * Chain checks follow Go's `x509.Certificate.Verify`: names link child to parent, signatures
 * verify, intermediates have `cA` set, path length constraints hold, no unhandled critical
 * extension. Stricter than Go: SHA-1 signatures were already refused there and are here; a chain
 * holding name, policy or inhibit constraints is refused (Go enforces them, we do not implement
 * them); a leaf listed among the roots is not trusted by itself.
 *
 * @see containers/image `signature/fulcio_cert.go`; sigstore/fulcio `docs/oid-info.md`.
 * @module
 */
import type { VerificationError } from '@initguard/core'
import { fulcioOidcIssuer, refuse } from './fulcio-parse.ts'
import { sigstoreKeyFromKeyObject, type SigstorePublicKey } from './sigstore-public-key.ts'
import {
  ACCEPTED_SIGNATURE_ALGORITHMS,
  HANDLED_EXTENSIONS,
  X509_OID,
  type SigstoreCertificate,
} from './sigstore-x509.ts'

/** Extensions we do not enforce and so refuse anywhere in a chain. */
const UNSUPPORTED_CONSTRAINTS = ['2.5.29.30', '2.5.29.33', '2.5.29.36', '2.5.29.54']
const MAX_CHAIN_LENGTH = 10

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
function role(depth: number, isRoot: boolean): string {
  return isRoot ? 'trusted root' : depth === 0 ? 'leaf' : `intermediate ${depth}`
}

/** Checks of one certificate on its own; returns the refusal, or undefined when it passes. */
function checkCertificate(
  cert: SigstoreCertificate,
  depth: number,
  isRoot: boolean,
  time: Date,
): VerificationError | undefined {
  const which = role(depth, isRoot)
  if (time < cert.notBefore || time > cert.notAfter) {
    const expired = time > cert.notAfter
    return refuse(
      expired ? 'ERR_FULCIO_CERTIFICATE_EXPIRED' : 'ERR_FULCIO_CERTIFICATE_NOT_YET_VALID',
      `the ${which} certificate is not valid at ${time.toISOString()} (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})`,
      'Fulcio certificates are checked at the Rekor integrated time; the signature was logged outside the certificate lifetime',
      { certificate: which, time: time.toISOString() },
    )
  }
  for (const [oid, ext] of cert.extensions) {
    if ((ext.critical && !HANDLED_EXTENSIONS.has(oid)) || UNSUPPORTED_CONSTRAINTS.includes(oid)) {
      return refuse(
        'ERR_FULCIO_UNSUPPORTED_EXTENSION',
        `the ${which} certificate has extension ${oid}, which is not checked here`,
        'Fulcio chains carry no such extension; this chain was not issued by Fulcio',
        { certificate: which, oid },
      )
    }
  }
  const eku = cert.extendedKeyUsage
  if (
    eku !== undefined &&
    !eku.includes(X509_OID.codeSigning) &&
    !eku.includes(X509_OID.anyExtendedKeyUsage)
  ) {
    return refuse(
      'ERR_FULCIO_KEY_USAGE',
      `the ${which} certificate does not allow code signing`,
      'Fulcio signing certificates carry the codeSigning extended key usage',
      { certificate: which },
    )
  }
  // Go's CheckSignatureFrom holds every issuer, the trusted root included, to cA and (when
  // keyUsage is present) keyCertSign.
  if (depth > 0 && (!cert.isCA || !cert.mayIssueCertificates)) {
    return refuse(
      'ERR_FULCIO_CA_NOT_AUTHORIZED',
      `the ${which} certificate may not issue certificates (${cert.isCA ? 'its keyUsage lacks keyCertSign' : 'it is not a CA'})`,
      'only CA certificates (basicConstraints cA) may issue certificates',
      { certificate: which },
    )
  }
  if (cert.maxPathLength !== undefined && depth > 0 && depth - 1 > cert.maxPathLength) {
    return refuse(
      'ERR_FULCIO_CA_NOT_AUTHORIZED',
      `the ${which} certificate allows ${cert.maxPathLength} intermediates below it, the chain has ${depth - 1}`,
      'the chain is longer than its CA allows',
      { certificate: which },
    )
  }
  return undefined
}

function issues(parent: SigstoreCertificate, child: SigstoreCertificate): boolean {
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(child.signatureAlgorithm)) return false
  if (Buffer.compare(parent.subject, child.issuer) !== 0) return false
  try {
    return child.x509.verify(parent.publicKey)
  } catch {
    return false
  }
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
  const { leaf, time } = input
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(leaf.signatureAlgorithm)) {
    throw refuse(
      'ERR_FULCIO_SIGNATURE_ALGORITHM',
      `the leaf is signed with algorithm ${leaf.signatureAlgorithm}, which is not accepted`,
      'certificates must be signed with ECDSA, RSA (SHA-256 or stronger) or Ed25519',
      { oid: leaf.signatureAlgorithm },
    )
  }
  const leafProblem = checkCertificate(leaf, 0, false, time)
  if (leafProblem !== undefined) throw leafProblem

  // Depth-first search over issuers, roots first, as Go's buildChains does. The first complete
  // chain wins; otherwise the first specific problem met is reported.
  let problem: VerificationError | undefined
  const search = (chain: SigstoreCertificate[]): SigstoreCertificate[] | undefined => {
    const child = chain[chain.length - 1]
    if (child === undefined || chain.length > MAX_CHAIN_LENGTH) return undefined
    for (const root of input.roots) {
      if (!issues(root, child)) continue
      const p = checkCertificate(root, chain.length, true, time)
      if (p === undefined) return [...chain, root]
      problem ??= p
    }
    for (const intermediate of input.intermediates) {
      if (chain.includes(intermediate) || !issues(intermediate, child)) continue
      const p = checkCertificate(intermediate, chain.length, false, time)
      if (p !== undefined) {
        problem ??= p
        continue
      }
      const found = search([...chain, intermediate])
      if (found !== undefined) return found
    }
    return undefined
  }
  const chain = search([leaf])
  if (chain === undefined) {
    throw (
      problem ??
      refuse(
        'ERR_FULCIO_CHAIN_UNTRUSTED',
        'the leaf does not chain to a trusted Fulcio CA',
        'give the Fulcio CA that issued it (fulcio.caPath / caData); the signature must also carry the dev.sigstore.cosign/chain intermediates',
        { roots: input.roots.length, intermediates: input.intermediates.length },
      )
    )
  }

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
