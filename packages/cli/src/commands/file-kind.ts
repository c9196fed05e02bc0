/**
 * What a file is, from its bytes alone: the files people hand to `initguard evidence` by mistake
 * (a VCEK, a CCEL event log, collateral, an initdata document in one of its three forms) and the
 * separate Intel PCS documents `--collateral` accepts. Evidence itself is not identified here: a
 * file this module does not name is left to the evidence parsers.
 *
 * Pure: bytes in, a description out. It never throws, whatever the bytes (a property test checks).
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import { parseX509Crl } from '@initguard/tdx'

/** The kinds of file recognised. */
export type FileKind =
  | 'amd-certificate'
  | 'intel-certificate'
  | 'certificate'
  | 'amd-crl'
  | 'intel-crl'
  | 'crl'
  | 'ccel-event-log'
  | 'dcap-collateral-json'
  | 'pcs-tcb-info'
  | 'pcs-qe-identity'
  | 'initdata-document'
  | 'initdata-image'
  | 'initdata-annotation'
  | 'gzip'

/** A recognised file. */
export interface IdentifiedFile {
  readonly kind: FileKind
  /** What it is, for messages: "an AMD VCEK certificate (CN SEV-VCEK)". */
  readonly what: string
  /** The subject CN of a certificate (the first of a PEM bundle), the issuer CN of a CRL. */
  readonly commonName?: string
  /** How many certificates a PEM bundle holds. */
  readonly certificates?: number
  /** Where it goes instead, when it was given as evidence. */
  readonly instead: string
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** True when `text` is PEM with `label`: only printable text (openssl's `subject=` lines) before it. */
function isPem(text: string, label: string): boolean {
  const at = text.indexOf(`-----BEGIN ${label}-----`)
  return at >= 0 && /^[\t\n\r\x20-\x7e]*$/.test(text.slice(0, at))
}

function commonName(name: string): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(name)?.[1] ?? ''
}

function certificateFrom(der: Uint8Array): X509Certificate | undefined {
  if (der[0] !== 0x30) return undefined
  try {
    return new X509Certificate(der)
  } catch {
    return undefined
  }
}

function amdRole(cn: string): string | undefined {
  if (cn === 'SEV-VCEK') return 'VCEK'
  if (cn === 'SEV-VLEK') return 'VLEK'
  if (/^ARK-[A-Za-z]+$/.test(cn)) return 'ARK'
  if (/^SEV-VLEK-[A-Za-z]+$/.test(cn)) return 'ASVK'
  if (/^SEV-[A-Za-z]+$/.test(cn)) return 'ASK'
  return undefined
}

const INTEL_ROLES: Readonly<Record<string, string>> = {
  'Intel SGX PCK Certificate': 'PCK certificate',
  'Intel SGX PCK Platform CA': 'PCK Platform CA certificate',
  'Intel SGX PCK Processor CA': 'PCK Processor CA certificate',
  'Intel SGX TCB Signing': 'TCB Signing certificate',
  'Intel SGX Root CA': 'SGX Root CA certificate',
}

function describeCertificate(cn: string, count: number): IdentifiedFile {
  const bundle = count > 1 ? ` and ${count - 1} more certificate${count > 2 ? 's' : ''}` : ''
  const amd = amdRole(cn)
  if (amd !== undefined) {
    return {
      kind: 'amd-certificate',
      what: `an AMD ${amd} certificate (CN ${cn})${bundle}`,
      commonName: cn,
      certificates: count,
      instead:
        amd === 'ARK' || amd === 'ASK' || amd === 'ASVK'
          ? "give the report as FILE; AMD's production ARK/ASK are built in (--certs FILE adds certificates, --trust-root FILE trusts a test PKI's root)"
          : `give the report as FILE and this certificate with --certs FILE`,
    }
  }
  const intel = INTEL_ROLES[cn]
  if (intel !== undefined) {
    return {
      kind: 'intel-certificate',
      what: `an Intel ${intel} (CN ${cn})${bundle}`,
      commonName: cn,
      certificates: count,
      instead:
        cn === 'Intel SGX PCK Certificate'
          ? 'give the quote as FILE: a quote carries its own PCK chain'
          : cn === 'Intel SGX Root CA'
            ? "give the quote as FILE: Intel's root is built in (--intel-root FILE trusts a test PKI's root)"
            : 'give the quote as FILE and this issuer chain with --collateral FILE',
    }
  }
  return {
    kind: 'certificate',
    what: `an X.509 certificate (CN ${cn || 'none'})${bundle}`,
    commonName: cn,
    certificates: count,
    instead: 'give the report or quote as FILE; certificates go to --certs FILE (SEV-SNP)',
  }
}

function identifyCertificates(bytes: Uint8Array, text: string): IdentifiedFile | undefined {
  // A quote embeds its PCK chain as PEM: only a file that is PEM text from the start counts.
  if (isPem(text, 'CERTIFICATE')) {
    const blocks = [...text.matchAll(PEM_CERTIFICATE)]
    const first = blocks[0]?.[1]
    if (first === undefined) return undefined
    const certificate = certificateFrom(new Uint8Array(Buffer.from(first, 'base64')))
    if (certificate === undefined) return undefined
    return describeCertificate(commonName(certificate.subject), blocks.length)
  }
  const certificate = certificateFrom(bytes)
  return certificate === undefined
    ? undefined
    : describeCertificate(commonName(certificate.subject), 1)
}

function identifyCrl(bytes: Uint8Array, text: string): IdentifiedFile | undefined {
  const pem = isPem(text, 'X509 CRL')
  if (!pem && bytes[0] !== 0x30) return undefined
  let issuer: string
  try {
    issuer = parseX509Crl(pem ? text : bytes, 'CRL').issuerCommonName
  } catch {
    return undefined
  }
  if (issuer.startsWith('Intel SGX '))
    return {
      kind: 'intel-crl',
      what: `an Intel CRL issued by ${issuer}`,
      commonName: issuer,
      instead: 'give the quote as FILE and this CRL with --collateral FILE',
    }
  if (amdRole(issuer) !== undefined)
    return {
      kind: 'amd-crl',
      what: `an AMD CRL issued by ${issuer}`,
      commonName: issuer,
      instead: 'give the report as FILE and this CRL with --crl FILE',
    }
  return {
    kind: 'crl',
    what: `a certificate revocation list issued by ${issuer || 'an unnamed issuer'}`,
    commonName: issuer,
    instead:
      'give the report or quote as FILE; an AMD CRL goes to --crl, an Intel one to --collateral',
  }
}

const CCEL_INSTEAD =
  'give the TDX quote as FILE (or Trustee evidence JSON, which carries the log as cc_eventlog); evidence verify does not read event logs on their own'

/** The ACPI CCEL table, or a TCG2 crypto-agile event log as the CCEL area holds it. */
function identifyEventLog(bytes: Uint8Array, text: string): IdentifiedFile | undefined {
  if (text.startsWith('CCEL') && bytes.length >= 36)
    return { kind: 'ccel-event-log', what: 'an ACPI CCEL table', instead: CCEL_INSTEAD }
  // The first event is TCG_PCClientPCREvent: PCR index, type EV_NO_ACTION (3), a 20-byte zero
  // digest, the event size, then the "Spec ID Event03" signature of TCG_EfiSpecIDEvent.
  if (
    bytes.length >= 48 &&
    bytes[4] === 3 &&
    bytes[5] === 0 &&
    bytes[6] === 0 &&
    bytes[7] === 0 &&
    text.startsWith('Spec ID Event03\0', 32)
  )
    return {
      kind: 'ccel-event-log',
      what: 'a TCG event log (the CCEL area of a TD)',
      instead: CCEL_INSTEAD,
    }
  return undefined
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

function identifyJson(text: string): IdentifiedFile | undefined {
  const json = jsonObject(text)
  if (json === undefined) return undefined
  const collateral = 'give the quote as FILE and this with --collateral FILE'
  if ('tcb_info' in json || 'qe_identity' in json || 'pck_crl' in json)
    return { kind: 'dcap-collateral-json', what: 'DCAP collateral JSON', instead: collateral }
  if ('tcbInfo' in json)
    return { kind: 'pcs-tcb-info', what: "Intel PCS's TCB info JSON", instead: collateral }
  if ('enclaveIdentity' in json)
    return { kind: 'pcs-qe-identity', what: "Intel PCS's QE identity JSON", instead: collateral }
  return undefined
}

const INITDATA_INSTEAD = 'give the report or quote as FILE and this document with --expect-initdata'

function identifyInitdata(bytes: Uint8Array, text: string): IdentifiedFile | undefined {
  if (text.startsWith('initdata'))
    return {
      kind: 'initdata-image',
      what: 'an initdata block-device image',
      instead: `\`initguard initdata read-image FILE -o initdata.toml\`, then ${INITDATA_INSTEAD} initdata.toml`,
    }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b)
    return {
      kind: 'gzip',
      what: 'gzip-compressed data (a compressed initdata document?)',
      instead: `decompress it (\`gunzip -c FILE\`); for an initdata document, ${INITDATA_INSTEAD}`,
    }
  const trimmed = text.trim()
  if (trimmed.startsWith('H4sI') && /^[A-Za-z0-9+/=\r\n]+$/.test(trimmed))
    return {
      kind: 'initdata-annotation',
      what: 'a Kata initdata annotation value (base64 of gzip)',
      instead: `\`initguard initdata decode --from-file FILE -o initdata.toml\`, then ${INITDATA_INSTEAD} initdata.toml`,
    }
  if (/^\s*version\s*=\s*["']/m.test(text) && /^\s*algorithm\s*=\s*["']/m.test(text))
    return {
      kind: 'initdata-document',
      what: 'an initdata document (TOML)',
      instead: `${INITDATA_INSTEAD} FILE`,
    }
  return undefined
}

/**
 * What `bytes` are, when they are one of the files this module knows; `undefined` otherwise
 * (evidence, or something unknown). Never throws.
 */
export function identifyFile(bytes: Uint8Array): IdentifiedFile | undefined {
  const text = latin1(bytes)
  return (
    identifyEventLog(bytes, text) ??
    identifyInitdata(bytes, text) ??
    identifyJson(text) ??
    identifyCertificates(bytes, text) ??
    identifyCrl(bytes, text)
  )
}
