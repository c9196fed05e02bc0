/**
 * X.509 v2 CRLs as Intel issues them: the Root CA CRL (revokes PCK Platform/Processor CA and TCB
 * Signing certificates) and the PCK CRLs (revoke PCK certificates), all ECDSA P-256 with SHA-256.
 *
 * ```asn1
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
 *                                signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE {
 *   version              INTEGER (v2 = 1) OPTIONAL,
 *   signature            AlgorithmIdentifier,
 *   issuer               Name,
 *   thisUpdate           Time,
 *   nextUpdate           Time OPTIONAL,          -- required here: Intel always sets it
 *   revokedCertificates  SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time,
 *                                               crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions        [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * The signature is checked over the exact `tbsCertList` bytes received; an unknown critical
 * extension (of the list or of an entry) makes the CRL unusable, as RFC 5280 §5.2/§5.3 requires.
 *
 * @see RFC 5280 §5.
 * @module
 */
import { verify } from 'node:crypto'
import {
  MalformedInputError,
  VerificationError,
  base64ToBytes,
  X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD,
  X509_CRL_EXTENSIONS_UNDERSTOOD,
  decodeDerBitString,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerSequence,
  decodeDerTime,
  hexToBytes,
  parseDer,
  readX509Extensions,
  utf8ToString,
  type DerElement,
  constantTimeEqual,
} from '@initguard/core'
import {
  ECDSA_WITH_SHA256,
  commonNameOf,
  serialKey,
  signatureAlgorithmOf,
  type CollateralCertificate,
} from './collateral-certs.ts'

/** A parsed CRL. Its signature is not checked until {@link verifyCrlSignature}. */
export interface X509Crl {
  /** The DER encoding. */
  readonly der: Uint8Array
  /** The exact signed bytes (`tbsCertList`). */
  readonly tbs: Uint8Array
  /** The signature algorithm OID. */
  readonly signatureAlgorithm: string
  /** The signature (for ECDSA, a DER `Ecdsa-Sig-Value`). */
  readonly signature: Uint8Array
  /** The DER of the issuer Name. */
  readonly issuer: Uint8Array
  /** The issuer's common name, e.g. `Intel SGX PCK Platform CA`. */
  readonly issuerCommonName: string
  /** When this CRL was issued. */
  readonly thisUpdate: Date
  /** When the next CRL will be issued: this one is stale after it. */
  readonly nextUpdate: Date
  /** The CRL Number extension, when present. */
  readonly crlNumber: bigint | undefined
  /** Serial numbers of the revoked certificates, normalised as `serialKey` does. */
  readonly revokedSerials: ReadonlySet<string>
}

const CRL_NUMBER = '2.5.29.20'

function invalid(what: string, message: string): MalformedInputError {
  return new MalformedInputError('ERR_TDX_CRL_INVALID', `${what}: ${message}`, {
    details: { what },
    hint: 'give the CRL as Intel serves it (DER, PEM or hex of the DER)',
  })
}

/** The list's (or an entry's) extensions; an unknown critical one is refused (RFC 5280 §5.2/§5.3). */
function readExtensions(
  el: DerElement,
  what: string,
  understood: ReadonlySet<string>,
): Map<string, Uint8Array> {
  return readX509Extensions(el, what, understood, (message) => invalid(what, message))
}

/**
 * The DER of a CRL given as DER bytes, PEM (`-----BEGIN X509 CRL-----`) or hex of the DER, as text
 * or as its bytes. Only the armour is removed here; {@link parseX509Crl} checks the DER.
 *
 * @internal shared with the collateral readers.
 */
export function crlToDer(input: Uint8Array | string, what: string): Uint8Array {
  // A DER CRL starts with a SEQUENCE tag; PEM and hex text never do.
  if (typeof input !== 'string' && input[0] === 0x30) return Uint8Array.from(input)
  const text = (typeof input === 'string' ? input : utf8ToString(input, { field: what })).trim()
  const pem = /^-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----$/.exec(text)
  if (pem !== null) {
    return base64ToBytes((pem[1] ?? '').replace(/\s+/g, ''), { field: what })
  }
  if (text.length === 0) throw invalid(what, 'is empty')
  return hexToBytes(text, { field: what })
}

/**
 * Parse a CRL given as DER bytes, as PEM (`-----BEGIN X509 CRL-----`) or as hex of the DER (the
 * collateral document's form).
 *
 * @throws {@link MalformedInputError} `ERR_TDX_CRL_INVALID` (version, missing `nextUpdate`,
 *   duplicate or unknown critical extension), `ERR_TDX_SIGNATURE_ALGORITHM_MISMATCH`,
 *   `ERR_HEX_INVALID`, and core's `ERR_DER_*` codes.
 */
