/**
 * Parsing a configuration document carried in init-data (`aa.toml`, `cdh.toml`) into a TOML table,
 * with one coded error that says where the syntax is wrong. Shared by the image policy reader
 * (host and guest) and the guest agent's KBS settings. Pure.
 *
 * The guest's attestation agent and Confidential Data Hub read these files with the Rust `config`
 * crate over `toml` (0.8 in guest-components before 0.16: TOML 1.0, CRLF in multi-line strings read
 * as LF; 0.9 and later from 0.16 on: TOML 1.1, CRLF kept), so TOML 1.1 syntax and a CRLF kept inside a
 * multi-line string are refused here as in the initdata document itself, and so are quotes that
 * smol-toml drops from a multi-line string.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { parse as parseToml, TomlError } from 'smol-toml'
import { NON_PORTABLE_TOML_FIX, findNonPortableToml } from './toml-portability.ts'

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
 *   CRLF kept inside a multi-line string and quotes smol-toml drops, which CoCo's parsers read
 *   differently.
 */
export function parseConfigToml(text: string, error: ConfigTomlError): TomlTable {
  let table: TomlTable
  try {
    table = parseToml(text)
  } catch (cause) {
    const at = cause instanceof TomlError ? { line: cause.line, column: cause.column } : undefined
    throw new MalformedInputError(
      error.code,
      `${error.what} is not valid TOML${at === undefined ? '' : ` at line ${String(at.line)}, column ${String(at.column)}`}`,
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
  }[found.kind]
  throw new MalformedInputError(error.code, `${error.what} ${problem}`, {
    details: { ...error.details, line, column },
    hint: `${NON_PORTABLE_TOML_FIX[found.kind]}; ${error.hint}`,
  })
}
