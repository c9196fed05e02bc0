/**
 * Reading `aa.toml` and `cdh.toml` from a verified init-data document strictly: TOML syntax
 * errors and known keys of the wrong type are refused (naming the file and the key); unknown keys
 * are tolerated, as CoCo's serde structs do, but listed so the operator sees a misspelt key.
 * What each file says about the KBS is read here; whether the two agree is `kbs-config.ts`.
 *
 * @module
 */
import { ExpectationError, MalformedInputError } from '@initguard/core'
import { isTomlTable, parseConfigToml, type TomlTable } from '@initguard/initdata'

/** The init-data `[data]` entries this agent reads its KBS settings from. */
export type KbsConfigFile = 'aa.toml' | 'cdh.toml'

/** The parsed `file`, or `ERR_AGENT_CONFIG_TOML` with the line and column. */
function parseKbsConfigToml(file: KbsConfigFile, text: string): TomlTable {
  return parseConfigToml(text, {
    code: 'ERR_AGENT_CONFIG_TOML',
    what: `the verified init-data's ${file}`,
    details: { file },
    hint: `fix ${file} in the init-data document (and launch the guest with the new document)`,
  })
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

/** A KBS as one file names it: its URL, its certificate, and the keys they were written under. */
export interface Named {
  readonly file: KbsConfigFile
  readonly urlKey: string
  readonly certKey: string
  readonly url: string
  readonly cert: string | undefined
}

/** The KBS `aa.toml` names (`[token_configs.kbs]`), with its `tee_key_algorithm`. */
export function fromAaToml(
  text: string,
  warnings: string[],
): (Named & { teeKey?: string }) | undefined {
  const file = 'aa.toml'
  const top = parseKbsConfigToml(file, text)
  warnings.push(...unknownKeys(file, top, '', ['token_configs', 'eventlog_config', 'log']))
  const configs = optionalTable(file, top, 'token_configs')
  if (configs === undefined) return undefined
  warnings.push(...unknownKeys(file, configs, 'token_configs', ['coco_as', 'kbs']))
  const kbs = optionalTable(file, configs, 'kbs', 'token_configs.kbs')
  if (kbs === undefined) return undefined
  const prefix = 'token_configs.kbs'
  warnings.push(...unknownKeys(file, kbs, prefix, ['url', 'cert', 'tee_key_algorithm']))
  const url = optionalString(file, kbs, 'url', `${prefix}.url`)
  // The attestation agent's struct has `url: String` without a default: the table needs it.
  if (url === undefined) throw wrongConfigType(file, `${prefix}.url`, 'string (it is required)')
  const teeKey = optionalString(file, kbs, 'tee_key_algorithm', `${prefix}.tee_key_algorithm`)
  return {
    file,
    urlKey: `[token_configs.kbs] url`,
    certKey: `[token_configs.kbs] cert`,
    url,
    cert: optionalString(file, kbs, 'cert', `${prefix}.cert`),
    ...(teeKey === undefined ? {} : { teeKey }),
  }
}

/** The KBS `cdh.toml` names (`[kbc]`, only `cc_kbc`). */
export function fromCdhToml(text: string, warnings: string[]): Named | undefined {
  const file = 'cdh.toml'
  const top = parseKbsConfigToml(file, text)
  const known = ['socket', 'aa', 'kbc', 'credentials', 'skip_sealed_secret_verification', 'log']
  warnings.push(...unknownKeys(file, top, '', [...known, 'image']))
  if (top['credentials'] !== undefined)
    warnings.push(
      'cdh.toml: [[credentials]] are not fetched at start-up by this agent; ask for each through GET /cdh/resource/<repo>/<type>/<tag>',
    )
  const kbc = optionalTable(file, top, 'kbc')
  // The Confidential Data Hub requires [kbc]; without it nothing here names a KBS.
  if (kbc === undefined) return undefined
  warnings.push(...unknownKeys(file, kbc, 'kbc', ['name', 'url', 'kbs_cert']))
  const name = optionalString(file, kbc, 'name', 'kbc.name')
  if (name !== 'cc_kbc')
    throw new ExpectationError(
      'ERR_AGENT_KBC_UNSUPPORTED',
      `the verified init-data's cdh.toml selects ${name === undefined ? 'no [kbc] name' : `the KBC ${JSON.stringify(name.slice(0, 40))}`}; this agent speaks only cc_kbc (RCAR to a KBS)`,
      {
        details: { file, key: 'kbc.name' },
        hint: 'set [kbc] name = "cc_kbc" with the KBS url and kbs_cert, or remove [kbc]',
      },
    )
  const url = optionalString(file, kbc, 'url', 'kbc.url') ?? ''
  if (url === '') return undefined
  return {
    file,
    urlKey: '[kbc] url',
    certKey: '[kbc] kbs_cert',
    url,
    cert: optionalString(file, kbc, 'kbs_cert', 'kbc.kbs_cert'),
  }
}
