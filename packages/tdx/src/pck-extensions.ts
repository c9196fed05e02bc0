/**
 * Intel PCK certificates: the SGX extension (OID 1.2.840.113741.1.13.1) that carries the
 * platform's FMSPC, PCE ID and TCB, and which CA issued the certificate.
 *
 * ```asn1
 * -- extnValue of 1.2.840.113741.1.13.1: a SEQUENCE of { OID, value } pairs
 * SgxExtensions ::= SEQUENCE OF SEQUENCE { sgxExtensionId OBJECT IDENTIFIER, value ANY }
 * .1   PPID                OCTET STRING (16)
 * .2   TCB                 SEQUENCE OF SEQUENCE { OID, value }:
 *        .2.1 – .2.16      INTEGER (0..255)     SGX TCB component SVNs
 *        .2.17             INTEGER (0..65535)   PCESVN
 *        .2.18             OCTET STRING (16)    CPUSVN
 * .3   PCE-ID              OCTET STRING (2)
 * .4   FMSPC               OCTET STRING (6)
 * .5   SGX type            ENUMERATED { standard(0), scalable(1), scalableWithIntegrity(2) }
 * .6   PlatformInstanceID  OCTET STRING (16)    -- optional; certificates of the Platform CA
 * .7   Configuration       SEQUENCE OF SEQUENCE { OID, BOOLEAN }  -- optional; Platform CA
 *        .7.1 dynamicPlatform, .7.2 cachedKeys, .7.3 SMTEnabled (each optional)
 * ```
 *
 * @see Intel SGX PCK Certificate and Certificate Revocation List Profile Specification, §1.5
 *   (SGX extensions); verifiers.md §3.4.
 * @module
 */
import {
  MalformedInputError,
  decodeDerBoolean,
  decodeDerEnumerated,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerPrintableString,
  decodeDerSequence,
  decodeDerSet,
  decodeDerUtf8String,
  DerUniversalTag,
  parseDer,
} from '@initguard/core'
import type { DerElement, ErrorDetails } from '@initguard/core'
import { requireBytes } from './parse-support.ts'

/** The OID of the SGX extension in PCK certificates. */
export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1'
const COMMON_NAME_OID = '2.5.4.3'

/** The subject common name of the CA that issues PCK certificates for multi-package platforms. */
export const PCK_PLATFORM_CA_CN = 'Intel SGX PCK Platform CA'
/** The subject common name of the CA that issues PCK certificates for single processors. */
export const PCK_PROCESSOR_CA_CN = 'Intel SGX PCK Processor CA'

/** Which Intel CA issued a PCK certificate; `'unknown'` for any other name. */
export type PckIssuerCa = 'platform' | 'processor' | 'unknown'

/** The SGX type (.5), named; `'unknown'` for values this version does not know. */
export type SgxType = 'standard' | 'scalable' | 'scalable-with-integrity' | 'unknown'

/** The TCB of the PCK certificate (.2). */
export interface SgxPckTcb {
  /** The 16 SGX TCB component SVNs (.2.1–.2.16), in order; each 0–255. */
  readonly cpuSvnComponents: readonly number[]
  /** PCESVN (.2.17), 0–65535. */
  readonly pceSvn: number
  /** CPUSVN (.2.18), 16 bytes. */
  readonly cpuSvn: Uint8Array
}

/** The platform configuration (.7) of a Platform CA certificate; each flag may be absent. */
export interface SgxPlatformConfiguration {
  /** .7.1 dynamicPlatform. */
  readonly dynamicPlatform: boolean | undefined
  /** .7.2 cachedKeys. */
  readonly cachedKeys: boolean | undefined
  /** .7.3 SMTEnabled. */
  readonly smtEnabled: boolean | undefined
}

/** The decoded SGX extension of a PCK certificate (ASN.1 in the module comment). */
export interface SgxPckExtensions {
  /** PPID (.1), 16 bytes. */
  readonly ppid: Uint8Array
  /** TCB (.2). */
  readonly tcb: SgxPckTcb
  /** PCE-ID (.3), 2 bytes. */
  readonly pceId: Uint8Array
  /** FMSPC (.4), 6 bytes: the platform family, the key for TCB info. */
  readonly fmspc: Uint8Array
  /** SGX type (.5), named. */
  readonly sgxType: SgxType
  /** SGX type (.5) as encoded. */
  readonly sgxTypeCode: number
  /** PlatformInstanceID (.6), 16 bytes; Platform CA certificates only. */
  readonly platformInstanceId: Uint8Array | undefined
  /** Configuration (.7); Platform CA certificates only. */
  readonly configuration: SgxPlatformConfiguration | undefined
  /**
   * OIDs inside the extension this version does not know (not an error): those at the top level,
   * then inside TCB, then inside Configuration, each in encoded order.
   */
  readonly unknownOids: readonly string[]
}

