/**
 * AMD's per-product certificate revocation list, signed by the ARK (RSASSA-PSS, SHA-384). AMD
 * revokes intermediates (ASK/ASVK) this way; TCB versions, not revocation, retire old VCEKs. When a
 * CRL is supplied it must be genuine and current, and no certificate of the chain may be on it.
 *
 * ```asn1
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name,
 *   thisUpdate Time, nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time,
 *     crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * A critical extension of the list or of an entry other than those understood (CRL Number,
 * Authority Key Identifier and Issuing Distribution Point; reason code and invalidity date) makes
 * the CRL unusable, as RFC 5280 §5.2/§5.3 requires: it is refused with `ERR_SNP_CRL_INVALID`, never
 * read as a complete list.
 *
 * Which list is which. AMD signs both CRLs of a product line, the VCEK one (`/vcek/v1/{product}/crl`,
 * listing revoked ASKs) and the VLEK one (`/vlek/v1/{product}/crl`, listing revoked ASVKs), with
 * the same ARK key under the same issuer name: the ASK and the ASVK are both issued by the ARK, and
 * a CRL is signed by the issuer of what it revokes (RFC 5280 §6.3.3; go-sev-guest checks it with
 * `CheckSignatureFrom(ARK)`, and fetches it from the intermediate's CRL distribution point). So
 * neither the signature nor the issuer tells one list from the other; what binds a list to its
 * hierarchy is where it came from (the KDS path, the cache entry, the `--amd-crl KIND/PRODUCT` key)
 * and, when the CRL carries one, its Issuing Distribution Point, which must then name that KDS
 * path and cover the whole chain. The issuer name must be the ARK's subject (byte for byte, as
 * chains compare names here) and an Authority Key Identifier, when present, the ARK's.
 *
 * @module
 */
import { constants, verify } from 'node:crypto'
import {
  MalformedInputError,
  VerificationError,
  bytesToHex,
  constantTimeEqual,
  decodeDerOctetString,
  readX509Certificate,
  X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD,
  X509_CRL_EXTENSIONS_UNDERSTOOD,
  decodeDerBitString,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerOid,
  decodeDerSequence,
  decodeDerTime,
  parseDer,
  readX509Extensions,
  type DerElement,
} from '@initguard/core'
import type { AmdCertificate } from './amd-certificate.ts'
import { checkCrlSignerRole, type EndorsementKind, type VerifiedChain } from './amd-chain.ts'
import type { SnpProduct } from './tcb.ts'

const RSASSA_PSS = '1.2.840.113549.1.1.10'
const AUTHORITY_KEY_IDENTIFIER = '2.5.29.35'
const SUBJECT_KEY_IDENTIFIER = '2.5.29.14'
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28'

/** The CRL extensions read here: the X.509 ones, and the Issuing Distribution Point, processed. */
const CRL_EXTENSIONS_UNDERSTOOD: ReadonlySet<string> = new Set([
  ...X509_CRL_EXTENSIONS_UNDERSTOOD,
  ISSUING_DISTRIBUTION_POINT,
])

/** The flags of an Issuing Distribution Point (RFC 5280 §5.2.5) that narrow what the list covers. */
const IDP_NARROWING: Readonly<Record<number, string>> = {
  1: 'onlyContainsUserCerts',
  2: 'onlyContainsCACerts',
  3: 'onlySomeReasons',
  4: 'indirectCRL',
  5: 'onlyContainsAttributeCerts',
}

/** What a CRL's Issuing Distribution Point says it is. */
export interface AmdCrlDistributionPoint {
  /** The URIs of its distributionPoint fullName, in order; empty when it names none. */
  readonly uris: readonly string[]
  /** The flags set that narrow the list to part of the certificates or reasons. */
  readonly narrowedBy: readonly string[]
}

