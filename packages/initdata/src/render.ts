/**
 * Render an initdata document from its parts, deterministically: the same inputs always give the
 * same bytes, so the same digest, on every machine.
 *
 * Output layout:
 *
 * ```toml
 * version = "0.1.0"
 * algorithm = "sha384"
 *
 * [data]
 * "aa.toml" = '''
 * <file text>'''
 * ```
 *
 * `data` keys are sorted by code point. Each value is written as a multi-line literal string
 * (`'''…'''`, so the file reads like the original) whenever TOML allows that to round-trip exactly;
 * otherwise (the text contains `'''`, ends with `'`, or has control characters or CR) as an escaped
 * basic string, which always round-trips.
 *
 * @module
 */
import { UsageError, stringToUtf8 } from '@initguard/core'
import { INITDATA_ALGORITHMS, isInitdataAlgorithm, type InitdataAlgorithm } from './algorithms.ts'
import { INITDATA_VERSION } from './document.ts'
import { assertWritableDocumentSize } from './gzip.ts'

/** The parts of an initdata document. */
export interface InitdataParts {
  readonly algorithm: InitdataAlgorithm
  /** `data` entries: key → file text. Order does not matter; output is sorted. */
  readonly data: ReadonlyMap<string, string> | Readonly<Record<string, string>>
}

// TOML forbids control characters other than tab (and newline in multi-line strings) in literal strings.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const LITERAL_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const MULTILINE_LITERAL_FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f]/

// With the u flag a valid surrogate pair is one code point, so only lone surrogates match.
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Render the document's bytes.
 *
 * @throws {@link UsageError} `ERR_INITDATA_ALGORITHM` for an unknown algorithm,
 *   `ERR_INITDATA_DATA_KEY` for an empty key, `ERR_INITDATA_NOT_UNICODE` for text with lone
 *   surrogates (it cannot be written as UTF-8).
 * @throws {@link MalformedInputError} `ERR_INITDATA_TOO_LARGE` for a document that the annotation
 *   and block-image readers would refuse (over 16 MiB).
 */
export function renderInitdata(parts: InitdataParts): Uint8Array {
  if (!isInitdataAlgorithm(parts.algorithm)) {
    throw new UsageError(
      'ERR_INITDATA_ALGORITHM',
      `algorithm ${JSON.stringify(String(parts.algorithm))} is not accepted`,
      { hint: `use one of ${INITDATA_ALGORITHMS.join(', ')}` },
    )
  }
  const entries: [string, string][] =
    parts.data instanceof Map
      ? [...(parts.data as ReadonlyMap<string, string>)]
      : Object.entries(parts.data as Readonly<Record<string, string>>)
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const lines = [
    `version = "${INITDATA_VERSION}"`,
    `algorithm = "${parts.algorithm}"`,
    '',
    '[data]',
  ]
  for (const [key, value] of entries) {
    if (key.length === 0) {
      throw new UsageError('ERR_INITDATA_DATA_KEY', 'a data key is empty', {
        hint: 'name each entry, e.g. aa.toml=FILE',
      })
    }
    assertUnicode(key, `data key ${JSON.stringify(key)}`)
    assertUnicode(value, `data."${key}"`)
    lines.push(`${basicString(key)} = ${tomlString(value)}`)
  }
  const bytes = stringToUtf8(lines.join('\n') + '\n')
  assertWritableDocumentSize(bytes.length, 'rendering it')
  return bytes
}

function assertUnicode(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw new UsageError('ERR_INITDATA_NOT_UNICODE', `${what} contains a lone UTF-16 surrogate`, {
      hint: 'the text cannot be written as UTF-8; check how it was read',
    })
  }
}

/** The TOML string literal that parses back to exactly `value`. */
function tomlString(value: string): string {
  if (value.includes('\n')) {
    // A newline right after the opening ''' is dropped by the parser, so the text starts on the next line.
    if (
      !value.includes("'''") &&
      !value.endsWith("'") &&
      !MULTILINE_LITERAL_FORBIDDEN.test(value)
    ) {
      return `'''\n${value}'''`
    }
    return `"""\n${escapeBasic(value, true)}"""`
  }
  if (!value.includes("'") && !LITERAL_FORBIDDEN.test(value)) return `'${value}'`
  return basicString(value)
}

function basicString(value: string): string {
  return `"${escapeBasic(value, false)}"`
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
  '"': '\\"',
  '\\': '\\\\',
}

function escapeBasic(value: string, keepNewlines: boolean): string {
  let out = ''
  for (const ch of value) {
    const escaped = ESCAPES[ch]
    if (keepNewlines && ch === '\n') out += ch
    else if (escaped !== undefined) out += escaped
    else {
      const code = ch.codePointAt(0) ?? 0
      out += code < 0x20 || code === 0x7f ? `\\u${code.toString(16).padStart(4, '0')}` : ch
    }
  }
  return out
}
