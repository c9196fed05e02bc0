/**
 * Cryptographic verification of one sigstore (cosign) signature, the signature step of
 * containers/image's `sigstoreSigned` requirement (`signature/policy_eval_sigstore.go`
 * `isSignatureAccepted`, up to `VerifySigstorePayload`'s signature check). The payload JSON is not
 * read here: the verified bytes are returned for the payload parser.
 *
 * A signature is a payload and its annotations, from a `.sig` attachment layer in a registry or a
 * `dir:` image's `signature-N` file ({@link parseDirSigstoreSignature}):
 *
 * ```text
 * payload                              the bytes signed (simple-signing JSON)
 * dev.cosignproject.cosign/signature   base64 signature over the payload bytes (always required)
 * dev.sigstore.cosign/bundle           Rekor SET JSON (required when Rekor keys are trusted)
 * dev.sigstore.cosign/certificate      PEM leaf certificate (Fulcio, PKI)
 * dev.sigstore.cosign/chain            PEM intermediates, then the root (Fulcio, PKI; optional)
 * ```
 *
 * Pipeline, as containers/image orders it:
 * 1. public keys: with Rekor keys, the SET must verify and its entry name one of the keys, which
 *    is then the only key tried; the signature must verify with a key.
 * 2. Fulcio: the SET must verify and name the leaf certificate; the leaf must chain to the CA at
 *    the SET's integrated time and name the OIDC issuer and email; the signature must verify
 *    with the leaf's key.
 * 3. PKI: the leaf must chain to the policy's roots (through its intermediates and the chain
 *    annotation) at `now` and name the subject email and/or host name; the signature must verify
 *    with the leaf's key. No Rekor SET is involved.
 *
 * @see containers/image `signature/policy_eval_sigstore.go`, `signature/fulcio_cert.go`,
 *   `signature/internal/rekor_set.go`, `signature/internal/sigstore_payload.go`.
 * @module
 */
import { UsageError, base64ToBytes } from '@initguard/core'
import { refuseSignature } from './signature-refusal.ts'
import { verifyFulcioCertificate } from './fulcio-certificate.ts'
import { parseFulcioChain, parseFulcioLeafCertificate } from './fulcio-parse.ts'
import { verifyPkiCertificate } from './pki-certificate.ts'
import { verifyRekorSet } from './rekor-set.ts'
import type { SigstoreCertificate } from './sigstore-x509.ts'
import { verifyWithSigstoreKey, type SigstorePublicKey } from './sigstore-public-key.ts'
import {
  prepareSigstoreTrust,
  type PreparedSigstoreTrust,
  type SigstoreTrust,
} from './sigstore-trust.ts'

export type {
  FulcioTrust,
  PkiTrust,
  SigstoreTrust,
  PreparedSigstoreTrust,
} from './sigstore-trust.ts'

/** One sigstore signature: the payload bytes and the annotations that came with them. */
export interface SigstoreSignature {
  /** The signed payload, exactly as stored. */
  readonly payload: Uint8Array
  /** The attachment layer's annotations (or the `annotations` of a `dir:` signature file). */
  readonly annotations: ReadonlyMap<string, string>
}

/** The annotation keys cosign and containers/image use. */
export const SIGSTORE_ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  bundle: 'dev.sigstore.cosign/bundle',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
} as const

/** The identity a Fulcio certificate vouched for. */
export interface SigstoreCertificateSubject {
  /** The OIDC issuer recorded in the leaf (equal to the policy's). */
  readonly oidcIssuer: string
  /** The email the policy required (one of {@link emailAddresses}). */
  readonly subjectEmail: string
  /** Every SAN email of the leaf. */
  readonly emailAddresses: readonly string[]
}

/** A signature that verified. */
export interface VerifiedSigstoreSignature {
  /** The payload bytes the signature covers: parse these, and only these. */
  readonly payloadBytes: Uint8Array
  /** Which key verified it, for messages and logs. */
  readonly keyDescription: string
  /** SHA-256 of the verifying key's SubjectPublicKeyInfo DER, lower-case hex. */
  readonly signerFingerprint: string
  /** When Rekor logged the signature, when a SET was checked. */
  readonly rekorIntegratedTime?: Date
  /** For Fulcio signatures: the identity the certificate names. */
  readonly certificateSubject?: SigstoreCertificateSubject
}

function annotation(signature: SigstoreSignature, key: string): string | undefined {
  return signature.annotations.get(key)
}

/**
 * The value of an annotation the signature must have.
 *
 * @throws {@link VerificationError} `code` with `hint` when the signature has no such annotation.
 */
function requiredAnnotation(
  signature: SigstoreSignature,
  key: string,
  code: `ERR_SIGSTORE_${string}`,
  hint: string,
): string {
  const value = annotation(signature, key)
  if (value === undefined) {
    throw refuseSignature(code, `the signature has no ${key} annotation`, hint, { annotation: key })
  }
  return value
}

