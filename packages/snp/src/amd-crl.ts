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
 * @module
 */
import { constants, verify } from 'node:crypto'
import {
  MalformedInputError,
  VerificationError,
  bytesToHex,
  decodeDerBitString,
  decodeDerInteger,
  decodeDerOid,
  decodeDerSequence,
  decodeDerTime,
  parseDer,
  type DerElement,
} from '@initguard/core'
import type { VerifiedChain } from './amd-chain.ts'

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

/** Parse a CRL (DER). */
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
  const revokedList = (hasNext ? rest : [maybeNext, ...rest]).find(
    (el) => el?.tagClass === 'universal' && el.tagNumber === 16,
  )
  const revokedSerials = new Set<string>()
  for (const entry of revokedList === undefined
    ? []
    : decodeDerSequence(revokedList, 'CRL revokedCertificates')) {
    revokedSerials.add(
      decodeDerInteger(decodeDerSequence(entry, 'CRL entry')[0], 'CRL entry serial').toString(16),
    )
  }
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
 * Check a chain against the product's CRL at `now`.
 *
 * @throws {@link VerificationError} `ERR_SNP_CRL_SIGNATURE` (not signed by the pinned ARK),
 *   `ERR_SNP_CRL_STALE` (outside thisUpdate–nextUpdate, or no nextUpdate), `ERR_SNP_CERT_REVOKED`.
 */
export function checkAmdCrl(der: Uint8Array, chain: VerifiedChain, now: Date): void {
  const crl = parseAmdCrl(der)
  const algorithm = decodeDerOid(
    decodeDerSequence(parseDer(crl.signatureAlgorithm), 'CRL signatureAlgorithm')[0],
    'CRL signatureAlgorithm',
  )
  const genuine =
    algorithm === RSASSA_PSS &&
    verify(
      'sha384',
      crl.tbs,
      { key: chain.root.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
      crl.signature,
    )
  if (!genuine) {
    throw new VerificationError(
      'ERR_SNP_CRL_SIGNATURE',
      `the CRL is not signed by the pinned ${chain.root.commonName}`,
      {
        hint: `use the CRL from AMD KDS /${chain.kind}/v1/${chain.product}/crl`,
      },
    )
  }
  // Without nextUpdate nothing says when the CRL stops being current: an old one, issued before a
  // revocation, would pass for ever (RFC 5280 §5.1.2.5: issuers must include it).
  if (crl.nextUpdate === undefined) {
    throw new VerificationError(
      'ERR_SNP_CRL_STALE',
      `the CRL (thisUpdate ${crl.thisUpdate.toISOString()}) has no nextUpdate, so it cannot be shown to be current at ${now.toISOString()}`,
      { hint: `use the CRL from AMD KDS /${chain.kind}/v1/${chain.product}/crl` },
    )
  }
  if (now < crl.thisUpdate || now > crl.nextUpdate) {
    throw new VerificationError(
      'ERR_SNP_CRL_STALE',
      `the CRL is valid from ${crl.thisUpdate.toISOString()} to ${crl.nextUpdate.toISOString()}, not at ${now.toISOString()}`,
      { hint: 'fetch a current CRL' },
    )
  }
  for (const [name, certificate] of [
    ['intermediate', chain.intermediate],
    ['endorsement key', chain.endorsement],
  ] as const) {
    const serial = BigInt(`0x${certificate.serialNumber}`).toString(16)
    if (crl.revokedSerials.has(serial)) {
      throw new VerificationError(
        'ERR_SNP_CERT_REVOKED',
        `the ${name} certificate ${certificate.commonName} (serial ${serial}) is revoked by AMD's CRL`,
      )
    }
  }
}
