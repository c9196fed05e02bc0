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
 *                              userCertificate CertificateSerialNumber, revocationDate Time } OPTIONAL }
 * ```
 *
 * @module
 */
import type { KeyObject } from 'node:crypto'
import { derBitString, derInteger, derSequence, derTime } from './der-writer.ts'
import {
  encodeSignatureAlgorithm,
  encodeX509Name,
  signTbs,
  type X509Name,
  type X509SignatureAlgorithm,
} from './x509-builder.ts'

/** One revoked certificate. */
export interface RevokedCertificate {
  readonly serialNumber: bigint
  readonly revocationDate: Date
}

/** What goes into a CRL. */
export interface X509CrlFields {
  readonly issuer: X509Name
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  readonly revoked: readonly RevokedCertificate[]
  readonly signatureAlgorithm: X509SignatureAlgorithm
}

/** Build and sign a CRL (DER). */
export function buildX509Crl(fields: X509CrlFields, issuerPrivateKey: KeyObject): Uint8Array {
  const algorithm = encodeSignatureAlgorithm(fields.signatureAlgorithm, {
    pssTrailerField: 'explicit',
  })
  const tbs = derSequence([
    derInteger(1n),
    algorithm,
    encodeX509Name(fields.issuer),
    derTime(fields.thisUpdate),
    derTime(fields.nextUpdate),
    ...(fields.revoked.length === 0
      ? []
      : [
          derSequence(
            fields.revoked.map((r) =>
              derSequence([derInteger(r.serialNumber), derTime(r.revocationDate)]),
            ),
          ),
        ]),
  ])
  return derSequence([
    tbs,
    algorithm,
    derBitString(signTbs(fields.signatureAlgorithm, tbs, issuerPrivateKey)),
  ])
}
