/**
 * The TD's measurement registers, which a TD report body (in a quote) and TDINFO_STRUCT (in a
 * TDREPORT) lay out alike: MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, then RTMR0–RTMR3, 48 bytes
 * each, one after the other.
 *
 * @module
 */
import type { ByteReader } from '@initguard/core'
import { readLayout, TD_MEASUREMENTS_LAYOUT } from './report-layouts.ts'

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
  return readLayout(reader, offset, TD_MEASUREMENTS_LAYOUT) as TdMeasurements
}
