/**
 * The TD's measurement registers, which a TD report body (in a quote) and TDINFO_STRUCT (in a
 * TDREPORT) lay out alike: MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, then RTMR0–RTMR3, 48 bytes
 * each, one after the other.
 *
 * @module
 */
import type { ByteReader } from '@initguard/core'

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
export function readTdMeasurements(reader: ByteReader, offset: number): TdMeasurements {
  const copy = (at: number, field: string): Uint8Array =>
    reader.bytesAt(offset + at, 48, field).slice()
  return {
    mrTd: copy(0x000, 'MRTD'),
    mrConfigId: copy(0x030, 'MRCONFIGID'),
    mrOwner: copy(0x060, 'MROWNER'),
    mrOwnerConfig: copy(0x090, 'MROWNERCONFIG'),
    rtmrs: [copy(0x0c0, 'RTMR0'), copy(0x0f0, 'RTMR1'), copy(0x120, 'RTMR2'), copy(0x150, 'RTMR3')],
  }
}
