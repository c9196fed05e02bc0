/**
 * What smol-toml reads that a CoCo consumer of the same text reads differently or refuses: TOML
 * 1.1 syntax (refused by the TOML 1.0 parsers of older Kata and guest-components releases), a CRLF
 * kept inside a multi-line string (read as LF by some releases, as CRLF by others), quotes that
 * smol-toml drops from a multi-line string, and numbers and dates that smol-toml reads silently
 * where the others refuse them or read another value (see `toml-values.ts`). Shared by every place
 * that parses TOML (the initdata document, the configuration files it carries, the KBS config), so
 * each text means one thing on every release.
 *
 * @module
 */
import { findToml11Construct } from './toml-1-1.ts'
import { findMultiLineStringHazard } from './toml-multi-line-strings.ts'
import { lineAndColumn } from './toml-scan.ts'
import { findTomlValueHazard } from './toml-values.ts'

/** The first construct that makes a TOML text mean different things to different consumers. */
export interface NonPortableToml {
  /**
   * `toml-1.1`: syntax only TOML 1.1 allows; `crlf`: a CRLF kept in a multi-line string;
   * `trimmed-quotes`: quotes ending a `"""` string right after a line-ending backslash; `value`: a
   * number or date that smol-toml reads as another value than the other parsers, or they refuse.
   */
  readonly kind: 'toml-1.1' | 'crlf' | 'trimmed-quotes' | 'value'
  /** What it is, for a message: e.g. `the escape \e`. */
  readonly what: string
  /** How to fix it, for the error's hint. */
  readonly fix: string
  /** 1-based, in `text` as given. */
  readonly line: number
  readonly column: number
}

/** How to fix each kind but `value` (whose fix depends on the value). */
const FIX: Readonly<Record<'toml-1.1' | 'crlf' | 'trimmed-quotes', string>> = {
  'toml-1.1':
    'write it as TOML 1.0: \\u001b for \\e, \\u00HH for \\xHH, an inline table on one line without a trailing comma (or a table header), a time with its seconds (07:32:00, not 07:32)',
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
  const value = findTomlValueHazard(text)
  const found = [
    toml11 && { kind: 'toml-1.1' as const, what: toml11.what, offset: toml11.offset },
    hazard && { kind: hazard.kind, what: HAZARDS[hazard.kind], offset: hazard.offset },
    value,
  ]
    .filter((f) => f !== undefined)
    .sort((a, b) => a.offset - b.offset)[0]
  if (found === undefined) return undefined
  return {
    kind: found.kind,
    what: found.what,
    fix: found.kind === 'value' ? found.fix : FIX[found.kind],
    ...lineAndColumn(text, found.offset),
  }
}
