/**
 * Certificate path checking for sigstore signatures, shared by the `fulcio` and `pki` key sources
 * of `sigstoreSigned`: find a chain from the signature's leaf to one of the policy's roots through
 * the intermediates allowed, as Go's `x509.Certificate.Verify` does with `KeyUsages:
 * [CodeSigning]` (containers/image `signature/fulcio_cert.go`, `signature/pki_cert.go`).
 *
 * Names link child to parent, signatures verify, every certificate is valid at the time given,
 * every issuer has `cA` (and keyCertSign when it has keyUsage), path length constraints hold, no
 * unhandled critical extension, and every certificate with extended key usage allows code signing.
 * Stricter than Go: SHA-1 signatures were already refused there and are here; a chain holding
 * name, policy or inhibit constraints is refused (Go enforces them, we do not implement them); a
 * leaf listed among the roots is not trusted by itself.
 *
 * @module
 * @internal
 */
import {
  VerificationError,
  type ErrorDetails,
  validityAt,
  validityMessage,
  constantTimeEqual,
} from '@initguard/core'
import {
  ACCEPTED_SIGNATURE_ALGORITHMS,
  HANDLED_EXTENSIONS,
  X509_OID,
  type SigstoreCertificate,
} from './sigstore-x509.ts'

/** Extensions we do not enforce and so refuse anywhere in a chain. */
const UNSUPPORTED_CONSTRAINTS = ['2.5.29.30', '2.5.29.33', '2.5.29.36', '2.5.29.54']
const MAX_CHAIN_LENGTH = 10

/** Whose certificates these are: names the error codes (`ERR_FULCIO_…`, `ERR_PKI_…`) and messages. */
export type CertificateAuthority = 'Fulcio' | 'PKI'

/** What {@link verifyCertificateChain} checks. */
export interface CertificateChainInput {
  readonly authority: CertificateAuthority
  /** The trusted roots, from the policy only. */
  readonly roots: readonly SigstoreCertificate[]
  readonly leaf: SigstoreCertificate
  /** Certificates that may link the leaf to a root; trusted only through such a chain. */
  readonly intermediates: readonly SigstoreCertificate[]
  /** When every certificate of the chain must be valid. */
  readonly time: Date
  /** What to tell the user when no chain is found. */
  readonly untrustedHint: string
}

/**
 * A certificate verification failure, coded by authority.
 *
 * @internal shared with `fulcio-certificate.ts` and `pki-certificate.ts`.
 */
export function certificateRefusal(
  authority: CertificateAuthority,
  suffix: string,
  message: string,
  hint: string,
  details: ErrorDetails = {},
  cause?: unknown,
): VerificationError {
  return new VerificationError(
    `ERR_${authority.toUpperCase()}_${suffix}`,
    `${authority} certificate: ${message}`,
    { details, hint, ...(cause === undefined ? {} : { cause }) },
  )
}

function role(depth: number, isRoot: boolean): string {
  return isRoot ? 'trusted root' : depth === 0 ? 'leaf' : `intermediate ${depth}`
}

const TIME_HINT: Readonly<Record<CertificateAuthority, string>> = {
  Fulcio:
    'Fulcio certificates are checked at the Rekor integrated time; the signature was logged outside the certificate lifetime',
  PKI: 'PKI certificates are checked at the time of the decision (--at); renew the signing certificate and sign again',
}