/** A parsed CRL. */
export interface AmdCrl {
  /** The DER of the issuer Name. */
  readonly issuer: Uint8Array
  /** The keyIdentifier of its Authority Key Identifier, when it has one. */
  readonly authorityKeyIdentifier: Uint8Array | undefined
  /** Its Issuing Distribution Point, when it has one. */
  readonly distributionPoint: AmdCrlDistributionPoint | undefined
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  /** Revoked serial numbers, lower-case hex without leading zeros. */
  readonly revokedSerials: ReadonlySet<string>
  readonly tbs: Uint8Array
  readonly signatureAlgorithm: Uint8Array
  readonly signature: Uint8Array
}

/** The keyIdentifier [0] of an AuthorityKeyIdentifier (RFC 5280 §4.2.1.1). */
function keyIdentifierOf(
  value: Uint8Array,
  invalid: (message: string) => MalformedInputError,
): Uint8Array | undefined {
  const fields = decodeDerSequence(
    parseDer(value, { name: 'CRL authorityKeyIdentifier' }),
    'CRL authorityKeyIdentifier',
  )
  const id = fields.find((f) => f.tagClass === 'context' && f.tagNumber === 0)
  if (id?.constructed === true) throw invalid('authorityKeyIdentifier keyIdentifier is constructed')
  return id?.value
}

/**
 * An IssuingDistributionPoint (RFC 5280 §5.2.5): `SEQUENCE { distributionPoint [0]
 * DistributionPointName OPTIONAL, onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE,
 * onlyContainsCACerts [2] …, onlySomeReasons [3] ReasonFlags OPTIONAL, indirectCRL [4] …,
 * onlyContainsAttributeCerts [5] … }`, where `DistributionPointName ::= CHOICE { fullName [0]
 * GeneralNames, nameRelativeToCRLIssuer [1] RDN }` and a URI is `[6] IA5String`.
 */
function readDistributionPoint(
  value: Uint8Array,
  invalid: (message: string) => MalformedInputError,
): AmdCrlDistributionPoint {
  const fields = decodeDerSequence(
    parseDer(value, { name: 'CRL issuingDistributionPoint' }),
    'CRL issuingDistributionPoint',
  )
  // RFC 5280 §5.2.5: an empty one must not be issued; it would say nothing of what the list is.
  if (fields.length === 0) throw invalid('has an empty Issuing Distribution Point')
  const uris: string[] = []
  const narrowedBy: string[] = []
  let last = -1
  for (const field of fields) {
    if (field.tagClass !== 'context' || field.tagNumber <= last || field.tagNumber > 5)
      throw invalid('has a malformed Issuing Distribution Point')
    last = field.tagNumber
    if (field.tagNumber === 0) {
      const name = decodeDerExplicit(field, 0, 'CRL issuingDistributionPoint distributionPoint')
      // nameRelativeToCRLIssuer names no URI: nothing here can match it to a KDS path.
      if (name.tagClass === 'context' && name.tagNumber === 0 && name.constructed) {
        for (const general of name.children) {
          if (general.tagClass === 'context' && general.tagNumber === 6 && !general.constructed)
            uris.push(Buffer.from(general.value).toString('latin1'))
        }
      }
      continue
    }
    // A BOOLEAN DEFAULT FALSE is encoded only when true (DER); a false one narrows nothing.
    const set = field.tagNumber === 3 ? true : !(field.value.length === 1 && field.value[0] === 0)
    const flag = IDP_NARROWING[field.tagNumber]
    if (set && flag !== undefined) narrowedBy.push(flag)
  }
  return { uris, narrowedBy }
}

function isTime(el: DerElement | undefined): boolean {
  return el?.tagClass === 'universal' && (el.tagNumber === 23 || el.tagNumber === 24)
}

/**
 * Parse a CRL (DER).
 *
 * @throws {@link MalformedInputError} `ERR_SNP_CRL_INVALID`, and the DER reader's `ERR_DER_*` codes
 *   for bytes that are no CRL.
 */
