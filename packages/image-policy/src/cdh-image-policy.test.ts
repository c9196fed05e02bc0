import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { stringify as toToml } from 'smol-toml'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { cdhImageSources, type CdhResourceSource } from './cdh-image-policy.ts'

const text = (source: CdhResourceSource): string | undefined =>
  source.kind === 'inline' ? new TextDecoder().decode(source.bytes) : undefined

const KBC = '[kbc]\nname = "cc_kbc"\nurl = "http://kbs.test:8080"\n'

describe('cdhImageSources', () => {
  it('returns the inline policy, byte for byte, from a """ string (CDH test case)', () => {
    const policy =
      '{\n    "default": [\n        {\n            "type": "reject"\n        }\n    ]\n}\n'
    const sources = cdhImageSources(`${KBC}\n[image]\nimage_security_policy = """\n${policy}"""\n`)
    expect(sources.policy).toMatchObject({ kind: 'inline', field: 'image.image_security_policy' })
    // TOML drops the newline right after """, exactly as image-rs receives it.
    expect(text(sources.policy)).toBe(policy)
    expect(sources.sigstoreConfig).toEqual({ kind: 'none' })
    expect(sources.hasImageSection).toBe(true)
  })

  it('returns an inline single-line policy and an inline sigstore config', () => {
    const sources = cdhImageSources(`${KBC}
[image]
image_security_policy = '{"default":[{"type":"insecureAcceptAnything"}],"transports":{}}'
sigstore_config = """
default-docker:
  sigstore: file:///run/image-security/simple_signing/sigstore
"""
`)
    expect(text(sources.policy)).toBe(
      '{"default":[{"type":"insecureAcceptAnything"}],"transports":{}}',
    )
    expect(sources.sigstoreConfig).toMatchObject({ kind: 'inline', field: 'image.sigstore_config' })
    expect(text(sources.sigstoreConfig)).toContain('default-docker:')
  })

  it('reports none without [image], or with [image] but no policy (image-rs then allows every image)', () => {
    expect(cdhImageSources(KBC)).toEqual({
      policy: { kind: 'none' },
      sigstoreConfig: { kind: 'none' },
      hasImageSection: false,
      registryCredentials: { kind: 'none' },
      maxConcurrentLayerDownloads: undefined,
      registryConfig: undefined,
      imageKeys: [],
    })
    expect(
      cdhImageSources(`${KBC}[image]\nmax_concurrent_layer_downloads_per_image = 3\n`),
    ).toEqual({
      policy: { kind: 'none' },
      sigstoreConfig: { kind: 'none' },
      hasImageSection: true,
      registryCredentials: { kind: 'none' },
      maxConcurrentLayerDownloads: 3,
      registryConfig: undefined,
      imageKeys: ['max_concurrent_layer_downloads_per_image'],
    })
    expect(cdhImageSources('').policy).toEqual({ kind: 'none' })
  })

  it('ignores unknown keys, as the CDH does (so a misspelt key means no policy)', () => {
    const sources = cdhImageSources(
      `${KBC}[log]\nlevel = "warn"\n[image]\nsome_undefined_field = "unknown value"\nimage_security_polciy = "{}"\n[whatever]\nx = 1\n`,
    )
    expect(sources.policy).toEqual({ kind: 'none' })
    expect(sources.imageKeys).toEqual(['some_undefined_field', 'image_security_polciy'])
  })

  it('reports the registry credentials URI (a KBS source even on the host), the layer limit and registry_config', () => {
    const sources = cdhImageSources(
      `[image]\nauthenticated_registry_credentials_uri = "kbs:///default/credential/registry"\nmax_concurrent_layer_downloads_per_image = 5\n[[image.registry_config.registry]]\nlocation = "r.example"\nblocked = true\n`,
    )
    expect(sources.registryCredentials).toEqual({
      kind: 'kbs',
      field: 'image.authenticated_registry_credentials_uri',
      uri: 'kbs:///default/credential/registry',
      resourcePath: 'default/credential/registry',
    })
    expect(sources.maxConcurrentLayerDownloads).toBe(5)
    expect(sources.registryConfig).toEqual({ registry: [{ location: 'r.example', blocked: true }] })
  })

  it.each([
    ['image_security_policy', 'image_security_policy_uri', 'ERR_CDH_POLICY_AMBIGUOUS'],
    ['sigstore_config', 'sigstore_config_uri', 'ERR_CDH_SIGSTORE_CONFIG_AMBIGUOUS'],
  ])(
    'refuses %s together with %s (image-rs would drop the inline value for the URI)',
    (inlineKey, uriKey, code) => {
      for (const uri of [
        'file:///etc/containers/policy.json',
        'kbs:///default/p/open',
        '/etc/p.json',
        'x://bad',
      ]) {
        for (const options of [{}, { kbs: true }]) {
          const error = thrown(() =>
            cdhImageSources(
              `[image]\n${inlineKey} = '{"default":[{"type":"reject"}]}'\n${uriKey} = "${uri}"\n`,
              options,
            ),
          )
          expect(error.code).toBe(code)
          expect(error.category).toBe('expectation')
          expect(error.details['fields']).toEqual([`image.${inlineKey}`, `image.${uriKey}`])
          expect(error.message).toContain(`image.${inlineKey}`)
          expect(error.message).toContain(`image.${uriKey}`)
          expect(error.hint).toContain('keep one')
        }
      }
    },
  )

  it('treats a URI without :// as a file path, keeping the path image-rs opens', () => {
    const bare = cdhImageSources('[image]\nsigstore_config_uri = "/run/sigstore.yaml"\n')
    expect(bare.sigstoreConfig).toMatchObject({ kind: 'file', path: '/run/sigstore.yaml' })
    const encoded = cdhImageSources('[image]\nimage_security_policy_uri = "/etc/my policy.json"\n')
    expect(encoded.policy).toMatchObject({ kind: 'file', path: '/etc/my%20policy.json' })
  })

  it.each([
    [
      'image_security_policy_uri',
      'kbs:///default/security-policy/test',
      'ERR_CDH_POLICY_NEEDS_AGENT',
    ],
    [
      'image_security_policy_uri',
      'KBS:///default/security-policy/test',
      'ERR_CDH_POLICY_NEEDS_AGENT',
    ],
    ['image_security_policy_uri', 'kbs+grpc://kbs.test/default/p/1', 'ERR_CDH_POLICY_NEEDS_AGENT'],
    [
      'sigstore_config_uri',
      'kbs:///default/sigstore-config/test',
      'ERR_CDH_SIGSTORE_CONFIG_NEEDS_AGENT',
    ],
    ['image_security_policy_uri', 'https://example.com/policy.json', 'ERR_CDH_POLICY_URI_SCHEME'],
    ['sigstore_config_uri', 'oci://x/y', 'ERR_CDH_SIGSTORE_CONFIG_URI_SCHEME'],
    ['image_security_policy_uri', 'etc/policy.json', 'ERR_CDH_POLICY_URI'],
    ['image_security_policy_uri', 'file://host/etc/policy.json', 'ERR_CDH_POLICY_URI'],
    ['image_security_policy_uri', '', 'ERR_CDH_POLICY_URI'],
    ['image_security_policy_uri', 'file:///', 'ERR_CDH_POLICY_URI'],
    ['image_security_policy_uri', '://nothing', 'ERR_CDH_POLICY_URI'],
    ['sigstore_config_uri', 'http://[::1', 'ERR_CDH_SIGSTORE_CONFIG_URI'],
  ])('refuses %s = %j with %s', (key, uri, code) => {
    const error = thrown(() => cdhImageSources(`[image]\n${key} = ${JSON.stringify(uri)}\n`))
    expect(error.code).toBe(code)
    expect(error.details['field']).toBe(`image.${key}`)
    expect(error.hint).toBeTruthy()
  })

  it('refuses the full CDH example config, whose URIs all point to the KBS', () => {
    const example = `socket = "unix:///run/confidential-containers/cdh.sock"
[kbc]
name = "offline_fs_kbc"
url = ""
kbs_cert = ""
[image]
max_concurrent_layer_downloads_per_image = 3
sigstore_config_uri = "kbs:///default/sigstore-config/test"
image_security_policy_uri = "kbs:///default/security-policy/test"
authenticated_registry_credentials_uri = "kbs:///default/credential/test"
extra_root_certificates = ["cert1", "cert2"]
[image.registry_config]
unqualified-search-registries = ["docker.io", "example1.com"]
[[image.registry_config.registry]]
prefix = "example.com/foo"
location = "internal-registry-for-example.com/bar"
[image.image_pull_proxy]
https_proxy = "http://127.0.0.1:8080"
`
    expect(thrown(() => cdhImageSources(example)).code).toBe('ERR_CDH_POLICY_NEEDS_AGENT')
  })

  it.each([
    ['[image\n', 'ERR_CDH_CONFIG_TOML'],
    ['a = 1\na = 2\n', 'ERR_CDH_CONFIG_TOML'],
    ['image = "x"\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[[image]]\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nimage_security_policy = 5\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nimage_security_policy_uri = ["/a"]\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nsigstore_config = { a = 1 }\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nsigstore_config = 1979-05-27\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nmax_concurrent_layer_downloads_per_image = 0\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nmax_concurrent_layer_downloads_per_image = "3"\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nmax_concurrent_layer_downloads_per_image = 2.5\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nregistry_config = "x"\n', 'ERR_CDH_CONFIG_TYPE'],
    ['[image]\nauthenticated_registry_credentials_uri = 1\n', 'ERR_CDH_CONFIG_TYPE'],
    [
      '[image]\nauthenticated_registry_credentials_uri = "https://h/a"\n',
      'ERR_CDH_CREDENTIALS_URI_SCHEME',
    ],
  ])('refuses %j with %s', (toml, code) => {
    const error = thrown(() => cdhImageSources(toml))
    expect(error.code).toBe(code)
    expect(error.hint).toBeTruthy()
  })

  it('says where bad TOML is', () => {
    const error = thrown(() =>
      cdhImageSources('[kbc]\nname = "x"\n[image]\nimage_security_policy = """\n'),
    )
    expect(error.details['line']).toBeTypeOf('number')
    expect(error.message).toMatch(/line \d+, column \d+/u)
  })

  it('throws only Initguard errors for any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (toml) => {
        try {
          cdhImageSources(toml)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })

  it('throws only Initguard errors for any [image] table, and refuses inline-and-URI (property)', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('kbs:///a/b/c', 'file:///p.json', '/p.json', 'x://y', 'kbs+x://h/a'),
      fc.integer(),
      fc.boolean(),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
    )
    const image = fc.dictionary(
      fc.constantFrom(
        'image_security_policy',
        'image_security_policy_uri',
        'sigstore_config',
        'sigstore_config_uri',
        'work_dir',
      ),
      value,
    )
    fc.assert(
      fc.property(image, (table) => {
        const both = (key: string): boolean =>
          typeof table[key] === 'string' && typeof table[`${key}_uri`] === 'string'
        try {
          const { policy } = cdhImageSources(toToml({ image: table }))
          expect(both('image_security_policy') || both('sigstore_config')).toBe(false)
          if (typeof table['image_security_policy_uri'] === 'string') {
            expect(policy.kind).toBe('file')
          } else if (typeof table['image_security_policy'] === 'string') {
            expect(text(policy)).toBe(table['image_security_policy'])
          } else {
            expect(policy.kind).toBe('none')
          }
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
          if (both('image_security_policy') && isInitguardError(error))
            expect(error.code).toBe('ERR_CDH_POLICY_AMBIGUOUS')
        }
      }),
    )
  })
})
