/**
 * The fixed layouts of the DCAP structures, one table each: the 48-byte quote header, the
 * 384-byte SGX enclave report and the TD report body (TDX 1.0 and 1.5). The parsers read by these
 * tables, the claims take their Trustee names and slices from them, and the TEE simulator's
 * encoder writes by them, so an offset is written down once.
 *
 * Integers are little-endian. Areas a table does not list are reserved.
 *
 * @see verifiers.md §3.1–§3.2; the layout tables in {@link DcapQuoteHeader},
 *   {@link SgxEnclaveReport} and {@link TdQuoteBodyFields}.
 * @module
 */
import type { ByteReader } from '@initguard/core'
import type { ReservedArea } from './parse-support.ts'
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
  /** The claim name Trustee's verifier gives the field (a run of registers: `rtmr` → `rtmr_0`…). */
  readonly claim?: string | undefined
  /** A run of `count` registers of `size` bytes each, one after the other (RTMR0–RTMR3). */
  readonly count?: number
}

/** A structure's fields by their property names (those of the parsed type), in offset order unless said. */
export type StructLayout<K extends string = string> = Readonly<Record<K, LayoutField>>

function bytes(offset: number, size: number, name: string, claim?: string): LayoutField {
  return { offset, size, type: 'bytes', name, claim }
}

function uint(
  type: 'u16' | 'u32' | 'u64',
  offset: number,
  name: string,
  claim?: string,
): LayoutField {
  const size = type === 'u16' ? 2 : type === 'u32' ? 4 : 8
  return { offset, size, type, name, claim }
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
  cpuSvn: bytes(0x000, 16, 'CPUSVN', 'cpu_svn'),
  miscSelect: uint('u32', 0x010, 'MISCSELECT', 'misc_select'),
  attributes: bytes(0x030, 16, 'ATTRIBUTES', 'attributes'),
  mrEnclave: bytes(0x040, 32, 'MRENCLAVE', 'mr_enclave'),
  mrSigner: bytes(0x080, 32, 'MRSIGNER', 'mr_signer'),
  configId: bytes(0x0c0, 64, 'CONFIGID', 'config_id'),
  isvProdId: uint('u16', 0x100, 'ISVPRODID', 'isv_prod_id'),
  isvSvn: uint('u16', 0x102, 'ISVSVN', 'isv_svn'),
  configSvn: uint('u16', 0x104, 'CONFIGSVN', 'config_svn'),
  isvFamilyId: bytes(0x130, 16, 'ISVFAMILYID', 'isv_family_id'),
  // Out of offset order: the claims follow the table, and Trustee lists ISVEXTPRODID here.
  isvExtProdId: bytes(0x020, 16, 'ISVEXTPRODID', 'isv_ext_prod_id'),
  reportData: bytes(0x140, 64, 'REPORTDATA', 'report_data'),
}

/**
 * The TD's measurement registers, laid out alike in a TD report body (at 0x088) and in a
 * TDREPORT's TDINFO_STRUCT (at 0x210).
 */
export const TD_MEASUREMENTS_LAYOUT: StructLayout<keyof TdMeasurements> = {
  mrTd: bytes(0x000, 48, 'MRTD', 'mr_td'),
  mrConfigId: bytes(0x030, 48, 'MRCONFIGID', 'mr_config_id'),
  mrOwner: bytes(0x060, 48, 'MROWNER', 'mr_owner'),
  mrOwnerConfig: bytes(0x090, 48, 'MROWNERCONFIG', 'mr_owner_config'),
  rtmrs: { ...bytes(0x0c0, 48, 'RTMR', 'rtmr'), count: 4 },
}

/** The TD report body of TDX 1.0 (584 bytes), and the start of TDX 1.5's; see {@link TdQuoteBodyFields}. */
export const TD_REPORT_BODY_LAYOUT: StructLayout<keyof TdQuoteBodyFields> = {
  teeTcbSvn: bytes(0x000, 16, 'TEE_TCB_SVN', 'tcb_svn'),
  mrSeam: bytes(0x010, 48, 'MRSEAM', 'mr_seam'),
  mrSignerSeam: bytes(0x040, 48, 'MRSIGNERSEAM', 'mrsigner_seam'),
  seamAttributes: uint('u64', 0x070, 'SEAMATTRIBUTES', 'seam_attributes'),
  tdAttributes: uint('u64', 0x078, 'TDATTRIBUTES', 'td_attributes'),
  xfam: uint('u64', 0x080, 'XFAM', 'xfam'),
  ...placedAt(0x088, TD_MEASUREMENTS_LAYOUT),
  reportData: bytes(0x208, 64, 'REPORTDATA', 'report_data'),
}

