/**
 * Intel DCAP quotes: SGX quote v3, SGX/TDX quote v4 and quote v5, parsed whole.
 *
 * Parsing checks the format only: header values, body type and size, and that every size field
 * matches the bytes it describes. It verifies no signature and judges no value: a debug TD or an
 * unknown attribute bit parses, and so does a quote whose PCK chain is not embedded (certification
 * data of kind `'unresolved'`). Bytes after the signature data are allowed, counted in
 * `trailingBytes` and never read: real quotes carry such slack (39 and 70 bytes in the vectors,
 * kilobytes from some providers).
 *
 * @see Intel SGX DCAP ECDSA Quote Library API (quote v3); Intel TDX DCAP Quote Generation Library
 *   and Quote Verification Library (quotes v4 and v5); verifiers.md §3.
 * @module
 */
import { ByteReader } from '@initguard/core'
import { SGX_REPORT_BODY_SIZE, readSgxEnclaveReport } from './enclave-report.ts'
import type { SgxEnclaveReport } from './enclave-report.ts'
import { QUOTE_NAME, QuoteCursor, quoteError, requireBytes } from './parse-support.ts'
import { readDcapQuoteHeader } from './quote-header.ts'
import type { DcapQuoteHeader } from './quote-header.ts'
import { readQuoteSignatureData } from './quote-signature.ts'
import type { QuoteSignatureData } from './quote-signature.ts'
import { TD_REPORT_BODY_10_SIZE, TD_REPORT_BODY_15_SIZE, readTdQuoteBody } from './td-quote-body.ts'
import type { TdQuoteBody } from './td-quote-body.ts'

/** Body types of the quote v5 body descriptor. */
export const DCAP_QUOTE_BODY_TYPE = {
  /** SGX enclave report body, 384 bytes. */
  SGX: 1,
  /** TDX 1.0 TD report body, 584 bytes. */
  TD10: 2,
  /** TDX 1.5 TD report body, 648 bytes. */
  TD15: 3,
} as const

/** An SGX enclave report as a quote body. */
export interface SgxQuoteBody extends SgxEnclaveReport {
  /** Discriminant. */
  readonly kind: 'sgx'
}

/** A quote body, told apart by `kind`: `'sgx'`, `'td10'` (TDX 1.0) or `'td15'` (TDX 1.5). */
export type DcapQuoteBody = SgxQuoteBody | TdQuoteBody

/** The quote v5 body descriptor (6 bytes at 0x30): body type u16 LE and body size u32 LE. */
export interface DcapQuoteBodyDescriptor {
  /** 1 SGX, 2 TDX 1.0, 3 TDX 1.5 (see {@link DCAP_QUOTE_BODY_TYPE}). */
  readonly type: number
  /** The body size in bytes; must be the size of that type's body. */
  readonly size: number
}

/**
 * A parsed DCAP quote.
 *
 * | version | layout                                                                   |
 * | ------- | ------------------------------------------------------------------------ |
 * | 3       | header (48) ‖ SGX body (384) ‖ u32 size ‖ signature data (layout v3)      |
 * | 4       | header (48) ‖ SGX body (384) or TD 1.0 body (584) ‖ u32 size ‖ signature data (layout v4) |
 * | 5       | header (48) ‖ body type u16 ‖ body size u32 ‖ body (384, 584 or 648) ‖ u32 size ‖ signature data (layout v4) |
 *
 * The signature covers `signedBytes` = header ‖ descriptor (v5) ‖ body: 432 bytes (SGX v3/v4),
 * 632 (TDX v4), 438 / 638 / 702 (v5 SGX / TD 1.0 / TD 1.5). Details of each part are in
 * {@link DcapQuoteHeader}, {@link SgxEnclaveReport}, {@link TdQuoteBody} and
 * {@link QuoteSignatureData}.
 */
export interface DcapQuote {
  /** The header. */
  readonly header: DcapQuoteHeader
  /** The body descriptor (version 5 only). */
  readonly bodyDescriptor: DcapQuoteBodyDescriptor | undefined
  /** The body: SGX enclave report, TDX 1.0 or TDX 1.5 TD report. */
  readonly body: DcapQuoteBody
  /** The signature data. */
  readonly signatureData: QuoteSignatureData
  /**
   * What the attestation key signed: header, descriptor and body exactly as received (a view into
   * `raw`). Verify over these bytes, never over a re-serialisation.
   */
  readonly signedBytes: Uint8Array
  /** The body alone, without the v5 descriptor (a view into `raw`). */
  readonly rawBody: Uint8Array
  /**
   * The quote from its first byte to the end of the signature data: a view into the parser's
   * private copy of the input. (That copy's buffer also holds the trailing bytes: use this view,
   * not its `.buffer`.)
   */
  readonly raw: Uint8Array
  /** How many bytes followed the signature data in the input (never read). */
  readonly trailingBytes: number
}

interface BodyChoice {
  readonly kind: DcapQuoteBody['kind']
  readonly size: number
}

