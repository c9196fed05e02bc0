/**
 * The `pki` key source of `sigstoreSigned` (containers/image 5.35, `signature/pki_cert.go`):
 * a signature made with a certificate from the user's own PKI instead of Fulcio. The
 * `dev.sigstore.cosign/certificate` leaf must chain to one of the policy's roots
 * (`caRootsPath` / `caRootsData`), through the policy's intermediates (`caIntermediates…`) and
 * the certificates of the `dev.sigstore.cosign/chain` annotation except its last one (cosign puts
 * the root last; only the policy supplies roots), with code signing allowed wherever extended key
 * usage is given, every certificate valid at the time of the decision (there is no Rekor time:
 * Rekor keys are refused with `pki`); then its SAN must list `subjectEmail` and match
 * `subjectHostname` (Go's `VerifyHostname`), whichever the policy gives (at least one).
 *
 * @see containers/image `signature/pki_cert.go`, `signature/policy_eval_sigstore.go`.
 * @module
 */
import { MalformedInputError, VerificationError, isInitguardError } from '@initguard/core'
import { parseCertificates } from './fulcio-parse.ts'
import { certificateMatchesHostname } from './pki-hostname.ts'
import { certificateRefusal, verifyCertificateChain } from './sigstore-chain.ts'
import { sigstoreKeyFromKeyObject, type SigstorePublicKey } from './sigstore-public-key.ts'
import type { SigstoreCertificate } from './sigstore-x509.ts'

/** Which PEM file of the policy's `pki` block. */
export type PkiCertificateFile = 'caRoots' | 'caIntermediates'

/**
 * Parse the policy's PKI roots or intermediates: one or more PEM `CERTIFICATE` blocks, nothing
 * else.
 *
 * @throws {@link MalformedInputError} `ERR_PKI_CA_ROOTS_INVALID`, `ERR_PKI_CA_INTERMEDIATES_INVALID`.
 */
export function parsePkiCertificates(
  pem: Uint8Array,
  which: PkiCertificateFile,
): SigstoreCertificate[] {
  const code = which === 'caRoots' ? 'ERR_PKI_CA_ROOTS_INVALID' : 'ERR_PKI_CA_INTERMEDIATES_INVALID'
  const wrap = (message: string, cause?: unknown): MalformedInputError =>
    new MalformedInputError(code, `pki.${which}: ${message}`, {
      details: { field: `pki.${which}` },
      hint: `give the ${which === 'caRoots' ? 'root' : 'intermediate'} CA certificates as PEM (${which}Path or ${which}Data)`,
      ...(cause === undefined ? {} : { cause }),
    })
  const certificates = parseCertificates(new TextDecoder().decode(pem), `pki.${which}`, wrap)
  if (certificates.length === 0) throw wrap('no certificate found')
  return certificates
}

/** What {@link verifyPkiCertificate} checks. */
export interface PkiCertificateInput {
  /** The policy's roots. */
  readonly roots: readonly SigstoreCertificate[]
  /** The policy's intermediates and the signature's chain (without its last certificate). */
  readonly intermediates: readonly SigstoreCertificate[]
  /** The signature's leaf certificate. */
  readonly leaf: SigstoreCertificate
  /** The email the leaf's SAN must list, when given. */
  readonly subjectEmail?: string | undefined
  /** The host name the leaf must be valid for, when given. */
  readonly subjectHostname?: string | undefined
  /** When the chain must be valid: the time of the decision. */
  readonly time: Date
}

/** A leaf that chains to a policy root and names the expected subject. */
export interface VerifiedPkiCertificate {
  /** The leaf's key, to verify the signature with. */
  readonly publicKey: SigstorePublicKey
  /** The chain found, leaf first, trusted root last. */
  readonly chain: readonly SigstoreCertificate[]
}

const short = (names: readonly string[]): string =>
  names.length === 0 ? 'none' : names.map((n) => n.slice(0, 100)).join(', ')

/**
 * Verify a `pki` leaf: chain, validity at `time`, then email and host name.
 *
 * @throws {@link VerificationError} the `ERR_PKI_*` chain errors of `verifyCertificateChain`,
 *   `ERR_PKI_EMAIL_MISMATCH`, `ERR_PKI_HOSTNAME_MISMATCH`, `ERR_PKI_KEY_UNSUPPORTED`.
 * @throws {@link MalformedInputError} `ERR_PKI_SUBJECT_MISSING` when neither subject is given.
 */
export function verifyPkiCertificate(input: PkiCertificateInput): VerifiedPkiCertificate {
  const { leaf, subjectEmail, subjectHostname } = input
  if ((subjectEmail ?? '') === '' && (subjectHostname ?? '') === '') {
    throw new MalformedInputError(
      'ERR_PKI_SUBJECT_MISSING',
      'pki needs subjectEmail or subjectHostname',
      { hint: 'set pki.subjectEmail and/or pki.subjectHostname in the policy' },
    )
  }
  const chain = verifyCertificateChain({
    authority: 'PKI',
    roots: input.roots,
    intermediates: input.intermediates,
    leaf,
    time: input.time,
    untrustedHint:
      'give the root that issued it (pki.caRootsPath / caRootsData) and the intermediates (pki.caIntermediatesPath, or the dev.sigstore.cosign/chain annotation)',
  })
  if (
    subjectEmail !== undefined &&
    subjectEmail !== '' &&
    !leaf.emailAddresses.includes(subjectEmail)
  ) {
    throw certificateRefusal(
      'PKI',
      'EMAIL_MISMATCH',
      `the certificate does not name ${subjectEmail} (its emails: ${short(leaf.emailAddresses)})`,
      'the image was signed by someone else; check pki.subjectEmail in the policy',
      { emails: leaf.emailAddresses.map((e) => e.slice(0, 100)) },
    )
  }
  if (
    subjectHostname !== undefined &&
    subjectHostname !== '' &&
    !certificateMatchesHostname(leaf, subjectHostname)
  ) {
    throw certificateRefusal(
      'PKI',
      'HOSTNAME_MISMATCH',
      `the certificate is not valid for ${subjectHostname} (its DNS names: ${short(leaf.dnsNames)}; IP addresses: ${leaf.ipAddresses.length})`,
      'the image was signed by another host; check pki.subjectHostname in the policy',
      { dnsNames: leaf.dnsNames.map((n) => n.slice(0, 100)) },
    )
  }
  try {
    return { publicKey: sigstoreKeyFromKeyObject(leaf.publicKey, 'PKI leaf key'), chain }
  } catch (cause) {
    if (!isInitguardError(cause) || cause instanceof VerificationError) throw cause
    throw certificateRefusal(
      'PKI',
      'KEY_UNSUPPORTED',
      'the leaf key is of a type sigstore signatures cannot use',
      'sign with an ECDSA, RSA or Ed25519 certificate',
      {},
      cause,
    )
  }
}
