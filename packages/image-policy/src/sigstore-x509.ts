/**
 * The parts of an X.509 certificate that sigstore verification needs: core's certificate reader
 * (names, validity, extensions, the key), and here what sigstore reads from the extensions.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                            signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber INTEGER,
 *     signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
 *     subjectPublicKeyInfo SubjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT OPTIONAL,
 *     subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * ```
 *
 * @see RFC 5280 §4.1, §4.2.1.6 (SAN), §4.2.1.9 (basic constraints), §4.2.1.12 (EKU).
 * @module
 */
import type { X509Certificate, KeyObject } from 'node:crypto'
import {
  MalformedInputError,
  X509_EXTENSION_OIDS,
  decodeDerIa5String,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  decodeX509BasicConstraints,
  decodeX509KeyUsage,
  parseDer,
  readX509Certificate,
  type X509Extension,
} from '@initguard/core'

/** One certificate extension. */
export type CertificateExtension = X509Extension

/** A parsed certificate. */
export interface SigstoreCertificate {
  /** The DER encoding. */
  readonly der: Uint8Array
  /** Node's view, for `verify(issuerKey)`. */
  readonly x509: X509Certificate
  /** The subject public key. */
  readonly publicKey: KeyObject
  /** DER of the issuer Name, compared byte for byte with the parent's subject. */
  readonly issuer: Uint8Array
  /** DER of the subject Name. */
  readonly subject: Uint8Array
  readonly notBefore: Date
  readonly notAfter: Date
  /** The signature algorithm OID (inner and outer agree). */
  readonly signatureAlgorithm: string
  /** Extensions by OID; each OID at most once. */
  readonly extensions: ReadonlyMap<string, CertificateExtension>
  /** `cA` of basic constraints; false when the extension is absent. */
  readonly isCA: boolean
  /**
   * Whether the key may sign certificates: keyUsage absent, or with keyCertSign (Go's
   * `CheckSignatureFrom` refuses a parent whose keyUsage lacks it).
   */
  readonly mayIssueCertificates: boolean
  /** `pathLenConstraint`, when present. */
  readonly maxPathLength: number | undefined
  /** Extended key usage OIDs; undefined when the extension is absent (any use). */
  readonly extendedKeyUsage: readonly string[] | undefined
  /** The `rfc822Name` entries of the subject alternative name, in order. */
  readonly emailAddresses: readonly string[]
  /** The `dNSName` entries of the subject alternative name, in order. */
  readonly dnsNames: readonly string[]
  /** The `iPAddress` entries of the subject alternative name (4 or 16 bytes each), in order. */
  readonly ipAddresses: readonly Uint8Array[]
}

/** Extension OIDs used here. */
export const X509_OID = {
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  anyExtendedKeyUsage: '2.5.29.37.0',
  codeSigning: '1.3.6.1.5.5.7.3.3',
} as const

/**
 * Extensions Go's `crypto/x509` understands, so that their being critical does not fail
 * verification there. Name, policy and inhibit constraints are left out on purpose: Go enforces
 * them and we do not, so a chain that carries them critically is refused rather than accepted
 * unchecked.
 */
export const HANDLED_EXTENSIONS: ReadonlySet<string> = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage (keyCertSign is required of every issuer)
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.31', // cRLDistributionPoints
  '2.5.29.32', // certificatePolicies
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
])

/**
 * Certificate signature algorithms Go's `crypto/x509` verifies. SHA-1 and MD5 are refused there
 * (and here) even though OpenSSL would still check them.
 */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.113549.1.1.10', // RSASSA-PSS
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.3.101.112', // Ed25519
])

function invalid(field: string, message: string): MalformedInputError {
  return new MalformedInputError('ERR_SIGSTORE_X509_INVALID', `${field}: ${message}`, {
    details: { field },
    hint: 'the certificate is not a valid X.509 v3 certificate',
  })
}

function basicConstraints(ext: CertificateExtension | undefined, field: string) {
  if (ext === undefined) return { isCA: false, maxPathLength: undefined }
  const { ca, pathLength } = decodeX509BasicConstraints(ext.value, field, (message) =>
    invalid(field, message),
  )
  return { isCA: ca, maxPathLength: pathLength }
}

/** The subject alternative names sigstore policies match: emails, DNS names, IP addresses. */
interface SubjectAltNames {
  readonly emailAddresses: string[]
  readonly dnsNames: string[]
  readonly ipAddresses: Uint8Array[]
}

function subjectAltNames(ext: CertificateExtension | undefined, field: string): SubjectAltNames {
  const names: SubjectAltNames = { emailAddresses: [], dnsNames: [], ipAddresses: [] }
  if (ext === undefined) return names
  const entries = decodeDerSequence(parseDer(ext.value, { name: field }), `${field} subjectAltName`)
  for (const name of entries) {
    if (name.tagClass !== 'context') continue
    // rfc822Name [1] and dNSName [2] are IMPLICIT IA5String; Go refuses one that is not IA5, and
    // so do we. iPAddress [7] is 4 or 16 octets (Go refuses any other length).
    if (name.tagNumber === 1 || name.tagNumber === 2) {
      const implicitTag = { tagClass: 'context', tagNumber: name.tagNumber } as const
      const text = decodeDerIa5String(name, `${field} subjectAltName`, { implicitTag })
      ;(name.tagNumber === 1 ? names.emailAddresses : names.dnsNames).push(text)
    } else if (name.tagNumber === 7) {
      const bytes = decodeDerOctetString(name, `${field} iPAddress`, {
        implicitTag: { tagClass: 'context', tagNumber: 7 },
      })
      if (bytes.length !== 4 && bytes.length !== 16) {
        throw invalid(field, `an iPAddress name has ${bytes.length} bytes, not 4 or 16`)
      }
      names.ipAddresses.push(bytes)
    }
  }
  return names
}

/**
 * Parse a DER certificate.
 *
 * @param field - names the certificate in messages (`"Fulcio leaf certificate"`).
 * @throws {@link MalformedInputError} `ERR_SIGSTORE_X509_INVALID` or a core `ERR_DER_*` code.
 */
export function parseSigstoreCertificate(der: Uint8Array, field: string): SigstoreCertificate {
  const fields = readX509Certificate(der, {
    what: field,
    codes: { invalid: 'ERR_SIGSTORE_X509_INVALID' },
    hint: 'the certificate is not a valid X.509 v3 certificate',
  })
  const { extensions } = fields
  const ekuExtension = extensions.get(X509_OID.extKeyUsage)
  const extendedKeyUsage =
    ekuExtension === undefined
      ? undefined
      : decodeDerSequence(parseDer(ekuExtension.value, { name: field }), `${field} EKU`).map((el) =>
          decodeDerOid(el, `${field} EKU`),
        )
  const keyUsage = extensions.get(X509_EXTENSION_OIDS.keyUsage)
  const mayIssueCertificates =
    keyUsage === undefined || decodeX509KeyUsage(keyUsage.value, field).keyCertSign
  return {
    der: fields.der,
    x509: fields.x509,
    publicKey: fields.publicKey,
    mayIssueCertificates,
    issuer: fields.issuer.encoded,
    subject: fields.subject.encoded,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    signatureAlgorithm: fields.signatureAlgorithm,
    extensions,
    ...basicConstraints(extensions.get(X509_OID.basicConstraints), field),
    extendedKeyUsage,
    ...subjectAltNames(extensions.get(X509_OID.subjectAltName), field),
  }
}