export function parseX509Crl(input: Uint8Array | string, what: string): X509Crl {
  const der = crlToDer(input, what)
  const [tbs, outerAlgorithm, signatureValue] = decodeDerSequence(
    parseDer(der, { name: what }),
    what,
  )
  const fields = decodeDerSequence(tbs, `${what} tbsCertList`)
  if (tbs === undefined) throw invalid(what, 'has no tbsCertList')
  let i = 0
  if (fields[0]?.tagClass === 'universal' && fields[0].tagNumber === 2) {
    const version = decodeDerInteger(fields[0], `${what} version`)
    if (version !== 1n) throw invalid(what, `version is ${version}; only v2 (1) is defined`)
    i = 1
  }
  const signatureAlgorithm = signatureAlgorithmOf(fields[i], outerAlgorithm, what)
  const issuer = fields[i + 1]
  if (issuer === undefined) throw invalid(what, 'has no issuer')
  const issuerCommonName = commonNameOf(issuer, `${what} issuer`)
  const thisUpdate = decodeDerTime(fields[i + 2], `${what} thisUpdate`)
  const next = fields[i + 3]
  if (next?.tagClass !== 'universal' || (next.tagNumber !== 23 && next.tagNumber !== 24)) {
    throw invalid(what, 'has no nextUpdate; a CRL without one cannot be checked for staleness')
  }
  const nextUpdate = decodeDerTime(next, `${what} nextUpdate`)
  let rest = fields.slice(i + 4)
  const revokedSerials = new Set<string>()
  const list = rest[0]
  if (list?.tagClass === 'universal' && list.tagNumber === 16) {
    for (const [n, entry] of decodeDerSequence(list, `${what} revokedCertificates`).entries()) {
      const parts = decodeDerSequence(entry, `${what} revoked #${n + 1}`)
      const serial = decodeDerInteger(parts[0], `${what} revoked #${n + 1} serial`)
      decodeDerTime(parts[1], `${what} revoked #${n + 1} revocationDate`)
      const extensions = parts[2]
      if (extensions !== undefined) {
        readExtensions(
          extensions,
          `${what} revoked #${n + 1}`,
          X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD,
        )
      }
      if (parts.length > 3) throw invalid(what, `revoked entry #${n + 1} has extra fields`)
      revokedSerials.add(serialKey(serial))
    }
    rest = rest.slice(1)
  }
  let crlNumber: bigint | undefined
  const extensionsField = rest[0]
  if (extensionsField !== undefined) {
    const extensions = readExtensions(
      decodeDerExplicit(extensionsField, 0, `${what} crlExtensions`),
      what,
      X509_CRL_EXTENSIONS_UNDERSTOOD,
    )
    const number = extensions.get(CRL_NUMBER)
    if (number !== undefined) {
      crlNumber = decodeDerInteger(parseDer(number, { name: `${what} CRL number` }), 'CRL number')
    }
    rest = rest.slice(1)
  }
  if (rest.length > 0) throw invalid(what, `has ${rest.length} unexpected trailing field(s)`)
  const bits = decodeDerBitString(signatureValue, `${what} signatureValue`)
  if (bits.unusedBits !== 0) throw invalid(what, 'signature has unused bits')
  return {
    der,
    tbs: tbs.encoded,
    signatureAlgorithm,
    signature: bits.bytes,
    issuer: issuer.encoded,
    issuerCommonName,
    thisUpdate,
    nextUpdate,
    crlNumber,
    revokedSerials,
  }
}

/**
 * True when `serial` (a `bigint` or hex) is on the CRL.
 *
 * @example
 * ```ts
 * if (isSerialRevoked(verified.pckCrl, pck.serialNumber)) throw …
 * ```
 */
export function isSerialRevoked(crl: X509Crl, serial: bigint | string): boolean {
  return crl.revokedSerials.has(serialKey(serial))
}

/**
 * Whether `crl` is signed, ECDSA P-256 with SHA-256 as Intel signs, by the key of `issuer`: the
 * signature over the exact `tbsCertList` bytes. The issuer name is not compared here.
 */
export function crlSignedBy(crl: X509Crl, issuer: CollateralCertificate): boolean {
  if (
    crl.signatureAlgorithm !== ECDSA_WITH_SHA256 ||
    issuer.publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  )
    return false
  try {
    return verify('sha256', crl.tbs, { key: issuer.publicKey, dsaEncoding: 'der' }, crl.signature)
  } catch {
    // OpenSSL throws, rather than answering false, on some malformed signatures: both mean no.
    return false
  }
}

/**
 * Check that `issuer` issued and signed the CRL: the CRL's issuer Name is byte-identical to the
 * certificate's subject, and the ECDSA P-256/SHA-256 signature over `tbsCertList` verifies with its
 * key. Whether `issuer` itself is trusted is the caller's to establish.
 *
 * @throws {@link VerificationError} `ERR_TDX_CRL_SIGNATURE` (not ecdsa-with-SHA256, not P-256, or
 *   the signature does not verify), `ERR_TDX_CRL_ISSUER` (issued by someone else).
 */
export function verifyCrlSignature(
  crl: X509Crl,
  issuer: CollateralCertificate,
  what: string,
): void {
  const curve = issuer.publicKey.asymmetricKeyDetails?.namedCurve
  if (crl.signatureAlgorithm !== ECDSA_WITH_SHA256 || curve !== 'prime256v1') {
    throw new VerificationError(
      'ERR_TDX_CRL_SIGNATURE',
      `the ${what} is not signed with ECDSA P-256/SHA-256 as Intel signs (${crl.signatureAlgorithm}, ${curve ?? 'no curve'})`,
      { details: { what, algorithm: crl.signatureAlgorithm } },
    )
  }
  if (!crlSignedBy(crl, issuer)) {
    throw new VerificationError(
      'ERR_TDX_CRL_SIGNATURE',
      `the signature of the ${what} does not verify with the key of ${issuer.commonName || 'its issuer'}`,
      {
        details: { what, issuer: issuer.commonName },
        hint: 'the CRL was altered or comes from another issuer; fetch it again from Intel PCS',
      },
    )
  }
  if (!constantTimeEqual(crl.issuer, issuer.subject)) {
    throw new VerificationError(
      'ERR_TDX_CRL_ISSUER',
      `the ${what} is issued by ${crl.issuerCommonName || '(no CN)'}, not by ${issuer.commonName || '(no CN)'}`,
      { details: { what, crlIssuer: crl.issuerCommonName, expected: issuer.commonName } },
    )
  }
}