export function parseAmdCrl(der: Uint8Array): AmdCrl {
  const [tbs, outerAlgorithm, signatureValue] = decodeDerSequence(
    parseDer(der, { name: 'CRL' }),
    'CRL',
  )
  const fields = [...decodeDerSequence(tbs, 'CRL tbsCertList')]
  if (fields[0]?.tagNumber === 2 && fields[0].tagClass === 'universal') fields.shift()
  const [innerAlgorithm, issuerEl, thisUpdateEl, maybeNext, ...rest] = fields
  if (
    innerAlgorithm === undefined ||
    outerAlgorithm === undefined ||
    bytesToHex(innerAlgorithm.encoded) !== bytesToHex(outerAlgorithm.encoded)
  ) {
    throw new MalformedInputError(
      'ERR_SNP_CRL_INVALID',
      "the CRL's inner and outer signature algorithms differ",
    )
  }
  const hasNext = isTime(maybeNext)
  const after = hasNext ? rest : [maybeNext, ...rest].filter((el) => el !== undefined)
  const invalid = (message: string): MalformedInputError =>
    new MalformedInputError('ERR_SNP_CRL_INVALID', `the CRL ${message}`, {
      hint: 'use the CRL AMD KDS serves (/vcek/v1/{product}/crl); one with a critical extension this verifier does not process cannot be used (RFC 5280 §5.2)',
    })
  const revokedSerials = new Set<string>()
  const revokedList = after[0]
  if (revokedList?.tagClass === 'universal' && revokedList.tagNumber === 16) {
    for (const entry of decodeDerSequence(revokedList, 'CRL revokedCertificates')) {
      const [serial, , extensions, ...extra] = decodeDerSequence(entry, 'CRL entry')
      const key = decodeDerInteger(serial, 'CRL entry serial').toString(16)
      if (extra.length > 0) throw invalid(`entry ${key} has extra fields`)
      // A critical entry extension (Certificate Issuer: an indirect CRL) changes whom it revokes.
      if (extensions !== undefined)
        readX509Extensions(
          extensions,
          `CRL entry ${key}`,
          X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD,
          (m) => invalid(`entry ${key} ${m}`),
        )
      revokedSerials.add(key)
    }
    after.shift()
  }
  const crlExtensions = after[0]
  let extensions: ReadonlyMap<string, Uint8Array> = new Map()
  if (crlExtensions !== undefined) {
    // A critical Delta CRL Indicator narrows what the list covers; an Issuing Distribution Point
    // is read below, and what it says is checked by the verification.
    extensions = readX509Extensions(
      decodeDerExplicit(crlExtensions, 0, 'CRL crlExtensions'),
      'CRL',
      CRL_EXTENSIONS_UNDERSTOOD,
      invalid,
    )
    after.shift()
  }
  const issuer =
    issuerEl?.tagClass === 'universal' && issuerEl.tagNumber === 16 ? issuerEl : undefined
  if (issuer === undefined) throw invalid('has no issuer Name')
  const aki = extensions.get(AUTHORITY_KEY_IDENTIFIER)
  const idp = extensions.get(ISSUING_DISTRIBUTION_POINT)
  if (after.length > 0) throw invalid(`has ${after.length} unexpected trailing field(s)`)
  const bits = decodeDerBitString(signatureValue, 'CRL signature')
  return {
    issuer: issuer.encoded,
    authorityKeyIdentifier: aki === undefined ? undefined : keyIdentifierOf(aki, invalid),
    distributionPoint: idp === undefined ? undefined : readDistributionPoint(idp, invalid),
    thisUpdate: decodeDerTime(thisUpdateEl, 'CRL thisUpdate'),
    nextUpdate: hasNext ? decodeDerTime(maybeNext, 'CRL nextUpdate') : undefined,
    revokedSerials,
    tbs: tbs?.encoded ?? new Uint8Array(0),
    signatureAlgorithm: outerAlgorithm.encoded,
    signature: bits.bytes,
  }
}

