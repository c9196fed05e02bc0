/**
 * X.509 extension lists and the RFC 5280 rule for critical extensions: a certificate or CRL with a
 * critical extension the reader does not recognise and process must not be used (§4.2 for
 * certificates, §5.2 for CRL extensions, §5.3 for CRL entry extensions). A non-critical unknown
 * extension may be ignored.
 *
 * ```asn1
 * Extensions ::= SEQUENCE OF Extension
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * ```
 *
 * And the two extensions that say what a certificate may do, decoded for the chain checks:
 *
 * ```asn1
 * BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 *                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL }   -- 2.5.29.19
 * KeyUsage ::= BIT STRING { digitalSignature (0), nonRepudiation (1), keyEncipherment (2),
 *     dataEncipherment (3), keyAgreement (4), keyCertSign (5), cRLSign (6), encipherOnly (7),
 *     decipherOnly (8) }                                                            -- 2.5.29.15
 * ```
 *
 * @see RFC 5280 §4.2, §4.2.1.3, §4.2.1.9, §5.2, §5.3.
 * @module
 */
import { parseDer, type DerElement } from './der-parse.ts'
import {
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
} from './der-primitives.ts'
import { decodeDerSequence } from './der-structure.ts'
import type { X509Extension } from './x509-certificate.ts'

/** The OIDs of the extensions decoded here. */
export const X509_EXTENSION_OIDS = {
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
} as const

/** A decoded basicConstraints extension. */
export interface X509BasicConstraints {
  /** `cA`: whether the subject is a CA (false when the field is absent, its DEFAULT). */
  readonly ca: boolean
  /** `pathLenConstraint`: how many intermediate CAs may follow this one; undefined when absent. */
  readonly pathLength: number | undefined
}

/** A decoded keyUsage extension: which uses the key is allowed. */
export interface X509KeyUsage {
  readonly digitalSignature: boolean
  readonly nonRepudiation: boolean
  readonly keyEncipherment: boolean
  readonly dataEncipherment: boolean
  readonly keyAgreement: boolean
  readonly keyCertSign: boolean
  readonly cRLSign: boolean
  readonly encipherOnly: boolean
  readonly decipherOnly: boolean
}

/** One named KeyUsage bit. */
export type X509KeyUsageBit = keyof X509KeyUsage

/** The named bits of KeyUsage (RFC 5280 §4.2.1.3), bit 0 (the top bit of the first byte) first. */
export const X509_KEY_USAGE_BITS: readonly X509KeyUsageBit[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
]

/**
 * Decode the `extnValue` of basicConstraints. An explicit `cA FALSE` (not DER, since FALSE is the
 * DEFAULT) is read as false, as Go and OpenSSL read it; a pathLenConstraint above 1000 is refused
 * (no real chain comes near it, and it keeps the number exact).
 *
 * @throws what `invalid` returns for a pathLenConstraint out of range or fields after it; core's
 *   `ERR_DER_*` codes for bytes that are not a SEQUENCE of BOOLEAN and INTEGER.
 */
export function decodeX509BasicConstraints(
  value: Uint8Array,
  what: string,
  invalid: (message: string) => Error,
): X509BasicConstraints {
  const parts = decodeDerSequence(parseDer(value, { name: what }), `${what} basicConstraints`)
  let i = 0
  let ca = false
  if (parts[i]?.tagNumber === 1 && parts[i]?.tagClass === 'universal') {
    ca = decodeDerBoolean(parts[i], `${what} cA`)
    i++
  }
  let pathLength: number | undefined
  if (parts[i] !== undefined) {
    const n = decodeDerInteger(parts[i], `${what} pathLenConstraint`)
    if (n < 0n || n > 1000n) throw invalid('pathLenConstraint is out of range')
    pathLength = Number(n)
    i++
  }
  if (i !== parts.length) throw invalid('basicConstraints has extra fields')
  return { ca, pathLength }
}

/**
 * Decode the `extnValue` of keyUsage. Trailing zero bits may be kept (AMD's ASK writes keyCertSign
 * as `03 02 01 04`, one unused bit where DER wants two); bits after decipherOnly are ignored.
 *
 * @throws core's `ERR_DER_*` codes for bytes that are not a BIT STRING.
 */
export function decodeX509KeyUsage(value: Uint8Array, what: string): X509KeyUsage {
  const { bytes } = decodeDerBitString(parseDer(value, { name: what }), `${what} keyUsage`)
  const bit = (n: number): boolean => (((bytes[n >> 3] ?? 0) >> (7 - (n & 7))) & 1) === 1
  return Object.fromEntries(X509_KEY_USAGE_BITS.map((name, n) => [name, bit(n)])) as Record<
    keyof X509KeyUsage,
    boolean
  >
}

/** CRL extensions a CRL reader here understands: CRL Number, Authority Key Identifier. */
export const X509_CRL_EXTENSIONS_UNDERSTOOD: ReadonlySet<string> = new Set([
  '2.5.29.20',
  '2.5.29.35',
])

/** CRL entry extensions a CRL reader here understands: reason code, invalidity date. */
export const X509_CRL_ENTRY_EXTENSIONS_UNDERSTOOD: ReadonlySet<string> = new Set([
  '2.5.29.21',
  '2.5.29.24',
])

/**
 * Read an `Extensions` list (of a CRL or of a CRL entry): each extension's value by OID. Refuses,
 * through `invalid`, an extension with other than two or three fields, an OID given twice, and a
 * critical extension whose OID is not in `understood` (the CRL must then not be used, RFC 5280
 * §5.2/§5.3: a critical Issuing Distribution Point, Delta CRL Indicator or Certificate Issuer
 * changes what the list covers).
 *
 * @throws what `invalid` returns; core's `ERR_DER_*` codes for a malformed list.
 */
export function readX509Extensions(
  el: DerElement,
  what: string,
  understood: ReadonlySet<string>,
  invalid: (message: string) => Error,
): Map<string, Uint8Array> {
  const values = new Map<string, Uint8Array>()
  for (const extension of decodeDerSequence(el, `${what} extensions`)) {
    const parts = decodeDerSequence(extension, `${what} extension`)
    const oid = decodeDerOid(parts[0], `${what} extension id`)
    if (parts.length !== 2 && parts.length !== 3)
      throw invalid(`extension ${oid} has ${parts.length} fields`)
    const critical =
      parts.length === 3 ? decodeDerBoolean(parts[1], `${what} extension ${oid} critical`) : false
    const value = decodeDerOctetString(parts[parts.length - 1], `${what} extension ${oid}`)
    if (values.has(oid)) throw invalid(`extension ${oid} appears twice`)
    if (critical && !understood.has(oid))
      throw invalid(`has an unrecognised critical extension ${oid}`)
    values.set(oid, value)
  }
  return values
}

/** The OIDs of `extensions` that are critical and not in `understood`, in the list's order. */
export function unrecognisedCriticalExtensions(
  extensions: ReadonlyMap<string, X509Extension>,
  understood: ReadonlySet<string>,
): string[] {
  return [...extensions]
    .filter(([oid, extension]) => extension.critical && !understood.has(oid))
    .map(([oid]) => oid)
}
