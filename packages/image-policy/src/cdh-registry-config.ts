/**
 * The registry rules of a `cdh.toml`'s `[image.registry_config]`, which image-rs reads as a
 * containers-registries.conf(5) (v2) document: `[[registry]]` entries with `prefix`, `location`,
 * `insecure`, `blocked`, `[[registry.mirror]]`, and `unqualified-search-registries`. Pure.
 *
 * Only the part that can be honoured exactly is accepted: entries that block a prefix, and
 * entries that mark a whole registry (`host[:port]`) as plain HTTP. Anything that would change
 * where an image comes from (a `location` other than the `prefix`, mirrors, search registries,
 * aliases) is refused by name rather than ignored: pulling from the named registry while the
 * verified document redirects it elsewhere would be pulling something the document did not say.
 *
 * @module
 */
import { ExpectationError, MalformedInputError } from '@initguard/core'
import { isTomlTable, type TomlTable } from '@initguard/initdata'

/** What the guest pull obeys from `[image.registry_config]`. */
export interface CdhRegistryRules {
  /** Registries (`host[:port]`) reached over plain HTTP, as the document marks them `insecure`. */
  readonly insecureRegistries: readonly string[]
  /** Blocked prefixes: `host[:port][/path]` or `*.domain`, as written. */
  readonly blocked: readonly string[]
}

const FIELD = 'image.registry_config'

function wrongType(field: string, expected: string): MalformedInputError {
  return new MalformedInputError('ERR_CDH_CONFIG_TYPE', `cdh.toml: ${field} must be ${expected}`, {
    details: { field },
    hint: `write ${field} as a TOML ${expected}, as containers-registries.conf(5) defines it`,
  })
}

function unsupported(field: string, why: string): ExpectationError {
  return new ExpectationError(
    'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED',
    `cdh.toml: ${field} ${why}; the guest pull does not implement it and refuses rather than ignore it`,
    {
      details: { field },
      hint: `${FIELD} may only block prefixes ([[registry]] prefix or location, blocked = true) and mark a whole registry host[:port] insecure; remove ${field} from cdh.toml`,
    },
  )
}

function optionalBoolean(entry: TomlTable, key: string, field: string): boolean {
  const value = entry[key]
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw wrongType(`${field}.${key}`, 'boolean')
  return value
}

function optionalString(entry: TomlTable, key: string, field: string): string | undefined {
  const value = entry[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '')
    throw wrongType(`${field}.${key}`, 'non-empty string')
  return value
}

const ENTRY_KEYS = ['prefix', 'location', 'insecure', 'blocked']

/**
 * The rules of `[image.registry_config]` (the TOML table under that key of `cdh.toml`).
 *
 * @throws {@link MalformedInputError} `ERR_CDH_CONFIG_TYPE` (a key of the wrong type);
 *   {@link ExpectationError} `ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED` (a key or entry that would
 *   redirect a pull, or an insecure entry narrower than a registry), naming it.
 */
export function cdhRegistryRules(config: TomlTable): CdhRegistryRules {
  const other = Object.keys(config).find((key) => key !== 'registry')
  if (other !== undefined) throw unsupported(`${FIELD}.${other}`, 'is set')
  const entries = config['registry'] ?? []
  if (!Array.isArray(entries) || !entries.every(isTomlTable))
    throw wrongType(`${FIELD}.registry`, 'array of tables ([[registry]])')
  const insecureRegistries: string[] = []
  const blocked: string[] = []
  entries.forEach((entry, index) => {
    const field = `${FIELD}.registry[${String(index)}]`
    const extra = Object.keys(entry).find((key) => !ENTRY_KEYS.includes(key))
    if (extra !== undefined) throw unsupported(`${field}.${extra}`, 'is set')
    const prefix = optionalString(entry, 'prefix', field)
    const location = optionalString(entry, 'location', field)
    const name = (prefix ?? location ?? '').toLowerCase()
    if (name === '') throw wrongType(`${field}.location`, 'non-empty string (or a prefix)')
    if (
      prefix !== undefined &&
      location !== undefined &&
      prefix.toLowerCase() !== location.toLowerCase()
    )
      throw unsupported(
        `${field}.location`,
        `rewrites ${JSON.stringify(prefix)} to another location`,
      )
    if (optionalBoolean(entry, 'blocked', field)) blocked.push(name)
    if (optionalBoolean(entry, 'insecure', field)) {
      if (name.includes('/') || name.startsWith('*.'))
        throw unsupported(
          `${field}.insecure`,
          `is set for ${JSON.stringify(name)}, which is not a whole registry host[:port]`,
        )
      insecureRegistries.push(name)
    }
  })
  return { insecureRegistries, blocked }
}

/**
 * The blocked prefix that covers the image repository `domain/path` (as a parsed reference
 * gives them), or undefined. A prefix covers the repository it names and everything below it
 * (`host/a` covers `host/a/b`, not `host/ab`); `*.example.com` covers every host under it.
 */
export function blockedRegistryPrefix(
  rules: CdhRegistryRules,
  domain: string,
  path: string,
): string | undefined {
  const host = domain.toLowerCase()
  const repository = `${host}/${path}`
  return rules.blocked.find((prefix) =>
    prefix.startsWith('*.')
      ? host.endsWith(prefix.slice(1))
      : repository === prefix || repository.startsWith(`${prefix}/`),
  )
}