/** What {@link parsePckCertificate} reads from a PCK certificate. */
export interface PckCertificateInfo {
  /** The subject's common name; `Intel SGX PCK Certificate` for a genuine PCK. */
  readonly subjectCommonName: string | undefined
  /** The issuer's common name. */
  readonly issuerCommonName: string | undefined
  /** The issuing CA, classified by the issuer's common name. */
  readonly issuerCa: PckIssuerCa
  /** The SGX extension. */
  readonly sgx: SgxPckExtensions
}

const EXTENSION_HINT =
  'the certificate is not a well-formed Intel PCK certificate: check that it is the leaf of the PCK chain'

function pckError(
  code: `ERR_TDX_PCK_${string}`,
  message: string,
  details: ErrorDetails,
): MalformedInputError {
  return new MalformedInputError(code, `PCK certificate: ${message}`, {
    details,
    hint: EXTENSION_HINT,
  })
}

/**
 * Classify the CA that issued a PCK certificate by its common name (exact match).
 *
 * @example
 * ```ts
 * classifyPckIssuer('Intel SGX PCK Processor CA') // 'processor'
 * ```
 */
export function classifyPckIssuer(commonName: string | undefined): PckIssuerCa {
  return commonName === PCK_PLATFORM_CA_CN
    ? 'platform'
    : commonName === PCK_PROCESSOR_CA_CN
      ? 'processor'
      : 'unknown'
}

/**
 * Read a `SEQUENCE OF SEQUENCE { OID, value }` into a map from the OID's last arc below `prefix`
 * to the value element. Entries whose OID is not below `prefix` or whose arc is not in `known` go
 * to `unknown`; a repeated OID is an error.
 */
function readPairs(
  el: DerElement | undefined,
  prefix: string,
  known: ReadonlySet<number>,
  field: string,
  unknown: string[],
): Map<number, DerElement> {
  const pairs = new Map<number, DerElement>()
  const seen = new Set<string>()
  for (const entry of decodeDerSequence(el, field)) {
    const parts = decodeDerSequence(entry, `${field} entry`)
    const oid = decodeDerOid(parts[0], `${field} entry id`)
    if (parts.length !== 2) {
      throw pckError(
        'ERR_TDX_PCK_EXTENSION_INVALID',
        `${field} entry ${oid} has ${parts.length} elements; expected an OID and a value`,
        { field, oid, elements: parts.length },
      )
    }
    if (seen.has(oid)) {
      throw pckError('ERR_TDX_PCK_EXTENSION_DUPLICATE', `${field} has ${oid} twice`, { field, oid })
    }
    seen.add(oid)
    const arc = oid.startsWith(`${prefix}.`) ? Number(oid.slice(prefix.length + 1)) : Number.NaN
    const [, value] = parts
    if (known.has(arc) && value !== undefined) pairs.set(arc, value)
    else unknown.push(oid)
  }
  return pairs
}

function required(pairs: Map<number, DerElement>, arc: number, prefix: string): DerElement {
  const el = pairs.get(arc)
  if (el === undefined) {
    throw pckError('ERR_TDX_PCK_EXTENSION_MISSING', `the SGX extension has no ${prefix}.${arc}`, {
      oid: `${prefix}.${arc}`,
    })
  }
  return el
}

function octets(el: DerElement, oid: string, length: number, name: string): Uint8Array {
  const value = decodeDerOctetString(el, `${name} (${oid})`)
  if (value.length !== length) {
    throw pckError(
      'ERR_TDX_PCK_EXTENSION_INVALID',
      `${name} (${oid}) has ${value.length} bytes; expected ${length}`,
      { oid, length: value.length, expected: length },
    )
  }
  return value.slice()
}

