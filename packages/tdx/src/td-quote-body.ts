/**
 * The TD report body of a TDX quote: TDX 1.0 (584 bytes, quote v4 and v5 body type 2) and
 * TDX 1.5 (648 bytes, quote v5 body type 3).
 *
 * @see Intel TDX DCAP Quote Generation Library and Quote Verification Library, "TD Quote Body";
 *   verifiers.md §3.2.
 * @module
 */
import { ByteReader, MalformedInputError, UsageError } from '@initguard/core'
import { decodeTdAttributes, decodeXsaveFeatures } from './attributes.ts'
import type { TdAttributes, XsaveFeatures } from './attributes.ts'
import { FieldCopy, requireBytes } from './parse-support.ts'
import { readTdMeasurements, type TdMeasurements } from './td-measurements.ts'

/** Size of a TDX 1.0 TD report body in bytes. */
export const TD_REPORT_BODY_10_SIZE = 584
/** Size of a TDX 1.5 TD report body in bytes (the 1.0 body plus TEE_TCB_SVN_2 and MRSERVICETD). */
export const TD_REPORT_BODY_15_SIZE = 648

/** Which TD report body: TDX 1.0 or TDX 1.5. */
export type TdQuoteBodyKind = 'td10' | 'td15'

/**
 * The fields every TD report body has. Layout (offsets from the start of the body; add 0x30 for
 * the absolute offset in a v4 quote, 0x36 in a v5 quote):
 *
 * | offset | size | field          | notes                                           |
 * | ------ | ---- | -------------- | ----------------------------------------------- |
 * | 0x000  | 16   | TEE_TCB_SVN    | TDX module and SEAM loader SVNs                 |
 * | 0x010  | 48   | MRSEAM         | measurement of the TDX module                   |
 * | 0x040  | 48   | MRSIGNERSEAM   | signer of the TDX module (zero for Intel's)     |
 * | 0x070  | 8    | SEAMATTRIBUTES |                                                 |
 * | 0x078  | 8    | TDATTRIBUTES   | {@link TdAttributes}                            |
 * | 0x080  | 8    | XFAM           | {@link XsaveFeatures}                           |
 * | 0x088  | 48   | MRTD           | measurement of the initial TD contents          |
 * | 0x0B8  | 48   | MRCONFIGID     | host-set at launch; Initguard's config binding  |
 * | 0x0E8  | 48   | MROWNER        |                                                 |
 * | 0x118  | 48   | MROWNERCONFIG  |                                                 |
 * | 0x148  | 48   | RTMR0          | firmware                                        |
 * | 0x178  | 48   | RTMR1          | OS loader and kernel                            |
 * | 0x1A8  | 48   | RTMR2          | OS                                              |
 * | 0x1D8  | 48   | RTMR3          | runtime                                         |
 * | 0x208  | 64   | REPORTDATA     | TD-supplied                                     |
 * | 0x248  | 16   | TEE_TCB_SVN_2  | TDX 1.5 only ({@link TdQuoteBody15})            |
 * | 0x258  | 48   | MRSERVICETD    | TDX 1.5 only                                    |
 *
 * Byte arrays are copies: changing them does not change the quote's bytes.
 */
export interface TdQuoteBodyFields extends TdMeasurements {
  /** TEE_TCB_SVN (0x000, 16 bytes). */
  readonly teeTcbSvn: Uint8Array
  /** MRSEAM (0x010, 48 bytes). */
  readonly mrSeam: Uint8Array
  /** MRSIGNERSEAM (0x040, 48 bytes). */
  readonly mrSignerSeam: Uint8Array
  /** SEAMATTRIBUTES (0x070), raw. */
  readonly seamAttributes: bigint
  /** TDATTRIBUTES (0x078), decoded. */
  readonly tdAttributes: TdAttributes
  /** XFAM (0x080), decoded. */
  readonly xfam: XsaveFeatures
  /** REPORTDATA (0x208, 64 bytes). */
  readonly reportData: Uint8Array
}

/** A TDX 1.0 TD report body (584 bytes): quote v4, or v5 with body type 2. */
export interface TdQuoteBody10 extends TdQuoteBodyFields {
  /** Discriminant: TDX 1.0. */
  readonly kind: 'td10'
}