/**
 * A product's CRL whose signature was checked against the trusted ARK: what a relying party keeps
 * in memory, so checking a chain against it is two look-ups in a `Set` (no parsing, no signature).
 */
export interface AmdRevocationList {
  readonly product: SnpProduct
  /** The hierarchy KDS serves it for: `/vcek/v1/{product}/crl` or `/vlek/v1/{product}/crl`. */
  readonly kind: EndorsementKind
  /** SHA-256 of the ARK (DER) that signed it. */
  readonly arkFingerprint: string
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  /** Revoked serial numbers, lower-case hex without leading zeros. */
  readonly revokedSerials: ReadonlySet<string>
}

/** What a chain is checked against a revocation list by: its product, kind, ARK and serials. */
export interface AmdRevocationSubject {
  readonly product: SnpProduct
  readonly kind: EndorsementKind
  /** SHA-256 of the ARK the chain ended at. */
  readonly arkFingerprint: string
  /** Serial numbers (hex, any case, leading zeros allowed) of the ASK/ASVK and the VCEK/VLEK. */
  readonly intermediateSerial: string
  readonly endorsementSerial: string
}

function kdsHint(product: SnpProduct, kind: EndorsementKind): string {
  return `use the CRL from AMD KDS /${kind}/v1/${product}/crl`
}

/** A serial as the revoked set holds it: lower-case hex without leading zeros. */
function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '')
}

/**
 * Whether `list` is current at `now` (thisUpdate ≤ now ≤ nextUpdate).
 *
 * @throws {@link VerificationError} `ERR_SNP_CRL_STALE` when it is not.
 */
export function checkAmdCrlCurrent(
  list: Pick<AmdRevocationList, 'thisUpdate' | 'nextUpdate' | 'product' | 'kind'>,
  now: Date,
): void {
  // An invalid Date compares false both ways: it must not count as inside the window.
  if (Number.isNaN(now.getTime()) || now < list.thisUpdate || now > list.nextUpdate) {
    throw new VerificationError(
      'ERR_SNP_CRL_STALE',
      `the ${list.product} ${list.kind.toUpperCase()} CRL is valid from ${list.thisUpdate.toISOString()} to ${list.nextUpdate.toISOString()}, not at ${Number.isNaN(now.getTime()) ? 'an invalid time' : now.toISOString()}`,
      { hint: `fetch a current CRL (AMD KDS /${list.kind}/v1/${list.product}/crl)` },
    )
  }
}

/**
 * Parse a product's CRL (DER) and check it is signed by `ark` (the trusted ARK of `product`) and
 * says until when it is current. The expensive step (a parse and an RSA-PSS verification): done
 * once per CRL, then {@link checkAmdRevocation} per chain, which also checks it is current.
 *
 * @throws {@link MalformedInputError} `ERR_SNP_CRL_INVALID` (and the DER reader's codes) for a CRL
 *   that does not parse; {@link VerificationError} `ERR_SNP_CRL_SIGNATURE` (not signed by the
 *   ARK), `ERR_SNP_CERT_ROLE` (the ARK's keyUsage lacks cRLSign), `ERR_SNP_CRL_ISSUER` (signed
 *   with the ARK's key but naming another issuer or key identifier), `ERR_SNP_CRL_MISMATCH` (its
 *   Issuing Distribution Point names another hierarchy's or product's KDS path, or narrows the
 *   list), `ERR_SNP_CRL_STALE` (no nextUpdate: it can never be shown current).
 */
