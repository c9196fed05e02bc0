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
import { wildcardScopesOf } from './docker-reference.ts'
import { registryPrefix } from './registry-prefix.ts'

/** What the guest pull obeys from `[image.registry_config]`. */
export interface CdhRegistryRules {
  /** Registries (`host[:port]`) reached over plain HTTP, as the document marks them `insecure`. */
  readonly insecureRegistries: readonly string[]
  /** Blocked prefixes: `host[:port][/path]` or `*.domain`, the host in lower case. */
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
 * @throws {@link MalformedInputError} `ERR_CDH_CONFIG_TYPE` (a key of the wrong type),
 *   `ERR_CDH_CONFIG_VALUE` (a `prefix` or `location` that a rule cannot be honoured on exactly,
 *   see `registryPrefix`); {@link ExpectationError} `ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED` (a key
 *   or entry that would redirect a pull, a `:tag`/`@digest` prefix, or an insecure entry narrower
 *   than a registry), naming it.
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
    const given = (key: string): string | undefined => {
      const value = optionalString(entry, key, field)
      return value === undefined ? undefined : registryPrefix(value, `${field}.${key}`)
    }
    const prefix = given('prefix')
    const location = given('location')
    const name = prefix ?? location
    if (name === undefined) throw wrongType(`${field}.location`, 'non-empty string (or a prefix)')
    if (prefix !== undefined && location !== undefined && prefix !== location)
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
 * (`host/a` covers `host/a/b`, not `host/ab`); `*.example.com` covers every host under it, on
 * any port (as containers/image and image-rs match it), but not `example.com` itself.
 */
export function blockedRegistryPrefix(
  rules: CdhRegistryRules,
  domain: string,
  path: string,
): string | undefined {
  const host = domain.toLowerCase()
  const repository = `${host}/${path}`
  const wildcards = wildcardScopesOf(host)
  return rules.blocked.find((prefix) =>
    prefix.startsWith('*.')
      ? wildcards.includes(prefix)
      : repository === prefix || repository.startsWith(`${prefix}/`),
  )
}
