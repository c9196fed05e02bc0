/**
 * The TD's measurement registers, which a TD report body (in a quote) and TDINFO_STRUCT (in a
 * TDREPORT) lay out alike: MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, then RTMR0–RTMR3, 48 bytes
 * each, one after the other.
 *
 * @module
 */
import type { ByteReader } from '@initguard/core'
import type { FieldCopy } from './parse-support.ts'

/** The TD's measurement registers (layout offsets are in the structure that holds them). */
export interface TdMeasurements {
  /** MRTD (48 bytes): the TD's build-time measurement. */
  readonly mrTd: Uint8Array
  /** MRCONFIGID (48 bytes): the host-set config binding. */
  readonly mrConfigId: Uint8Array
  /** MROWNER (48 bytes). */
  readonly mrOwner: Uint8Array
  /** MROWNERCONFIG (48 bytes). */
  readonly mrOwnerConfig: Uint8Array
  /** RTMR0–RTMR3 (4 × 48 bytes). */
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
}

/**
 * Copy the measurement registers that start, with MRTD, at `offset` (the caller has checked the
 * 384 bytes are there).
 *
 * @internal shared by the TD report body and TDREPORT parsers.
 */
export function readTdMeasurements(
  reader: ByteReader,
  offset: number,
  fields?: FieldCopy,
): TdMeasurements {
  const at = fields ?? reader
  return {
    mrTd: at.copyAt(offset + 0x000, 48, 'MRTD'),
    mrConfigId: at.copyAt(offset + 0x030, 48, 'MRCONFIGID'),
    mrOwner: at.copyAt(offset + 0x060, 48, 'MROWNER'),
    mrOwnerConfig: at.copyAt(offset + 0x090, 48, 'MROWNERCONFIG'),
    rtmrs: [
      at.copyAt(offset + 0x0c0, 48, 'RTMR0'),
      at.copyAt(offset + 0x0f0, 48, 'RTMR1'),
      at.copyAt(offset + 0x120, 48, 'RTMR2'),
      at.copyAt(offset + 0x150, 48, 'RTMR3'),
    ],
  }
}
