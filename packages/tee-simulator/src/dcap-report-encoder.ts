/**
 * Encoders for the fixed-layout parts of Intel DCAP quotes (verifiers.md §3.1–§3.2): the 48-byte
 * quote header, the 384-byte SGX enclave report (a quote body, and the QE report inside every
 * quote's signature data) and the TD report body (TDX 1.0, 584 bytes; TDX 1.5, 648 bytes). All
 * integers little-endian; reserved bytes zero.
 *
 * ```text
 * SGX report (384)                    TD report body (584 / 648)
 * 0x000 CPUSVN [16]                   0x000 TEE_TCB_SVN [16]      0x0E8 MROWNER [48]
 * 0x010 MISCSELECT u32                0x010 MRSEAM [48]           0x118 MROWNERCONFIG [48]
 * 0x020 ISVEXTPRODID [16]             0x040 MRSIGNERSEAM [48]     0x148 RTMR0..3 [4 × 48]
 * 0x030 ATTRIBUTES [16]               0x070 SEAMATTRIBUTES u64    0x208 REPORTDATA [64]
 * 0x040 MRENCLAVE [32]                0x078 TDATTRIBUTES u64      0x248 TEE_TCB_SVN_2 [16] (1.5)
 * 0x080 MRSIGNER [32]                 0x080 XFAM u64              0x258 MRSERVICETD [48] (1.5)
 * 0x0C0 CONFIGID [64]                 0x088 MRTD [48]
 * 0x100 ISVPRODID u16, ISVSVN u16,    0x0B8 MRCONFIGID [48]
 *       CONFIGSVN u16
 * 0x130 ISVFAMILYID [16]
 * 0x140 REPORTDATA [64]
 * ```
 *
 * Defaults are fixed values shaped like the real vectors' (attributes, XFAM, QE identities), so a
 * test sets only what it is about.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { UsageError } from '@initguard/core'
// The layouts from the parsers' entry: the root one loads the whole verifier (collateral, CRLs,
// PCK chains), which a simulated guest, and so the agent's cold start, would pay for.
import {
  DCAP_QUOTE_HEADER_LAYOUT,
  SGX_REPORT_LAYOUT,
  TD_REPORT_BODY_15_LAYOUT,
  TD_REPORT_BODY_LAYOUT,
  type LayoutField,
  type SgxEnclaveReport,
  type StructLayout,
} from '@initguard/tdx/parsers'
import type { TdQuoteBody15 } from '@initguard/tdx'
import { DEFAULT_PCK_TCB } from './intel-cert-profile.ts'

/** Size of the quote header. */
export const DCAP_HEADER_SIZE = 48
/** Size of an SGX enclave report (quote body, QE report). */
export const SGX_REPORT_SIZE = 384
/** Size of a TDX 1.0 TD report body. */
export const TD10_BODY_SIZE = 584
/** Size of a TDX 1.5 TD report body. */
export const TD15_BODY_SIZE = 648
/** Intel's QE vendor ID (header 0x0C), `939a7233f79c4ca9940a0db3957f0607`. */
export const INTEL_QE_VENDOR_ID_BYTES: Uint8Array = hexBytes('939a7233f79c4ca9940a0db3957f0607')

/**
 * Every field of an SGX enclave report: those the verifier reads ({@link SgxEnclaveReport}), with
 * ATTRIBUTES as its 16 raw bytes.
 */
export interface SgxReportFieldValues extends Omit<
  SgxEnclaveReport,
  'attributes' | 'reservedNonZero' | 'raw'
> {
  /** ATTRIBUTES (16 bytes: flags u64 LE, then XFRM u64 LE). Bit 1 of byte 0 is DEBUG. */
  readonly attributes: Uint8Array
}

/**
 * Every field of a TD report body: those the verifier reads ({@link TdQuoteBody15}; TEE_TCB_SVN_2
 * and MRSERVICETD are written for TDX 1.5 only), with TDATTRIBUTES and XFAM raw and any number of
 * RTMRs (the encoder refuses all but 4).
 */
export interface TdReportBodyFieldValues extends Omit<
  TdQuoteBody15,
  'kind' | 'tdAttributes' | 'xfam' | 'rtmrs'
