/** `[image.registry_config]`: the part the guest honours exactly, and refusals of the rest by name. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { parse } from 'smol-toml'
import { thrown } from '@initguard/testkit'
import { blockedRegistryPrefix, cdhRegistryRules } from './cdh-registry-config.ts'

const rules = (toml: string) => cdhRegistryRules(parse(toml))

describe('cdhRegistryRules', () => {
  it('reads blocked prefixes and insecure registries', () => {
    const read = rules(
      `[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n[[registry]]\nprefix = "Evil.example/org"\nblocked = true\n[[registry]]\nlocation = "*.bad.example"\nblocked = true\n[[registry]]\nlocation = "fine.example"\ninsecure = false\n`,
    )
    expect(read).toEqual({
      insecureRegistries: ['127.0.0.1:5000'],
      blocked: ['evil.example/org', '*.bad.example'],
    })
    expect(blockedRegistryPrefix(read, 'evil.example', 'org/app')).toBe('evil.example/org')
    expect(blockedRegistryPrefix(read, 'evil.example', 'org')).toBe('evil.example/org')
    expect(blockedRegistryPrefix(read, 'evil.example', 'organisation/app')).toBeUndefined()
    expect(blockedRegistryPrefix(read, 'a.bad.example', 'x')).toBe('*.bad.example')
    expect(blockedRegistryPrefix(read, 'bad.example', 'x')).toBeUndefined()
    expect(blockedRegistryPrefix(read, 'fine.example', 'x')).toBeUndefined()
    expect(rules('')).toEqual({ insecureRegistries: [], blocked: [] })
  })

  it('a wildcard blocks the hosts under it on any port, as containers/image and image-rs match it', () => {
    const read = rules('[[registry]]\nlocation = "*.bad.example"\nblocked = true\n')
    expect(blockedRegistryPrefix(read, 'r.bad.example:5000', 'x')).toBe('*.bad.example')
    expect(blockedRegistryPrefix(read, 'R.Bad.Example:443', 'x')).toBe('*.bad.example')
    expect(blockedRegistryPrefix(read, 'bad.example:5000', 'x')).toBeUndefined()
    expect(blockedRegistryPrefix(read, 'r.notbad.example:5000', 'x')).toBeUndefined()
  })

  it.each([
    ['prefix', 'quay.io/org/', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix', 'quay.io/org/app:v1', 'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED'],
    ['prefix', `quay.io/org/app@sha256:${'0'.repeat(64)}`, 'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED'],
    ['prefix', '*.example.com/team', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix', 'https://quay.io/org', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix', 'quay.io/Org', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix', 'quay.io//org', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix', ' quay.io/org', 'ERR_CDH_CONFIG_VALUE'],
    ['location', 'quay.io/org/', 'ERR_CDH_CONFIG_VALUE'],
    ['location', 'http://127.0.0.1:5000', 'ERR_CDH_CONFIG_VALUE'],
  ])('refuses a blocked %s %j that would block nothing, with %s', (key, value, code) => {
    const error = thrown(() =>
      rules(`[[registry]]\nblocked = true\n${key} = ${JSON.stringify(value)}\n`),
    )
    expect(error.code).toBe(code)
    expect(error.details['field']).toBe(`image.registry_config.registry[0].${key}`)
    expect(error.message).toContain(`image.registry_config.registry[0].${key}`)
    expect(error.message).toContain(JSON.stringify(value))
    expect(error.hint).toBeTruthy()
  })

  it('checks every entry, and compares prefix and location as normalised', () => {
    expect(
      thrown(() => rules('[[registry]]\nlocation = "fine.example/"\ninsecure = false\n')).code,
    ).toBe('ERR_CDH_CONFIG_VALUE')
    expect(
      rules('[[registry]]\nprefix = "Quay.io/org"\nlocation = "quay.IO/org"\nblocked = true\n'),
    ).toEqual({ insecureRegistries: [], blocked: ['quay.io/org'] })
    expect(
      thrown(() => rules('[[registry]]\nprefix = "quay.io/org"\nlocation = "quay.io/Org"\n')).code,
    ).toBe('ERR_CDH_CONFIG_VALUE')
  })

  it.each([
    [
      'unqualified-search-registries = ["docker.io"]\n',
      'image.registry_config.unqualified-search-registries',
    ],
    ['[aliases]\nx = "y"\n', 'image.registry_config.aliases'],
    [
      '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\n',
      'image.registry_config.registry[0].mirror',
    ],
    [
      '[[registry]]\nprefix = "a.example"\nlocation = "b.example"\n',
      'image.registry_config.registry[0].location',
    ],
    [
      '[[registry]]\nlocation = "a.example/org"\ninsecure = true\n',
      'image.registry_config.registry[0].insecure',
    ],
    [
      '[[registry]]\nlocation = "*.a.example"\ninsecure = true\n',
      'image.registry_config.registry[0].insecure',
    ],
    [
      '[[registry]]\nlocation = "a.example"\nmirror-by-digest-only = true\n',
      'image.registry_config.registry[0].mirror-by-digest-only',
    ],
  ])('refuses what it does not implement, by name: %j', (toml, field) => {
    const error = thrown(() => rules(toml))
    expect(error.code).toBe('ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED')
    expect(error.details['field']).toBe(field)
    expect(error.message).toContain(field)
    expect(error.hint).toBeTruthy()
  })

  it.each([
    ['registry = "x"\n'],
    ['[[registry]]\nblocked = true\n'],
    ['[[registry]]\nlocation = ""\n'],
    ['[[registry]]\nlocation = "a.example"\nblocked = "yes"\n'],
    ['[[registry]]\nlocation = "a.example"\ninsecure = 1\n'],
  ])('refuses the wrong types in %j', (toml) => {
    expect(thrown(() => rules(toml)).code).toBe('ERR_CDH_CONFIG_TYPE')
  })

  it('throws only Initguard errors for any registry table (property)', () => {
    const value = fc.oneof(fc.string({ maxLength: 12 }), fc.boolean(), fc.integer())
    const entry = fc.dictionary(
      fc.constantFrom('prefix', 'location', 'insecure', 'blocked', 'mirror'),
      value,
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), (registry) => {
        try {
          const read = cdhRegistryRules({ registry })
          for (const host of read.insecureRegistries) expect(host).not.toContain('/')
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })
})
