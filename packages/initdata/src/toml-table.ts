/**
 * Parsing a configuration document carried in init-data (`aa.toml`, `cdh.toml`) into a TOML table,
 * with one coded error that says where the syntax is wrong. Shared by the image policy reader
 * (host and guest) and the guest agent's KBS settings. Pure.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { parse as parseToml, TomlError } from 'smol-toml'

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
 *   (in the message and in `details`) when the parser reports them.
 */
export function parseConfigToml(text: string, error: ConfigTomlError): TomlTable {
  try {
    return parseToml(text)
  } catch (cause) {
    const at = cause instanceof TomlError ? { line: cause.line, column: cause.column } : undefined
    throw new MalformedInputError(
      error.code,
      `${error.what} is not valid TOML${at === undefined ? '' : ` at line ${String(at.line)}, column ${String(at.column)}`}`,
      { cause, details: { ...error.details, ...at }, hint: error.hint },
    )
  }
}
