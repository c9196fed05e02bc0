/**
 * What smol-toml reads that a CoCo consumer of the same text reads differently or refuses: TOML
 * 1.1 syntax (refused by the TOML 1.0 parsers of older Kata and guest-components releases), a CRLF
 * kept inside a multi-line string (read as LF by some releases, as CRLF by others), and quotes that
 * smol-toml drops from a multi-line string. Shared by the initdata document and the configuration
 * files it carries, so each means one thing on every release.
 *
 * @module
 */
import { findToml11Construct } from './toml-1-1.ts'
import { findMultiLineStringHazard } from './toml-multi-line-strings.ts'
import { lineAndColumn } from './toml-scan.ts'

/** The first construct that makes a TOML text mean different things to different consumers. */
export interface NonPortableToml {
  /**
   * `toml-1.1`: syntax only TOML 1.1 allows; `crlf`: a CRLF kept in a multi-line string;
   * `trimmed-quotes`: quotes ending a `"""` string right after a line-ending backslash.
   */
  readonly kind: 'toml-1.1' | 'crlf' | 'trimmed-quotes'
  /** What it is, for a message: e.g. `the escape \e`. */
  readonly what: string
  /** 1-based, in `text` as given. */
  readonly line: number
  readonly column: number
}

/** How to fix each kind, for the error's hint. */
export const NON_PORTABLE_TOML_FIX: Readonly<Record<NonPortableToml['kind'], string>> = {
  'toml-1.1':
    'write it as TOML 1.0: \\u001b for \\e, \\u00HH for \\xHH, an inline table on one line without a trailing comma (or a table header)',
  'trimmed-quotes':
    'write those quotes as \\" escapes, or put them before the line-ending backslash',
  crlf: 'save the text with LF line ends (dos2unix, or a .gitattributes eol=lf rule); to put a carriage return in a value, write the escape \\r in a "…" string',
}

const HAZARDS: Readonly<Record<'crlf' | 'trimmed-quotes', string>> = {
  crlf: 'a CRLF line break inside a multi-line string',
  'trimmed-quotes':
    'quotes that end a multi-line string right after a line-ending backslash (smol-toml drops them, the other parsers keep them)',
}

/**
 * The first (in document order) non-portable construct in `text`, or `undefined`. `text` must
 * already have parsed with smol-toml.
 */
export function findNonPortableToml(text: string): NonPortableToml | undefined {
  const toml11 = findToml11Construct(text)
  const hazard = findMultiLineStringHazard(text)
  if (toml11 !== undefined && (hazard === undefined || toml11.offset < hazard.offset))
    return { kind: 'toml-1.1', what: toml11.what, ...lineAndColumn(text, toml11.offset) }
  if (hazard === undefined) return undefined
  return { kind: hazard.kind, what: HAZARDS[hazard.kind], ...lineAndColumn(text, hazard.offset) }
}
