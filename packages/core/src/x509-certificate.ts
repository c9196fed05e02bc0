/**
 * The one X.509 certificate reader: the TBSCertificate read with the strict DER reader, and the key
 * and signature left to `node:crypto`. The AMD, Intel and sigstore certificate code builds on it and
 * adds what its vendor puts in the extensions.
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
 * @see RFC 5280 §4.1.
 * @module
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto'
import { constantTimeEqual } from './constant-time.ts'
import { parseDer, type DerElement } from './der-parse.ts'
import {
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
} from './der-primitives.ts'
import { decodeDerExplicit, decodeDerSequence, expectDerTag } from './der-structure.ts'
import { decodeDerTime } from './der-time.ts'
import { MalformedInputError, UsageError, VerificationError, type ErrorCode } from './errors.ts'

/** One certificate extension. */
export interface X509Extension {
  readonly critical: boolean
  /** The contents of `extnValue`. */
  readonly value: Uint8Array
}

/** The fields of a certificate, each read once. */
export interface X509Fields {
  /** The DER encoding (a copy: the caller's buffer may change). */
  readonly der: Uint8Array
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string
  /** The DER of the TBSCertificate: the bytes the signature covers. */
  readonly tbs: Uint8Array
  /** 0 for v1, 2 for v3. */
  readonly version: number
  readonly serialNumber: bigint
  /** The signature algorithm OID (the copies inside and outside the signed part agree). */
  readonly signatureAlgorithm: string
  /** The issuer Name: `encoded` is compared byte for byte with the parent's subject. */
  readonly issuer: DerElement
  /** The subject Name. */
  readonly subject: DerElement
  readonly notBefore: Date
  readonly notAfter: Date
  /** The DER of the SubjectPublicKeyInfo. */
  readonly subjectPublicKeyInfo: Uint8Array
  /** Extensions by OID; each OID at most once. */
  readonly extensions: ReadonlyMap<string, X509Extension>
  /** The signatureValue bits. */
  readonly signature: Uint8Array
  /** Node's view, for `verify(issuerKey)` and the printable names. */
  readonly x509: X509Certificate
  /** The subject public key. */
  readonly publicKey: KeyObject
}

/**
 * The codes a caller's refusals carry: each verifier keeps its own (`ERR_SNP_CERT_…`,
 * `ERR_TDX_…`, `ERR_SIGSTORE_X509_INVALID`), so its users see the codes they always saw.
 */
export interface X509ErrorCodes {
  /** Anything that is not a well-formed certificate. */
  readonly invalid: ErrorCode
  /** The inner and outer signature algorithms differ; default `invalid`. */
  readonly algorithmMismatch?: ErrorCode
  /** An extension appears twice; default `invalid`. */
  readonly duplicateExtension?: ErrorCode
}

/** Options of {@link readX509Certificate}. */
export interface X509ReadOptions {
  /** Names the certificate in messages (`"VCEK"`, `"Fulcio leaf certificate"`). */
  readonly what: string
  readonly codes: X509ErrorCodes
  /** Shown with refusals of malformed certificates. */
  readonly hint?: string
}

const SEQUENCE = { tagNumber: 16, constructed: true } as const

/**
 * Read one DER certificate.
 *
 * @throws {@link MalformedInputError} with the caller's codes, or a core `ERR_DER_*` code.
 */
export function readX509Certificate(input: Uint8Array, options: X509ReadOptions): X509Fields {
  const { what, codes } = options
  const invalid = (message: string, code: ErrorCode = codes.invalid, cause?: unknown) =>
    new MalformedInputError(code, `${what}: ${message}`, {
      details: { certificate: what },
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(cause === undefined ? {} : { cause }),
    })
  const der = Uint8Array.from(input)
  const certificate = decodeDerSequence(parseDer(der, { name: what }), what)
  if (certificate.length !== 3) {
    throw invalid(`Certificate has ${certificate.length} fields, not 3`)
  }
  const [tbsElement, outerAlgorithm, signatureElement] = certificate
  const tbs = decodeDerSequence(tbsElement, `${what} tbsCertificate`)
  let i = 0
  let version = 0
  const first = tbs[0]
  if (first?.tagClass === 'context' && first.tagNumber === 0) {
    const n = decodeDerInteger(decodeDerExplicit(first, 0, `${what} version`), `${what} version`)
    if (n < 0n || n > 2n) throw invalid(`unknown version ${n}`)
    version = Number(n)
    i++
  }
  const serialNumber = decodeDerInteger(tbs[i], `${what} serialNumber`)
  const innerAlgorithm = tbs[i + 1]
  if (
    innerAlgorithm === undefined ||
    outerAlgorithm === undefined ||
    !constantTimeEqual(innerAlgorithm.encoded, outerAlgorithm.encoded)
  ) {
    throw invalid(
      'the signature algorithm inside the signed part differs from the one outside it',
      codes.algorithmMismatch,
    )
  }
  const signatureAlgorithm = decodeDerOid(
    decodeDerSequence(outerAlgorithm, `${what} signatureAlgorithm`)[0],
    `${what} signatureAlgorithm`,
  )
  const issuer = expectDerTag(tbs[i + 2], SEQUENCE, `${what} issuer`)
  const validity = decodeDerSequence(tbs[i + 3], `${what} validity`)
  const subject = expectDerTag(tbs[i + 4], SEQUENCE, `${what} subject`)
  const spki = expectDerTag(tbs[i + 5], SEQUENCE, `${what} subjectPublicKeyInfo`)
  // issuerUniqueID [1] and subjectUniqueID [2] are obsolete; skip them if present.
  const rest = tbs
    .slice(i + 6)
    .filter((el) => !(el.tagClass === 'context' && (el.tagNumber === 1 || el.tagNumber === 2)))
  if (rest.length > 1) throw invalid('tbsCertificate has unexpected fields')
  if (validity.length !== 2) throw invalid('validity does not hold two times')
  const notBefore = decodeDerTime(validity[0], `${what} notBefore`)
  const notAfter = decodeDerTime(validity[1], `${what} notAfter`)
  const extensions = readExtensions(rest[0], what, invalid, codes.duplicateExtension)
  const signature = decodeDerBitString(signatureElement, `${what} signatureValue`).bytes
  let x509: X509Certificate
  let publicKey: KeyObject
  try {
    x509 = new X509Certificate(der)
    // OpenSSL parses the key lazily and throws here for a key it cannot read.
    publicKey = x509.publicKey
  } catch (cause) {
    throw invalid('OpenSSL cannot read it as an X.509 certificate', codes.invalid, cause)
  }
  return {
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    tbs: tbsElement?.encoded ?? new Uint8Array(),
    version,
    serialNumber,
    signatureAlgorithm,
    issuer,
    subject,
    notBefore,
    notAfter,
    subjectPublicKeyInfo: spki.encoded,
    extensions,
    signature,
    x509,
    publicKey,
  }
}