function verifyPayload(
  keys: readonly SigstorePublicKey[],
  payload: Uint8Array,
  signature: Uint8Array,
): SigstorePublicKey {
  const key = keys.find((k) => verifyWithSigstoreKey(k, payload, signature))
  if (key === undefined) {
    throw refuseSignature(
      'ERR_SIGSTORE_SIGNATURE_INVALID',
      `the signature does not verify with ${keys.length === 1 ? 'the trusted key' : `any of the ${keys.length} trusted keys`}`,
      'the image was signed with another key, or the payload or signature was altered; check the policy keys',
      { keys: keys.length },
    )
  }
  return key
}

function snapshot(signature: SigstoreSignature, now: Date): SigstoreSignature {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new UsageError('ERR_SIGSTORE_NOW_INVALID', 'now must be a valid Date', {
      hint: 'pass the current time (or the time to verify at) as a Date',
    })
  }
  const { payload, annotations } = signature as Partial<SigstoreSignature>
  if (!(payload instanceof Uint8Array) || !(annotations instanceof Map)) {
    throw new UsageError(
      'ERR_SIGSTORE_SIGNATURE_ARGUMENT',
      'a sigstore signature is { payload: Uint8Array, annotations: Map<string, string> }',
      { hint: 'read signatures with parseDirSigstoreSignature or from the attachment layer' },
    )
  }
  // Copy once so that the caller changing its buffers cannot change what was verified (`new
  // Uint8Array`, not `.slice()`: a Node Buffer's slice is a view of the caller's memory).
  return { payload: new Uint8Array(payload), annotations: new Map(annotations) }
}

/**
 * Verify one sigstore signature against the policy's trust material.
 *
 * @param trust - the trust material, raw or already prepared ({@link prepareSigstoreTrust}; prepare
 *   it once when verifying many signatures).
 * @param now - the current time: a Rekor entry dated more than five minutes later is refused, and
 *   PKI certificates must be valid then. Fulcio certificates are checked at the Rekor integrated
 *   time, as containers/image does.
 * @example
 * ```ts
 * const verified = verifySigstoreSignature(
 *   parseDirSigstoreSignature(readFileSync('img/signature-1')),
 *   { publicKeys: [readFileSync('cosign.pub')] },
 *   new Date(),
 * )
 * parseSignaturePayload(verified.payloadBytes, 'cosign container image signature')
 * ```
 * @throws {@link VerificationError} `ERR_SIGSTORE_SIGNATURE_MISSING`,
 *   `ERR_SIGSTORE_SIGNATURE_ENCODING`, `ERR_SIGSTORE_SIGNATURE_INVALID`,
 *   `ERR_SIGSTORE_BUNDLE_MISSING`, `ERR_SIGSTORE_CERTIFICATE_MISSING`, every `ERR_REKOR_*` of
 *   {@link verifyRekorSet}, `ERR_FULCIO_*` of {@link verifyFulcioCertificate} and `ERR_PKI_*` of
 *   {@link verifyPkiCertificate}.
 * @throws the errors of {@link prepareSigstoreTrust} for unusable trust material, and
 *   {@link UsageError} `ERR_SIGSTORE_NOW_INVALID`, `ERR_SIGSTORE_SIGNATURE_ARGUMENT`.
 */
export function verifySigstoreSignature(
  signature: SigstoreSignature,
  trust: SigstoreTrust | PreparedSigstoreTrust,
  now: Date,
): VerifiedSigstoreSignature {
  const sig = snapshot(signature, now)
  const prepared = 'prepared' in trust ? trust : prepareSigstoreTrust(trust)

  const base64 = requiredAnnotation(
    sig,
    SIGSTORE_ANNOTATION.signature,
    'ERR_SIGSTORE_SIGNATURE_MISSING',
    'the attachment is not a cosign signature, or it was stripped of its annotations',
  )
  let signatureBytes: Uint8Array
  try {
    // Go's base64.StdEncoding skips CR and LF, and cosign wraps RSA signatures at 76 columns.
    signatureBytes = base64ToBytes(base64, { field: 'signature', allowLineBreaks: true })
  } catch (cause) {
    throw refuseSignature(
      'ERR_SIGSTORE_SIGNATURE_ENCODING',
      `the ${SIGSTORE_ANNOTATION.signature} annotation is not base64`,
      'the signature annotation was damaged; sign again',
      {},
      cause,
    )
  }
  const bundle = (): string =>
    requiredAnnotation(
      sig,
      SIGSTORE_ANNOTATION.bundle,
      'ERR_SIGSTORE_BUNDLE_MISSING',
      'the policy requires a Rekor SET; sign with cosign and upload to the transparency log (not --tlog-upload=false)',
    )

  const context: Context = { sig, signatureBytes, rekorKeys: prepared.rekorKeys, bundle, now }
  switch (prepared.kind) {
    case 'keys':
      return verifyWithKeys(context, prepared.keys)
    case 'fulcio':
      return verifyWithFulcio(context, prepared)
    case 'pki':
      return verifyWithPki(context, prepared)
  }
}

