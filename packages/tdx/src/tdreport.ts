/**
 * The TDREPORT (TDREPORT_STRUCT, 1024 bytes): what a TD gets from `TDG.MR.REPORT`, through the
 * Linux `/dev/tdx_guest` ioctl `TDX_CMD_GET_REPORT0`. It is MAC-protected for the local platform
 * only; the quoting enclave turns it into a signed quote. A guest reads its own MRCONFIGID and
 * RTMRs from it.
 *
 * @see Intel TDX Module ABI specification, "TDREPORT_STRUCT", "REPORTMACSTRUCT", "TEE_TCB_INFO",
 *   "TDINFO_STRUCT"; Linux `include/uapi/linux/tdx-guest.h`; guest-side.md §1.4 (MRCONFIGID at
 *   0x240).
 * @module
 */
import { ByteReader, MalformedInputError } from '@initguard/core'
import { decodeTdAttributes, decodeXsaveFeatures } from './attributes.ts'
import type { TdAttributes, XsaveFeatures } from './attributes.ts'
import { nonZeroReservedAreas, requireBytes, type ReservedArea } from './parse-support.ts'
import { readTdMeasurements, type TdMeasurements } from './td-measurements.ts'

/** Size of a TDREPORT_STRUCT in bytes. */
export const TDREPORT_SIZE = 1024
/** REPORTTYPE.TYPE of a TDX report. */
export const TDREPORT_TYPE_TDX = 0x81

/** REPORTTYPE (4 bytes at 0x000): which TEE made the report, and its layout. */
export interface TdReportType {
  /** TYPE: 0x81 for TDX (0x00 would be SGX). */
  readonly type: number
  /** SUBTYPE: 0 is the only one defined. */
  readonly subtype: number
  /** VERSION: 0 (TDX 1.0), 1 (SERVTD_HASH in use), 2 and later (TDX module extensions). */
  readonly version: number
}

/** TEE_TCB_INFO (239 bytes at 0x100): the TDX module's identity. */
export interface TdReportTeeTcbInfo {
  /** VALID (0x100, 8 bytes LE): which of the fields below are valid, one bit per field. */
  readonly valid: bigint
  /** TEE_TCB_SVN (0x108, 16 bytes). */
  readonly teeTcbSvn: Uint8Array
  /** MRSEAM (0x118, 48 bytes). */
  readonly mrSeam: Uint8Array
  /** MRSIGNERSEAM (0x148, 48 bytes). */
  readonly mrSignerSeam: Uint8Array
  /** ATTRIBUTES (0x178): the SEAM attributes, raw. */
  readonly attributes: bigint
  /** TEE_TCB_SVN2 (0x180, 16 bytes): TDX 1.5; zero (reserved) on TDX 1.0. */
  readonly teeTcbSvn2: Uint8Array
  /** The 239 bytes as received: their SHA-384 is `teeTcbInfoHash`. */
  readonly raw: Uint8Array
}

/**
 * TDINFO_STRUCT (512 bytes at 0x200): the TD's own measurements (MRTD at 0x210) and attributes.
 */
export interface TdReportTdInfo extends TdMeasurements {
  /** ATTRIBUTES (0x200), decoded. */
  readonly attributes: TdAttributes
  /** XFAM (0x208), decoded. */
  readonly xfam: XsaveFeatures
  /** SERVTD_HASH (0x390, 48 bytes): TDX 1.5; zero without service TDs. */
  readonly servTdHash: Uint8Array
  /** The 512 bytes as received: their SHA-384 is `teeInfoHash`. */
  readonly raw: Uint8Array
}

