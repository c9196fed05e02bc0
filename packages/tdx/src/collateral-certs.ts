/**
 * The X.509 certificates of Intel's collateral chains (Root CA, TCB Signing, PCK Platform/Processor
 * CA): read by core's certificate reader (exact issuer/subject bytes, serial number, validity,
 * signature algorithm, the key), with the common names and the serial-number form used here.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                            signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT INTEGER, serialNumber INTEGER,
 *                               signature AlgorithmIdentifier, issuer Name, validity Validity,
 *                               subject Name, subjectPublicKeyInfo …, extensions [3] … }
 * ```
 *
 * @see RFC 5280 §4.1.
 * @module
 */
import type { X509Certificate, KeyObject } from 'node:crypto'
import {
  MalformedInputError,
  base64ToBytes,
  constantTimeEqual,
  decodeDerOid,
  decodeDerPrintableString,
  decodeDerSequence,
  decodeDerSet,
  decodeDerUtf8String,
  readX509Certificate,
  type DerElement,
} from '@initguard/core'

/** ecdsa-with-SHA256 (RFC 5758 §3.2): how Intel signs every certificate and CRL of SGX/TDX. */
export const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'

const COMMON_NAME = '2.5.4.3'

/** A parsed certificate of an Intel collateral chain. */
export interface CollateralCertificate {
  /** The DER encoding. */
  readonly der: Uint8Array
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string
  /** Node's view of the certificate, for signature checks. */
  readonly x509: X509Certificate
  /** The subject public key. */
  readonly publicKey: KeyObject
  /** The DER of the subject Name: compared byte for byte with issuers of children and CRLs. */
  readonly subject: Uint8Array
  /** The DER of the issuer Name. */
  readonly issuer: Uint8Array
  /** The subject's common name, e.g. `Intel SGX TCB Signing`; empty when there is none. */
  readonly commonName: string
  /** The serial number, normalised as {@link serialKey} does. */
  readonly serialNumber: string
  /** Start of the validity period. */
  readonly notBefore: Date
  /** End of the validity period. */
  readonly notAfter: Date
  /** The signature algorithm OID (inner and outer agree). */
  readonly signatureAlgorithm: string
}

/**
 * A serial number in the one form used for revocation look-ups: lower-case hex of its value, no
 * leading zeros (`0x00A1` and `a1` are the same serial). Accepts a `bigint` or hex text (either
 * case, optional `0x`, optional `:` separators as OpenSSL prints them).
 *
 * @example
 * ```ts
 * serialKey(0xbba6c175n) // 'bba6c175'
 * serialKey('00:BB:A6:C1:75') // 'bba6c175'
 * ```
 */
export function serialKey(serial: bigint | string): string {
  if (typeof serial === 'bigint') return serial.toString(16)
  const hex = serial.replace(/^0x/i, '').replaceAll(':', '').toLowerCase()
  if (!/^[0-9a-f]+$/.test(hex)) {
    throw new MalformedInputError('ERR_TDX_SERIAL_INVALID', 'a serial number is not hex', {
      details: { length: serial.length },
      hint: 'give the serial number as hex digits or as a bigint',
    })
  }
  return hex.replace(/^0+(?=.)/, '')
}

/**
 * The common name in a DER Name (first CN attribute, UTF8String or PrintableString), or `''`.
 *
 * @internal shared with the CRL parser.
 */
export function commonNameOf(name: DerElement, field: string): string {
  for (const rdn of decodeDerSequence(name, field)) {
    for (const attribute of decodeDerSet(rdn, `${field} RDN`)) {
      const [type, value] = decodeDerSequence(attribute, `${field} attribute`)
      if (decodeDerOid(type, `${field} attribute type`) !== COMMON_NAME) continue
      if (value?.tagClass === 'universal' && value.tagNumber === 19) {
        return decodeDerPrintableString(value, `${field} CN`)
      }
      return decodeDerUtf8String(value, `${field} CN`)
    }
  }
  return ''
}

/**
 * The AlgorithmIdentifier's OID, after checking that the copy inside the signed part equals the
 * outer one (RFC 5280 §4.1.1.2, §5.1.1.2).
 *
 * @internal shared with the CRL parser.
 */
export function signatureAlgorithmOf(
  inner: DerElement | undefined,
  outer: DerElement | undefined,
  what: string,
): string {
  if (
    inner === undefined ||
    outer === undefined ||
    !constantTimeEqual(inner.encoded, outer.encoded)
  ) {
    throw new MalformedInputError(
      'ERR_TDX_SIGNATURE_ALGORITHM_MISMATCH',
      `${what}: the signature algorithm inside the signed part differs from the one outside it`,
      { details: { what } },
    )
  }
  return decodeDerOid(decodeDerSequence(outer, `${what} signatureAlgorithm`)[0], what)
}

/**
 * Parse one certificate given as DER bytes or a single PEM block.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_CERT_PEM`, `ERR_TDX_CERT_INVALID`,
 *   `ERR_TDX_SIGNATURE_ALGORITHM_MISMATCH`, and core's `ERR_DER_*` codes.
 */
export function parseCollateralCertificate(
  input: Uint8Array | string,
  what: string,
): CollateralCertificate {
  const fields = readX509Certificate(typeof input === 'string' ? pemToDer(input, what) : input, {
    what,
    codes: {
      invalid: 'ERR_TDX_CERT_INVALID',
      algorithmMismatch: 'ERR_TDX_SIGNATURE_ALGORITHM_MISMATCH',
    },
  })
  const commonName = commonNameOf(fields.subject, `${what} subject`)
  commonNameOf(fields.issuer, `${what} issuer`)
  return {
    der: fields.der,
    fingerprint: fields.fingerprint,
    x509: fields.x509,
    publicKey: fields.publicKey,
    subject: fields.subject.encoded,
    issuer: fields.issuer.encoded,
    commonName,
    serialNumber: serialKey(fields.serialNumber),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    signatureAlgorithm: fields.signatureAlgorithm,
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g

/**
 * Every certificate in a PEM bundle, in order (an issuer chain: leaf first, root last). Text
 * between the blocks is ignored; a bundle without a block, or a block whose body is not base64, is
 * refused.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_CERT_PEM`, `ERR_TDX_CERT_INVALID`, `ERR_DER_*`.
 */
export function parseCollateralCertificates(pem: string, what: string): CollateralCertificate[] {
  const blocks = [...pem.matchAll(PEM_BLOCK)]
  if (blocks.length === 0) {
    throw new MalformedInputError('ERR_TDX_CERT_PEM', `${what} contains no PEM certificate`, {
      details: { what, length: pem.length },
      hint: 'give PEM text with -----BEGIN CERTIFICATE----- blocks',
    })
  }
  return blocks.map((block, i) =>
    parseCollateralCertificate(block[0], blocks.length === 1 ? what : `${what} #${i + 1}`),
  )
}

function pemToDer(pem: string, what: string): Uint8Array {
  const match = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----$/.exec(
    pem.trim(),
  )
  const body = match?.[1]?.replace(/\s+/g, '')
  if (body === undefined || body.length === 0) {
    throw new MalformedInputError('ERR_TDX_CERT_PEM', `${what} is not a single PEM certificate`, {
      details: { what, length: pem.length },
      hint: 'give one -----BEGIN CERTIFICATE----- block, or DER bytes',
    })
  }
  return base64ToBytes(body, { field: what })
}
