/**
 * Reading Fulcio material for sigstore verification: the trusted CA certificates of a policy, the
 * `dev.sigstore.cosign/certificate` and `dev.sigstore.cosign/chain` annotations of a signature, and
 * the OIDC issuer a Fulcio leaf records.
 *
 * ```text
 * 1.3.6.1.4.1.57264.1.1   OIDC issuer (v1, deprecated): extnValue is the raw issuer URL bytes
 * 1.3.6.1.4.1.57264.1.8   OIDC issuer (v2): extnValue is a DER UTF8String
 * ```
 *
 * When both issuer extensions are present they must agree, or the certificate is refused
 * (containers/image `fulcioIssuerInCertificate`).
 *
 * @see containers/image `signature/fulcio_cert.go`; sigstore/fulcio `docs/oid-info.md`.
 * @module
 */
import {
  MalformedInputError,
  VerificationError,
  decodeDerIa5String,
  decodeDerPrintableString,
  decodeDerUtf8String,
  isInitguardError,
  parseDer,
  utf8ToString,
  type ErrorDetails,
} from '@initguard/core'
import { certificateRefusal, type CertificateAuthority } from './sigstore-chain.ts'
import { readPemBlocks } from './sigstore-pem.ts'
import { parseSigstoreCertificate, type SigstoreCertificate } from './sigstore-x509.ts'

/** Fulcio's certificate extension OIDs for the OIDC issuer. */
export const FULCIO_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
} as const

/**
 * A Fulcio verification failure.
 *
 * @internal shared with `fulcio-certificate.ts`.
 */
export function refuse(
  code: `ERR_FULCIO_${string}`,
  message: string,
  hint: string,
  details: ErrorDetails = {},
  cause?: unknown,
): VerificationError {
  return certificateRefusal(
    'Fulcio',
    code.slice('ERR_FULCIO_'.length),
    message,
    hint,
    details,
    cause,
  )
}

/**
 * Every PEM block of `text` as a certificate; anything else is refused through `wrap`.
 *
 * @internal shared with `pki-certificate.ts`.
 */
export function parseCertificates(
  text: string,
  field: string,
  wrap: (message: string, cause?: unknown) => Error,
): SigstoreCertificate[] {
  try {
    return readPemBlocks(text, field, 'ERR_SIGSTORE_PEM_INVALID').map((block, i) => {
      if (block.label !== 'CERTIFICATE')
        throw wrap(`PEM block ${i + 1} is "${block.label}", not a CERTIFICATE`)
      return parseSigstoreCertificate(block.der, `${field} #${i + 1}`)
    })
  } catch (cause) {
    if (!isInitguardError(cause) || cause instanceof VerificationError) throw cause
    throw wrap(cause.message, cause)
  }
}

/**
 * Parse the trusted Fulcio CA certificates (policy `fulcio.caPath` / `caData`): one or more PEM
 * `CERTIFICATE` blocks, nothing else.
 *
 * @throws {@link MalformedInputError} `ERR_FULCIO_CA_INVALID`.
 */
export function parseFulcioCaCertificates(pem: Uint8Array): SigstoreCertificate[] {
  const wrap = (message: string, cause?: unknown): MalformedInputError =>
    new MalformedInputError('ERR_FULCIO_CA_INVALID', `Fulcio CA certificates: ${message}`, {
      hint: 'give the Fulcio root (and intermediate) CA certificates as PEM, e.g. fulcio_v1.crt.pem',
      ...(cause === undefined ? {} : { cause }),
    })
  const certificates = parseCertificates(new TextDecoder().decode(pem), 'Fulcio CA', wrap)
  if (certificates.length === 0) throw wrap('no certificate found')
  return certificates
}

/** The refusal of a malformed `what` (an annotation), each message naming it. */
function annotationRefusal(
  authority: CertificateAuthority,
  suffix: 'CERTIFICATE_MALFORMED' | 'CHAIN_MALFORMED',
  what: string,
  hint: string,
): (message: string, cause?: unknown) => VerificationError {
  return (message, cause) =>
    certificateRefusal(authority, suffix, `the ${what}: ${message}`, hint, {}, cause)
}

/**
 * Parse the `dev.sigstore.cosign/certificate` annotation: exactly one PEM certificate, with nothing
 * after its END line (containers/image compares it with the Rekor entry through `pem.Decode` and
 * refuses any rest).
 *
 * @param authority - whose certificate the policy expects; names the error code (`pki` signatures
 *   carry the same annotation).
 * @throws {@link VerificationError} `ERR_FULCIO_CERTIFICATE_MALFORMED` (`ERR_PKI_…` for `PKI`).
 */
