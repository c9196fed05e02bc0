/**
 * Build X.509 v3 certificates (RFC 5280 §4.1) for tests: a `TBSCertificate` assembled with the
 * DER writer, signed with `node:crypto` by an issuer's private key.
 *
 * Signature algorithms are the ones AMD's SEV-SNP PKI and Intel's SGX/TDX PKI use:
 * RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt (with the parameters spelled out the way
 * AMD encodes them), and ECDSA with SHA-384 or SHA-256.
 *
 * ```asn1
 * Certificate  ::=  SEQUENCE  {
 *      tbsCertificate       TBSCertificate,
 *      signatureAlgorithm   AlgorithmIdentifier,
 *      signatureValue       BIT STRING  }
 *
 * TBSCertificate  ::=  SEQUENCE  {
 *      version         [0]  EXPLICIT Version DEFAULT v1,
 *      serialNumber         CertificateSerialNumber,
 *      signature            AlgorithmIdentifier,
 *      issuer               Name,
 *      validity             Validity,
 *      subject              Name,
 *      subjectPublicKeyInfo SubjectPublicKeyInfo,
 *      extensions      [3]  EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * @see RFC 5280 §4.1 (certificate), RFC 4055 §3.1 (RSASSA-PSS parameters), RFC 5758 §3.2 (ECDSA).
 * @module
 */
import { constants, createHash, createPublicKey, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import {
  X509_KEY_USAGE_BITS,
  bytesToBase64,
  decodeDerBitString,
  decodeDerSequence,
  parseDer,
  type X509KeyUsageBit,
} from '@initguard/core'
import {
  derBitString,
  derBoolean,
  derExplicit,
  derIa5String,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
} from './der-writer.ts'
import { builderError, type BuilderError } from './builder-error.ts'

/** OIDs of the name attributes AMD and Intel certificates use (X.520). */
export const X509_NAME_OID = {
  commonName: '2.5.4.3',
  countryName: '2.5.4.6',
  localityName: '2.5.4.7',
  stateOrProvinceName: '2.5.4.8',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
} as const

/**
 * OIDs of the standard certificate extensions this module can encode (RFC 5280 §4.2.1), and of the
 * CRL and CRL entry extensions Intel's CRLs carry (RFC 5280 §5.2.3, §5.3.1).
 */
export const X509_EXTENSION_OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  crlDistributionPoints: '2.5.29.31',
  authorityKeyIdentifier: '2.5.29.35',
} as const

/** OIDs of the algorithms used in signatures built here. */
export const X509_ALGORITHM_OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  mgf1: '1.2.840.113549.1.1.8',
  rsassaPss: '1.2.840.113549.1.1.10',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
} as const

/** The ASN.1 string type of a name attribute's value. */
export type X509StringType = 'utf8' | 'printable' | 'ia5'

/** One attribute of a distinguished name, e.g. `{ oid: '2.5.4.3', value: 'SEV-VCEK' }`. */
export interface X509NameAttribute {
  /** The attribute type (see {@link X509_NAME_OID}). */
  readonly oid: string
  /** The attribute value. */
  readonly value: string
  /** How the value is encoded. Default `'utf8'` (UTF8String). */
  readonly type?: X509StringType
}

/**
 * A distinguished name: its attributes in encoding order, each in its own single-valued RDN (as
 * AMD's and most CAs' names are).
 */
export type X509Name = readonly X509NameAttribute[]

/** One certificate extension (RFC 5280 §4.1.2.9). */
export interface X509Extension {
  /** `extnID`. */
  readonly oid: string
  /** `critical`; encoded only when true (it is `DEFAULT FALSE`). Default false. */
  readonly critical?: boolean
  /**
   * The contents of `extnValue`, the octets inside its OCTET STRING: normally a DER encoding
   * (`derInteger(0)`), but any bytes are written as given (AMD's hwID extension holds raw octets).
   */
  readonly value: Uint8Array
}

/**
 * A signature algorithm for {@link buildX509Certificate}:
 *
 * - `'rsassa-pss-sha384'`: RSASSA-PSS, SHA-384, MGF1 with SHA-384, salt length 48 (AMD ARK, ASK,
 *   ASVK, VCEK, VLEK). Needs an `'rsa'` or `'rsa-pss'` issuer key.
 * - `'ecdsa-sha384'`, `'ecdsa-sha256'`: ECDSA with a DER `Ecdsa-Sig-Value`. Needs an `'ec'` key.
 */
