/**
 * The signature data of a DCAP quote ("ECDSA 256-bit quote signature data"): the attestation
 * key's signature over header and body, the key, and what proves the key: the QE report, its
 * signature by the PCK, the QE authentication data and the certification data leading to the PCK.
 *
 * Quote v3 (SGX) lists these inline; quotes v4 and v5 wrap the QE part in certification data
 * type 6 ("QE report certification data"), whose own certification data then leads to the PCK.
 *
 * @see Intel SGX DCAP ECDSA Quote Library API, "Quote Signature Data"; Intel TDX DCAP Quote
 *   Generation Library, "ECDSA 256-bit Quote Signature Data Structure — Version 4";
 *   verifiers.md §3.3.
 * @module
 */
import type { ByteReader } from '@initguard/core'
import {
  CERTIFICATION_DATA_TYPE,
  interpretPckCertificationData,
  isPckCertificationType,
} from './certification-data.ts'
import type { PckCertificationData } from './certification-data.ts'
import { SGX_REPORT_BODY_SIZE, readSgxEnclaveReport } from './enclave-report.ts'
import type { SgxEnclaveReport } from './enclave-report.ts'
import { quoteError } from './parse-support.ts'
import type { QuoteCursor } from './parse-support.ts'

/** Which signature-data layout a quote uses: `'v3'` for quote v3, `'v4'` for quotes v4 and v5. */
export type QuoteSignatureLayout = 'v3' | 'v4'

/**
 * Certification data type 6 (quotes v4 and v5): the QE report, its signature by the PCK, the QE
 * authentication data, and nested certification data leading to the PCK.
 *
 * ```text
 * QE report                 384 bytes   SGX enclave report of the quoting enclave
 * QE report signature        64 bytes   ECDSA P-256 r ‖ s (big-endian) by the PCK key
 * QE auth data size           2 bytes   u16 LE
 * QE auth data                n bytes
 * certification data          6 + m     type u16 = 5 (PCK chain) or 1–4/7, size u32, data
 * ```
 */
export interface QeReportCertificationData {
  /** Discriminant. */
  readonly kind: 'qe-report'
  /** Always 6. */
  readonly type: 6
  /** The declared size of the data. */
  readonly size: number
  /** The QE report; `qeReport.raw` is what the PCK signed. */
  readonly qeReport: SgxEnclaveReport
  /** The QE report signature, r ‖ s (64 bytes, big-endian). */
  readonly qeReportSignature: Uint8Array
  /** The QE authentication data (32 bytes in every quote seen). */
  readonly qeAuthData: Uint8Array
  /** The nested certification data: the PCK chain, or only an identifier of the PCK. */
  readonly certificationData: PckCertificationData
}

/** Certification data of any type this parser knows, told apart by `kind`. */
export type CertificationData = QeReportCertificationData | PckCertificationData

/**
 * The signature data of a quote, normalised over both layouts.
 *
 * Layout `'v4'` (quote v4 and v5), after the u32 size that precedes it:
 *
 * | size | field                                                                |
 * | ---- | -------------------------------------------------------------------- |
 * | 64   | quote signature: ECDSA P-256 r ‖ s over header ‖ (descriptor) ‖ body |
 * | 64   | attestation key: raw P-256 point x ‖ y                               |
 * | 2    | certification data type: must be 6                                   |
 * | 4    | certification data size                                              |
 * | n    | {@link QeReportCertificationData}                                    |
 *
 * Layout `'v3'` (quote v3):
 *
 * | size | field                                                 |
 * | ---- | ----------------------------------------------------- |
 * | 64   | quote signature                                       |
 * | 64   | attestation key                                       |
 * | 384  | QE report                                             |
 * | 64   | QE report signature                                   |
 * | 2    | QE auth data size                                     |
 * | n    | QE auth data                                          |
 * | 2    | certification data type: 5 or 1–4/7                   |
 * | 4    | certification data size                               |
 * | m    | certification data                                    |
 *
 * Each size field must match its contents exactly, and the signature data must end exactly where
 * its own size says. Byte arrays are copies, except `qeReport.raw`, `raw` and the PEM `data`,
 * which are views into the parser's private copy of the quote.
 */
export interface QuoteSignatureData {
  /** Which layout the quote used. */
  readonly layout: QuoteSignatureLayout
  /** The declared size of the signature data (the u32 before it). */
  readonly size: number
  /** The attestation key's signature over the quote's signed bytes, r ‖ s (64 bytes). */
  readonly quoteSignature: Uint8Array
  /** The attestation public key, x ‖ y (64 bytes, no 0x04 prefix). */
  readonly attestationKey: Uint8Array
  /** The QE report (v3: inline; v4/v5: from certification data type 6). */
  readonly qeReport: SgxEnclaveReport
  /** The PCK's signature over `qeReport.raw`, r ‖ s (64 bytes). */
  readonly qeReportSignature: Uint8Array
  /** The QE authentication data; SHA-256(attestationKey ‖ qeAuthData) is in the QE REPORTDATA. */
  readonly qeAuthData: Uint8Array
  /** The certification data that leads to the PCK (v3: top level; v4/v5: nested in type 6). */
  readonly pckCertification: PckCertificationData
  /** The top-level certification data as received: type 6 in v4/v5, the PCK data itself in v3. */
  readonly certificationData: CertificationData
  /** The signature data as received, without its size field. */
  readonly raw: Uint8Array
}