/**
 * A parsed TDREPORT.
 *
 * Layout (1024 bytes, integers little-endian; reserved areas that are not zero are named in
 * `reservedNonZero` under the name in brackets):
 *
 * | offset | size | field                          | notes                                 |
 * | ------ | ---- | ------------------------------ | ------------------------------------- |
 * |        |      | **REPORTMACSTRUCT** (256)      | MAC-protected                         |
 * | 0x000  | 4    | REPORTTYPE                     | TYPE 0x81, SUBTYPE 0, VERSION, reserved [`REPORTTYPE.reserved`] |
 * | 0x004  | 12   | reserved                       | [`reserved@0x004`]                    |
 * | 0x010  | 16   | CPUSVN                         |                                       |
 * | 0x020  | 48   | TEE_TCB_INFO_HASH              | SHA-384 of TEE_TCB_INFO               |
 * | 0x050  | 48   | TEE_INFO_HASH                  | SHA-384 of TDINFO                     |
 * | 0x080  | 64   | REPORTDATA                     | TD-supplied                           |
 * | 0x0C0  | 32   | reserved                       | [`reserved@0x0C0`]                    |
 * | 0x0E0  | 32   | MAC                            | over REPORTMACSTRUCT                  |
 * |        |      | **TEE_TCB_INFO** (239)         |                                       |
 * | 0x100  | 8    | VALID                          |                                       |
 * | 0x108  | 16   | TEE_TCB_SVN                    |                                       |
 * | 0x118  | 48   | MRSEAM                         |                                       |
 * | 0x148  | 48   | MRSIGNERSEAM                   |                                       |
 * | 0x178  | 8    | ATTRIBUTES                     | SEAM attributes                       |
 * | 0x180  | 16   | TEE_TCB_SVN2                   | TDX 1.5 (reserved on 1.0)             |
 * | 0x190  | 95   | reserved                       | [`reserved@0x190`]                    |
 * | 0x1EF  | 17   | reserved                       | [`reserved@0x1EF`]                    |
 * |        |      | **TDINFO_STRUCT** (512)        |                                       |
 * | 0x200  | 8    | ATTRIBUTES                     | {@link TdAttributes}                  |
 * | 0x208  | 8    | XFAM                           | {@link XsaveFeatures}                 |
 * | 0x210  | 48   | MRTD                           |                                       |
 * | 0x240  | 48   | MRCONFIGID                     |                                       |
 * | 0x270  | 48   | MROWNER                        |                                       |
 * | 0x2A0  | 48   | MROWNERCONFIG                  |                                       |
 * | 0x2D0  | 192  | RTMR0–RTMR3                    | 4 × 48                                |
 * | 0x390  | 48   | SERVTD_HASH                    | TDX 1.5                               |
 * | 0x3C0  | 64   | reserved                       | [`reserved@0x3C0`]                    |
 *
 * Byte arrays are copies, except the `raw` fields and `reportMacStruct`, which are views into
 * the parser's private copy.
 */
export interface TdReport {
  /** REPORTTYPE (0x000). */
  readonly reportType: TdReportType
  /** CPUSVN (0x010, 16 bytes). */
  readonly cpuSvn: Uint8Array
  /** TEE_TCB_INFO_HASH (0x020, 48 bytes). */
  readonly teeTcbInfoHash: Uint8Array
  /** TEE_INFO_HASH (0x050, 48 bytes). */
  readonly teeInfoHash: Uint8Array
  /** REPORTDATA (0x080, 64 bytes). */
  readonly reportData: Uint8Array
  /** MAC (0x0E0, 32 bytes). */
  readonly mac: Uint8Array
  /** TEE_TCB_INFO (0x100). */
  readonly teeTcbInfo: TdReportTeeTcbInfo
  /** TDINFO_STRUCT (0x200). */
  readonly tdInfo: TdReportTdInfo
  /** Reserved areas that are not zero, by the names in the layout table, in offset order. */
  readonly reservedNonZero: readonly string[]
  /** REPORTMACSTRUCT, the 256 bytes the MAC covers (a view into `raw`). */
  readonly reportMacStruct: Uint8Array
  /** The whole report: this parser's private copy of the input. */
  readonly raw: Uint8Array
}

const RESERVED_AREAS: readonly ReservedArea[] = [
  ['REPORTTYPE.reserved', 0x003, 1],
  ['reserved@0x004', 0x004, 12],
  ['reserved@0x0C0', 0x0c0, 32],
  ['reserved@0x190', 0x190, 95],
  ['reserved@0x1EF', 0x1ef, 17],
  ['reserved@0x3C0', 0x3c0, 64],
]