function smallInteger(el: DerElement, oid: string, max: number, name: string): number {
  const value = decodeDerInteger(el, `${name} (${oid})`)
  if (value < 0n || value > BigInt(max)) {
    throw pckError(
      'ERR_TDX_PCK_EXTENSION_INVALID',
      `${name} (${oid}) is ${value}; expected 0 to ${max}`,
      { oid, value: value.toString(), max },
    )
  }
  return Number(value)
}

const SGX_TYPES: readonly SgxType[] = ['standard', 'scalable', 'scalable-with-integrity']
const TCB_ARCS: ReadonlySet<number> = new Set(Array.from({ length: 18 }, (_, i) => i + 1))

/**
 * Decode the SGX extension's value: the contents of the `extnValue` OCTET STRING of extension
 * 1.2.840.113741.1.13.1 (ASN.1 in the module comment). Unknown OIDs are listed, not fatal.
 *
 * @example
 * ```ts
 * bytesToHex(parseSgxPckExtensions(extnValue).fmspc) // '50806f000000'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCK_EXTENSION_MISSING` (a required entry is
 *   absent), `ERR_TDX_PCK_EXTENSION_INVALID` (wrong length, range or shape),
 *   `ERR_TDX_PCK_EXTENSION_DUPLICATE`, and the `ERR_DER_*` codes of the DER reader.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `value` is not a `Uint8Array`.
 */
export function parseSgxPckExtensions(value: Uint8Array): SgxPckExtensions {
  const input = requireBytes(value, 'an SGX extension value')
  const root = parseDer(input, { name: 'SGX extension' })
  const p = SGX_EXTENSION_OID
  const unknownOids: string[] = []
  const top = readPairs(root, p, new Set([1, 2, 3, 4, 5, 6, 7]), 'SGX extension', unknownOids)

  const tcbPrefix = `${p}.2`
  const tcbPairs = readPairs(required(top, 2, p), tcbPrefix, TCB_ARCS, 'TCB', unknownOids)
  const cpuSvnComponents = Array.from({ length: 16 }, (_, i) =>
    smallInteger(required(tcbPairs, i + 1, tcbPrefix), `${tcbPrefix}.${i + 1}`, 255, 'SVN'),
  )

  const sgxTypeCode = decodeDerEnumerated(required(top, 5, p), `SGX type (${p}.5)`)
  if (sgxTypeCode < 0n || sgxTypeCode > 255n) {
    throw pckError('ERR_TDX_PCK_EXTENSION_INVALID', `SGX type (${p}.5) is ${sgxTypeCode}`, {
      oid: `${p}.5`,
      value: sgxTypeCode.toString(),
    })
  }
  const code = Number(sgxTypeCode)

  const instance = top.get(6)
  const configurationEl = top.get(7)
  let configuration: SgxPlatformConfiguration | undefined
  if (configurationEl !== undefined) {
    const cp = `${p}.7`
    const flags = readPairs(configurationEl, cp, new Set([1, 2, 3]), 'Configuration', unknownOids)
    const flag = (arc: number, name: string): boolean | undefined => {
      const el = flags.get(arc)
      return el === undefined ? undefined : decodeDerBoolean(el, `${name} (${cp}.${arc})`)
    }
    configuration = {
      dynamicPlatform: flag(1, 'dynamicPlatform'),
      cachedKeys: flag(2, 'cachedKeys'),
      smtEnabled: flag(3, 'SMTEnabled'),
    }
  }

  return {
    ppid: octets(required(top, 1, p), `${p}.1`, 16, 'PPID'),
    tcb: {
      cpuSvnComponents,
      pceSvn: smallInteger(required(tcbPairs, 17, tcbPrefix), `${tcbPrefix}.17`, 65535, 'PCESVN'),
      cpuSvn: octets(required(tcbPairs, 18, tcbPrefix), `${tcbPrefix}.18`, 16, 'CPUSVN'),
    },
    pceId: octets(required(top, 3, p), `${p}.3`, 2, 'PCE-ID'),
    fmspc: octets(required(top, 4, p), `${p}.4`, 6, 'FMSPC'),
    sgxType: SGX_TYPES[code] ?? 'unknown',
    sgxTypeCode: code,
    platformInstanceId:
      instance === undefined ? undefined : octets(instance, `${p}.6`, 16, 'PlatformInstanceID'),
    configuration,
    unknownOids,
  }
}

