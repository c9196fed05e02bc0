/**
 * Reading the KBS config file (`--config FILE`, `.json` or `.toml` by its name) and resolving it
 * with the flags.
 *
 * @module
 */
import { extname } from 'node:path'
import { MalformedInputError, scanJsonKeys, UsageError } from '@initguard/core'
import { readInput } from '@initguard/files'
import { parseConfigToml } from '@initguard/initdata'
import { resolveKbsServerConfig, type KbsServeFlags, type KbsServerConfig } from './config.ts'

/**
 * Read the config file named by `flags.config` (if any: `.json` or `.toml`, by its name) and
 * resolve the configuration.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_CONFIG_SYNTAX` for a file that does not parse (or,
 *   in TOML, holds what other TOML parsers read differently: see `parseConfigToml`),
 *   `ERR_KBS_CONFIG_DUPLICATE_KEY` for a JSON file that gives a key twice in one object;
 *   the errors of {@link resolveKbsServerConfig} and `readInput`.
 */
export async function loadKbsServerConfig(flags: KbsServeFlags): Promise<KbsServerConfig> {
  if (flags.config === undefined) return resolveKbsServerConfig(flags)
  const path = flags.config
  const format = extname(path).toLowerCase()
  if (format !== '.json' && format !== '.toml') {
    throw new UsageError(
      'ERR_KBS_CONFIG_FORMAT',
      `config file ${JSON.stringify(path)}: unknown format`,
      {
        hint: 'name the file *.json or *.toml',
      },
    )
  }
  const bytes = await readInput(path, { what: 'KBS config file', maxSize: 1024 * 1024 })
  let body: string
  try {
    body = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch (cause) {
    throw syntaxError(path, format, cause)
  }
  // A setting given twice is refused, as TOML refuses it: `JSON.parse` would keep the last copy.
  if (format === '.json')
    scanJsonKeys(body, {
      what: `config file ${JSON.stringify(path)}`,
      syntaxCode: 'ERR_KBS_CONFIG_SYNTAX',
      duplicateKeyCode: 'ERR_KBS_CONFIG_DUPLICATE_KEY',
      hints: { duplicateKey: 'give each setting once' },
    })
  let document: unknown
  if (format === '.toml') {
    // The checks every TOML parse site shares: syntax, and what other TOML parsers would read
    // differently (TOML 1.1, a float beyond 64 bits, a date that does not exist, ...).
    document = parseConfigToml(body, {
      code: 'ERR_KBS_CONFIG_SYNTAX',
      what: `config file ${JSON.stringify(path)}`,
      details: { path },
      hint: 'fix the config file',
    })
  } else {
    try {
      document = JSON.parse(body)
    } catch (cause) {
      throw syntaxError(path, format, cause)
    }
  }
  return resolveKbsServerConfig(flags, { document, path })
}

function syntaxError(path: string, format: string, cause: unknown): MalformedInputError {
  return new MalformedInputError(
    'ERR_KBS_CONFIG_SYNTAX',
    `config file ${JSON.stringify(path)} does not parse as ${format.slice(1).toUpperCase()}`,
    {
      cause,
      details: { path },
      hint: cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : 'check its syntax',
    },
  )
}