/**
 * Parse a TDREPORT of exactly 1024 bytes (layout in {@link TdReport}).
 *
 * The input is copied once. The MAC cannot be checked outside the platform, so nothing here
 * proves the report genuine: it is the guest's view of itself, e.g. for reading its own
 * MRCONFIGID. Reserved bytes never fail parsing (see `reservedNonZero`).
 *
 * @example
 * ```ts
 * const report = parseTdReport(tdreport) // from TDX_CMD_GET_REPORT0
 * bytesToHex(report.tdInfo.mrConfigId)
 * ```
 *
 * @throws {@link MalformedInputError}
 * - `ERR_TDX_TDREPORT_TRUNCATED` when shorter than 1024 bytes;
 * - `ERR_TDX_TDREPORT_TOO_LONG` when longer;
 * - `ERR_TDX_TDREPORT_TYPE` when REPORTTYPE.TYPE is not 0x81 (TDX) or SUBTYPE is not 0.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseTdReport(bytes: Uint8Array): TdReport {
  const input = requireBytes(bytes, 'a TDREPORT')
  if (input.length !== TDREPORT_SIZE) {
    const short = input.length < TDREPORT_SIZE
    throw new MalformedInputError(
      short ? 'ERR_TDX_TDREPORT_TRUNCATED' : 'ERR_TDX_TDREPORT_TOO_LONG',
      `TDREPORT has ${input.length} bytes, expected exactly ${TDREPORT_SIZE}`,
      {
        details: { length: input.length, expected: TDREPORT_SIZE },
        hint: short
          ? 'the report was cut off in transfer or decoded from the wrong encoding'
          : 'give the 1024-byte TDREPORT alone: the TDX_CMD_GET_REPORT0 ioctl buffer starts with the 64 bytes of REPORTDATA',
      },
    )
  }
  const reader = new ByteReader(input, { name: 'TDREPORT' })
  const raw = reader.bytesAt(0, TDREPORT_SIZE, 'TDREPORT')
  const copy = (offset: number, length: number, field: string): Uint8Array =>
    reader.bytesAt(offset, length, field).slice()

  const reportType: TdReportType = {
    type: reader.u8At(0x000, 'REPORTTYPE.TYPE'),
    subtype: reader.u8At(0x001, 'REPORTTYPE.SUBTYPE'),
    version: reader.u8At(0x002, 'REPORTTYPE.VERSION'),
  }
  if (reportType.type !== TDREPORT_TYPE_TDX || reportType.subtype !== 0) {
    throw new MalformedInputError(
      'ERR_TDX_TDREPORT_TYPE',
      `TDREPORT has REPORTTYPE.TYPE 0x${reportType.type.toString(16)} and SUBTYPE ${reportType.subtype}; only TYPE 0x81 (TDX) with SUBTYPE 0 is defined`,
      {
        details: {
          field: 'REPORTTYPE',
          offset: 0,
          type: reportType.type,
          subtype: reportType.subtype,
        },
        hint: 'check that the bytes are a TDREPORT_STRUCT from TDG.MR.REPORT (not a quote or an SGX report)',
      },
    )
  }
  const reservedNonZero = nonZeroReservedAreas(reader, 0, RESERVED_AREAS)

  return {
    reportType,
    cpuSvn: copy(0x010, 16, 'CPUSVN'),
    teeTcbInfoHash: copy(0x020, 48, 'TEE_TCB_INFO_HASH'),
    teeInfoHash: copy(0x050, 48, 'TEE_INFO_HASH'),
    reportData: copy(0x080, 64, 'REPORTDATA'),
    mac: copy(0x0e0, 32, 'MAC'),
    teeTcbInfo: {
      valid: reader.u64leAt(0x100, 'TEE_TCB_INFO.VALID'),
      teeTcbSvn: copy(0x108, 16, 'TEE_TCB_SVN'),
      mrSeam: copy(0x118, 48, 'MRSEAM'),
      mrSignerSeam: copy(0x148, 48, 'MRSIGNERSEAM'),
      attributes: reader.u64leAt(0x178, 'TEE_TCB_INFO.ATTRIBUTES'),
      teeTcbSvn2: copy(0x180, 16, 'TEE_TCB_SVN2'),
      raw: raw.subarray(0x100, 0x100 + 239),
    },
    tdInfo: {
      attributes: decodeTdAttributes(reader.u64leAt(0x200, 'TDINFO.ATTRIBUTES')),
      xfam: decodeXsaveFeatures(reader.u64leAt(0x208, 'TDINFO.XFAM')),
      ...readTdMeasurements(reader, 0x210),
      servTdHash: copy(0x390, 48, 'SERVTD_HASH'),
      raw: raw.subarray(0x200, 0x400),
    },
    reservedNonZero,
    reportMacStruct: raw.subarray(0, 0x100),
    raw,
  }
}
