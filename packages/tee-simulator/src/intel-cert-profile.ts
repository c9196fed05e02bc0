/**
 * Intel's SGX/TDX certificate profile, as the real certificates in the vectors show it: names
 * (`CN, O=Intel Corporation, L=Santa Clara, ST=CA` as UTF8String, then `C=US` as
 * PrintableString), CRL URLs, the standard extensions in Intel's order, and the SGX extension of
 * PCK certificates (OID `1.2.840.113741.1.13.1`), encoded exactly as Intel encodes it: a
 * SEQUENCE of `{ OID, value }` pairs in arc order, the TCB a nested SEQUENCE of the same pairs,
 * minimal DER INTEGERs (an SVN of 255 is `02 02 00 ff`).
 *
 * ```asn1
 * SEQUENCE {
 *   SEQUENCE { .1  PPID          OCTET STRING (16) }
 *   SEQUENCE { .2  TCB           SEQUENCE {
 *       SEQUENCE { .2.1 INTEGER } … SEQUENCE { .2.16 INTEGER }   -- SGX TCB component SVNs
 *       SEQUENCE { .2.17 INTEGER }                               -- PCESVN
 *       SEQUENCE { .2.18 OCTET STRING (16) } } }                 -- CPUSVN
 *   SEQUENCE { .3  PCE-ID        OCTET STRING (2) }
 *   SEQUENCE { .4  FMSPC         OCTET STRING (6) }
 *   SEQUENCE { .5  SGX type      ENUMERATED }                    -- 0 standard, 1 scalable, …
 *   SEQUENCE { .6  PlatformInstanceID OCTET STRING (16) }        -- Platform CA certificates
 *   SEQUENCE { .7  Configuration SEQUENCE {                      -- Platform CA certificates
 *       SEQUENCE { .7.1 BOOLEAN } SEQUENCE { .7.2 BOOLEAN } SEQUENCE { .7.3 BOOLEAN } } } }
 * ```
 *
 * Checked byte for byte against the real PCK certificates of the TDX v4 and SGX v3 vectors
 * (`intel-pki.test.ts`).
 *
 * @see Intel SGX PCK Certificate and CRL Profile Specification §1.5; verifiers.md §3.4.
 * @module
 */
import { UsageError } from '@initguard/core'
import {
  derBoolean,
  derEnumerated,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
} from './der-writer.ts'
import {
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeCrlDistributionPoints,
  encodeKeyUsage,
  encodeSubjectKeyIdentifier,
  X509_EXTENSION_OID,
  X509_NAME_OID,
} from './x509-builder.ts'
import type { X509Extension, X509Name } from './x509-builder.ts'

/** Intel's CRL distribution point URLs, as in the real certificates. */
export const INTEL_CRL_URL = {
  /** In the root, both PCK CAs and the TCB Signing certificate. */
  root: 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der',
  /** In Platform CA PCK certificates. */
  platform:
    'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
  /** In Processor CA PCK certificates. */
  processor:
    'https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der',
} as const

/** The common names of Intel's SGX/TDX PKI. */
export const INTEL_COMMON_NAME = {
  root: 'Intel SGX Root CA',
  platform: 'Intel SGX PCK Platform CA',
  processor: 'Intel SGX PCK Processor CA',
  tcbSigning: 'Intel SGX TCB Signing',
  pck: 'Intel SGX PCK Certificate',
} as const

/**
 * Intel's distinguished name with the given common name, attribute for attribute as on every real
 * Intel SGX certificate and CRL: `CN=<cn>, O=Intel Corporation, L=Santa Clara, ST=CA` as
 * UTF8String, then `C=US` as PrintableString.
 */
export function intelName(commonName: string): X509Name {
  return [
    { oid: X509_NAME_OID.commonName, value: commonName },
    { oid: X509_NAME_OID.organizationName, value: 'Intel Corporation' },
    { oid: X509_NAME_OID.localityName, value: 'Santa Clara' },
    { oid: X509_NAME_OID.stateOrProvinceName, value: 'CA' },
    { oid: X509_NAME_OID.countryName, value: 'US', type: 'printable' },
  ]
}