/** Checks of one certificate on its own; returns the refusal, or undefined when it passes. */
function checkCertificate(
  authority: CertificateAuthority,
  cert: SigstoreCertificate,
  depth: number,
  isRoot: boolean,
  time: Date,
): VerificationError | undefined {
  const which = role(depth, isRoot)
  const refuse = (suffix: string, message: string, hint: string, details: ErrorDetails) =>
    certificateRefusal(authority, suffix, message, hint, details)
  const validity = validityAt(cert, time)
  if (validity !== 'valid') {
    return refuse(
      validity === 'expired' ? 'CERTIFICATE_EXPIRED' : 'CERTIFICATE_NOT_YET_VALID',
      validityMessage(`${which} certificate`, cert, time),
      TIME_HINT[authority],
      { certificate: which, time: time.toISOString() },
    )
  }
  for (const [oid, ext] of cert.extensions) {
    if ((ext.critical && !HANDLED_EXTENSIONS.has(oid)) || UNSUPPORTED_CONSTRAINTS.includes(oid)) {
      return refuse(
        'UNSUPPORTED_EXTENSION',
        `the ${which} certificate has extension ${oid}, which is not checked here`,
        'signing chains for cosign carry no such extension; reissue the chain without it',
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
      'KEY_USAGE',
      `the ${which} certificate does not allow code signing`,
      'a certificate with extended key usage must list codeSigning to sign images',
      { certificate: which },
    )
  }
  // Go's CheckSignatureFrom holds every issuer, the trusted root included, to cA and (when
  // keyUsage is present) keyCertSign.
  if (depth > 0 && (!cert.isCA || !cert.mayIssueCertificates)) {
    return refuse(
      'CA_NOT_AUTHORIZED',
      `the ${which} certificate may not issue certificates (${cert.isCA ? 'its keyUsage lacks keyCertSign' : 'it is not a CA'})`,
      'only CA certificates (basicConstraints cA) may issue certificates',
      { certificate: which },
    )
  }
  if (cert.maxPathLength !== undefined && depth > 0 && depth - 1 > cert.maxPathLength) {
    return refuse(
      'CA_NOT_AUTHORIZED',
      `the ${which} certificate allows ${cert.maxPathLength} intermediates below it, the chain has ${depth - 1}`,
      'the chain is longer than its CA allows',
      { certificate: which },
    )
  }
  return undefined
}

function issues(parent: SigstoreCertificate, child: SigstoreCertificate): boolean {
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(child.signatureAlgorithm)) return false
  if (!constantTimeEqual(parent.subject, child.issuer)) return false
  try {
    return child.x509.verify(parent.publicKey)
  } catch {
    return false
  }
}

/**
 * The chain from `leaf` to a trusted root, leaf first, root last.
 *
 * @throws {@link VerificationError} `ERR_<AUTHORITY>_SIGNATURE_ALGORITHM`, `…_CHAIN_UNTRUSTED`,
 *   `…_CERTIFICATE_EXPIRED`, `…_CERTIFICATE_NOT_YET_VALID`, `…_UNSUPPORTED_EXTENSION`,
 *   `…_KEY_USAGE`, `…_CA_NOT_AUTHORIZED`.
 */
export function verifyCertificateChain(input: CertificateChainInput): SigstoreCertificate[] {
  const { authority, leaf, time } = input
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(leaf.signatureAlgorithm)) {
    throw certificateRefusal(
      authority,
      'SIGNATURE_ALGORITHM',
      `the leaf is signed with algorithm ${leaf.signatureAlgorithm}, which is not accepted`,
      'certificates must be signed with ECDSA, RSA (SHA-256 or stronger) or Ed25519',
      { oid: leaf.signatureAlgorithm },
    )
  }
  const leafProblem = checkCertificate(authority, leaf, 0, false, time)
  if (leafProblem !== undefined) throw leafProblem

  // Depth-first search over issuers, roots first, as Go's buildChains does. The first complete
  // chain wins; otherwise the first specific problem met is reported.
  let problem: VerificationError | undefined
  const search = (chain: SigstoreCertificate[]): SigstoreCertificate[] | undefined => {
    const child = chain[chain.length - 1]
    if (child === undefined || chain.length > MAX_CHAIN_LENGTH) return undefined
    for (const root of input.roots) {
      if (!issues(root, child)) continue
      const p = checkCertificate(authority, root, chain.length, true, time)
      if (p === undefined) return [...chain, root]
      problem ??= p
    }
    for (const intermediate of input.intermediates) {
      if (chain.includes(intermediate) || !issues(intermediate, child)) continue
      const p = checkCertificate(authority, intermediate, chain.length, false, time)
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
      certificateRefusal(
        authority,
        'CHAIN_UNTRUSTED',
        `the leaf does not chain to a trusted ${authority === 'PKI' ? 'root' : 'Fulcio CA'}`,
        input.untrustedHint,
        { roots: input.roots.length, intermediates: input.intermediates.length },
      )
    )
  }
  return chain
}
