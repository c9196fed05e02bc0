/**
 * Parsing a TOML configuration document (`aa.toml`, `cdh.toml` carried in init-data, the TOML
 * parts `initdata build` embeds, the KBS config file) into a TOML table, with one coded error that
 * says where the text is wrong. Shared by every place that parses such a file: the image policy
 * reader (host and guest), the guest agent's KBS settings, the KBS (its config, and the init-data
 * claims it re-parses as Trustee does) and the CLI. Pure.
 *
 * The guest's attestation agent and Confidential Data Hub read these files with the Rust `config`
 * crate over `toml` (0.8 in guest-components before 0.16: TOML 1.0, CRLF in multi-line strings read
 * as LF; 0.9 and later from 0.16 on: TOML 1.1, CRLF kept), so TOML 1.1 syntax and a CRLF kept inside a
 * multi-line string are refused here as in the initdata document itself, and so are quotes that
 * smol-toml drops from a multi-line string and the numbers and dates smol-toml reads as another
 * value than the Rust crate (`1e400`, `1979-02-30`, sub-millisecond times).
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { parse as parseToml, TomlError } from 'smol-toml'
import { findNonPortableToml } from './toml-portability.ts'

/** A TOML table as smol-toml returns it. */
export type TomlTable = Readonly<Record<string, unknown>>

/** True for a TOML table (not an array, not a date). */
export function isTomlTable(value: unknown): value is TomlTable {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  )
}

/** How {@link parseConfigToml} names the document in its error. */
export interface ConfigTomlError {
  /** The stable code, e.g. `ERR_CDH_CONFIG_TOML`. */
  readonly code: `ERR_${string}`
  /** What is not valid TOML, for the message: e.g. `cdh.toml`. */
  readonly what: string
  readonly hint: string
  /** Added to the error's details (with `line` and `column` when the parser knows them). */
  readonly details?: Readonly<Record<string, unknown>>
}

/**
 * The top-level table of the TOML `text`.
 *
 * @throws {@link MalformedInputError} `error.code`, naming `error.what`, with the line and column
 *   (in the message and in `details`) when the parser reports them; also for TOML 1.1 syntax, a
 *   CRLF kept inside a multi-line string, quotes smol-toml drops, and numbers and dates smol-toml
 *   reads as another value (a float beyond 64 bits, a date that does not exist, a time finer than
 *   a millisecond), which CoCo's parsers read differently or refuse.
 */
export function parseConfigToml(text: string, error: ConfigTomlError): TomlTable {
  let table: TomlTable
  try {
    table = parseToml(text)
  } catch (cause) {
    const at = cause instanceof TomlError ? { line: cause.line, column: cause.column } : undefined
    // smol-toml's reason, without its prefix and the excerpt of the text that follows it.
    const reason = cause instanceof TomlError ? cause.message.split('\n')[0] : undefined
    throw new MalformedInputError(
      error.code,
      `${error.what} is not valid TOML${at === undefined ? '' : ` at line ${String(at.line)}, column ${String(at.column)}`}${reason === undefined ? '' : `: ${reason.replace(/^Invalid TOML document: /, '')}`}`,
      { cause, details: { ...error.details, ...at }, hint: error.hint },
    )
  }
  const found = findNonPortableToml(text)
  if (found === undefined) return table
  const { line, column } = found
  const at = `at line ${String(line)}, column ${String(column)}`
  const problem = {
    'toml-1.1': `uses TOML 1.1 syntax (${found.what}) ${at}, which guest-components before 0.16 (a TOML 1.0 parser) refuse`,
    crlf: `has ${found.what} ${at}, which guest-components before 0.16 read as LF and later releases as CRLF`,
    'trimmed-quotes': `has ${found.what} ${at}`,
    value: `has ${found.what} ${at}`,
  }[found.kind]
  throw new MalformedInputError(error.code, `${error.what} ${problem}`, {
    details: { ...error.details, line, column },
    hint: `${found.fix}; ${error.hint}`,
  })
}