/**
 * The standard extensions of an Intel certificate in Intel's order: authority key identifier, CRL
 * distribution point, subject key identifier, key usage (critical; CAs keyCertSign|cRLSign, others
 * digitalSignature|nonRepudiation), basic constraints (critical; CAs with a path length, others
 * `CA:FALSE` as an empty SEQUENCE).
 */
export function intelCertificateExtensions(
  authorityKeyId: Uint8Array,
  crlUrl: string,
  subjectKeyId: Uint8Array,
  ca: { readonly pathLength: number } | undefined,
): X509Extension[] {
  return [
    {
      oid: X509_EXTENSION_OID.authorityKeyIdentifier,
      value: encodeAuthorityKeyIdentifier(authorityKeyId),
    },
    { oid: X509_EXTENSION_OID.crlDistributionPoints, value: encodeCrlDistributionPoints([crlUrl]) },
    {
      oid: X509_EXTENSION_OID.subjectKeyIdentifier,
      value: encodeSubjectKeyIdentifier(subjectKeyId),
    },
    {
      oid: X509_EXTENSION_OID.keyUsage,
      critical: true,
      value: encodeKeyUsage(
        ca === undefined ? ['digitalSignature', 'nonRepudiation'] : ['keyCertSign', 'cRLSign'],
      ),
    },
    {
      oid: X509_EXTENSION_OID.basicConstraints,
      critical: true,
      value: encodeBasicConstraints(
        ca === undefined ? { ca: false } : { ca: true, pathLength: ca.pathLength },
      ),
    },
  ]
}

/** The SGX extension OID and the OIDs of its entries. */
export const INTEL_SGX_EXTENSION_OID = {
  sgx: '1.2.840.113741.1.13.1',
  ppid: '1.2.840.113741.1.13.1.1',
  tcb: '1.2.840.113741.1.13.1.2',
  pceId: '1.2.840.113741.1.13.1.3',
  fmspc: '1.2.840.113741.1.13.1.4',
  sgxType: '1.2.840.113741.1.13.1.5',
  platformInstanceId: '1.2.840.113741.1.13.1.6',
  configuration: '1.2.840.113741.1.13.1.7',
} as const

/** The platform configuration flags (.7.1–.7.3); a flag left out is not written. */
export interface SgxPlatformConfigurationFields {
  /** .7.1 dynamicPlatform. */
  readonly dynamicPlatform?: boolean
  /** .7.2 cachedKeys. */
  readonly cachedKeys?: boolean
  /** .7.3 SMTEnabled. */
  readonly smtEnabled?: boolean
}

/** The platform TCB a PCK certificate is issued for: what the TCB info levels are matched on. */
export interface PckTcbFields {
  /** FMSPC (.4), 6 bytes. */
  readonly fmspc: Uint8Array
  /** PCE-ID (.3), 2 bytes. */
  readonly pceId: Uint8Array
  /** The 16 SGX TCB component SVNs (.2.1–.2.16), each 0–255. */
  readonly cpuSvnComponents: readonly number[]
  /** PCESVN (.2.17), 0–65535. */
  readonly pceSvn: number
}

/** Every field of the SGX extension, for {@link encodeSgxPckExtension}. */
export interface SgxPckExtensionFields extends PckTcbFields {
  /** PPID (.1), 16 bytes. */
  readonly ppid: Uint8Array
  /** CPUSVN (.2.18), 16 bytes. Default: the 16 component SVNs as bytes (as in Intel's). */
  readonly cpuSvn?: Uint8Array
  /** SGX type (.5): 0 standard, 1 scalable, 2 scalable with integrity. */
  readonly sgxType: number
  /** PlatformInstanceID (.6), 16 bytes; not written when absent or `null`. */
  readonly platformInstanceId?: Uint8Array | null
  /** Configuration (.7); not written when absent or `null`. */
  readonly configuration?: SgxPlatformConfigurationFields | null
}

