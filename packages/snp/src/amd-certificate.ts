/**
 * AMD SEV-SNP certificates: the ARK, ASK/ASVK and VCEK/VLEK, with the AMD extensions of the
 * endorsement keys decoded.
 *
 * ```asn1
 * -- VCEK/VLEK extensions, OID prefix 1.3.6.1.4.1.3704.1 (AMD KDS specification)
 * .1    structVersion  INTEGER        -- 0 Milan/Genoa, 1 Turin
 * .2    productName    IA5String      -- "Milan-B0", "Genoa", "Turin", …
 * .3.1  blSPL          INTEGER
 * .3.2  teeSPL         INTEGER
 * .3.3  snpSPL         INTEGER
 * .3.4–.3.7 spl_4..7   INTEGER
 * .3.8  ucodeSPL       INTEGER
 * .3.9  fmcSPL         INTEGER        -- Turin
 * .4    hwID           raw octets (64 B; Turin 8 B) -- or, in some certificates, an OCTET STRING
 * .5    csp_id         IA5String      -- VLEK only
 * ```
 *
 * @module
 */
import type { X509Certificate, KeyObject } from 'node:crypto'
import {
  MalformedInputError,
  X509_EXTENSION_OIDS,
  base64ToBytes,
  decodeDerIa5String,
  decodeDerInteger,
  decodeDerOctetString,
  decodeX509BasicConstraints,
  decodeX509KeyUsage,
  parseDer,
  readX509Certificate,
  subjectLine,
  unrecognisedCriticalExtensions,
  type X509BasicConstraints,
  type X509Extension,
  type X509KeyUsage,
} from '@initguard/core'
import type { TcbComponents } from './tcb.ts'

const AMD_OID = '1.3.6.1.4.1.3704.1'

/** The AMD extensions of a VCEK or VLEK. */
export interface AmdKeyExtensions {
  readonly structVersion: number | undefined
  readonly productName: string | undefined
  readonly tcb: TcbComponents | undefined
  /** The hardware ID (VCEK only): 64 bytes, or 8 on Turin. */
  readonly hwId: Uint8Array | undefined
  /** How the hwID was encoded: raw octets, or a DER OCTET STRING (both occur in the field). */
  readonly hwIdEncoding: 'raw' | 'octet-string' | undefined
  /** The cloud provider (VLEK only). */
  readonly cspId: string | undefined
}

/** A parsed AMD certificate. */
export interface AmdCertificate {
  readonly der: Uint8Array
  /** SHA-256 of the DER, hex: the cache key and the pinning fingerprint. */
  readonly fingerprint: string
  readonly x509: X509Certificate
  readonly publicKey: KeyObject
  /** The subject as one line (`CN=ARK-Milan, OU=Engineering, …`), read once at parse. */
  readonly subjectLine: string
  /** The subject's common name, e.g. `ARK-Milan`, `SEV-Milan`, `SEV-VCEK`. */
  readonly commonName: string
  readonly issuerCommonName: string
  readonly serialNumber: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** The outer signatureAlgorithm OID (1.2.840.113549.1.1.10 for RSASSA-PSS). */
  readonly signatureAlgorithm: string
  /** The AMD extensions; all undefined on the ARK/ASK. */
  readonly amd: AmdKeyExtensions
  /**
   * basicConstraints, undefined when absent (as on every real VCEK/VLEK; the ARK, ASK and ASVK
   * carry it). What role the certificate may play is checked by the chain, which knows its place.
   */
  readonly basicConstraints: X509BasicConstraints | undefined
  /** keyUsage, undefined when absent (any use, as on every real VCEK/VLEK). */
  readonly keyUsage: X509KeyUsage | undefined
}

/** The critical extensions AMD's certificates carry: basicConstraints, keyUsage. */
const UNDERSTOOD_CRITICAL: ReadonlySet<string> = new Set(['2.5.29.19', '2.5.29.15'])

/**
 * Parse one certificate given as DER or PEM.
 *
 * @throws {@link MalformedInputError} `ERR_SNP_CERT_PEM` (no or several PEM certificates),
 *   `ERR_SNP_CERT_INVALID`, `ERR_SNP_CERT_ALGORITHM_MISMATCH`, `ERR_SNP_CERT_EXTENSION_DUPLICATE`,
 *   `ERR_SNP_CERT_CRITICAL_EXTENSION` (a critical extension other than basicConstraints or keyUsage),
 *   `ERR_SNP_CERT_EXTENSION` (an AMD extension out of range, a malformed basicConstraints), and the
 *   DER reader's `ERR_DER_*` codes for bytes that are no certificate or a malformed keyUsage.
 */
export function parseAmdCertificate(input: Uint8Array | string, what: string): AmdCertificate {
  const fields = readX509Certificate(typeof input === 'string' ? pemToDer(input, what) : input, {
    what,
    codes: {
      invalid: 'ERR_SNP_CERT_INVALID',
      algorithmMismatch: 'ERR_SNP_CERT_ALGORITHM_MISMATCH',
      duplicateExtension: 'ERR_SNP_CERT_EXTENSION_DUPLICATE',
    },
  })
  // RFC 5280 §4.2: a certificate with a critical extension the verifier does not recognise must
  // be refused. AMD's ARK/ASK/ASVK mark basicConstraints and keyUsage critical; nothing else is.
  const unknown = unrecognisedCriticalExtensions(fields.extensions, UNDERSTOOD_CRITICAL)
  if (unknown.length > 0)
    throw new MalformedInputError(
      'ERR_SNP_CERT_CRITICAL_EXTENSION',
      `${what} has a critical extension this verifier does not recognise (${unknown.join(', ')}), so it must not be used (RFC 5280 §4.2)`,
      {
        details: { extensions: unknown },
        hint: 'use the certificates AMD KDS issues (cert_chain and the VCEK/VLEK of the chip)',
      },
    )
  const { x509 } = fields
  // Node builds these strings from OpenSSL on every property read: read each once.
  const subject = x509.subject
  return {
    der: fields.der,
    fingerprint: fields.fingerprint,
    x509,
    publicKey: fields.publicKey,
    subjectLine: subjectLine(subject),
    commonName: commonName(subject),
    issuerCommonName: commonName(x509.issuer),
    serialNumber: x509.serialNumber.toLowerCase(),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    signatureAlgorithm: fields.signatureAlgorithm,
    amd: amdExtensions(fields.extensions, what),
    ...roleExtensions(fields.extensions, what),
  }
}

