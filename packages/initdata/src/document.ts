/**
 * Parse and validate a CoCo initdata document (TOML), keeping the exact bytes it came from.
 *
 * Wire format (trustee `kbs/docs/initdata.md`, as Kata and the CoCo guest enforce it):
 *
 * ```toml
 * version = "0.1.0"          # the only version there is
 * algorithm = "sha384"       # sha256 | sha384 | sha512, exactly
 *
 * [data]                     # string → string; well-known keys aa.toml, cdh.toml, policy.rego
 * "aa.toml" = '''
 * …'''
 * ```
 *
 * The digest is the named hash over the document's exact bytes; nothing is ever re-serialised.
 *
 * @module
 */
import { MalformedInputError, utf8ToString } from '@initguard/core'
import { parse as parseToml, TomlError } from 'smol-toml'
import {
  INITDATA_ALGORITHMS,
  hashBytes,
  isInitdataAlgorithm,
  type InitdataAlgorithm,
} from './algorithms.ts'
import { findNonPortableToml } from './toml-portability.ts'

/** The only initdata version defined. */
export const INITDATA_VERSION = '0.1.0'

/** The `data` keys that guest components consume. Other keys are kept and hashed like any other. */
export const WELL_KNOWN_DATA_KEYS: readonly ['aa.toml', 'cdh.toml', 'policy.rego'] = [
  'aa.toml',
  'cdh.toml',
  'policy.rego',
]

/** A validated initdata document together with the exact bytes it was parsed from. */
export interface InitdataDocument {
  /** Always {@link INITDATA_VERSION}. */
  readonly version: typeof INITDATA_VERSION
  /** The hash algorithm the document names for its own digest. */
  readonly algorithm: InitdataAlgorithm
  /** The `[data]` table: every key, in document order, including keys we do not know. */
  readonly data: ReadonlyMap<string, string>
  /** A private copy of the bytes that were parsed: the only bytes the digest is taken over. */
  readonly bytes: Uint8Array
  /** `algorithm` over `bytes`. */
  readonly digest: Uint8Array
}

const TOP_LEVEL_KEYS = new Set(['version', 'algorithm', 'data'])

function malformed(
  code: `ERR_INITDATA_${string}`,
  message: string,
  hint: string,
  details: Record<string, string | number> = {},
): MalformedInputError {
  return new MalformedInputError(code, message, { hint, details })
}

/**
 * Parse an initdata document and compute its digest over exactly `bytes`.
 *
 * @param bytes - the document as it will reach the guest (after base64 and gzip are undone).
 * @throws {@link MalformedInputError} with a code per fault: `ERR_INITDATA_EMPTY`,
 *   `ERR_UTF8_INVALID`, `ERR_INITDATA_TOML` (with line and column; also a second byte order
 *   mark), `ERR_INITDATA_TOML_1_1` (TOML 1.1 syntax, which the TOML 1.0 parsers of Kata before 4.0
 *   refuse), `ERR_INITDATA_TOML_CRLF` (a CRLF kept inside a multi-line string, which Kata before
 *   4.0 reads as LF and later releases as CRLF), `ERR_INITDATA_TOML_QUOTES` (quotes ending a
 *   multi-line string right after a line-ending backslash, which smol-toml drops and the other
 *   parsers keep), `ERR_INITDATA_TOML_VALUE` (a float beyond 64 bits, a date that does not exist
 *   or a time finer than a millisecond, which smol-toml reads as another value than Kata's parsers
 *   or they refuse), `ERR_INITDATA_VERSION`,
 *   `ERR_INITDATA_ALGORITHM`, `ERR_INITDATA_MISSING_FIELD`, `ERR_INITDATA_UNKNOWN_FIELD`,
 *   `ERR_INITDATA_DATA_NOT_TABLE`, `ERR_INITDATA_DATA_VALUE`.
 * @example
 * ```ts
 * const doc = parseInitdata(await readFile('initdata.toml'))
 * doc.algorithm // 'sha384'
 * ```
 */
export function parseInitdata(bytes: Uint8Array): InitdataDocument {
  // Copy first: what we hash must be what we parsed, whatever the caller does with its buffer later.
  const snapshot = Uint8Array.from(bytes)
  if (snapshot.length === 0) {
    throw malformed(
      'ERR_INITDATA_EMPTY',
      'the initdata document is empty',
      'give a TOML document with version, algorithm and [data]',
    )
  }
  const text = utf8ToString(snapshot, { field: 'initdata document' })
  // A UTF-8 byte order mark is not TOML, but every parser of CoCo's skips one (Rust toml 0.5 and
  // 1.x, BurntSushi/toml since 1.3), so we do too; the digest still covers it. They skip only one:
  // a second is refused here, as smol-toml would skip it too.
  const toml = text.startsWith('\ufeff') ? text.slice(1) : text
  if (toml.startsWith('\ufeff')) {
    throw new MalformedInputError(
      'ERR_INITDATA_TOML',
      'the initdata document is not valid TOML at line 1, column 1: a second byte order mark (U+FEFF), which TOML parsers refuse (they skip only one)',
      { details: { line: 1, column: 1 }, hint: 'save the file as UTF-8 without a byte order mark' },
    )
  }
  const table = parseTomlTable(toml)
  refuseNonPortableToml(toml)

  for (const key of Object.keys(table)) {
    if (!TOP_LEVEL_KEYS.has(key)) {
      throw malformed(
        'ERR_INITDATA_UNKNOWN_FIELD',
        `unknown top-level key "${key}" in the initdata document`,
        'only version, algorithm and [data] may appear at the top level; put configuration files under [data]',
        { field: key },
      )
    }
  }
  const version = requireField(table, 'version')
  if (version !== INITDATA_VERSION) {
    throw malformed(
      'ERR_INITDATA_VERSION',
      `version is ${describe(version)}, but the only initdata version is "${INITDATA_VERSION}"`,
      `write version = "${INITDATA_VERSION}"`,
      { field: 'version' },
    )
  }
  const algorithm = requireField(table, 'algorithm')
  if (!isInitdataAlgorithm(algorithm)) {
    throw malformed(
      'ERR_INITDATA_ALGORITHM',
      `algorithm is ${describe(algorithm)}; accepted values are ${INITDATA_ALGORITHMS.map((a) => `"${a}"`).join(', ')}`,
      'every initdata consumer accepts exactly these spellings (not "sha-256" or "SHA256")',
      { field: 'algorithm' },
    )
  }
  const dataTable = requireField(table, 'data')
  if (!isPlainTable(dataTable)) {
    throw malformed(
      'ERR_INITDATA_DATA_NOT_TABLE',
      `data is ${describe(dataTable)}, but it must be a table of strings`,
      'write the configuration files under a [data] table header',
      { field: 'data' },
    )
  }
  const data = new Map<string, string>()
  for (const [key, value] of Object.entries(dataTable)) {
    if (typeof value !== 'string') {
      throw malformed(
        'ERR_INITDATA_DATA_VALUE',
        `data."${key}" is ${describe(value)}, but every data value must be a string`,
        isPlainTable(value)
          ? `a nested table is not allowed: put the file's text in a string, data."${key}" = '''…'''`
          : `quote the value: data."${key}" = "…"`,
        { field: `data.${key}` },
      )
    }
    data.set(key, value)
  }
  return {
    version: INITDATA_VERSION,
    algorithm,
    data,
    bytes: snapshot,
    digest: hashBytes(algorithm, snapshot),
  }
}