function readExtensions(
  el: DerElement | undefined,
  what: string,
  invalid: (message: string, code?: ErrorCode) => MalformedInputError,
  duplicateCode: ErrorCode | undefined,
): Map<string, X509Extension> {
  const extensions = new Map<string, X509Extension>()
  if (el === undefined) return extensions
  const field = `${what} extensions`
  for (const ext of decodeDerSequence(decodeDerExplicit(el, 3, field), field)) {
    const parts = decodeDerSequence(ext, `${what} extension`)
    const oid = decodeDerOid(parts[0], `${what} extnID`)
    if (parts.length < 2 || parts.length > 3) {
      throw invalid(`extension ${oid} has ${parts.length} fields, not 2 or 3`)
    }
    // Go and OpenSSL tolerate an explicit `critical FALSE` (a DER violation); so do we.
    const critical =
      parts.length === 3 ? decodeDerBoolean(parts[1], `${what} ${oid} critical`) : false
    const value = decodeDerOctetString(parts[parts.length - 1], `${what} ${oid} extnValue`)
    // Go (since 1.19) refuses duplicate extensions; which copy would count is ambiguous.
    if (extensions.has(oid)) throw invalid(`extension ${oid} appears twice`, duplicateCode)
    extensions.set(oid, { critical, value })
  }
  return extensions
}

/** The time a certificate (or a CRL, a collateral document) may be used in. */
export interface ValidityWindow {
  readonly notBefore: Date
  readonly notAfter: Date
}

/**
 * Where `now` falls in a validity window: inside (`notBefore ≤ now ≤ notAfter`, both ends
 * included, as RFC 5280 §4.1.2.5 says), before it, or after it.
 */
export function validityAt(
  window: ValidityWindow,
  now: Date,
): 'valid' | 'not-yet-valid' | 'expired' {
  // An invalid Date compares false with every bound: it would pass as "inside".
  if (Number.isNaN(now.getTime())) {
    throw new UsageError(
      'ERR_VALIDITY_TIME_INVALID',
      'the time to check validity at is not a valid date',
      {
        hint: 'give the time as an ISO 8601 date and time',
      },
    )
  }
  if (now < window.notBefore) return 'not-yet-valid'
  if (now > window.notAfter) return 'expired'
  return 'valid'
}

/** The one message for a time outside a window: `the VCEK is not valid at … (valid … to …)`. */
export function validityMessage(what: string, window: ValidityWindow, now: Date): string {
  return `the ${what} is not valid at ${now.toISOString()} (valid ${window.notBefore.toISOString()} to ${window.notAfter.toISOString()})`
}

/** The codes and hint of a refusal by {@link checkValidityWindow}. */
export interface ValidityRefusal {
  readonly notYetValid: ErrorCode
  readonly expired: ErrorCode
  readonly hint?: string
}

/**
 * Refuse a time outside the window, with the caller's codes.
 *
 * @throws {@link VerificationError} `refusal.notYetValid` or `refusal.expired`.
 */
export function checkValidityWindow(
  window: ValidityWindow,
  now: Date,
  what: string,
  refusal: ValidityRefusal,
): void {
  const state = validityAt(window, now)
  if (state === 'valid') return
  throw new VerificationError(
    state === 'expired' ? refusal.expired : refusal.notYetValid,
    validityMessage(what, window, now),
    {
      details: {
        what,
        now: now.toISOString(),
        notBefore: window.notBefore.toISOString(),
        notAfter: window.notAfter.toISOString(),
      },
      ...(refusal.hint === undefined ? {} : { hint: refusal.hint }),
    },
  )
}

/** The window in which every one of `windows` is valid (latest start, earliest end). */
export function commonValidity(windows: readonly ValidityWindow[]): {
  readonly validFrom: Date
  readonly validUntil: Date
} {
  return {
    validFrom: new Date(Math.max(...windows.map((w) => w.notBefore.getTime()))),
    validUntil: new Date(Math.min(...windows.map((w) => w.notAfter.getTime()))),
  }
}
