/**
 * Reading `aa.toml` and `cdh.toml` from a verified init-data document strictly: TOML syntax
 * errors and known keys of the wrong type are refused (naming the file and the key); unknown keys
 * are tolerated, as CoCo's serde structs do, but listed so the operator sees a misspelt key.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { parse as parseToml, TomlError } from 'smol-toml'

/** A TOML table as smol-toml returns it. */
export type TomlTable = Readonly<Record<string, unknown>>

/** The init-data `[data]` entries this agent reads its KBS settings from. */
export type KbsConfigFile = 'aa.toml' | 'cdh.toml'

/** True for a TOML table (not an array, not a date). */
export function isTomlTable(value: unknown): value is TomlTable {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  )
}

/** The parsed `file`, or `ERR_AGENT_CONFIG_TOML` with the line and column. */
export function parseConfigToml(file: KbsConfigFile, text: string): TomlTable {
  try {
    return parseToml(text)
  } catch (cause) {
    const where = cause instanceof TomlError ? ` at line ${cause.line}, column ${cause.column}` : ''
    throw new MalformedInputError(
      'ERR_AGENT_CONFIG_TOML',
      `the verified init-data's ${file} is not valid TOML${where}`,
      {
        cause,
        details: {
          file,
          ...(cause instanceof TomlError ? { line: cause.line, column: cause.column } : {}),
        },
        hint: `fix ${file} in the init-data document (and launch the guest with the new document)`,
      },
    )
  }
}

/** `ERR_AGENT_CONFIG_TYPE`: `file`'s `key` is not a TOML `expected`. */
export function wrongConfigType(
  file: KbsConfigFile,
  key: string,
  expected: string,
): MalformedInputError {
  return new MalformedInputError(
    'ERR_AGENT_CONFIG_TYPE',
    `the verified init-data's ${file}: ${key} must be a TOML ${expected}`,
    {
      details: { file, key },
      hint: `write ${key} as a ${expected} in ${file}; CoCo's agents refuse other types too`,
    },
  )
}

/** The table at `key` of `table` (`path` is `key`'s dotted name), or undefined when absent. */
export function optionalTable(
  file: KbsConfigFile,
  table: TomlTable,
  key: string,
  path: string = key,
): TomlTable | undefined {
  const value = table[key]
  if (value === undefined) return undefined
  if (!isTomlTable(value)) throw wrongConfigType(file, path, 'table')
  return value
}

/** The string at `key` of `table`, or undefined when absent. */
export function optionalString(
  file: KbsConfigFile,
  table: TomlTable,
  key: string,
  path: string,
): string | undefined {
  const value = table[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw wrongConfigType(file, path, 'string')
  return value
}

/** Warnings naming each key of `table` (at dotted `prefix`) that is not in `known`. */
export function unknownKeys(
  file: KbsConfigFile,
  table: TomlTable,
  prefix: string,
  known: readonly string[],
): string[] {
  return Object.keys(table)
    .filter((key) => !known.includes(key))
    .map(
      (key) =>
        `${file}: unknown key ${JSON.stringify(prefix === '' ? key : `${prefix}.${key}`)} is ignored (as CoCo ignores it); check its spelling`,
    )
}
