/**
 * The fixed layouts of the DCAP structures, one table each: the 48-byte quote header, the
 * 384-byte SGX enclave report and the TD report body (TDX 1.0 and 1.5). The TEE simulator's
 * encoder writes by them and `evidence inspect` takes its rows from them. The parsers read field by
 * field on purpose (a generic table reader cost the warm quote verification 15 %); the simulator's
 * round-trip tests keep the two in step.
 *
 * Integers are little-endian. Areas a table does not list are reserved.
 *
 * @see verifiers.md §3.1–§3.2; the layout tables in {@link DcapQuoteHeader},
 *   {@link SgxEnclaveReport} and {@link TdQuoteBodyFields}.
 * @module
 */
import type { DcapQuoteHeader } from './quote-header.ts'
import type { SgxEnclaveReport } from './enclave-report.ts'
import type { TdQuoteBody15, TdQuoteBodyFields } from './td-quote-body.ts'
import type { TdMeasurements } from './td-measurements.ts'

/** How a field is stored: a byte string, or a little-endian unsigned integer of 2, 4 or 8 bytes. */
export type LayoutFieldType = 'bytes' | 'u16' | 'u32' | 'u64'

/** One field of a fixed layout. */
export interface LayoutField {
  /** Offset from the start of the structure. */
  readonly offset: number
  /** Size in bytes (of each register, for a run of registers). */
  readonly size: number
  readonly type: LayoutFieldType
  /** The specification's name, as messages give it (`MRTD`; a run of registers: `RTMR`). */
  readonly name: string
  /** A run of `count` registers of `size` bytes each, one after the other (RTMR0–RTMR3). */
  readonly count?: number
}

/** A structure's fields by their property names (those of the parsed type), in offset order unless said. */
export type StructLayout<K extends string = string> = Readonly<Record<K, LayoutField>>

function bytes(offset: number, size: number, name: string): LayoutField {
  return { offset, size, type: 'bytes', name }
}

function uint(type: 'u16' | 'u32' | 'u64', offset: number, name: string): LayoutField {
  const size = type === 'u16' ? 2 : type === 'u32' ? 4 : 8
  return { offset, size, type, name }
}

/** `layout` with every offset moved by `by`: a sub-structure placed inside a larger one. */
function placedAt<K extends string>(by: number, layout: StructLayout<K>): StructLayout<K> {
  return Object.fromEntries(
    Object.entries<LayoutField>(layout).map(([key, field]) => [
      key,
      { ...field, offset: field.offset + by },
    ]),
  ) as StructLayout<K>
}

/** The quote header (48 bytes); see {@link DcapQuoteHeader}. */
export const DCAP_QUOTE_HEADER_LAYOUT: StructLayout<Exclude<keyof DcapQuoteHeader, 'tee' | 'raw'>> =
  {
    version: uint('u16', 0x00, 'version'),
    attestationKeyType: uint('u16', 0x02, 'attestation key type'),
    teeType: uint('u32', 0x04, 'TEE type'),
    qeSvn: uint('u16', 0x08, 'QE SVN'),
    pceSvn: uint('u16', 0x0a, 'PCE SVN'),
    qeVendorId: bytes(0x0c, 16, 'QE vendor ID'),
    userData: bytes(0x1c, 20, 'user data'),
  }

/** The SGX enclave report (384 bytes); see {@link SgxEnclaveReport}. ATTRIBUTES is FLAGS ‖ XFRM. */
export const SGX_REPORT_LAYOUT: StructLayout<
  Exclude<keyof SgxEnclaveReport, 'reservedNonZero' | 'raw'>
> = {
  cpuSvn: bytes(0x000, 16, 'CPUSVN'),
  miscSelect: uint('u32', 0x010, 'MISCSELECT'),
  attributes: bytes(0x030, 16, 'ATTRIBUTES'),
  mrEnclave: bytes(0x040, 32, 'MRENCLAVE'),
  mrSigner: bytes(0x080, 32, 'MRSIGNER'),
  configId: bytes(0x0c0, 64, 'CONFIGID'),
  isvProdId: uint('u16', 0x100, 'ISVPRODID'),
  isvSvn: uint('u16', 0x102, 'ISVSVN'),
  configSvn: uint('u16', 0x104, 'CONFIGSVN'),
  isvFamilyId: bytes(0x130, 16, 'ISVFAMILYID'),
  isvExtProdId: bytes(0x020, 16, 'ISVEXTPRODID'),
  reportData: bytes(0x140, 64, 'REPORTDATA'),
}

/**
 * The TD's measurement registers, laid out alike in a TD report body (at 0x088) and in a
 * TDREPORT's TDINFO_STRUCT (at 0x210).
 */
export const TD_MEASUREMENTS_LAYOUT: StructLayout<keyof TdMeasurements> = {
  mrTd: bytes(0x000, 48, 'MRTD'),
  mrConfigId: bytes(0x030, 48, 'MRCONFIGID'),
  mrOwner: bytes(0x060, 48, 'MROWNER'),
  mrOwnerConfig: bytes(0x090, 48, 'MROWNERCONFIG'),
  rtmrs: { ...bytes(0x0c0, 48, 'RTMR'), count: 4 },
}

/** The TD report body of TDX 1.0 (584 bytes), and the start of TDX 1.5's; see {@link TdQuoteBodyFields}. */
export const TD_REPORT_BODY_LAYOUT: StructLayout<keyof TdQuoteBodyFields> = {
  teeTcbSvn: bytes(0x000, 16, 'TEE_TCB_SVN'),
  mrSeam: bytes(0x010, 48, 'MRSEAM'),
  mrSignerSeam: bytes(0x040, 48, 'MRSIGNERSEAM'),
  seamAttributes: uint('u64', 0x070, 'SEAMATTRIBUTES'),
  tdAttributes: uint('u64', 0x078, 'TDATTRIBUTES'),
  xfam: uint('u64', 0x080, 'XFAM'),
  ...placedAt(0x088, TD_MEASUREMENTS_LAYOUT),
  reportData: bytes(0x208, 64, 'REPORTDATA'),
}

/** The fields TDX 1.5 adds after {@link TD_REPORT_BODY_LAYOUT} (648 bytes in all). */
export const TD_REPORT_BODY_15_LAYOUT: StructLayout<
  Exclude<keyof TdQuoteBody15, keyof TdQuoteBodyFields | 'kind'>
> = {
  teeTcbSvn2: bytes(0x248, 16, 'TEE_TCB_SVN_2'),
  mrServiceTd: bytes(0x258, 48, 'MRSERVICETD'),
}