const BODY_BY_V5_TYPE: Readonly<Record<number, BodyChoice>> = {
  [DCAP_QUOTE_BODY_TYPE.SGX]: { kind: 'sgx', size: SGX_REPORT_BODY_SIZE },
  [DCAP_QUOTE_BODY_TYPE.TD10]: { kind: 'td10', size: TD_REPORT_BODY_10_SIZE },
  [DCAP_QUOTE_BODY_TYPE.TD15]: { kind: 'td15', size: TD_REPORT_BODY_15_SIZE },
}

/** Read and check the v5 body descriptor; returns it and the body it announces. */
function readBodyDescriptor(
  cursor: QuoteCursor,
  header: DcapQuoteHeader,
): { descriptor: DcapQuoteBodyDescriptor; choice: BodyChoice } {
  const typeOffset = cursor.offset
  const type = cursor.u16('body type')
  const size = cursor.u32('body size')
  const choice = BODY_BY_V5_TYPE[type]
  if (choice === undefined || (choice.kind === 'sgx') !== (header.tee === 'sgx')) {
    throw quoteError(
      'ERR_TDX_QUOTE_BODY_TYPE',
      choice === undefined
        ? `body type ${type} is not supported; 1 (SGX), 2 (TDX 1.0) and 3 (TDX 1.5) are`
        : `body type ${type} (${choice.kind}) does not match the header's TEE type (${header.tee})`,
      { field: 'body type', offset: typeOffset, bodyType: type, tee: header.tee },
    )
  }
  if (size !== choice.size) {
    throw quoteError(
      'ERR_TDX_QUOTE_BODY_SIZE',
      `body size ${size} does not match body type ${type}, whose body is ${choice.size} bytes`,
      { field: 'body size', offset: typeOffset + 2, bodyType: type, size, expected: choice.size },
    )
  }
  return { descriptor: { type, size }, choice }
}

/**
 * Parse an Intel DCAP quote: SGX v3, SGX or TDX v4, SGX or TDX (1.0 or 1.5) v5.
 *
 * The input is copied once; every field comes from that copy, and `signedBytes` and `rawBody`
 * are views into it, the bytes exactly as received. Reads never go past a declared size, and
 * nothing after the signature data is read: `trailingBytes` only counts it.
 *
 * @example
 * ```ts
 * const quote = parseDcapQuote(bytes)
 * if (quote.body.kind !== 'sgx') bytesToHex(quote.body.mrConfigId) // the config binding
 * const pck = quote.signatureData.pckCertification
 * if (pck.kind === 'unresolved') throw pck.error // or use a PCK chain from elsewhere
 * ```
 *
 * @throws {@link MalformedInputError}
 * - `ERR_TDX_QUOTE_TRUNCATED`: the input ends before the header, body or signature data does
 *   (including a signature data size larger than what is left);
 * - `ERR_TDX_QUOTE_VERSION`, `ERR_TDX_QUOTE_KEY_TYPE`, `ERR_TDX_QUOTE_TEE_TYPE`: header values
 *   (see {@link DcapQuoteHeader});
 * - `ERR_TDX_QUOTE_BODY_TYPE`, `ERR_TDX_QUOTE_BODY_SIZE`: the v5 body descriptor;
 * - `ERR_TDX_QUOTE_SIZE_INVALID`: a size field inside the signature data does not match its
 *   contents, or the signature data does not end where its size says;
 * - `ERR_TDX_QUOTE_CERT_DATA_TYPE`: certification data of an unknown type, or of a type not
 *   allowed where it is (v4/v5 need type 6 at the top, 5 or 1–4/7 nested; v3 needs 5 or 1–4/7);
 * - `ERR_TDX_QUOTE_PCK_CHAIN_INVALID`: the embedded PEM chain is damaged.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 */
export function parseDcapQuote(bytes: Uint8Array): DcapQuote {
  const input = requireBytes(bytes, 'a DCAP quote')
  const reader = new ByteReader(input, { name: QUOTE_NAME })
  const cursor = new QuoteCursor(reader, 0, reader.length)
  const header = readDcapQuoteHeader(reader, cursor)

  let bodyDescriptor: DcapQuoteBodyDescriptor | undefined
  let choice: BodyChoice
  if (header.version === 5) {
    const read = readBodyDescriptor(cursor, header)
    bodyDescriptor = read.descriptor
    choice = read.choice
  } else {
    choice =
      header.tee === 'sgx'
        ? { kind: 'sgx', size: SGX_REPORT_BODY_SIZE }
        : { kind: 'td10', size: TD_REPORT_BODY_10_SIZE }
  }

  const bodyAt = cursor.skip(choice.size, 'quote body')
  const body: DcapQuoteBody =
    choice.kind === 'sgx'
      ? { kind: 'sgx', ...readSgxEnclaveReport(reader, bodyAt, 'quote body') }
      : readTdQuoteBody(reader, bodyAt, choice.kind)
  const signedLength = cursor.offset

  const signatureData = readQuoteSignatureData(reader, cursor, header.version === 3 ? 'v3' : 'v4')
  const quoteLength = cursor.offset
  const raw = reader.bytesAt(0, quoteLength, 'quote')
  return {
    header,
    bodyDescriptor,
    body,
    signatureData,
    signedBytes: raw.subarray(0, signedLength),
    rawBody: raw.subarray(bodyAt, bodyAt + choice.size),
    raw,
    trailingBytes: reader.length - quoteLength,
  }
}