/** What the verification paths share. */
interface Context {
  readonly sig: SigstoreSignature
  readonly signatureBytes: Uint8Array
  readonly rekorKeys: readonly SigstorePublicKey[] | undefined
  readonly bundle: () => string
  readonly now: Date
}

function verifyWithKeys(
  { sig, signatureBytes, rekorKeys, bundle, now }: Context,
  trustedKeys: readonly SigstorePublicKey[],
): VerifiedSigstoreSignature {
  let keys = trustedKeys
  let rekorIntegratedTime: Date | undefined
  if (rekorKeys !== undefined) {
    const set = verifyRekorSet({
      bundle: bundle(),
      rekorPublicKeys: rekorKeys,
      signature: signatureBytes,
      payload: sig.payload,
      keyOrCertificateCandidates: keys.map((k) => k.spki),
      now,
    })
    // The entry names one key: only that key may verify the signature (containers/image too).
    keys = keys.filter((_, i) => i === set.matchedCandidate)
    rekorIntegratedTime = set.integratedTime
  }
  const key = verifyPayload(keys, sig.payload, signatureBytes)
  return {
    payloadBytes: sig.payload,
    keyDescription: key.description,
    signerFingerprint: key.fingerprint,
    ...(rekorIntegratedTime === undefined ? {} : { rekorIntegratedTime }),
  }
}

/** The leaf certificate annotation, required by the Fulcio and PKI paths. */
function certificateAnnotation(sig: SigstoreSignature, hint: string): string {
  return requiredAnnotation(
    sig,
    SIGSTORE_ANNOTATION.certificate,
    'ERR_SIGSTORE_CERTIFICATE_MISSING',
    hint,
  )
}

/**
 * The leaf certificate the signature carries, parsed now, and the intermediates it carries, parsed
 * when asked (the Fulcio path reads them only after the Rekor SET has verified).
 */
/** What the policy trusts, as the hint for a signature without a certificate names it. */
const TRUSTED_CERTIFICATES = { Fulcio: 'Fulcio certificates', PKI: 'certificates of a PKI' }

function signatureCertificates(
  sig: SigstoreSignature,
  authority: 'Fulcio' | 'PKI',
): { leaf: SigstoreCertificate; intermediates: () => SigstoreCertificate[] } {
  const hint = `the policy trusts ${TRUSTED_CERTIFICATES[authority]}, but this signature was made with a key (cosign sign --key)`
  const leaf = parseFulcioLeafCertificate(certificateAnnotation(sig, hint), authority)
  const chainText = annotation(sig, SIGSTORE_ANNOTATION.chain)
  return {
    leaf,
    intermediates: () =>
      chainText === undefined || chainText === '' ? [] : parseFulcioChain(chainText, authority),
  }
}

function verifyWithFulcio(
  { sig, signatureBytes, rekorKeys, bundle, now }: Context,
  trust: Extract<PreparedSigstoreTrust, { kind: 'fulcio' }>,
): VerifiedSigstoreSignature {
  const { leaf, intermediates } = signatureCertificates(sig, 'Fulcio')
  // The SET comes first: it supplies the time at which the certificate chain is checked.
  const set = verifyRekorSet({
    bundle: bundle(),
    rekorPublicKeys: rekorKeys ?? [],
    signature: signatureBytes,
    payload: sig.payload,
    keyOrCertificateCandidates: [leaf.der],
    now,
  })
  const fulcio = verifyFulcioCertificate({
    roots: trust.roots,
    leaf,
    intermediates: intermediates(),
    oidcIssuer: trust.oidcIssuer,
    subjectEmail: trust.subjectEmail,
    time: set.integratedTime,
  })
  const key = verifyPayload([fulcio.publicKey], sig.payload, signatureBytes)
  return {
    payloadBytes: sig.payload,
    keyDescription: `Fulcio certificate for ${trust.subjectEmail} (issuer ${fulcio.oidcIssuer}), ${key.description}`,
    signerFingerprint: key.fingerprint,
    rekorIntegratedTime: set.integratedTime,
    certificateSubject: {
      oidcIssuer: fulcio.oidcIssuer,
      subjectEmail: trust.subjectEmail,
      emailAddresses: fulcio.emailAddresses,
    },
  }
}

function verifyWithPki(
  { sig, signatureBytes, now }: Context,
  trust: Extract<PreparedSigstoreTrust, { kind: 'pki' }>,
): VerifiedSigstoreSignature {
  const { leaf, intermediates } = signatureCertificates(sig, 'PKI')
  const pki = verifyPkiCertificate({
    roots: trust.roots,
    intermediates: [...trust.intermediates, ...intermediates()],
    leaf,
    subjectEmail: trust.subjectEmail,
    subjectHostname: trust.subjectHostname,
    time: now,
  })
  const key = verifyPayload([pki.publicKey], sig.payload, signatureBytes)
  const subject = [trust.subjectEmail, trust.subjectHostname].filter((s) => s !== undefined)
  return {
    payloadBytes: sig.payload,
    keyDescription: `PKI certificate for ${subject.join(' and ')}, ${key.description}`,
    signerFingerprint: key.fingerprint,
  }
}