export type X509SignatureAlgorithm = 'rsassa-pss-sha384' | 'ecdsa-sha384' | 'ecdsa-sha256'

/** Options for {@link encodeSignatureAlgorithm}. */
export interface SignatureAlgorithmOptions {
  /**
   * RSASSA-PSS only: whether `trailerField [3] INTEGER 1` is written out. It is the DEFAULT, so
   * strict DER omits it (`'omitted'`), but AMD's ARK/ASK/ASVK and its VCEKs of 2022–2023 carry it
   * explicitly (`'explicit'`); VCEKs and VLEKs issued from late 2024 omit it. Default
   * `'omitted'`.
   */
  readonly pssTrailerField?: 'explicit' | 'omitted'
}

/** The fields of a certificate to build, for {@link buildX509Certificate}. */
export interface X509CertificateFields extends SignatureAlgorithmOptions {
  /** `serialNumber`. Written as given (AMD's VCEKs use 0, which RFC 5280 does not allow). */
  readonly serialNumber: bigint
  /** `issuer`. */
  readonly issuer: X509Name
  /** `subject`. */
  readonly subject: X509Name
  /** `notBefore`, whole seconds. UTCTime through 2049, GeneralizedTime from 2050. */
  readonly notBefore: Date
  /** `notAfter`, whole seconds. */
  readonly notAfter: Date
  /** The subject's key (public, or private to take its public half), written as its SPKI. */
  readonly publicKey: KeyObject
  /** Extensions in encoding order; none (and no `[3]` field) when absent or empty. */
  readonly extensions?: readonly X509Extension[]
  /** How the issuer signs (also written into `signature` inside the TBS). */
  readonly signatureAlgorithm: X509SignatureAlgorithm
}

const usage: BuilderError<'ERR_X509_BUILD_'> = builderError

function hashAlgorithmIdentifier(oid: string): Uint8Array {
  // AMD writes the hash AlgorithmIdentifiers with explicit NULL parameters (RFC 4055 §2.1 allows
  // both; its examples use NULL).
  return derSequence([derOid(oid), derNull()])
}

/**
 * Encode the `AlgorithmIdentifier` of a signature algorithm.
 *
 * For `'rsassa-pss-sha384'` this is exactly AMD's encoding (RFC 4055 §3.1):
 *
 * ```text
 * SEQUENCE { OID 1.2.840.113549.1.1.10, SEQUENCE {
 *   [0] SEQUENCE { OID sha384, NULL }                          -- hashAlgorithm
 *   [1] SEQUENCE { OID mgf1, SEQUENCE { OID sha384, NULL } }   -- maskGenAlgorithm
 *   [2] INTEGER 48                                             -- saltLength
 *   [3] INTEGER 1                                              -- trailerField, if 'explicit'
 * } }
 * ```
 *
 * The ECDSA identifiers have no parameters (RFC 5758 §3.2).
 */
export function encodeSignatureAlgorithm(
  algorithm: X509SignatureAlgorithm,
  options: SignatureAlgorithmOptions = {},
): Uint8Array {
  switch (algorithm) {
    case 'rsassa-pss-sha384': {
      const params = [
        derExplicit(0, hashAlgorithmIdentifier(X509_ALGORITHM_OID.sha384)),
        derExplicit(
          1,
          derSequence([
            derOid(X509_ALGORITHM_OID.mgf1),
            hashAlgorithmIdentifier(X509_ALGORITHM_OID.sha384),
          ]),
        ),
        derExplicit(2, derInteger(48)),
      ]
      if (options.pssTrailerField === 'explicit') params.push(derExplicit(3, derInteger(1)))
      return derSequence([derOid(X509_ALGORITHM_OID.rsassaPss), derSequence(params)])
    }
    case 'ecdsa-sha384':
      return derSequence([derOid(X509_ALGORITHM_OID.ecdsaWithSha384)])
    case 'ecdsa-sha256':
      return derSequence([derOid(X509_ALGORITHM_OID.ecdsaWithSha256)])
  }
}

function encodeString(attribute: X509NameAttribute): Uint8Array {
  const type = attribute.type ?? 'utf8'
  switch (type) {
    case 'utf8':
      return derUtf8String(attribute.value)
    case 'printable':
      return derPrintableString(attribute.value)
    case 'ia5':
      return derIa5String(attribute.value)
  }
}