/**
 * The platform TCB the test kit's PCK certificates, quotes and collateral agree on by default:
 * the real TDX v4 vector's PCK (FMSPC `b0c06f000000`, PCE-ID `0000`, components
 * 3,3,2,2,4,1,0,5,0…, PCESVN 11). The default TCB info rates it UpToDate.
 */
export const DEFAULT_PCK_TCB: PckTcbFields = {
  fmspc: Uint8Array.of(0xb0, 0xc0, 0x6f, 0x00, 0x00, 0x00),
  pceId: Uint8Array.of(0x00, 0x00),
  cpuSvnComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 11,
}

function fieldError(field: string, message: string): UsageError {
  return new UsageError('ERR_INTEL_PKI_FIELD_INVALID', `${field} ${message}`, {
    details: { field },
  })
}

function sized(bytes: Uint8Array, length: number, field: string): Uint8Array {
  if (!((bytes as unknown) instanceof Uint8Array) || bytes.length !== length) {
    throw fieldError(field, `must be ${length} bytes`)
  }
  return bytes
}

function integer(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw fieldError(field, `must be an integer from 0 to ${max} (got ${String(value)})`)
  }
  return value
}

const pair = (oid: string, value: Uint8Array): Uint8Array => derSequence([derOid(oid), value])

/**
 * Encode the SGX extension's `extnValue` contents (the DER inside its OCTET STRING) in Intel's
 * layout (see the module comment).
 *
 * @example
 * ```ts
 * encodeSgxPckExtension({ ...DEFAULT_PCK_TCB, ppid, sgxType: 0 })
 * ```
 *
 * @throws {@link UsageError} `ERR_INTEL_PKI_FIELD_INVALID` for a field of the wrong size or range.
 */
export function encodeSgxPckExtension(fields: SgxPckExtensionFields): Uint8Array {
  const oid = INTEL_SGX_EXTENSION_OID
  const components = fields.cpuSvnComponents
  if (components.length !== 16) throw fieldError('cpuSvnComponents', 'must have 16 SVNs')
  const svns = components.map((svn, i) => integer(svn, 255, `cpuSvnComponents[${i}]`))
  const tcb = derSequence([
    ...svns.map((svn, i) => pair(`${oid.tcb}.${i + 1}`, derInteger(svn))),
    pair(`${oid.tcb}.17`, derInteger(integer(fields.pceSvn, 0xffff, 'pceSvn'))),
    pair(
      `${oid.tcb}.18`,
      derOctetString(sized(fields.cpuSvn ?? Uint8Array.from(svns), 16, 'cpuSvn')),
    ),
  ])
  const entries = [
    pair(oid.ppid, derOctetString(sized(fields.ppid, 16, 'ppid'))),
    pair(oid.tcb, tcb),
    pair(oid.pceId, derOctetString(sized(fields.pceId, 2, 'pceId'))),
    pair(oid.fmspc, derOctetString(sized(fields.fmspc, 6, 'fmspc'))),
    pair(oid.sgxType, derEnumerated(integer(fields.sgxType, 255, 'sgxType'))),
  ]
  const instance = fields.platformInstanceId
  if (instance !== undefined && instance !== null) {
    entries.push(
      pair(oid.platformInstanceId, derOctetString(sized(instance, 16, 'platformInstanceId'))),
    )
  }
  const configuration = fields.configuration
  if (configuration !== undefined && configuration !== null) {
    const flags: Uint8Array[] = []
    const flag = (arc: number, value: boolean | undefined): void => {
      if (value !== undefined) flags.push(pair(`${oid.configuration}.${arc}`, derBoolean(value)))
    }
    flag(1, configuration.dynamicPlatform)
    flag(2, configuration.cachedKeys)
    flag(3, configuration.smtEnabled)
    entries.push(pair(oid.configuration, derSequence(flags)))
  }
  return derSequence(entries)
}
