/**
 * Build signed Intel DCAP quotes for tests: TDX quotes v4 and v5 (TDX 1.0 or 1.5 body) and SGX
 * quotes v3 (and v4/v5), in the real layouts (verifiers.md §3):
 *
 * ```text
 * header (48) ‖ [v5: body type u16, body size u32] ‖ body ‖ u32 signature data size ‖
 *   quote signature (64, r‖s) ‖ attestation key (64, x‖y) ‖
 *   v4/v5: u16 6 ‖ u32 size ‖ QE report (384) ‖ QE report signature (64) ‖ u16 n ‖ QE auth data (n) ‖
 *            u16 5 ‖ u32 size ‖ PEM chain (PCK ‖ CA ‖ root)
 *   v3:    QE report (384) ‖ QE report signature (64) ‖ u16 n ‖ QE auth data (n) ‖
 *            u16 5 ‖ u32 size ‖ PEM chain
 * ‖ trailing bytes (optional, never part of the quote)
 * ```
 *
 * The attestation key (ECDSA P-256, generated unless given) signs header ‖ descriptor ‖ body; the
 * QE report's REPORTDATA is SHA-256(attestation key x‖y ‖ QE auth data) then 32 zero bytes; the
 * PCK key signs the QE report. Signatures are ECDSA with SHA-256, r‖s big-endian.
 *
 * `corrupt` breaks one named part after (or, for `qe-report-data`, before) signing, for negative
 * tests that must fail at exactly one verification step.
 *
 * Pure: no clock; randomness only from `node:crypto` (key generation, ECDSA signing).
 *
 * @module
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { concatBytes, isEcKey } from '@initguard/core'
import type { TestKeyPair } from './amd-pki-types.ts'
import {
  dcapBuildError,
  defaultQeReportFields,
  defaultSgxEnclaveFields,
  defaultTdReportBodyFields,
  encodeDcapHeader,
  encodeSgxReport,
  encodeTdReportBody,
  INTEL_QE_VENDOR_ID_BYTES,
  labelDigest,
} from './dcap-report-encoder.ts'
import type { SgxReportFieldValues, TdReportBodyFieldValues } from './dcap-report-encoder.ts'
import { DEFAULT_PCK_TCB } from './intel-cert-profile.ts'

/**
 * Who signs a quote: the PCK key and chain (an `IntelPckCertificate` from the Intel test PKI is
 * one as it stands) and optionally the attestation key.
 */
export interface DcapQuoteSigner {
  /** The PCK private key (ECDSA P-256): signs the QE report. */
  readonly privateKey: KeyObject
  /** PCK ‖ PCK CA ‖ root, PEM: certification data type 5. */
  readonly chainPem: string
  /** The attestation key (ECDSA P-256). Default: a new pair per quote. */
  readonly attestationKey?: TestKeyPair
}

/** A part of a quote that `corrupt` can break. */
export type DcapQuoteCorruption =
  /** Flip a bit of the attestation key's signature (r). */
  | 'quote-signature'
  /** Flip a bit of the body's REPORTDATA after signing: the quote signature no longer verifies. */
  | 'signed-data'
  /** Flip a bit of the QE report's MRENCLAVE after the PCK signed it. */
  | 'qe-report'
  /** Flip a bit of the QE report signature (r). */
  | 'qe-report-signature'
  /** Sign a QE report whose REPORTDATA does not bind the attestation key. */
  | 'qe-report-data'
  /** Flip a bit of the QE auth data after it was bound (needs non-empty auth data). */
  | 'qe-auth-data'

/** Options common to TDX and SGX quotes: header, QE part, certification data, extras. */
export interface DcapQuoteOptions {
  /** Header QE SVN. Default: SGX the QE report's ISVSVN (as in real quotes); TDX 0. */
  readonly qeSvn?: number
  /** Header PCE SVN. Default: SGX the default PCK's PCESVN; TDX 0 (as in real TDX quotes). */
  readonly pceSvn?: number
  /** Header QE vendor ID (16 bytes). Default Intel's. */
  readonly qeVendorId?: Uint8Array
  /** Header user data (20 bytes). Default: 16 digest-like bytes, then 4 zeros. */
  readonly userData?: Uint8Array
  /** Header attestation key type. Default 2 (ECDSA-256 P-256). */
  readonly attestationKeyType?: number
  /** QE report fields; default Intel's QE for the TEE. `reportData` replaces the key binding. */
  readonly qeReport?: Partial<SgxReportFieldValues>
  /** QE authentication data. Default the 32 bytes 00 01 … 1f of every real quote. */
  readonly qeAuthData?: Uint8Array
  /** Type of the (nested) PCK certification data. Default 5 (PEM chain). */
  readonly certificationDataType?: number
  /** The certification data bytes. Default: the signer's `chainPem` as ASCII. */
  readonly certificationData?: Uint8Array
  /** Append a NUL to the PEM chain, as some real quotes do. Default false. */
  readonly nulTerminatedChain?: boolean
  /** Bytes after the signature data (real quotes carry slack): the bytes, or that many zeros. */
  readonly trailingBytes?: Uint8Array | number
  /** Parts to break, for negative tests. */
  readonly corrupt?: readonly DcapQuoteCorruption[]
}

