/**
 * Test helpers for the quote parsers: little-endian writers and builders for synthetic quotes,
 * signature data and certification data. (The real vectors are read by the test files
 * themselves, from testdata/vectors: this file stays free of I/O.)
 *
 * @module
 */
import { bytesToBase64, hexToBytes, isInitguardError, stringToUtf8 } from '@initguard/core'
import type { InitguardError } from '@initguard/core'

/** Where the real vectors are, relative to this directory. */
export const VECTORS: URL = new URL('../../../testdata/vectors/', import.meta.url)

/** The real TDX quotes (folder names under vectors/tdx). */
export const TDX_QUOTES = ['spr-v4', 'v4-b', 'v4-claims'] as const
/** The real SGX quotes (folder names under vectors/sgx). */
export const SGX_QUOTES = ['v3-a', 'v3-b'] as const

/** Run `fn` and return the InitguardError it throws; fail on anything else. */
export function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** Concatenate byte strings. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A u16, little-endian. */
export function le16(value: number): Uint8Array {
  const out = new Uint8Array(2)
  new DataView(out.buffer).setUint16(0, value, true)
  return out
}

/** A u32, little-endian. */
export function le32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value, true)
  return out
}

/** `length` bytes of `value`. */
export function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value)
}

/** A copy of `base` changed by `edit`. */
export function patched(
  base: Uint8Array,
  edit: (view: DataView, bytes: Uint8Array) => void,
): Uint8Array {
  const bytes = base.slice()
  edit(new DataView(bytes.buffer), bytes)
  return bytes
}

/** Certification data: type u16, size u32, data. */
export function certData(type: number, data: Uint8Array, declaredSize = data.length): Uint8Array {
  return concat(le16(type), le32(declaredSize), data)
}

/** Fields of a quote header to build; every one has a default. */
export interface HeaderFields {
  readonly version?: number
  readonly keyType?: number
  readonly teeType?: number
  readonly qeSvn?: number
  readonly pceSvn?: number
  readonly vendor?: Uint8Array
  readonly userData?: Uint8Array
}

/** Intel's QE vendor ID, as bytes. */
export const INTEL_VENDOR: Uint8Array = hexToBytes('939a7233f79c4ca9940a0db3957f0607')

/** A 48-byte header (default: version 4, key type 2, TDX). */
export function quoteHeader(fields: HeaderFields = {}): Uint8Array {
  return concat(
    le16(fields.version ?? 4),
    le16(fields.keyType ?? 2),
    le32(fields.teeType ?? 0x81),
    le16(fields.qeSvn ?? 0),
    le16(fields.pceSvn ?? 0),
    fields.vendor ?? INTEL_VENDOR,
    fields.userData ?? filled(20, 0xee),
  )
}

/** The parts of a QE report certification data (type 6) to build. */
export interface QePartFields {
  readonly qeReport?: Uint8Array
  readonly qeReportSignature?: Uint8Array
  readonly authData?: Uint8Array
}

/** QE report ‖ QE report signature ‖ auth size ‖ auth data. */
export function qePart(fields: QePartFields = {}): Uint8Array {
  const auth = fields.authData ?? filled(32, 0xa5)
  return concat(
    fields.qeReport ?? filled(384, 0),
    fields.qeReportSignature ?? filled(64, 0x51),
    le16(auth.length),
    auth,
  )
}

/** A small PEM chain of `count` fake certificates, NUL-terminated like Intel's. */
export function fakePemChain(count = 3, terminator = '\0'): Uint8Array {
  const blocks = Array.from(
    { length: count },
    (_, i) =>
      `-----BEGIN CERTIFICATE-----\n${bytesToBase64(stringToUtf8(`certificate ${i + 1}`))}\n-----END CERTIFICATE-----\n`,
  )
  return stringToUtf8(blocks.join('') + terminator)
}

/** Signature data in layout v4: u32 size ‖ signature ‖ key ‖ `certificationData`. */
export function signatureDataV4(certificationData: Uint8Array, declaredSize?: number): Uint8Array {
  const inner = concat(filled(64, 0x11), filled(64, 0x22), certificationData)
  return concat(le32(declaredSize ?? inner.length), inner)
}

/** Signature data in layout v3: u32 size ‖ signature ‖ key ‖ QE part ‖ `certificationData`. */
export function signatureDataV3(
  certificationData: Uint8Array,
  qe: QePartFields = {},
  declaredSize?: number,
): Uint8Array {
  const inner = concat(filled(64, 0x11), filled(64, 0x22), qePart(qe), certificationData)
  return concat(le32(declaredSize ?? inner.length), inner)
}

/** The default v4 signature data: type 6 wrapping a fake type-5 chain. */
export function defaultSignatureDataV4(): Uint8Array {
  return signatureDataV4(certData(6, concat(qePart(), certData(5, fakePemChain()))))
}

/** The parts of a real quote: header, v5 descriptor (if any), body, signature data, trailing. */
export interface QuoteParts {
  readonly header: Uint8Array
  readonly descriptor: Uint8Array
  readonly body: Uint8Array
  /** The signature data with its u32 size. */
  readonly signatureData: Uint8Array
  readonly trailing: Uint8Array
}

/** Split a v3/v4 quote (SGX body 384, TDX body 584) into its parts. */
export function splitQuote(quote: Uint8Array): QuoteParts {
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength)
  const tee = view.getUint32(4, true)
  const bodyEnd = 48 + (tee === 0x81 ? 584 : 384)
  const sigEnd = bodyEnd + 4 + view.getUint32(bodyEnd, true)
  return {
    header: quote.slice(0, 48),
    descriptor: new Uint8Array(0),
    body: quote.slice(48, bodyEnd),
    signatureData: quote.slice(bodyEnd, sigEnd),
    trailing: quote.slice(sigEnd),
  }
}

/** Turn a real v4 quote into a v5 quote with the given body (and body type). */
export function asV5(v4: Uint8Array, bodyType: number, body?: Uint8Array): Uint8Array {
  const parts = splitQuote(v4)
  const header = patched(parts.header, (v) => {
    v.setUint16(0, 5, true)
  })
  const newBody = body ?? parts.body
  return concat(header, le16(bodyType), le32(newBody.length), newBody, parts.signatureData)
}