> {
  /** TDATTRIBUTES (u64): bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, bit 30 PKS, bit 63 PERFMON. */
  readonly tdAttributes: bigint
  /** XFAM (u64). */
  readonly xfam: bigint
  /** RTMR0–3 (4 × 48 bytes). */
  readonly rtmrs: readonly Uint8Array[]
}

/** The quote header's fields. */
export interface DcapHeaderFields {
  readonly version: number
  readonly attestationKeyType: number
  /** 0x00 SGX, 0x81 TDX. */
  readonly teeType: number
  readonly qeSvn: number
  readonly pceSvn: number
  /** 16 bytes. */
  readonly qeVendorId: Uint8Array
  /** 20 bytes. */
  readonly userData: Uint8Array
}

/** A usage error of the DCAP builders. */
export function dcapBuildError(
  code: `ERR_DCAP_BUILD_${string}`,
  message: string,
  field: string,
  hint?: string,
): UsageError {
  const details = { field }
  return new UsageError(code, message, hint === undefined ? { details } : { details, hint })
}

/** A fixed 'digest' for a default value: SHA-512 of a label, cut to `length` bytes. */
export function labelDigest(label: string, length: number): Uint8Array {
  return new Uint8Array(createHash('sha512').update(`initguard-testkit ${label}`).digest()).slice(
    0,
    length,
  )
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16))
}

/**
 * Write `values` into a new structure of `size` bytes by the field table `layout` (the one the
 * `tdx` parsers read by), checking every value: byte strings of exactly the field's size,
 * integers in the field's range. A field is named `${prefix}${property}` in errors.
 */
function encodeLayout(
  size: number,
  layout: StructLayout,
  values: Readonly<Record<string, unknown>>,
  prefix = '',
  into: Uint8Array = new Uint8Array(size),
): Uint8Array {
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength)
  for (const [key, field] of Object.entries<LayoutField>(layout)) {
    const value = values[key]
    const name = `${prefix}${key}`
    if (field.count === undefined) writeField(into, view, field.offset, field, value, name)
    else if (!Array.isArray(value) || value.length !== field.count) {
      throw dcapBuildError(
        'ERR_DCAP_BUILD_FIELD_INVALID',
        `${name} must be ${field.count} registers`,
        name,
      )
    } else {
      value.forEach((register: unknown, i) => {
        writeField(into, view, field.offset + field.size * i, field, register, `${name}[${i}]`)
      })
    }
  }
  return into
}

function writeField(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  field: LayoutField,
  value: unknown,
  name: string,
): void {
  if (field.type === 'bytes') {
    if (!(value instanceof Uint8Array) || value.length !== field.size) {
      throw dcapBuildError(
        'ERR_DCAP_BUILD_FIELD_INVALID',
        `${name} must be exactly ${field.size} bytes`,
        name,
      )
    }
    bytes.set(value, offset)
    return
  }
  const max = (1n << BigInt(8 * field.size)) - 1n
  const big =
    typeof value === 'bigint'
      ? value
      : typeof value === 'number' && Number.isInteger(value)
        ? BigInt(value)
        : -1n
  if (big < 0n || big > max) {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_FIELD_INVALID',
      `${name} must be an integer from 0 to ${max.toString()} (got ${String(value)})`,
      name,
    )
  }
  if (field.type === 'u16') view.setUint16(offset, Number(big), true)
  else if (field.type === 'u32') view.setUint32(offset, Number(big), true)
  else view.setBigUint64(offset, big, true)
}

/** Encode the 48-byte quote header. */
export function encodeDcapHeader(fields: DcapHeaderFields): Uint8Array {
  return encodeLayout(DCAP_HEADER_SIZE, DCAP_QUOTE_HEADER_LAYOUT, { ...fields })
}

/** Encode a 384-byte SGX enclave report (an SGX quote body or a QE report). */
export function encodeSgxReport(fields: SgxReportFieldValues, name = 'report'): Uint8Array {
  return encodeLayout(SGX_REPORT_SIZE, SGX_REPORT_LAYOUT, { ...fields }, `${name}.`)
}

