/**
 * Build X.509 v2 CRLs (RFC 5280 §5) for tests: AMD's per-product CRLs signed by the ARK, Intel's
 * PCK and Root CA CRLs.
 *
 * ```asn1
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
 *                                signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version INTEGER (v2 = 1), signature AlgorithmIdentifier, issuer Name,
 *                            thisUpdate Time, nextUpdate Time,
 *                            revokedCertificates SEQUENCE OF SEQUENCE {
 *                              userCertificate CertificateSerialNumber, revocationDate Time,
 *                              crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *                            crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * Intel's CRLs carry CRL extensions (CRL number, authority key identifier) and a reason code on
 * every entry; {@link encodeCrlNumber} and {@link encodeCrlReason} encode those values.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto'
import {
  derBitString,
  derEnumerated,
  derExplicit,
  derInteger,
  derSequence,
  derTime,
} from './der-writer.ts'
import {
  encodeSignatureAlgorithm,
  encodeX509Extension,
  encodeX509Name,
  signTbs,
  type X509Extension,
  type X509Name,
  type X509SignatureAlgorithm,
} from './x509-builder.ts'

/** One revoked certificate. */
export interface RevokedCertificate {
  readonly serialNumber: bigint
  readonly revocationDate: Date
  /** `crlEntryExtensions` in encoding order (e.g. a reason code); none when absent or empty. */
  readonly extensions?: readonly X509Extension[]
}

/** What goes into a CRL. */
export interface X509CrlFields {
  readonly issuer: X509Name
  readonly thisUpdate: Date
  /** `null` leaves the field out (RFC 5280 says an issuer must not; for negative tests). */
  readonly nextUpdate: Date | null
  readonly revoked: readonly RevokedCertificate[]
  readonly signatureAlgorithm: X509SignatureAlgorithm
  /** `crlExtensions [0]` in encoding order; no `[0]` field when absent or empty. */
  readonly extensions?: readonly X509Extension[]
}

/** `extnValue` of CRLNumber (RFC 5280 §5.2.3): `INTEGER`. Intel's CRLs carry `02 01 01`. */
export function encodeCrlNumber(crlNumber: bigint | number): Uint8Array {
  return derInteger(crlNumber)
}

/**
 * `extnValue` of a CRL entry's reasonCode (RFC 5280 §5.3.1): `ENUMERATED`, e.g. 1 keyCompromise
 * (`0a 01 01`, as on every entry of Intel's PCK CRLs).
 */
export function encodeCrlReason(reasonCode: number): Uint8Array {
  return derEnumerated(reasonCode)
}

function extensionsOf(extensions: readonly X509Extension[] | undefined): Uint8Array[] {
  return extensions === undefined || extensions.length === 0
    ? []
    : [derSequence(extensions.map(encodeX509Extension))]
}

/** Build and sign a CRL (DER). */
export function buildX509Crl(fields: X509CrlFields, issuerPrivateKey: KeyObject): Uint8Array {
  const algorithm = encodeSignatureAlgorithm(fields.signatureAlgorithm, {
    pssTrailerField: 'explicit',
  })
  const crlExtensions = extensionsOf(fields.extensions)
  const tbs = derSequence([
    derInteger(1n),
    algorithm,
    encodeX509Name(fields.issuer),
    derTime(fields.thisUpdate),
    ...(fields.nextUpdate === null ? [] : [derTime(fields.nextUpdate)]),
    ...(fields.revoked.length === 0
      ? []
      : [
          derSequence(
            fields.revoked.map((r) =>
              derSequence([
                derInteger(r.serialNumber),
                derTime(r.revocationDate),
                ...extensionsOf(r.extensions),
              ]),
            ),
          ),
        ]),
    ...crlExtensions.map((e) => derExplicit(0, e)),
  ])
  return derSequence([
    tbs,
    algorithm,
    derBitString(signTbs(fields.signatureAlgorithm, tbs, issuerPrivateKey)),
  ])
}