/** The fields of a TDX quote for {@link buildTdxQuote}; body fields default to {@link defaultTdReportBodyFields}. */
export interface TdxQuoteFields extends Partial<TdReportBodyFieldValues>, DcapQuoteOptions {
  /** Quote version. Default 4. */
  readonly version?: 4 | 5
  /** v5 only: TDX 1.0 (`'td10'`, body type 2) or TDX 1.5 (`'td15'`, type 3). Default `'td15'`. */
  readonly bodyKind?: 'td10' | 'td15'
}

/** The fields of an SGX quote for {@link buildSgxQuote}; body fields default to {@link defaultSgxEnclaveFields}. */
export interface SgxQuoteFields extends Partial<SgxReportFieldValues>, DcapQuoteOptions {
  /** Quote version. Default 3. */
  readonly version?: 3 | 4 | 5
}

const V5_BODY_TYPE = { sgx: 1, td10: 2, td15: 3 } as const

function u16(value: number): Uint8Array {
  const out = new Uint8Array(2)
  new DataView(out.buffer).setUint16(0, value, true)
  return out
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value, true)
  return out
}

function flip(bytes: Uint8Array, index: number): void {
  bytes[index] = (bytes[index] ?? 0) ^ 0x01
}

function checkP256(key: KeyObject, type: 'private' | 'public', field: string): void {
  if (!isEcKey(key, 'prime256v1', type)) {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_KEY_INVALID',
      `${field} must be an ECDSA P-256 ${type} key`,
      field,
    )
  }
}

/** ECDSA P-256 with SHA-256, r‖s (64 bytes). */
function signP1363(data: Uint8Array, key: KeyObject): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }))
}

/** The raw x‖y of a P-256 public key: the last 64 bytes of its SPKI (04 ‖ x ‖ y). */
function rawPoint(key: KeyObject): Uint8Array {
  const spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }))
  return spki.slice(spki.length - 64)
}

interface QuoteParts {
  readonly tee: 'tdx' | 'sgx'
  readonly version: number
  readonly teeType: number
  readonly descriptor: Uint8Array
  readonly body: Uint8Array
  /** Offset of REPORTDATA's last byte in the body (for `signed-data`). */
  readonly reportDataEnd: number
}

/** Assemble header, body and signature data (see the module comment) and sign them. */
function assemble(
  parts: QuoteParts,
  options: DcapQuoteOptions,
  signer: DcapQuoteSigner,
): Uint8Array {
  checkP256(signer.privateKey, 'private', 'signer.privateKey')
  const attestation = signer.attestationKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  checkP256(attestation.privateKey, 'private', 'signer.attestationKey.privateKey')
  checkP256(attestation.publicKey, 'public', 'signer.attestationKey.publicKey')
  const corrupt = new Set(options.corrupt ?? [])

  const qeFields = { ...defaultQeReportFields(parts.tee), ...options.qeReport }
  const header = encodeDcapHeader({
    version: parts.version,
    attestationKeyType: options.attestationKeyType ?? 2,
    teeType: parts.teeType,
    qeSvn: options.qeSvn ?? (parts.tee === 'sgx' ? qeFields.isvSvn : 0),
    pceSvn: options.pceSvn ?? (parts.tee === 'sgx' ? DEFAULT_PCK_TCB.pceSvn : 0),
    qeVendorId: options.qeVendorId ?? INTEL_QE_VENDOR_ID_BYTES,
    userData: options.userData ?? concatBytes([labelDigest('qe id', 16), new Uint8Array(4)]),
  })
  const signed = concatBytes([header, parts.descriptor, parts.body])
  const quoteSignature = signP1363(signed, attestation.privateKey)
  if (corrupt.has('quote-signature')) flip(quoteSignature, 31)
  if (corrupt.has('signed-data')) {
    flip(signed, header.length + parts.descriptor.length + parts.reportDataEnd)
  }

  const attestationKey = rawPoint(attestation.publicKey)
  const qeAuthData = (options.qeAuthData ?? Uint8Array.from({ length: 32 }, (_, i) => i)).slice()
  if (qeAuthData.length > 0xffff) {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_FIELD_INVALID',
      'qeAuthData is at most 65535 bytes',
      'qeAuthData',
    )
  }
  const binding = new Uint8Array(64)
  binding.set(createHash('sha256').update(attestationKey).update(qeAuthData).digest())
  if (corrupt.has('qe-report-data')) flip(binding, 0)
  const qeReport = encodeSgxReport(
    { ...qeFields, reportData: options.qeReport?.reportData ?? binding },
    'qeReport',
  )
  const qeReportSignature = signP1363(qeReport, signer.privateKey)
  if (corrupt.has('qe-report')) flip(qeReport, 0x40)
  if (corrupt.has('qe-report-signature')) flip(qeReportSignature, 31)
  if (corrupt.has('qe-auth-data')) {
    if (qeAuthData.length === 0) {
      throw dcapBuildError(
        'ERR_DCAP_BUILD_FIELD_INVALID',
        "corrupt 'qe-auth-data' needs non-empty QE auth data",
        'corrupt',
      )
    }
    flip(qeAuthData, 0)
  }

  const chain = options.certificationData ?? new TextEncoder().encode(signer.chainPem)
  const certData =
    options.nulTerminatedChain === true ? concatBytes([chain, Uint8Array.of(0)]) : chain
  const pckCertification = concatBytes([
    u16(options.certificationDataType ?? 5),
    u32(certData.length),
    certData,
  ])
  const qePart = concatBytes([
    qeReport,
    qeReportSignature,
    u16(qeAuthData.length),
    qeAuthData,
    pckCertification,
  ])
  const certification =
    parts.version === 3 ? qePart : concatBytes([u16(6), u32(qePart.length), qePart])
  const signatureData = concatBytes([quoteSignature, attestationKey, certification])
  const trailing =
    typeof options.trailingBytes === 'number'
      ? new Uint8Array(options.trailingBytes)
      : (options.trailingBytes ?? new Uint8Array(0))
  return concatBytes([signed, u32(signatureData.length), signatureData, trailing])
}