/** The single common name of a Name, if any; two or more are refused. */
function commonName(el: DerElement | undefined, field: string): string | undefined {
  let found: string | undefined
  for (const rdn of decodeDerSequence(el, field)) {
    for (const attribute of decodeDerSet(rdn, `${field} RDN`)) {
      const [type, value] = decodeDerSequence(attribute, `${field} attribute`)
      if (decodeDerOid(type, `${field} attribute type`) !== COMMON_NAME_OID) continue
      if (found !== undefined) {
        throw pckError('ERR_TDX_PCK_NAME_INVALID', `${field} has more than one common name`, {
          field,
        })
      }
      found =
        value?.tagClass === 'universal' && value.tagNumber === DerUniversalTag.PRINTABLE_STRING
          ? decodeDerPrintableString(value, `${field} common name`)
          : decodeDerUtf8String(value, `${field} common name`)
    }
  }
  return found
}

/**
 * Read a PCK certificate (DER): its SGX extension, its subject and issuer common names, and
 * which Intel CA issued it. Nothing is verified: signatures, validity and the chain are the
 * verifier's.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 * TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity, subject,
 *                               subjectPublicKeyInfo, [1] issuerUID, [2] subjectUID,
 *                               [3] EXPLICIT SEQUENCE OF Extension }
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * ```
 *
 * @example
 * ```ts
 * const [pck] = quote.signatureData.pckCertification.certificates
 * const info = parsePckCertificate(pck.der)
 * info.issuerCa // 'platform'
 * bytesToHex(info.sgx.fmspc) // '50806f000000'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCK_EXTENSION_MISSING` (no SGX extension, or a
 *   required entry absent), `ERR_TDX_PCK_EXTENSION_INVALID`, `ERR_TDX_PCK_EXTENSION_DUPLICATE`
 *   (the extension or an entry twice), `ERR_TDX_PCK_NAME_INVALID` (two common names), and the
 *   `ERR_DER_*` codes of the DER reader for anything that is not a DER certificate.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `der` is not a `Uint8Array`.
 */
export function parsePckCertificate(der: Uint8Array): PckCertificateInfo {
  const input = requireBytes(der, 'a PCK certificate')
  const certificate = parseDer(input, { name: 'PCK certificate' })
  const [tbs] = decodeDerSequence(certificate, 'Certificate')
  const fields = decodeDerSequence(tbs, 'tbsCertificate')
  const first = fields[0]
  // version [0] is DEFAULT v1 and may be absent; everything after it is positional.
  const base = first?.tagClass === 'context' && first.tagNumber === 0 ? 1 : 0
  const issuerCommonName = commonName(fields[base + 2], 'issuer')
  const subjectCommonName = commonName(fields[base + 4], 'subject')

  let sgxValue: Uint8Array | undefined
  const wrapper = fields.slice(base + 6).find((f) => f.tagClass === 'context' && f.tagNumber === 3)
  if (wrapper !== undefined) {
    const extensions = decodeDerSequence(decodeDerExplicit(wrapper, 3, 'extensions'), 'extensions')
    for (const extension of extensions) {
      const parts = decodeDerSequence(extension, 'extension')
      if (decodeDerOid(parts[0], 'extension id') !== SGX_EXTENSION_OID) continue
      if (sgxValue !== undefined) {
        throw pckError('ERR_TDX_PCK_EXTENSION_DUPLICATE', 'the SGX extension appears twice', {
          oid: SGX_EXTENSION_OID,
        })
      }
      if (parts.length !== 2 && parts.length !== 3) {
        throw pckError(
          'ERR_TDX_PCK_EXTENSION_INVALID',
          `the SGX extension has ${parts.length} elements; expected an OID, an optional critical flag and a value`,
          { oid: SGX_EXTENSION_OID, elements: parts.length },
        )
      }
      if (parts.length === 3) decodeDerBoolean(parts[1], 'SGX extension critical')
      sgxValue = decodeDerOctetString(parts[parts.length - 1], 'SGX extension value')
    }
  }
  if (sgxValue === undefined) {
    throw pckError(
      'ERR_TDX_PCK_EXTENSION_MISSING',
      `no SGX extension (${SGX_EXTENSION_OID}); this is not a PCK certificate`,
      { oid: SGX_EXTENSION_OID },
    )
  }
  return {
    subjectCommonName,
    issuerCommonName,
    issuerCa: classifyPckIssuer(issuerCommonName),
    sgx: parseSgxPckExtensions(sgxValue),
  }
}