/**
 * basicConstraints and keyUsage, decoded here so that a malformed one is refused when the
 * certificate is read (they are the two critical extensions this verifier claims to understand).
 */
function roleExtensions(
  extensions: ReadonlyMap<string, X509Extension>,
  what: string,
): Pick<AmdCertificate, 'basicConstraints' | 'keyUsage'> {
  const constraints = extensions.get(X509_EXTENSION_OIDS.basicConstraints)?.value
  const usage = extensions.get(X509_EXTENSION_OIDS.keyUsage)?.value
  return {
    basicConstraints:
      constraints === undefined
        ? undefined
        : decodeX509BasicConstraints(
            constraints,
            what,
            (message) =>
              new MalformedInputError('ERR_SNP_CERT_EXTENSION', `${what}: ${message}`, {
                hint: 'use the certificates AMD KDS issues',
              }),
          ),
    keyUsage: usage === undefined ? undefined : decodeX509KeyUsage(usage, what),
  }
}

/** Every certificate in a PEM bundle, in order. */
export function parsePemBundle(pem: string, what: string): AmdCertificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) {
    throw new MalformedInputError('ERR_SNP_CERT_PEM', `${what} contains no PEM certificate`, {
      hint: 'give PEM text with -----BEGIN CERTIFICATE----- blocks, or DER',
    })
  }
  return blocks.map((block, i) => parseAmdCertificate(block, `${what} #${i + 1}`))
}

function pemToDer(pem: string, what: string): Uint8Array {
  const match =
    /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\s*$/.exec(
      pem.trim() + '\n',
    )
  if (match === null) {
    throw new MalformedInputError('ERR_SNP_CERT_PEM', `${what} is not a single PEM certificate`)
  }
  return base64ToBytes(match[1] ?? '', { field: what, allowLineBreaks: true })
}

function commonName(name: string): string {
  const line = name.split('\n').find((l) => l.startsWith('CN='))
  return line === undefined ? '' : line.slice(3)
}

function amdExtensions(
  extensions: ReadonlyMap<string, X509Extension>,
  what: string,
): AmdKeyExtensions {
  const integer = (suffix: string): number | undefined => {
    const value = extensions.get(`${AMD_OID}.${suffix}`)?.value
    if (value === undefined) return undefined
    const n = decodeDerInteger(
      parseDer(value, { name: `${what} ${AMD_OID}.${suffix}` }),
      `${what} ${AMD_OID}.${suffix}`,
    )
    if (n < 0n || n > 255n) {
      throw new MalformedInputError(
        'ERR_SNP_CERT_EXTENSION',
        `${what}: extension ${AMD_OID}.${suffix} is out of range (${n})`,
      )
    }
    return Number(n)
  }
  const ia5 = (suffix: string): string | undefined => {
    const value = extensions.get(`${AMD_OID}.${suffix}`)?.value
    return value === undefined
      ? undefined
      : decodeDerIa5String(
          parseDer(value, { name: `${what} ${AMD_OID}.${suffix}` }),
          `${what} ${AMD_OID}.${suffix}`,
        )
  }
  const bootloader = integer('3.1')
  const tee = integer('3.2')
  const snp = integer('3.3')
  const microcode = integer('3.8')
  const fmc = integer('3.9')
  const tcb =
    bootloader === undefined || tee === undefined || snp === undefined || microcode === undefined
      ? undefined
      : { ...(fmc === undefined ? {} : { fmc }), bootloader, tee, snp, microcode }
  const hw = decodeHwId(extensions.get(`${AMD_OID}.4`)?.value, what)
  return {
    structVersion: integer('1'),
    productName: ia5('2'),
    tcb,
    hwId: hw?.bytes,
    hwIdEncoding: hw?.encoding,
    cspId: ia5('5'),
  }
}

/**
 * The hwID extension holds the chip ID as raw octets (what AMD's KDS issues), but certificates with
 * the bytes wrapped in a DER OCTET STRING exist too. The lengths tell them apart: 64 or 8 raw
 * bytes, or 66 / 10 bytes starting with the OCTET STRING header.
 */
function decodeHwId(
  value: Uint8Array | undefined,
  what: string,
): { bytes: Uint8Array; encoding: 'raw' | 'octet-string' } | undefined {
  if (value === undefined) return undefined
  if (value.length === 64 || value.length === 8) return { bytes: value, encoding: 'raw' }
  if (
    (value.length === 66 || value.length === 10) &&
    value[0] === 0x04 &&
    value[1] === value.length - 2
  ) {
    return {
      bytes: decodeDerOctetString(parseDer(value, { name: `${what} hwID` }), `${what} hwID`),
      encoding: 'octet-string',
    }
  }
  throw new MalformedInputError(
    'ERR_SNP_CERT_EXTENSION',
    `${what}: the hwID extension has ${value.length} bytes; expected 64 (8 on Turin)`,
    {
      details: { length: value.length },
    },
  )
}