/**
 * Encode a distinguished name (RFC 5280 §4.1.2.4): a SEQUENCE of single-attribute RDNs, each a
 * SET holding one `AttributeTypeAndValue`.
 *
 * @example
 * ```ts
 * encodeX509Name([{ oid: X509_NAME_OID.countryName, value: 'US', type: 'printable' }])
 * ```
 *
 * @throws {@link UsageError} from the DER writer for a bad OID or a value outside its string type.
 */
export function encodeX509Name(name: X509Name): Uint8Array {
  return derSequence(
    name.map((attribute) =>
      derSet([derSequence([derOid(attribute.oid), encodeString(attribute)])]),
    ),
  )
}

/**
 * Encode one `Extension` (RFC 5280 §4.1): `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
 * extnValue OCTET STRING }`, `critical` written only when true. The same structure serves CRL and
 * CRL entry extensions (RFC 5280 §5.1).
 */
export function encodeX509Extension(extension: X509Extension): Uint8Array {
  return derSequence([
    derOid(extension.oid),
    ...(extension.critical === true ? [derBoolean(true)] : []),
    derOctetString(extension.value),
  ])
}

function publicKeyOf(key: KeyObject): KeyObject {
  if (key.type === 'public') return key
  if (key.type === 'private') return createPublicKey(key)
  throw usage(
    'ERR_X509_BUILD_KEY_INVALID',
    'the subject key must be an asymmetric key, not a secret key',
    { keyType: key.type },
  )
}

/**
 * The SubjectPublicKeyInfo DER of a key (its public half when given a private key), as
 * `node:crypto` exports it.
 *
 * @throws {@link UsageError} `ERR_X509_BUILD_KEY_INVALID` for a secret key.
 */
export function subjectPublicKeyInfoDer(key: KeyObject): Uint8Array {
  return new Uint8Array(publicKeyOf(key).export({ type: 'spki', format: 'der' }))
}

/**
 * The key identifier of RFC 5280 §4.2.1.2 method 1: SHA-1 of the `subjectPublicKey` BIT STRING's
 * bits (without tag, length and unused-bits octet). AMD's ARK and ASK carry exactly this in their
 * subject/authority key identifier extensions.
 *
 * @throws {@link UsageError} `ERR_X509_BUILD_KEY_INVALID` for a secret key.
 */
export function keyIdentifierOf(key: KeyObject): Uint8Array {
  const spki = parseDer(subjectPublicKeyInfoDer(key), { name: 'SubjectPublicKeyInfo' })
  const [, subjectPublicKey] = decodeDerSequence(spki, 'SubjectPublicKeyInfo')
  const bits = decodeDerBitString(subjectPublicKey, 'subjectPublicKey').bytes
  return new Uint8Array(createHash('sha1').update(bits).digest())
}

/** `extnValue` of SubjectKeyIdentifier (RFC 5280 §4.2.1.2): `KeyIdentifier ::= OCTET STRING`. */
export function encodeSubjectKeyIdentifier(keyIdentifier: Uint8Array): Uint8Array {
  return derOctetString(keyIdentifier)
}

/**
 * `extnValue` of AuthorityKeyIdentifier (RFC 5280 §4.2.1.1) with only `keyIdentifier [0]`:
 * `SEQUENCE { [0] IMPLICIT OCTET STRING }`.
 */
export function encodeAuthorityKeyIdentifier(keyIdentifier: Uint8Array): Uint8Array {
  return derSequence([derImplicit(0, derOctetString(keyIdentifier))])
}

/** Options for {@link encodeBasicConstraints}. */
export interface BasicConstraintsOptions {
  /** `cA`; written only when true (`DEFAULT FALSE`). */
  readonly ca: boolean
  /** `pathLenConstraint`, when limited. */
  readonly pathLength?: number
}

/**
 * `extnValue` of BasicConstraints (RFC 5280 §4.2.1.9):
 * `SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }`.
 *
 * @example
 * ```ts
 * encodeBasicConstraints({ ca: true })                 // 30 03 01 01 ff (AMD ARK)
 * encodeBasicConstraints({ ca: true, pathLength: 0 })  // 30 06 01 01 ff 02 01 00 (AMD ASK)
 * ```
 */
export function encodeBasicConstraints(options: BasicConstraintsOptions): Uint8Array {
  return derSequence([
    ...(options.ca ? [derBoolean(true)] : []),
    ...(options.pathLength === undefined ? [] : [derInteger(options.pathLength)]),
  ])
}

/** The named bits of KeyUsage (RFC 5280 §4.2.1.3), bit 0 first: core's list. */
export const KEY_USAGE_BITS: readonly X509KeyUsageBit[] = X509_KEY_USAGE_BITS

