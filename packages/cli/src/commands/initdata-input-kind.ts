/**
 * Saying what a file is when it is not the form of initdata a command expected: the annotation
 * value, the block image, bare gzip, TEE evidence or PEM given where a document is expected (and
 * the other way round with `--from`), named with the option or command that reads it.
 *
 * Recognition only runs after the expected form has already failed to parse, so it can never make
 * a file acceptable that was refused; it only replaces "not valid UTF-8" by what the file is.
 *
 * @module
 */
import { MalformedInputError, isInitguardError, utf8ToString } from '@initguard/core'
import {
  INITDATA_IMAGE_MAGIC,
  decodeAnnotation,
  parseInitdata,
  readInitdataImage,
  type InitdataDocument,
} from '@initguard/initdata'
import { parseSnpEvidence } from '@initguard/snp'
import { looksLikeDcapQuote, parseDcapEvidence } from '@initguard/tdx'

/** What a file given as initdata input turned out to be. */
export type InputKind =
  'toml' | 'annotation' | 'image' | 'gzip' | 'snp' | 'tdx' | 'sgx' | 'pem' | 'der' | 'json'

/** The forms `--from` reads. */
type FromForm = 'toml' | 'annotation' | 'image'

const DESCRIPTIONS: Readonly<Record<InputKind, string>> = {
  toml: 'an initdata document (TOML)',
  annotation: 'a Kata annotation value (base64 of the gzip-compressed document)',
  image: 'an initdata block-device image',
  gzip: 'gzip-compressed data (the annotation value before base64, or a compressed document)',
  snp: 'SEV-SNP attestation evidence (a report, an extended report or Trustee JSON)',
  tdx: 'a TDX quote (attestation evidence)',
  sgx: 'an SGX quote (attestation evidence)',
  pem: 'PEM data (a certificate or key)',
  der: 'DER data (a certificate or CRL)',
  json: 'JSON (collateral, a policy or other configuration)',
}

const CODES: Readonly<Record<InputKind, `ERR_${string}`>> = {
  toml: 'ERR_INITDATA_INPUT_IS_DOCUMENT',
  annotation: 'ERR_INITDATA_INPUT_IS_ANNOTATION',
  image: 'ERR_INITDATA_INPUT_IS_IMAGE',
  gzip: 'ERR_INITDATA_INPUT_IS_GZIP',
  snp: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  tdx: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  sgx: 'ERR_INITDATA_INPUT_IS_EVIDENCE',
  pem: 'ERR_INITDATA_INPUT_IS_PEM',
  der: 'ERR_INITDATA_INPUT_IS_DER',
  json: 'ERR_INITDATA_INPUT_IS_JSON',
}

function succeeds(attempt: () => unknown): boolean {
  try {
    attempt()
    return true
  } catch (error) {
    if (isInitguardError(error) || error instanceof SyntaxError) return false
    throw error
  }
}

function dcapKind(bytes: Uint8Array): 'tdx' | 'sgx' | undefined {
  try {
    return parseDcapEvidence(bytes).quote.body.kind === 'sgx' ? 'sgx' : 'tdx'
  } catch (error) {
    if (!isInitguardError(error)) throw error
    // A quote too damaged to parse is still named by its header: TEE type 0x81 at offset 4 is TDX.
    return looksLikeDcapQuote(bytes) ? (bytes[4] === 0x81 ? 'tdx' : 'sgx') : undefined
  }
}

/** What `bytes` are, as far as the initdata forms and the evidence formats go; undefined if none. */
export function recogniseInput(bytes: Uint8Array): InputKind | undefined {
  const text = Buffer.from(bytes).toString('latin1')
  if (text.startsWith(INITDATA_IMAGE_MAGIC)) return 'image'
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip'
  if (text.trimStart().startsWith('-----BEGIN ')) return 'pem'
  // base64 of a gzip member always starts with H4sI (1f 8b 08).
  const trimmed = text.trim()
  if (trimmed.startsWith('H4sI') && /^[A-Za-z0-9+/=\s]+$/.test(trimmed)) {
    if (succeeds(() => decodeAnnotation(trimmed))) return 'annotation'
  }
  if (succeeds(() => parseInitdata(bytes))) return 'toml'
  const dcap = dcapKind(bytes)
  if (dcap !== undefined) return dcap
  if (succeeds(() => parseSnpEvidence(bytes))) return 'snp'
  if (trimmed.startsWith('{') && succeeds(() => JSON.parse(trimmed) as unknown)) return 'json'
  // A DER SEQUENCE with a long-form length: every certificate and CRL starts like this.
  if (bytes[0] === 0x30 && (bytes[1] === 0x81 || bytes[1] === 0x82 || bytes[1] === 0x83))
    return 'der'
  return undefined
}