/** Encode a TD report body: 584 bytes for `'td10'`, 648 for `'td15'`. */
export function encodeTdReportBody(
  fields: TdReportBodyFieldValues,
  kind: 'td10' | 'td15',
): Uint8Array {
  const body = encodeLayout(
    kind === 'td10' ? TD10_BODY_SIZE : TD15_BODY_SIZE,
    TD_REPORT_BODY_LAYOUT,
    { ...fields },
  )
  return kind === 'td10' ? body : encodeLayout(0, TD_REPORT_BODY_15_LAYOUT, { ...fields }, '', body)
}

/** The platform's CPUSVN in reports: the default PCK's 16 component SVNs as bytes. */
const PLATFORM_CPU_SVN = Uint8Array.from(DEFAULT_PCK_TCB.cpuSvnComponents)

/**
 * Default TD report body: TEE_TCB_SVN `06 01 03 00…` (module ISVSVN 6 of major version 1, as in
 * the real TDX v4 vector), MRSIGNERSEAM and SEAMATTRIBUTES zero (Intel's module), TDATTRIBUTES
 * 0x10000000 (SEPT_VE_DISABLE; not debug), XFAM 0x602E7, digest-like MRSEAM and MRTD, zero
 * MRCONFIGID, MROWNER, MROWNERCONFIG, RTMRs, REPORTDATA and MRSERVICETD; TEE_TCB_SVN_2 equal to
 * TEE_TCB_SVN.
 */
export function defaultTdReportBodyFields(): TdReportBodyFieldValues {
  const teeTcbSvn = Uint8Array.of(6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
  return {
    teeTcbSvn,
    mrSeam: labelDigest('mrseam', 48),
    mrSignerSeam: new Uint8Array(48),
    seamAttributes: 0n,
    tdAttributes: 0x10000000n,
    xfam: 0x602e7n,
    mrTd: labelDigest('mrtd', 48),
    mrConfigId: new Uint8Array(48),
    mrOwner: new Uint8Array(48),
    mrOwnerConfig: new Uint8Array(48),
    rtmrs: [0, 1, 2, 3].map(() => new Uint8Array(48)),
    reportData: new Uint8Array(64),
    teeTcbSvn2: teeTcbSvn.slice(),
    mrServiceTd: new Uint8Array(48),
  }
}

/**
 * Default SGX enclave (quote body): the platform CPUSVN, ATTRIBUTES INIT|MODE64BIT with XFRM 0xE7
 * (not debug), digest-like MRENCLAVE and MRSIGNER, zero CONFIGID and REPORTDATA, IDs and SVNs 0.
 */
export function defaultSgxEnclaveFields(): SgxReportFieldValues {
  return {
    cpuSvn: PLATFORM_CPU_SVN.slice(),
    miscSelect: 0,
    isvExtProdId: new Uint8Array(16),
    attributes: hexBytes('0500000000000000e700000000000000'),
    mrEnclave: labelDigest('mrenclave', 32),
    mrSigner: labelDigest('mrsigner', 32),
    configId: new Uint8Array(64),
    isvProdId: 0,
    isvSvn: 0,
    configSvn: 0,
    isvFamilyId: new Uint8Array(16),
    reportData: new Uint8Array(64),
  }
}

/**
 * Default QE report: Intel's quoting enclave as in the real quotes and QE identities — the TDX
 * QE (`TD_QE`: MRSIGNER `dc9e2a7c…a8c5`, ISVPRODID 2, ISVSVN 4) or the SGX QE (`QE`: MRSIGNER
 * `8c4f5775…7bff`, ISVPRODID 1, ISVSVN 8), ATTRIBUTES `15 00… e7 00…`, MISCSELECT 0, the
 * platform CPUSVN. REPORTDATA is zero here; the quote builder writes the attestation key binding.
 */
export function defaultQeReportFields(tee: 'tdx' | 'sgx'): SgxReportFieldValues {
  const tdx = tee === 'tdx'
  return {
    ...defaultSgxEnclaveFields(),
    attributes: hexBytes('1500000000000000e700000000000000'),
    mrEnclave: labelDigest(`${tee} qe mrenclave`, 32),
    mrSigner: hexBytes(
      tdx
        ? 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5'
        : '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff',
    ),
    isvProdId: tdx ? 2 : 1,
    isvSvn: tdx ? 4 : 8,
  }
}