/** A TDX 1.5 TD report body (648 bytes): quote v5 with body type 3. */
export interface TdQuoteBody15 extends TdQuoteBodyFields {
  /** Discriminant: TDX 1.5. */
  readonly kind: 'td15'
  /** TEE_TCB_SVN_2 (0x248, 16 bytes): the SVNs of the TDX module the TD runs on now. */
  readonly teeTcbSvn2: Uint8Array
  /** MRSERVICETD (0x258, 48 bytes): the service TDs bound to this TD; zero when none. */
  readonly mrServiceTd: Uint8Array
}

/** A TD report body of either version, told apart by `kind`. */
export type TdQuoteBody = TdQuoteBody10 | TdQuoteBody15

/**
 * Read a TD report body of the given kind at `base` (the caller has checked the bytes are there).
 *
 * @internal shared with the quote parser.
 */
export function readTdQuoteBody(
  reader: ByteReader,
  base: number,
  kind: TdQuoteBodyKind,
): TdQuoteBody {
  const copy = new FieldCopy(
    reader,
    base,
    kind === 'td10' ? TD_REPORT_BODY_10_SIZE : TD_REPORT_BODY_15_SIZE,
    'TD report body',
  )
  const fields: TdQuoteBodyFields = {
    teeTcbSvn: copy.copyAt(base + 0x000, 16, 'TEE_TCB_SVN'),
    mrSeam: copy.copyAt(base + 0x010, 48, 'MRSEAM'),
    mrSignerSeam: copy.copyAt(base + 0x040, 48, 'MRSIGNERSEAM'),
    seamAttributes: reader.u64leAt(base + 0x070, 'SEAMATTRIBUTES'),
    tdAttributes: decodeTdAttributes(reader.u64leAt(base + 0x078, 'TDATTRIBUTES')),
    xfam: decodeXsaveFeatures(reader.u64leAt(base + 0x080, 'XFAM')),
    ...readTdMeasurements(reader, base + 0x088, copy),
    reportData: copy.copyAt(base + 0x208, 64, 'REPORTDATA'),
  }
  return kind === 'td10'
    ? { kind, ...fields }
    : {
        kind,
        ...fields,
        teeTcbSvn2: copy.copyAt(base + 0x248, 16, 'TEE_TCB_SVN_2'),
        mrServiceTd: copy.copyAt(base + 0x258, 48, 'MRSERVICETD'),
      }
}

/**
 * Parse a TD report body on its own: exactly 584 bytes for `'td10'`, 648 for `'td15'` (layout in
 * {@link TdQuoteBodyFields}). The input is copied first.
 *
 * @example
 * ```ts
 * const body = parseTdQuoteBody(quote.rawBody, 'td10')
 * body.tdAttributes.debug // false for a production TD
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_QUOTE_BODY_SIZE` when the length does not fit the
 *   kind.
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE` when `bytes` is not a `Uint8Array`;
 *   `ERR_TDX_BODY_KIND` when `kind` is neither `'td10'` nor `'td15'`.
 */
export function parseTdQuoteBody(bytes: Uint8Array, kind: TdQuoteBodyKind): TdQuoteBody {
  const input = requireBytes(bytes, 'a TD report body')
  // Checked as `unknown`: JavaScript callers can pass anything.
  const requested: unknown = kind
  if (requested !== 'td10' && requested !== 'td15') {
    throw new UsageError('ERR_TDX_BODY_KIND', `TD report body kind must be 'td10' or 'td15'`, {
      details: { kind: String(requested) },
    })
  }
  const expected = kind === 'td10' ? TD_REPORT_BODY_10_SIZE : TD_REPORT_BODY_15_SIZE
  if (input.length !== expected) {
    throw new MalformedInputError(
      'ERR_TDX_QUOTE_BODY_SIZE',
      `TD report body (${kind}) has ${input.length} bytes, expected exactly ${expected}`,
      {
        details: { kind, length: input.length, expected },
        hint: 'a TDX 1.0 body is 584 bytes, a TDX 1.5 body 648; give the body alone, without the quote header',
      },
    )
  }
  return readTdQuoteBody(new ByteReader(input, { name: 'TD report body' }), 0, kind)
}
