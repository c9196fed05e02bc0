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
 * A critical extension of the list or of an entry other than those understood (CRL Number and
 * Authority Key Identifier; reason code and invalidity date) makes the CRL unusable, as RFC 5280
 * §5.2/§5.3 requires: it is refused with `ERR_SNP_CRL_INVALID`, never read as a complete list.
 *
 * @module
 */
import { constants, verify } from 'node:crypto'
import {
  MalformedInputError,
  VerificationError,
  bytesToHex,
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

/** A parsed CRL. */
export interface AmdCrl {
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  /** Revoked serial numbers, lower-case hex without leading zeros. */
  readonly revokedSerials: ReadonlySet<string>
  readonly tbs: Uint8Array
  readonly signatureAlgorithm: Uint8Array
  readonly signature: Uint8Array
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
  const [innerAlgorithm, , thisUpdateEl, maybeNext, ...rest] = fields
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
  if (crlExtensions !== undefined) {
    // A critical Issuing Distribution Point or Delta CRL Indicator narrows what the list covers.
    readX509Extensions(
      decodeDerExplicit(crlExtensions, 0, 'CRL crlExtensions'),
      'CRL',
      X509_CRL_EXTENSIONS_UNDERSTOOD,
      invalid,
    )
    after.shift()
  }
  if (after.length > 0) throw invalid(`has ${after.length} unexpected trailing field(s)`)
  const bits = decodeDerBitString(signatureValue, 'CRL signature')
  return {
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
 *   ARK), `ERR_SNP_CERT_ROLE` (the ARK's keyUsage lacks cRLSign), `ERR_SNP_CRL_STALE` (no
 *   nextUpdate: it can never be shown current).
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