/** Read the QE report, its signature and the auth data at the cursor. */
function readQePart(
  reader: ByteReader,
  cursor: QuoteCursor,
): { qeReport: SgxEnclaveReport; qeReportSignature: Uint8Array; qeAuthData: Uint8Array } {
  const reportAt = cursor.skip(SGX_REPORT_BODY_SIZE, 'QE report')
  const qeReport = readSgxEnclaveReport(reader, reportAt, 'QE report')
  const qeReportSignature = cursor.bytes(64, 'QE report signature').slice()
  const authSize = cursor.u16('QE auth data size')
  const qeAuthData = cursor.bytes(authSize, 'QE auth data').slice()
  return { qeReport, qeReportSignature, qeAuthData }
}

/**
 * Read `{type u16, size u32}`, check the type before trusting the size, and open a cursor over
 * the data.
 */
function readCertificationHeader<T extends number>(
  cursor: QuoteCursor,
  name: string,
  isAllowed: (type: number) => type is T,
  allowed: string,
): { type: T; size: number; data: QuoteCursor } {
  const typeOffset = cursor.offset
  const type = cursor.u16(`${name} type`)
  const size = cursor.u32(`${name} size`)
  if (!isAllowed(type)) {
    throw quoteError(
      'ERR_TDX_QUOTE_CERT_DATA_TYPE',
      `${name} has type ${type} at offset ${typeOffset}; ${allowed}`,
      { field: `${name} type`, offset: typeOffset, certificationDataType: type },
      {
        hint:
          type >= 1 && type <= 7
            ? 'the quote nests its certification data in a way the DCAP format does not allow'
            : 'certification data types are 1 to 7; the quote is corrupt or from an unknown quote format',
      },
    )
  }
  return { type, size, data: cursor.region(size, name, `${name} size`) }
}

/** Read PCK certification data (type 5 or 1–4/7) at the cursor; any other type is refused. */
function readPckCertification(
  cursor: QuoteCursor,
  name: string,
  allowed: string,
): PckCertificationData {
  const { type, data } = readCertificationHeader(cursor, name, isPckCertificationType, allowed)
  return interpretPckCertificationData(type, data.bytes(data.remaining, `${name} data`))
}

/**
 * Read the signature data (size field included) at the cursor, in the given layout.
 *
 * @internal shared with the quote parser.
 */
export function readQuoteSignatureData(
  reader: ByteReader,
  cursor: QuoteCursor,
  layout: QuoteSignatureLayout,
): QuoteSignatureData {
  const size = cursor.u32('signature data size')
  const start = cursor.offset
  const sig = cursor.region(size, 'signature data', 'signature data size')
  const quoteSignature = sig.bytes(64, 'quote signature').slice()
  const attestationKey = sig.bytes(64, 'attestation key').slice()

  let qePart: ReturnType<typeof readQePart>
  let pckCertification: PckCertificationData
  let certificationData: CertificationData
  if (layout === 'v3') {
    qePart = readQePart(reader, sig)
    pckCertification = readPckCertification(
      sig,
      'certification data',
      'a version 3 quote carries type 5 (PCK certificate chain) or 1–4/7 (PCK identifiers) here',
    )
    certificationData = pckCertification
  } else {
    const outer = readCertificationHeader(
      sig,
      'certification data',
      (type): type is 6 => type === CERTIFICATION_DATA_TYPE.QE_REPORT,
      'quotes of version 4 and 5 carry type 6 (QE report certification data) here',
    )
    qePart = readQePart(reader, outer.data)
    pckCertification = readPckCertification(
      outer.data,
      'nested certification data',
      'inside QE report certification data (type 6) it must be type 5 (PCK certificate chain) or 1–4/7 (PCK identifiers)',
    )
    outer.data.finish()
    certificationData = {
      kind: 'qe-report',
      type: CERTIFICATION_DATA_TYPE.QE_REPORT,
      size: outer.size,
      ...qePart,
      certificationData: pckCertification,
    }
  }
  sig.finish()
  return {
    layout,
    size,
    quoteSignature,
    attestationKey,
    ...qePart,
    pckCertification,
    certificationData,
    raw: reader.bytesAt(start, size, 'signature data'),
  }
}