/** One named KeyUsage bit. */
export type KeyUsageBit = X509KeyUsageBit

/**
 * `extnValue` of KeyUsage (RFC 5280 §4.2.1.3) in strict DER: a named-bit BIT STRING with trailing
 * zero bits removed (X.690 §11.2.2).
 *
 * Note that AMD's ASK and ASVK do not follow the trailing-bit rule (they write `keyCertSign` alone
 * as `03 02 01 04`, one unused bit where DER asks for two); the AMD test PKI writes those bytes
 * itself.
 *
 * @example
 * ```ts
 * encodeKeyUsage(['keyCertSign', 'cRLSign']) // 03 02 01 06 (AMD ARK)
 * ```
 */
export function encodeKeyUsage(bits: readonly KeyUsageBit[]): Uint8Array {
  const positions = bits.map((b) => KEY_USAGE_BITS.indexOf(b))
  if (positions.length === 0) return derBitString(new Uint8Array(0))
  const highest = Math.max(...positions)
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1)
  for (const p of positions) {
    const i = Math.floor(p / 8)
    bytes[i] = (bytes[i] ?? 0) | (0x80 >> (p % 8))
  }
  return derBitString(bytes, 7 - (highest % 8))
}

/**
 * `extnValue` of CRLDistributionPoints (RFC 5280 §4.2.1.13) with one distribution point whose
 * `fullName` lists the given URIs, as AMD's ARK/ASK/ASVK carry it:
 * `SEQUENCE { SEQUENCE { [0] { [0] { [6] uri … } } } }`.
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_STRING_INVALID` for a URI outside 7-bit ASCII.
 */
export function encodeCrlDistributionPoints(uris: readonly string[]): Uint8Array {
  return derSequence([derSequence([distributionPointName(uris)])])
}

/**
 * distributionPoint [0] DistributionPointName (a CHOICE, so the tag is explicit), whose fullName
 * [0] IMPLICIT GeneralNames lists the URIs ([6] IA5String each).
 */
function distributionPointName(uris: readonly string[]): Uint8Array {
  const generalNames = derSequence(uris.map((uri) => derImplicit(6, derIa5String(uri))))
  return derExplicit(0, derImplicit(0, generalNames))
}

/** The BOOLEAN flags of an IssuingDistributionPoint, by their context tag (RFC 5280 §5.2.5). */
const IDP_FLAG_TAGS = {
  onlyContainsUserCerts: 1,
  onlyContainsCACerts: 2,
  indirectCRL: 4,
  onlyContainsAttributeCerts: 5,
} as const

/** A flag of an IssuingDistributionPoint that narrows what the CRL covers. */
export type IssuingDistributionPointFlag = keyof typeof IDP_FLAG_TAGS

/**
 * `extnValue` of a CRL's IssuingDistributionPoint (RFC 5280 §5.2.5): the distribution point whose
 * `fullName` lists `uris` (none: no distributionPoint), then each of `flags` set to TRUE (a
 * `DEFAULT FALSE` is written only when true): `SEQUENCE { [0] { [0] { [6] uri … } }, [1] TRUE … }`.
 *
 * @throws {@link UsageError} `ERR_DER_WRITE_STRING_INVALID` for a URI outside 7-bit ASCII.
 */
export function encodeIssuingDistributionPoint(
  uris: readonly string[],
  flags: readonly IssuingDistributionPointFlag[] = [],
): Uint8Array {
  return derSequence([
    ...(uris.length === 0 ? [] : [distributionPointName(uris)]),
    ...Object.entries(IDP_FLAG_TAGS)
      .filter(([flag]) => flags.includes(flag as IssuingDistributionPointFlag))
      .map(([, tag]) => derImplicit(tag, derBoolean(true))),
  ])
}

function checkWholeSeconds(date: Date, field: string): void {
  if (Number.isNaN(date.getTime()) || date.getUTCMilliseconds() !== 0) {
    throw usage(
      'ERR_X509_BUILD_TIME_INVALID',
      `${field} must be a valid Date in whole seconds (RFC 5280 §4.1.2.5)`,
      { field },
      'round the time to whole seconds, e.g. new Date(Math.floor(t / 1000) * 1000)',
    )
  }
}

/**
 * Sign DER-encoded to-be-signed bytes (a TBSCertificate or TBSCertList) as `algorithm` says, giving
 * the BIT STRING contents: RSASSA-PSS (SHA-384, salt 48) or a DER ECDSA signature.
 */