export function parseFulcioLeafCertificate(
  annotation: string,
  authority: CertificateAuthority = 'Fulcio',
): SigstoreCertificate {
  const wrap = annotationRefusal(
    authority,
    'CERTIFICATE_MALFORMED',
    'certificate annotation',
    'the dev.sigstore.cosign/certificate annotation must hold the one PEM certificate cosign attached',
  )
  const certificates = parseCertificates(annotation, 'certificate annotation', wrap)
  const [leaf] = certificates
  if (leaf === undefined || certificates.length !== 1) {
    throw wrap(`holds ${certificates.length} certificates, not 1`)
  }
  const end = readPemBlocks(annotation, 'certificate annotation', 'ERR_SIGSTORE_PEM_INVALID')[0]
    ?.end
  if (end !== annotation.length) throw wrap('has data after the END line')
  return leaf
}

/**
 * Parse the `dev.sigstore.cosign/chain` annotation and return the intermediates to use: every
 * certificate but the last, which cosign writes as the root and which only the policy may supply.
 *
 * @param authority - as for {@link parseFulcioLeafCertificate}.
 * @throws {@link VerificationError} `ERR_FULCIO_CHAIN_MALFORMED` (`ERR_PKI_…` for `PKI`).
 */
export function parseFulcioChain(
  annotation: string,
  authority: CertificateAuthority = 'Fulcio',
): SigstoreCertificate[] {
  const wrap = annotationRefusal(
    authority,
    'CHAIN_MALFORMED',
    'chain annotation',
    'the dev.sigstore.cosign/chain annotation must hold PEM certificates',
  )
  return parseCertificates(annotation, 'chain annotation', wrap).slice(0, -1)
}

/**
 * The OIDC issuer a Fulcio leaf records (v1 raw or v2 UTF8String extension).
 *
 * @throws {@link VerificationError} `ERR_FULCIO_ISSUER_MISSING`, `ERR_FULCIO_ISSUER_MALFORMED`,
 *   `ERR_FULCIO_ISSUER_INCONSISTENT` (v1 and v2 differ).
 */
export function fulcioOidcIssuer(leaf: SigstoreCertificate): string {
  const v1 = leaf.extensions.get(FULCIO_OID.issuerV1)
  const v2 = leaf.extensions.get(FULCIO_OID.issuerV2)
  const malformed = (which: string, cause: unknown): VerificationError =>
    refuse(
      'ERR_FULCIO_ISSUER_MALFORMED',
      `the OIDC issuer ${which} extension does not decode`,
      'the certificate was not issued by Fulcio',
      { extension: which },
      cause,
    )
  let issuer1: string | undefined
  let issuer2: string | undefined
  if (v1 !== undefined) {
    try {
      issuer1 = utf8ToString(v1.value, { field: 'OIDC issuer (v1)' })
    } catch (cause) {
      throw malformed('v1', cause)
    }
  }
  if (v2 !== undefined) {
    try {
      const el = parseDer(v2.value, { name: 'OIDC issuer (v2)' })
      // Go's asn1.Unmarshal into a string takes any of the string types; Fulcio writes UTF8String.
      issuer2 =
        el.tagNumber === 19 && el.tagClass === 'universal'
          ? decodeDerPrintableString(el, 'OIDC issuer')
          : el.tagNumber === 22 && el.tagClass === 'universal'
            ? decodeDerIa5String(el, 'OIDC issuer')
            : decodeDerUtf8String(el, 'OIDC issuer')
    } catch (cause) {
      throw malformed('v2', cause)
    }
  }
  if (issuer1 !== undefined && issuer2 !== undefined && issuer1 !== issuer2) {
    throw refuse(
      'ERR_FULCIO_ISSUER_INCONSISTENT',
      'the v1 and v2 OIDC issuer extensions name different issuers',
      'the certificate contradicts itself; it was not issued by a genuine Fulcio',
    )
  }
  const issuer = issuer1 ?? issuer2
  if (issuer === undefined) {
    throw refuse(
      'ERR_FULCIO_ISSUER_MISSING',
      'the leaf has no OIDC issuer extension',
      'the certificate was not issued by Fulcio; use a keyPath policy for other certificates',
    )
  }
  return issuer
}