export function verifyAmdRevocationList(
  der: Uint8Array,
  ark: AmdCertificate,
  product: SnpProduct,
  kind: EndorsementKind,
): AmdRevocationList {
  checkCrlSignerRole(ark)
  const crl = parseAmdCrl(der)
  const algorithm = decodeDerOid(
    decodeDerSequence(parseDer(crl.signatureAlgorithm), 'CRL signatureAlgorithm')[0],
    'CRL signatureAlgorithm',
  )
  let genuine = false
  if (algorithm === RSASSA_PSS) {
    try {
      genuine = verify(
        'sha384',
        crl.tbs,
        { key: ark.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
        crl.signature,
      )
    } catch {
      // OpenSSL throws, rather than answering false, on some malformed signatures: both mean no.
      genuine = false
    }
  }
  if (!genuine) {
    throw new VerificationError(
      'ERR_SNP_CRL_SIGNATURE',
      `the ${product} ${kind.toUpperCase()} CRL is not signed by the trusted ${ark.commonName}`,
      { hint: kdsHint(product, kind) },
    )
  }
  checkIssuedBy(crl, ark, product, kind)
  if (crl.distributionPoint !== undefined)
    checkDistributionPoint(crl.distributionPoint, product, kind)
  // Without nextUpdate nothing says when the CRL stops being current: an old one, issued before a
  // revocation, would pass for ever (RFC 5280 §5.1.2.5: issuers must include it).
  if (crl.nextUpdate === undefined) {
    throw new VerificationError(
      'ERR_SNP_CRL_STALE',
      `the ${product} ${kind.toUpperCase()} CRL (thisUpdate ${crl.thisUpdate.toISOString()}) has no nextUpdate, so it cannot be shown to be current`,
      { hint: kdsHint(product, kind) },
    )
  }
  return {
    product,
    kind,
    arkFingerprint: ark.fingerprint,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revokedSerials: crl.revokedSerials,
  }
}

/**
 * The CRL names the ARK that signed it as its issuer, by subject name and, when it has an
 * Authority Key Identifier, by key identifier (RFC 5280 §6.3.3 (b), (f)): a list the ARK's key
 * signed under another name (another product's ARK, an intermediate) is not the ARK's list.
 */
function checkIssuedBy(
  crl: AmdCrl,
  ark: AmdCertificate,
  product: SnpProduct,
  kind: EndorsementKind,
): void {
  const fields = readX509Certificate(ark.der, {
    what: ark.commonName || 'ARK',
    codes: { invalid: 'ERR_SNP_CERT_INVALID' },
  })
  const ski = fields.extensions.get(SUBJECT_KEY_IDENTIFIER)
  const arkKeyId =
    ski === undefined
      ? undefined
      : decodeDerOctetString(
          parseDer(ski.value, { name: 'ARK subjectKeyIdentifier' }),
          'ARK subjectKeyIdentifier',
        )
  const wrong = !constantTimeEqual(crl.issuer, fields.subject.encoded)
    ? 'its issuer name is not the subject of'
    : crl.authorityKeyIdentifier !== undefined &&
        arkKeyId !== undefined &&
        !constantTimeEqual(crl.authorityKeyIdentifier, arkKeyId)
      ? 'its Authority Key Identifier is not the key identifier of'
      : undefined
  if (wrong !== undefined) {
    throw new VerificationError(
      'ERR_SNP_CRL_ISSUER',
      `the ${product} ${kind.toUpperCase()} CRL is signed with the key of the trusted ${ark.commonName}, but ${wrong} that ARK`,
      { hint: kdsHint(product, kind) },
    )
  }
}

/**
 * A CRL that says where it is published (Issuing Distribution Point) must say the KDS path of the
 * hierarchy and product it is used for, and cover every certificate and reason: AMD signs the VCEK
 * and VLEK lists of a product with one ARK key under one name, so this is the one mark in a list
 * of which hierarchy it is for (RFC 5280 §6.3.3 (b)(2)).
 */
function checkDistributionPoint(
  point: AmdCrlDistributionPoint,
  product: SnpProduct,
  kind: EndorsementKind,
): void {
  const path = `/${kind}/v1/${product}/crl`
  const paths = point.uris.map((uri) => {
    try {
      return new URL(uri).pathname
    } catch {
      return undefined
    }
  })
  const problem =
    point.narrowedBy.length > 0
      ? `covers only part of the certificates or reasons (${point.narrowedBy.join(', ')})`
      : !paths.includes(path)
        ? point.uris.length === 0
          ? 'names no distribution point URI'
          : `is published at ${point.uris.join(', ')}, not at ${path}`
        : undefined
  if (problem !== undefined) {
    throw new VerificationError(
      'ERR_SNP_CRL_MISMATCH',
      `the CRL given for ${product} ${kind.toUpperCase()} chains ${problem} (its Issuing Distribution Point)`,
      { details: { product, kind, uris: point.uris }, hint: kdsHint(product, kind) },
    )
  }
}

/**
 * Check a verified chain against a verified revocation list at `now`: the list must be for the
 * chain's product, hierarchy and ARK, current at `now`, and name neither the intermediate
 * (ASK/ASVK) nor the endorsement key (VCEK/VLEK). Cheap: date comparisons and two `Set` look-ups.
 *
 * @throws {@link VerificationError} `ERR_SNP_CRL_MISMATCH` (a list for another product, hierarchy
 *   or ARK), `ERR_SNP_CRL_STALE`, `ERR_SNP_CERT_REVOKED`.
 */
export function checkAmdRevocation(
  list: AmdRevocationList,
  subject: AmdRevocationSubject,
  now: Date,
): void {
  if (
    list.product !== subject.product ||
    list.kind !== subject.kind ||
    list.arkFingerprint !== subject.arkFingerprint
  ) {
    throw new VerificationError(
      'ERR_SNP_CRL_MISMATCH',
      `the CRL given is for ${list.product} ${list.kind.toUpperCase()} chains under ARK ${list.arkFingerprint.slice(0, 16)}…, but the chain is a ${subject.product} ${subject.kind.toUpperCase()} chain under ARK ${subject.arkFingerprint.slice(0, 16)}…`,
      { hint: kdsHint(subject.product, subject.kind) },
    )
  }
  checkAmdCrlCurrent(list, now)
  const intermediateName =
    subject.kind === 'vcek' ? `ASK SEV-${subject.product}` : `ASVK SEV-VLEK-${subject.product}`
  for (const [name, serial] of [
    [intermediateName, serialKey(subject.intermediateSerial)],
    [subject.kind === 'vcek' ? 'VCEK' : 'VLEK', serialKey(subject.endorsementSerial)],
  ] as const) {
    if (list.revokedSerials.has(serial)) {
      throw new VerificationError(
        'ERR_SNP_CERT_REVOKED',
        `the ${name} certificate (serial ${serial}) is revoked by AMD's ${subject.product} ${subject.kind.toUpperCase()} CRL`,
        {
          details: { product: subject.product, kind: subject.kind, serial },
          hint: 'a revoked certificate is never accepted: the platform must be re-provisioned',
        },
      )
    }
  }
}

/** The revocation subject of a verified chain. */
export function revocationSubjectOf(chain: VerifiedChain): AmdRevocationSubject {
  return {
    product: chain.product,
    kind: chain.kind,
    arkFingerprint: chain.root.fingerprint,
    intermediateSerial: chain.intermediate.serialNumber,
    endorsementSerial: chain.endorsement.serialNumber,
  }
}

/**
 * Check a chain against the product's CRL (DER) at `now`: {@link verifyAmdRevocationList} then
 * {@link checkAmdRevocation}. For one-off checks (the CLI's `--crl`); a relying party that checks
 * many chains keeps the verified list instead.
 *
 * @throws as {@link verifyAmdRevocationList} and {@link checkAmdRevocation}.
 */
export function checkAmdCrl(der: Uint8Array, chain: VerifiedChain, now: Date): void {
  const list = verifyAmdRevocationList(der, chain.root, chain.product, chain.kind)
  checkAmdRevocation(list, revocationSubjectOf(chain), now)
}