export function signTbs(
  algorithm: X509SignatureAlgorithm,
  tbs: Uint8Array,
  issuerPrivateKey: KeyObject,
): Uint8Array {
  if (issuerPrivateKey.type !== 'private') {
    throw usage(
      'ERR_X509_BUILD_KEY_INVALID',
      `the issuer key must be a private key (got a ${issuerPrivateKey.type} key)`,
      { keyType: issuerPrivateKey.type },
    )
  }
  const keyType = issuerPrivateKey.asymmetricKeyType ?? 'unknown'
  if (algorithm === 'rsassa-pss-sha384') {
    if (keyType !== 'rsa' && keyType !== 'rsa-pss') {
      throw usage(
        'ERR_X509_BUILD_KEY_INVALID',
        `RSASSA-PSS needs an RSA issuer key (got ${keyType})`,
        { algorithm, keyType },
      )
    }
    return new Uint8Array(
      sign('sha384', tbs, {
        key: issuerPrivateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 48,
      }),
    )
  }
  if (keyType !== 'ec') {
    throw usage('ERR_X509_BUILD_KEY_INVALID', `ECDSA needs an EC issuer key (got ${keyType})`, {
      algorithm,
      keyType,
    })
  }
  const hash = algorithm === 'ecdsa-sha384' ? 'sha384' : 'sha256'
  return new Uint8Array(sign(hash, tbs, { key: issuerPrivateKey, dsaEncoding: 'der' }))
}

/**
 * Encode the `TBSCertificate` (the part the issuer signs) of a v3 certificate.
 *
 * @throws {@link UsageError} `ERR_X509_BUILD_TIME_INVALID` for times that are not whole seconds;
 *   `ERR_X509_BUILD_KEY_INVALID` for a secret subject key; DER writer errors for bad OIDs or
 *   strings.
 */
export function encodeTbsCertificate(fields: X509CertificateFields): Uint8Array {
  checkWholeSeconds(fields.notBefore, 'notBefore')
  checkWholeSeconds(fields.notAfter, 'notAfter')
  const extensions = fields.extensions ?? []
  return derSequence([
    derExplicit(0, derInteger(2)),
    derInteger(fields.serialNumber),
    encodeSignatureAlgorithm(fields.signatureAlgorithm, fields),
    encodeX509Name(fields.issuer),
    derSequence([derTime(fields.notBefore), derTime(fields.notAfter)]),
    encodeX509Name(fields.subject),
    subjectPublicKeyInfoDer(fields.publicKey),
    ...(extensions.length === 0
      ? []
      : [derExplicit(3, derSequence(extensions.map(encodeX509Extension)))]),
  ])
}

/**
 * Build and sign an X.509 v3 certificate; returns its DER.
 *
 * @example
 * ```ts
 * const der = buildX509Certificate(
 *   {
 *     serialNumber: 1n,
 *     issuer: name,
 *     subject: name,
 *     notBefore: new Date('2024-01-01T00:00:00Z'),
 *     notAfter: new Date('2049-01-01T00:00:00Z'),
 *     publicKey: rootKeys.publicKey,
 *     signatureAlgorithm: 'rsassa-pss-sha384',
 *   },
 *   rootKeys.privateKey,
 * )
 * new X509Certificate(der).verify(rootKeys.publicKey) // true
 * ```
 *
 * @throws {@link UsageError} `ERR_X509_BUILD_KEY_INVALID` when the issuer key is not private or
 *   does not fit the algorithm (RSA for RSASSA-PSS, EC for ECDSA), or the subject key is secret;
 *   `ERR_X509_BUILD_TIME_INVALID`; DER writer errors for bad OIDs or strings.
 */
export function buildX509Certificate(
  fields: X509CertificateFields,
  issuerPrivateKey: KeyObject,
): Uint8Array {
  const tbs = encodeTbsCertificate(fields)
  const signature = signTbs(fields.signatureAlgorithm, tbs, issuerPrivateKey)
  return derSequence([
    tbs,
    encodeSignatureAlgorithm(fields.signatureAlgorithm, fields),
    derBitString(signature),
  ])
}

/**
 * PEM-armour DER bytes (RFC 7468): base64 in 64-character lines between `-----BEGIN label-----`
 * and `-----END label-----`, ending with a newline.
 *
 * @param label - Default `'CERTIFICATE'`.
 */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const lines = bytesToBase64(der).match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}-----END ${label}-----\n`
}