/** The fields TDX 1.5 adds after {@link TD_REPORT_BODY_LAYOUT} (648 bytes in all). */
export const TD_REPORT_BODY_15_LAYOUT: StructLayout<
  Exclude<keyof TdQuoteBody15, keyof TdQuoteBodyFields | 'kind'>
> = {
  teeTcbSvn2: bytes(0x248, 16, 'TEE_TCB_SVN_2', 'tee_tcb_svn2'),
  mrServiceTd: bytes(0x258, 48, 'MRSERVICETD', 'mr_servicetd'),
}

/**
 * The reserved areas of a structure of `size` bytes: the gaps between the fields of `layout`,
 * named `reserved@0x…` by their offset (three upper-case hex digits).
 *
 * @internal used by the parsers to report reserved bytes that are not zero.
 */
export function reservedAreasOf(layout: StructLayout, size: number): ReservedArea[] {
  const fields = Object.values<LayoutField>(layout).sort((a, b) => a.offset - b.offset)
  const areas: ReservedArea[] = []
  let next = 0
  for (const { offset, size: each, count } of [...fields, { offset: size, size: 0, count: 1 }]) {
    if (offset > next) {
      const name = `reserved@0x${next.toString(16).toUpperCase().padStart(3, '0')}`
      areas.push([name, next, offset - next])
    }
    next = Math.max(next, offset + each * (count ?? 1))
  }
  return areas
}

function readField(reader: ByteReader, at: number, field: LayoutField, label: string): unknown {
  const count = field.count
  if (count !== undefined) {
    return Array.from({ length: count }, (_, i) =>
      reader.copyAt(at + i * field.size, field.size, `${label}${i}`),
    )
  }
  switch (field.type) {
    case 'bytes':
      return reader.copyAt(at, field.size, label)
    case 'u16':
      return reader.u16leAt(at, label)
    case 'u32':
      return reader.u32leAt(at, label)
    case 'u64':
      return reader.u64leAt(at, label)
  }
}

/**
 * Read every field of `layout` from the structure at `base` (the caller has checked its bytes are
 * there): byte strings (copies), integers (`number`, u64 `bigint`), runs of registers (arrays), to
 * be typed by the caller. Messages name a field `${prefix}${name}`.
 *
 * @internal shared by the parsers.
 */
export function readLayout<K extends string>(
  reader: ByteReader,
  base: number,
  layout: StructLayout<K>,
  prefix = '',
): Record<K, unknown> {
  const values: Record<string, unknown> = {}
  for (const [key, field] of Object.entries<LayoutField>(layout)) {
    values[key] = readField(reader, base + field.offset, field, `${prefix}${field.name}`)
  }
  return values
}

/**
 * The Trustee claims of the fields of `layout` that have a claim name, in table order, from the
 * structure's lowercase hex (`hex`, two characters a byte): byte strings and u32/u64 as the hex of
 * their raw little-endian bytes, u16 as numbers, a run of registers as `name_0`, `name_1`, ….
 *
 * @internal used by the quote claims.
 */
export function layoutClaims(
  layout: StructLayout,
  raw: Uint8Array,
  hex: string,
): Record<string, string | number> {
  const at = (offset: number, size: number): string => hex.slice(2 * offset, 2 * (offset + size))
  const claims: Record<string, string | number> = {}
  for (const field of Object.values<LayoutField>(layout)) {
    const { claim, offset, size } = field
    if (claim === undefined) continue
    if (field.count !== undefined) {
      for (let i = 0; i < field.count; i++) claims[`${claim}_${i}`] = at(offset + i * size, size)
    } else if (field.type === 'u16') {
      claims[claim] = (raw[offset] ?? 0) | ((raw[offset + 1] ?? 0) << 8)
    } else {
      claims[claim] = at(offset, size)
    }
  }
  return claims
}
