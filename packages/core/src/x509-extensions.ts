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
 * @see RFC 5280 §4.2, §5.2, §5.3.
 * @module
 */
import type { DerElement } from './der-parse.ts'
import { decodeDerBoolean, decodeDerOctetString, decodeDerOid } from './der-primitives.ts'
import { decodeDerSequence } from './der-structure.ts'
import type { X509Extension } from './x509-certificate.ts'

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
