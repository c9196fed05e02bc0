/**
 * The SGX enclave REPORT body (384 bytes): the body of an SGX quote, and the QE report inside the
 * signature data of every DCAP quote (SGX and TDX alike).
 *
 * @see Intel SGX DCAP ECDSA Quote Library API, "Enclave Report Body"; Intel SDM vol. 3D §35.9
 *   (REPORT); verifiers.md §3.2.
 * @module
 */
import { ByteReader, MalformedInputError } from '@initguard/core'
import { decodeSgxAttributes } from './attributes.ts'
import type { SgxAttributes } from './attributes.ts'
import {
  FieldCopy,
  nonZeroReservedAreas,
  requireBytes,
  type ReservedArea,
} from './parse-support.ts'

/** Size of an SGX enclave report body in bytes. */
export const SGX_REPORT_BODY_SIZE = 384

/**
 * A parsed SGX enclave report body.
 *
 * Layout (384 bytes, integers little-endian; "reserved" areas that are not zero are named in
 * `reservedNonZero` under the name in brackets):
 *
 * | offset | size | field        | notes                                               |
 * | ------ | ---- | ------------ | --------------------------------------------------- |
 * | 0x000  | 16   | CPUSVN       |                                                     |
 * | 0x010  | 4    | MISCSELECT   |                                                     |
 * | 0x014  | 12   | reserved     | [`reserved@0x014`]                                  |
 * | 0x020  | 16   | ISVEXTPRODID | KSS                                                 |
 * | 0x030  | 8    | ATTRIBUTES.FLAGS | {@link SgxAttributes}                           |
 * | 0x038  | 8    | ATTRIBUTES.XFRM  |                                                 |
 * | 0x040  | 32   | MRENCLAVE    | enclave measurement                                 |
 * | 0x060  | 32   | reserved     | [`reserved@0x060`]                                  |
 * | 0x080  | 32   | MRSIGNER     | SHA-256 of the enclave signer's modulus             |
 * | 0x0A0  | 32   | reserved     | [`reserved@0x0A0`]                                  |
 * | 0x0C0  | 64   | CONFIGID     | KSS; Initguard's config binding for SGX             |
 * | 0x100  | 2    | ISVPRODID    |                                                     |
 * | 0x102  | 2    | ISVSVN       |                                                     |
 * | 0x104  | 2    | CONFIGSVN    | KSS                                                 |
 * | 0x106  | 42   | reserved     | [`reserved@0x106`]                                  |
 * | 0x130  | 16   | ISVFAMILYID  | KSS                                                 |
 * | 0x140  | 64   | REPORTDATA   | enclave-supplied; for the QE: SHA-256(key ‖ auth data) ‖ zeros |
 *
 * Byte arrays are copies: changing them changes neither `raw` nor the quote's bytes.
 */
export interface SgxEnclaveReport {
  /** CPUSVN (0x000, 16 bytes). */
  readonly cpuSvn: Uint8Array
  /** MISCSELECT (0x010). */
  readonly miscSelect: number
  /** ISVEXTPRODID (0x020, 16 bytes). */
  readonly isvExtProdId: Uint8Array
  /** ATTRIBUTES (0x030, 16 bytes), decoded. */
  readonly attributes: SgxAttributes
  /** MRENCLAVE (0x040, 32 bytes). */
  readonly mrEnclave: Uint8Array
  /** MRSIGNER (0x080, 32 bytes). */
  readonly mrSigner: Uint8Array
  /** CONFIGID (0x0C0, 64 bytes). */
  readonly configId: Uint8Array
  /** ISVPRODID (0x100). */
  readonly isvProdId: number
  /** ISVSVN (0x102). */
  readonly isvSvn: number
  /** CONFIGSVN (0x104). */
  readonly configSvn: number
  /** ISVFAMILYID (0x130, 16 bytes). */
  readonly isvFamilyId: Uint8Array
  /** REPORTDATA (0x140, 64 bytes). */
  readonly reportData: Uint8Array
  /** Reserved areas that are not zero, by the names in the layout table, in offset order. */
  readonly reservedNonZero: readonly string[]
  /** The 384 bytes as received (a view into the parser's private copy): what a signature covers. */
  readonly raw: Uint8Array
}

const RESERVED_AREAS: readonly ReservedArea[] = [
  ['reserved@0x014', 0x014, 12],
  ['reserved@0x060', 0x060, 32],
  ['reserved@0x0A0', 0x0a0, 32],
  ['reserved@0x106', 0x106, 42],
]

/**
 * Read an enclave report body at `base` in `reader` (the caller has checked that 384 bytes are
 * there).
 *
 * @internal shared with the quote and signature-data parsers.
 */
export function readSgxEnclaveReport(
  reader: ByteReader,
  base: number,
  name: string,
): SgxEnclaveReport {
  const reservedNonZero = nonZeroReservedAreas(reader, base, RESERVED_AREAS)
  const fields = new FieldCopy(reader, base, SGX_REPORT_BODY_SIZE, name)
  return {
    cpuSvn: fields.copyAt(base + 0x000, 16, `${name} CPUSVN`),
    miscSelect: reader.u32leAt(base + 0x010, `${name} MISCSELECT`),
    isvExtProdId: fields.copyAt(base + 0x020, 16, `${name} ISVEXTPRODID`),
    attributes: decodeSgxAttributes(
      reader.u64leAt(base + 0x030, `${name} ATTRIBUTES.FLAGS`),
      reader.u64leAt(base + 0x038, `${name} ATTRIBUTES.XFRM`),
    ),
    mrEnclave: fields.copyAt(base + 0x040, 32, `${name} MRENCLAVE`),
    mrSigner: fields.copyAt(base + 0x080, 32, `${name} MRSIGNER`),
    configId: fields.copyAt(base + 0x0c0, 64, `${name} CONFIGID`),
    isvProdId: reader.u16leAt(base + 0x100, `${name} ISVPRODID`),
    isvSvn: reader.u16leAt(base + 0x102, `${name} ISVSVN`),
    configSvn: reader.u16leAt(base + 0x104, `${name} CONFIGSVN`),
    isvFamilyId: fields.copyAt(base + 0x130, 16, `${name} ISVFAMILYID`),
    reportData: fields.copyAt(base + 0x140, 64, `${name} REPORTDATA`),
    reservedNonZero,
    raw: reader.bytesAt(base, SGX_REPORT_BODY_SIZE, name),
  }
}

/**
 * Parse an SGX enclave report body of exactly 384 bytes (layout in {@link SgxEnclaveReport}), for
 * instance a QE report taken out of a quote. The input is copied first.
 *
 * @example
 * ```ts
 * const report = parseSgxEnclaveReport(quote.signatureData.qeReport.raw)
 * bytesToHex(report.mrSigner)
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_SGX_REPORT_SIZE` when the input is not 384 bytes.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseSgxEnclaveReport(bytes: Uint8Array): SgxEnclaveReport {
  const input = requireBytes(bytes, 'an SGX enclave report')
  if (input.length !== SGX_REPORT_BODY_SIZE) {
    throw new MalformedInputError(
      'ERR_TDX_SGX_REPORT_SIZE',
      `SGX enclave report has ${input.length} bytes, expected exactly ${SGX_REPORT_BODY_SIZE}`,
      {
        details: { length: input.length, expected: SGX_REPORT_BODY_SIZE },
        hint: 'give the 384-byte report body alone, without a quote header or signature',
      },
    )
  }
  return readSgxEnclaveReport(
    new ByteReader(input, { name: 'SGX enclave report' }),
    0,
    'enclave report',
  )
}
