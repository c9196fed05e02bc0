/**
 * The 48-byte header every Intel DCAP quote starts with (SGX quote v3, SGX/TDX quote v4 and v5).
 *
 * @see Intel SGX DCAP ECDSA Quote Library API, "Quote Header"; Intel TDX DCAP Quote Generation
 *   Library, "Quote Header"; verifiers.md §3.1.
 * @module
 */
import { ByteReader } from '@initguard/core'
import { QUOTE_NAME, QuoteCursor, quoteError, requireBytes } from './parse-support.ts'

/** Size of the quote header in bytes. */
export const DCAP_QUOTE_HEADER_SIZE = 48
/** TEE type of an SGX quote (header offset 0x04). */
export const DCAP_TEE_TYPE_SGX = 0x00
/** TEE type of a TDX quote (header offset 0x04). */
export const DCAP_TEE_TYPE_TDX = 0x81
/** The only attestation key type in use: ECDSA-256 with curve P-256. */
export const DCAP_ATTESTATION_KEY_ECDSA_P256 = 2
/** The QE vendor ID of Intel's quoting enclaves, hex. Intel's verification library accepts no other. */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607'

/** Which TEE a quote attests: an SGX enclave or a TDX trust domain. */
export type DcapTee = 'sgx' | 'tdx'

/**
 * A parsed quote header.
 *
 * Layout (48 bytes, integers little-endian):
 *
 * | offset | size | field                | accepted values                                  |
 * | ------ | ---- | -------------------- | ------------------------------------------------ |
 * | 0x00   | 2    | version              | 3 (SGX), 4 (SGX or TDX), 5 (SGX or TDX)          |
 * | 0x02   | 2    | attestation key type | 2 (ECDSA-256 with P-256)                         |
 * | 0x04   | 4    | TEE type             | 0x00000000 SGX, 0x00000081 TDX; v3: SGX only     |
 * | 0x08   | 2    | QE SVN               | TDX quotes carry zero here (reserved)            |
 * | 0x0A   | 2    | PCE SVN              | TDX quotes carry zero here (reserved)            |
 * | 0x0C   | 16   | QE vendor ID         | Intel: {@link INTEL_QE_VENDOR_ID} (not checked here) |
 * | 0x1C   | 20   | user data            | Intel's QE: platform identifier (16) + zeros     |
 *
 * Byte arrays are copies, except `raw`, a view into the parser's private copy of the input.
 */
export interface DcapQuoteHeader {
  /** Version (0x00): 3, 4 or 5. */
  readonly version: number
  /** Attestation key type (0x02); always 2 in a parsed header. */
  readonly attestationKeyType: number
  /** TEE type (0x04), raw: 0x00 or 0x81. */
  readonly teeType: number
  /** The TEE type, named. */
  readonly tee: DcapTee
  /** QE SVN (0x08). */
  readonly qeSvn: number
  /** PCE SVN (0x0A). */
  readonly pceSvn: number
  /** QE vendor ID (0x0C, 16 bytes). */
  readonly qeVendorId: Uint8Array
  /** User data (0x1C, 20 bytes). */
  readonly userData: Uint8Array
  /** The 48 header bytes as received. */
  readonly raw: Uint8Array
}

/**
 * Read and check the header at the start of the quote.
 *
 * @internal shared with the quote parser.
 */
export function readDcapQuoteHeader(reader: ByteReader, cursor: QuoteCursor): DcapQuoteHeader {
  const at = cursor.skip(DCAP_QUOTE_HEADER_SIZE, 'quote header')
  const version = reader.u16leAt(at, 'version')
  if (version < 3 || version > 5) {
    throw quoteError(
      'ERR_TDX_QUOTE_VERSION',
      `version ${version} is not supported; versions 3 (SGX), 4 and 5 (SGX or TDX) are`,
      { field: 'version', offset: at, version },
    )
  }
  const attestationKeyType = reader.u16leAt(at + 0x02, 'attestation key type')
  if (attestationKeyType !== DCAP_ATTESTATION_KEY_ECDSA_P256) {
    throw quoteError(
      'ERR_TDX_QUOTE_KEY_TYPE',
      `attestation key type ${attestationKeyType} is not supported; only 2 (ECDSA-256 with P-256) is`,
      { field: 'attestation key type', offset: at + 0x02, keyType: attestationKeyType },
      {
        hint: 'Intel quoting enclaves sign with ECDSA P-256 only (key type 3, ECDSA-384, is defined but not used)',
      },
    )
  }
  const teeType = reader.u32leAt(at + 0x04, 'TEE type')
  const tee =
    teeType === DCAP_TEE_TYPE_SGX ? 'sgx' : teeType === DCAP_TEE_TYPE_TDX ? 'tdx' : undefined
  if (tee === undefined || (version === 3 && tee !== 'sgx')) {
    throw quoteError(
      'ERR_TDX_QUOTE_TEE_TYPE',
      tee === undefined
        ? `TEE type 0x${teeType.toString(16)} is not supported; 0x00 (SGX) and 0x81 (TDX) are`
        : 'a version 3 quote must be an SGX quote (TEE type 0x00); TDX quotes are version 4 or 5',
      { field: 'TEE type', offset: at + 0x04, teeType, version },
    )
  }
  return {
    version,
    attestationKeyType,
    teeType,
    tee,
    qeSvn: reader.u16leAt(at + 0x08, 'QE SVN'),
    pceSvn: reader.u16leAt(at + 0x0a, 'PCE SVN'),
    qeVendorId: reader.bytesAt(at + 0x0c, 16, 'QE vendor ID').slice(),
    userData: reader.bytesAt(at + 0x1c, 20, 'user data').slice(),
    raw: reader.bytesAt(at, DCAP_QUOTE_HEADER_SIZE, 'quote header'),
  }
}

/**
 * Parse and check the header of a quote: the first 48 bytes of `bytes`; anything after them is
 * not looked at. Use it to tell SGX from TDX quotes and versions apart before a full parse.
 *
 * @example
 * ```ts
 * const { tee, version } = parseDcapQuoteHeader(bytes) // 'tdx', 4
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_QUOTE_TRUNCATED` (fewer than 48 bytes),
 *   `ERR_TDX_QUOTE_VERSION`, `ERR_TDX_QUOTE_KEY_TYPE`, `ERR_TDX_QUOTE_TEE_TYPE`.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseDcapQuoteHeader(bytes: Uint8Array): DcapQuoteHeader {
  const input = requireBytes(bytes, 'a DCAP quote')
  // Copy only the header: the rest of the input is none of this function's business.
  const reader = new ByteReader(input.subarray(0, DCAP_QUOTE_HEADER_SIZE), { name: QUOTE_NAME })
  return readDcapQuoteHeader(reader, new QuoteCursor(reader, 0, reader.length))
}