function parseTomlTable(text: string): Record<string, unknown> {
  try {
    return parseToml(text)
  } catch (cause) {
    if (cause instanceof TomlError) {
      const firstLine = cause.message.split('\n')[0] ?? 'invalid TOML'
      throw new MalformedInputError(
        'ERR_INITDATA_TOML',
        `the initdata document is not valid TOML at line ${cause.line}, column ${cause.column}: ${firstLine.replace(/^Invalid TOML document: /, '')}`,
        {
          cause,
          details: { line: cause.line, column: cause.column },
          hint: "check quoting: a value that contains ''' cannot be a '''…''' literal string",
        },
      )
    }
    throw new MalformedInputError('ERR_INITDATA_TOML', 'the initdata document is not valid TOML', {
      cause,
    })
  }
}

/**
 * Refuse what the TOML parsers of Kata and guest-components read differently from smol-toml, so the
 * document means one thing on every release: TOML 1.1 syntax (smol-toml reads TOML 1.1; the Kata
 * agent before 4.0 reads TOML 1.0 and would refuse the document, so no pod would start with it),
 * a CRLF kept inside a multi-line string (the Kata agent before 4.0 writes it to `aa.toml` or
 * `policy.rego` as LF, Kata 4, the Kata runtime and Trustee keep CRLF), quotes that smol-toml
 * drops from a multi-line string, and numbers and dates smol-toml reads as another value.
 */
function refuseNonPortableToml(text: string): void {
  const found = findNonPortableToml(text)
  if (found === undefined) return
  const { line, column } = found
  if (found.kind === 'toml-1.1') {
    throw new MalformedInputError(
      'ERR_INITDATA_TOML_1_1',
      `the initdata document uses TOML 1.1 syntax (${found.what}) at line ${line}, column ${column}, which the Kata agent before 4.0 (a TOML 1.0 parser, the Rust toml 0.5 crate) refuses`,
      { details: { line, column }, hint: found.fix },
    )
  }
  if (found.kind === 'trimmed-quotes') {
    throw new MalformedInputError(
      'ERR_INITDATA_TOML_QUOTES',
      `the initdata document has ${found.what} at line ${line}, column ${column}`,
      { details: { line, column }, hint: found.fix },
    )
  }
  if (found.kind === 'value') {
    throw new MalformedInputError(
      'ERR_INITDATA_TOML_VALUE',
      `the initdata document has ${found.what} at line ${line}, column ${column}`,
      { details: { line, column }, hint: found.fix },
    )
  }
  throw new MalformedInputError(
    'ERR_INITDATA_TOML_CRLF',
    `the initdata document has ${found.what} at line ${line}, column ${column}: the Kata agent before 4.0 (Rust toml 0.5) reads it as LF, while Kata 4, the Kata runtime (BurntSushi/toml) and Trustee keep CRLF, so they would not read the same value`,
    { details: { line, column }, hint: found.fix },
  )
}

function requireField(table: Record<string, unknown>, field: string): unknown {
  if (!Object.hasOwn(table, field)) {
    throw malformed(
      'ERR_INITDATA_MISSING_FIELD',
      `the initdata document has no "${field}"`,
      field === 'data'
        ? 'add a [data] table (it may be empty)'
        : `add ${field} = "${field === 'version' ? INITDATA_VERSION : 'sha384'}" at the top`,
      { field },
    )
  }
  return table[field]
}

// smol-toml builds tables with a null prototype (so keys like __proto__ are plain data); dates are TomlDate.
function isPlainTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === null || prototype === Object.prototype
}

/** A short, safe description of a TOML value for messages: the type, and short strings quoted. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length <= 40 ? JSON.stringify(value) : `a ${value.length}-character string`
  }
  if (Array.isArray(value)) return 'an array'
  if (isPlainTable(value)) return 'a table'
  if (value instanceof Date || (typeof value === 'object' && value !== null)) return 'a date/time'
  return `a ${typeof value === 'bigint' || typeof value === 'number' ? 'number' : typeof value} (${String(value)})`
}