/** Where the bytes came from: `where` for messages, `path` (a file name) for commands in hints. */
export interface InputSource {
  readonly where: string
  readonly path?: string
}

/** The source for a path on the command line (`-` is standard input). */
export function fileSource(path: string): InputSource {
  return path === '-'
    ? { where: 'standard input' }
    : { where: JSON.stringify(path), path: /^[\w./-]+$/.test(path) ? path : JSON.stringify(path) }
}

/** How to read a file of `kind` instead; `hasFrom` says whether the command takes `--from`. */
function remedy(kind: InputKind, hasFrom: boolean, source: InputSource): string {
  const path = source.path ?? 'FILE'
  switch (kind) {
    case 'toml':
      return hasFrom
        ? 'give --from toml (the default)'
        : 'it is already the document: use it as it is'
    case 'annotation':
      return hasFrom
        ? 'add --from annotation'
        : `decode it first: initguard initdata decode --from-file ${path} -o initdata.toml`
    case 'image':
      return hasFrom
        ? 'add --from image'
        : `read it first: initguard initdata read-image ${path} -o initdata.toml`
    case 'gzip':
      return `decompress it first: gunzip -c ${path} > initdata.toml`
    case 'snp':
    case 'tdx':
    case 'sgx':
      return `verify evidence with: initguard evidence verify ${path} --expect-initdata initdata.toml`
    case 'pem':
    case 'der':
    case 'json':
      return 'give the initdata document (TOML); certificates, keys, CRLs and collateral go to the evidence and image commands'
  }
}

/** The error for a file that is `kind` where `expected` was wanted. */
function wrongKind(
  kind: InputKind,
  expected: FromForm,
  source: InputSource,
  hasFrom: boolean,
  cause: unknown,
): MalformedInputError {
  return new MalformedInputError(
    CODES[kind],
    `${source.where} is ${DESCRIPTIONS[kind]}, not ${DESCRIPTIONS[expected]}`,
    { cause, details: { found: kind, expected }, hint: remedy(kind, hasFrom, source) },
  )
}

/**
 * Run `read` (which turns a file in the form `expected` into a document's bytes, or parses it);
 * when it refuses the file and the file is recognisably something else, refuse with an error that
 * names what it is and how to read it. Any other refusal is passed on unchanged.
 *
 * @param source - where the bytes came from, for the message and the hint.
 * @param hasFrom - whether the command takes `--from` (decides the hint).
 */
export function readAsForm<T>(
  bytes: Uint8Array,
  expected: FromForm,
  source: InputSource,
  hasFrom: boolean,
  read: (bytes: Uint8Array) => T,
): T {
  try {
    return read(bytes)
  } catch (error) {
    if (!isInitguardError(error) || error.category !== 'malformed') throw error
    const kind = recogniseInput(bytes)
    if (kind === undefined || kind === expected) throw error
    throw wrongKind(kind, expected, source, hasFrom, error)
  }
}

/** The document's bytes out of a file's content in the form `from` names. */
export function documentBytes(bytes: Uint8Array, from: FromForm): Uint8Array {
  switch (from) {
    case 'toml':
      return bytes
    case 'annotation':
      return decodeAnnotation(utf8ToString(bytes, { field: 'annotation file' }))
    case 'image':
      return readInitdataImage(bytes)
  }
}

/**
 * The document's bytes out of a file in the form `from` names, unvalidated; when the file is
 * something else, the error says what it is and how to read it (see {@link readAsForm}).
 */
export function documentBytesAs(
  bytes: Uint8Array,
  from: FromForm,
  source: InputSource,
): Uint8Array {
  return readAsForm(bytes, from, source, false, (input) => documentBytes(input, from))
}

/**
 * Parse the document in a file's content in the form `from` names; when the file is something
 * else, the error says what it is and how to read it (see {@link readAsForm}).
 */
export function parseDocumentAs(
  bytes: Uint8Array,
  from: FromForm,
  source: InputSource,
  hasFrom: boolean,
): InitdataDocument {
  return readAsForm(bytes, from, source, hasFrom, (input) =>
    parseInitdata(documentBytes(input, from)),
  )
}