/**
 * Build a TDX quote (v4, or v5 with a TDX 1.0 or 1.5 body) and sign it. Body fields left out take
 * {@link defaultTdReportBodyFields} (TEE_TCB_SVN_2 defaults to the TEE_TCB_SVN used).
 *
 * @example
 * ```ts
 * const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
 * const quote = buildTdxQuote({ mrConfigId, reportData }, pck)
 * verifyDcapQuote(parseDcapQuote(quote), { now, collateral, root: pki.root.pem })
 * ```
 *
 * @throws {@link UsageError} `ERR_DCAP_BUILD_FIELD_INVALID` (a field of the wrong size or range, a
 *   TDX 1.5 body in a v4 quote), `ERR_DCAP_BUILD_KEY_INVALID` (a key that is not P-256).
 */
export function buildTdxQuote(fields: TdxQuoteFields, signer: DcapQuoteSigner): Uint8Array {
  const version: number = fields.version ?? 4
  if (version !== 4 && version !== 5) {
    throw dcapBuildError('ERR_DCAP_BUILD_FIELD_INVALID', 'a TDX quote is version 4 or 5', 'version')
  }
  const kind = fields.bodyKind ?? (version === 5 ? 'td15' : 'td10')
  if (version === 4 && kind !== 'td10') {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_FIELD_INVALID',
      'a version 4 quote carries a TDX 1.0 body only',
      'bodyKind',
      "use version: 5 for bodyKind 'td15'",
    )
  }
  const defaults = defaultTdReportBodyFields()
  const values: TdReportBodyFieldValues = {
    ...defaults,
    ...fields,
    teeTcbSvn2: fields.teeTcbSvn2 ?? fields.teeTcbSvn ?? defaults.teeTcbSvn2,
  }
  const body = encodeTdReportBody(values, kind)
  return assemble(
    {
      tee: 'tdx',
      version,
      teeType: 0x81,
      descriptor:
        version === 5
          ? concatBytes([u16(V5_BODY_TYPE[kind]), u32(body.length)])
          : new Uint8Array(0),
      body,
      reportDataEnd: 0x247,
    },
    fields,
    signer,
  )
}

/**
 * Build an SGX quote (v3 by default; v4 and v5 use the type-6 signature data) and sign it. Body
 * fields left out take {@link defaultSgxEnclaveFields}.
 *
 * @example
 * ```ts
 * const quote = buildSgxQuote({ configId, reportData }, pki.issuePck({ ca: 'processor', notBefore, notAfter }))
 * ```
 *
 * @throws {@link UsageError} `ERR_DCAP_BUILD_FIELD_INVALID`, `ERR_DCAP_BUILD_KEY_INVALID`.
 */
export function buildSgxQuote(fields: SgxQuoteFields, signer: DcapQuoteSigner): Uint8Array {
  const version: number = fields.version ?? 3
  if (version !== 3 && version !== 4 && version !== 5) {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_FIELD_INVALID',
      'an SGX quote is version 3, 4 or 5',
      'version',
    )
  }
  const body = encodeSgxReport({ ...defaultSgxEnclaveFields(), ...fields }, 'body')
  return assemble(
    {
      tee: 'sgx',
      version,
      teeType: 0x00,
      descriptor:
        version === 5 ? concatBytes([u16(V5_BODY_TYPE.sgx), u32(body.length)]) : new Uint8Array(0),
      body,
      reportDataEnd: 0x17f,
    },
    fields,
    signer,
  )
}
