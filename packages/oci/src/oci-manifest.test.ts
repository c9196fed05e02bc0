import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import {
  defaultDockerConfigPath,
  dockerCredentialsFor,
  normalizeRegistryHost,
  parseDockerConfig,
} from './docker-credentials.ts'
import {
  DOCKER_LIST_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  computeDigest,
  parseManifest,
  type ImageIndex,
} from './oci-manifest.ts'
import { platformCandidates } from './oci-platform-choice.ts'
import { parseWwwAuthenticate } from './registry-auth.ts'
import { safeUrl } from './registry-http.ts'

const enc = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
const d = computeDigest(new Uint8Array(0))

describe('parseManifest', () => {
  const image = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d, size: 0 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 0 }],
  }

  it('parses an image manifest and infers the media type when the document omits it', () => {
    expect(parseManifest(enc(image), `${OCI_MANIFEST_MEDIA_TYPE}; charset=utf-8`)).toMatchObject({
      kind: 'image',
      layers: [{ digest: d }],
    })
    const { mediaType: _omitted, ...bare } = image
    expect(parseManifest(enc(bare), 'application/json').mediaType).toBe(OCI_MANIFEST_MEDIA_TYPE)
  })

  it('refuses a key that Go reads as a field in another case, where a client would see other content', () => {
    const other = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 1 }
    const [layer] = image.layers
    const platform = { os: 'linux', architecture: 'amd64' }
    const index = { schemaVersion: 2, manifests: [{ ...image.config, platform }] }
    const ambiguous: [string, unknown][] = [
      ['Layers at the top', { ...image, Layers: [other] }],
      ['upper-case key alone', { ...image, MEDIATYPE: OCI_MANIFEST_MEDIA_TYPE }],
      ['long s (folds to s in Go)', { ...image, ['layer\u017f']: [other] }],
      ['descriptor Digest', { ...image, layers: [{ ...layer, Digest: computeDigest(enc('x')) }] }],
      ['descriptor Size', { ...image, config: { ...image.config, Size: 5 } }],
      ['index entry Platform', { ...index, manifests: [{ ...image.config, Platform: platform }] }],
      [
        'platform Architecture',
        {
          ...index,
          manifests: [{ ...image.config, platform: { ...platform, Architecture: 'arm64' } }],
        },
      ],
      ['Manifests in an index', { ...index, Manifests: [] }],
    ]
    for (const [name, document] of ambiguous)
      expect(
        codeOf(() => parseManifest(enc(document))),
        name,
      ).toBe('ERR_REGISTRY_MANIFEST_AMBIGUOUS')
    // Annotation keys are a map's, matched exactly everywhere; unknown fields stay ignored.
    const fine = {
      ...image,
      annotations: { Digest: 'x', layers: 'y' },
      layers: [{ ...layer, annotations: { Size: '1' } }],
      extra: { Layers: [] },
    }
    expect(parseManifest(enc(fine)).kind).toBe('image')
  })

  it('refuses schema 1, bad descriptors, media type confusion and non-JSON', () => {
    expect(codeOf(() => parseManifest(enc({ schemaVersion: 1, fsLayers: [] })))).toBe(
      'ERR_REGISTRY_SCHEMA1',
    )
    expect(
      codeOf(() =>
        parseManifest(enc(image), 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
      ),
    ).toBe('ERR_REGISTRY_SCHEMA1')
    const badSize = { ...image, layers: [{ ...image.layers[0], size: -1 }] }
    expect(codeOf(() => parseManifest(enc(badSize)))).toBe('ERR_REGISTRY_MANIFEST')
    const badDigest = { ...image, config: { ...image.config, digest: 'sha256:ABC' } }
    expect(codeOf(() => parseManifest(enc(badDigest)))).toBe('ERR_REGISTRY_DIGEST_FORMAT')
    expect(codeOf(() => parseManifest(enc({ ...image, layers: undefined })))).toBe(
      'ERR_REGISTRY_MANIFEST',
    )
    expect(codeOf(() => parseManifest(enc(image), DOCKER_LIST_MEDIA_TYPE))).toBe(
      'ERR_REGISTRY_MEDIA_TYPE',
    )
    expect(codeOf(() => parseManifest(enc({ ...image, mediaType: 'text/plain' })))).toBe(
      'ERR_REGISTRY_MEDIA_TYPE',
    )
    expect(codeOf(() => parseManifest(new Uint8Array([0xff, 0x7b])))).toBe('ERR_REGISTRY_MANIFEST')
  })

  it('refuses a size or schemaVersion written with a fraction or an exponent, as Go does', () => {
    const text = JSON.stringify(image)
    const config = `"size":0},"layers"`
    expect(text).toContain(config)
    const variants = (literal: string): string[] => [
      text.replace(config, `"size":${literal}},"layers"`),
      text.replace('"size":0}]', `"size":${literal}}]`),
      text.replace('"schemaVersion":2', `"schemaVersion":${literal === '0' ? '2' : '2.0'}`),
      text.replace(config, `"\\u0073ize" : ${literal}},"layers"`),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...image.config, platform: { os: 'linux', architecture: 'amd64' } }],
      }).replace('"size":0', `"size":${literal}`),
    ]
    for (const literal of ['0.0', '0e0', '0E+0', '-0.0', '0.5e1']) {
      for (const refused of variants(literal))
        expect(codeOf(() => parseManifest(new TextEncoder().encode(refused)))).toBe(
          'ERR_REGISTRY_MANIFEST_NUMBER',
        )
    }
    // Plain integers pass, `-0` (Go's ParseInt reads 0) too; numbers under other keys, and
    // number-like text in strings, are not integer fields.
    for (const accepted of [
      ...variants('0'),
      text.replace(config, `"size":-0},"layers"`),
      text.replace(config, `"size":0,"x":1.5,"annotations":{"size":"1.0"}},"layers"`),
      text.replace(config, `"size":0,"data":"size:1.0","urls":["size\\":1.0"]},"layers"`),
    ]) {
      const parsed = parseManifest(new TextEncoder().encode(accepted))
      const sizes =
        parsed.kind === 'index'
          ? parsed.manifests.map((m) => m.size)
          : [parsed.config.size, ...parsed.layers.map((l) => l.size)]
      expect(sizes.every((size) => Object.is(size, 0))).toBe(true)
    }
  })

  it('refuses a repeated key (Go keeps the last copy, image-rs refuses the document)', () => {
    const text = JSON.stringify(image)
    const twice = new TextEncoder().encode(`${text.slice(0, -1)},"layers":[]}`)
    expect(codeOf(() => parseManifest(twice, OCI_MANIFEST_MEDIA_TYPE))).toBe(
      'ERR_REGISTRY_MANIFEST',
    )
    expect(parseManifest(enc(image), OCI_MANIFEST_MEDIA_TYPE).kind).toBe('image')
  })

  it('refuses a document with the fields of both an image and an index, however it is served', () => {
    const { mediaType: _omitted, ...untyped } = image
    const both = enc({
      ...untyped,
      manifests: [{ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: d, size: 0 }],
    })
    for (const served of [
      OCI_MANIFEST_MEDIA_TYPE,
      'application/vnd.oci.image.index.v1+json',
      DOCKER_LIST_MEDIA_TYPE,
      undefined,
    ])
      expect(
        codeOf(() => parseManifest(both, served)),
        String(served),
      ).toBe('ERR_REGISTRY_MANIFEST_AMBIGUOUS')
    // A typed index with an image's layers is refused too; an image with only its own fields is not.
    const typedIndex = enc({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
      layers: [],
    })
    expect(codeOf(() => parseManifest(typedIndex))).toBe('ERR_REGISTRY_MANIFEST_AMBIGUOUS')
    expect(parseManifest(enc(untyped), OCI_MANIFEST_MEDIA_TYPE).kind).toBe('image')
  })

  it('selects a platform, treating a missing arm64 variant as v8', () => {
    const entry = (architecture: string, variant?: string): object => ({
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: computeDigest(enc([architecture, variant])),
      size: 1,
      platform: { os: 'linux', architecture, ...(variant === undefined ? {} : { variant }) },
    })
    const index = parseManifest(
      enc({
        schemaVersion: 2,
        manifests: [entry('arm', 'v6'), entry('arm', 'v7'), entry('arm64')],
      }),
    ) as ImageIndex
    expect(
      platformCandidates(index, { os: 'linux', architecture: 'arm', variant: 'v7' })[0].platform,
    ).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' })
    expect(
      platformCandidates(index, { os: 'linux', architecture: 'arm64', variant: 'v8' })[0].platform,
    ).toEqual({ os: 'linux', architecture: 'arm64' })
    expect(codeOf(() => platformCandidates(index, { os: 'linux', architecture: 'amd64' }))).toBe(
      'ERR_REGISTRY_NO_PLATFORM',
    )
  })
})

describe('platformCandidates', () => {
  const entry = (
    os: string,
    architecture: string,
    variant?: string,
    digest = computeDigest(enc([os, architecture, variant])),
  ): object => ({
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    digest,
    size: 1,
    platform: { os, architecture, ...(variant === undefined ? {} : { variant }) },
  })
  const indexOf = (...manifests: object[]): ImageIndex =>
    parseManifest(enc({ schemaVersion: 2, manifests })) as ImageIndex
  const pick = (index: ImageIndex, wanted: string): unknown => {
    const [os = '', architecture = '', variant] = wanted.split('/')
    try {
      const candidates = platformCandidates(index, {
        os,
        architecture,
        ...(variant === undefined ? {} : { variant }),
      })
      if (candidates.length > 1) return 'several'
      return index.manifests.indexOf(candidates[0])
    } catch (error) {
      return codeOf(() => {
        throw error
      })
    }
  }

  it('normalises both sides as containerd does, then matches exactly', () => {
    const index = indexOf(
      entry('linux', 'arm', 'v6'),
      entry('linux', 'arm', 'v7'),
      entry('linux', 'aarch64'),
      entry('linux', 'x86_64'),
      entry('Linux', 'i386'),
    )
    expect(
      ['linux/arm', 'linux/armhf', 'linux/arm/7', 'linux/armel', 'linux/arm/v6'].map((w) =>
        pick(index, w),
      ),
    ).toEqual([1, 1, 1, 0, 0])
    expect(
      ['linux/arm64', 'linux/arm64/v8', 'linux/aarch64/8', 'linux/arm64/v8.0'].map((w) =>
        pick(index, w),
      ),
    ).toEqual([2, 2, 2, 2])
    expect(['linux/amd64', 'linux/amd64/v1', 'linux/386'].map((w) => pick(index, w))).toEqual([
      3, 3, 4,
    ])
    // No fallback to another variant, as containerd's matcher would take for an older one.
    expect(
      ['linux/arm/v5', 'linux/arm64/v9', 'linux/amd64/v3', 'windows/amd64'].map((w) =>
        pick(index, w),
      ),
    ).toEqual([
      'ERR_REGISTRY_NO_PLATFORM',
      'ERR_REGISTRY_NO_PLATFORM',
      'ERR_REGISTRY_NO_PLATFORM',
      'ERR_REGISTRY_NO_PLATFORM',
    ])
  })

  it('lists two different manifests for one platform, however spelt, but one listed twice once', () => {
    const twice = computeDigest(enc('same'))
    for (const index of [
      indexOf(
        entry('linux', 'amd64'),
        entry('linux', 'amd64', undefined, computeDigest(enc('zstd'))),
      ),
      indexOf(entry('linux', 'amd64'), entry('linux', 'amd64', 'v1')),
      indexOf(entry('linux', 'arm64'), entry('linux', 'aarch64', 'v8')),
      indexOf(entry('linux', 'arm', 'v7'), entry('linux', 'armhf')),
    ]) {
      const [first, second] = index.manifests
      const wanted = first?.platform ?? { os: '', architecture: '' }
      expect(platformCandidates(index, wanted)).toEqual([first, second])
    }
    const same = indexOf(
      entry('linux', 'amd64', undefined, twice),
      entry('linux', 'x86_64', undefined, twice),
    )
    expect(pick(same, 'linux/amd64')).toBe(0)
  })
})

describe('docker config credentials', () => {
  const auth = (s: string): string => Buffer.from(s).toString('base64')

  it('matches host, host:port, URL keys and Docker Hub aliases', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: auth('hub:pw:with:colons') },
          'quay.io': { username: 'q', password: 'qp' },
          'http://localhost:5000': { auth: auth('l:lp') },
          'ghcr.io': {},
        },
        credsStore: 'desktop',
      }),
    )
    expect(dockerCredentialsFor(config, 'docker.io')).toEqual({
      username: 'hub',
      password: 'pw:with:colons',
    })
    expect(dockerCredentialsFor(config, 'registry-1.docker.io')?.username).toBe('hub')
    expect(dockerCredentialsFor(config, 'QUAY.io')).toEqual({ username: 'q', password: 'qp' })
    expect(dockerCredentialsFor(config, 'localhost:5000')?.username).toBe('l')
    expect(dockerCredentialsFor(config, 'localhost')).toBeUndefined()
    // An empty entry next to a store: the secret is in the store, which we do not run.
    expect(codeOf(() => dockerCredentialsFor(config, 'ghcr.io'))).toBe(
      'ERR_REGISTRY_CREDENTIAL_HELPER',
    )
    // No entry at all: anonymous, so public pulls keep working on desktop machines.
    expect(dockerCredentialsFor(config, 'gcr.io')).toBeUndefined()
    expect(normalizeRegistryHost('index.docker.io')).toBe('docker.io')
  })

  it('keeps a namespace entry to its namespace; a URL key stays registry-wide', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'quay.io/team-a': { auth: auth('a:ap') },
          'quay.io/team-b/app': { auth: auth('b:bp') },
          'https://quay.io/v1/': { auth: auth('q:qp') },
          'index.docker.io/library': { auth: auth('lib:lp') },
          'ghcr.io/org': {},
        },
        credsStore: 'desktop',
      }),
    )
    const user = (registry: string, repository?: string): string | undefined =>
      dockerCredentialsFor(config, registry, repository)?.username
    expect(user('quay.io', 'team-a/app')).toBe('a')
    expect(user('quay.io', 'team-a')).toBe('a')
    expect(user('quay.io', 'team-b/app')).toBe('b')
    expect(user('quay.io', 'team-b/app2')).toBe('q')
    expect(user('quay.io', 'team-ab/app')).toBe('q')
    expect(user('quay.io')).toBe('q')
    expect(user('docker.io', 'library/busybox')).toBe('lib')
    expect(user('docker.io', 'someone/app')).toBeUndefined()
    expect(codeOf(() => user('ghcr.io', 'org/app'))).toBe('ERR_REGISTRY_CREDENTIAL_HELPER')
    expect(user('ghcr.io', 'other/app')).toBeUndefined()
  })

  it('refuses fields of the wrong type and an auth that is not base64, rather than going anonymous', () => {
    const malformed: unknown[] = [
      { auths: { 'r.io': { auth: 123 } } },
      { auths: { 'r.io': { auth: 'dTpw!!!' } } },
      { auths: { 'r.io': { auth: 'dTpw=x' } } },
      { auths: { 'r.io': { username: 'u', password: 12345 } } },
      { auths: { 'r.io': { auth: auth('u:p'), identitytoken: {} } } },
      { credHelpers: 'ecr-login' },
      { credHelpers: ['ecr-login'] },
      { credHelpers: { 'r.io': 7 } },
      { credsStore: 5 },
    ]
    for (const document of malformed)
      expect(
        codeOf(() => parseDockerConfig(JSON.stringify(document))),
        JSON.stringify(document),
      ).toBe('ERR_DOCKER_CONFIG')
    // null is an absent field, as Go's decoder reads it; unpadded base64 is still base64.
    const lenient = parseDockerConfig(
      JSON.stringify({
        auths: { 'r.io': { auth: 'dTpw', identitytoken: null } },
        credHelpers: null,
      }),
    )
    expect(dockerCredentialsFor(lenient, 'r.io')).toEqual({ username: 'u', password: 'p' })
  })

  it('refuses an identity token (OAuth2 refresh token) instead of sending the password beside it', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'acr.example': {
            auth: auth('00000000-0000-0000-0000-000000000000:'),
            identitytoken: 'refresh-token',
          },
          'quay.io/team': { identitytoken: 'refresh-token' },
          'quay.io': { auth: auth('q:qp') },
        },
      }),
    )
    expect(codeOf(() => dockerCredentialsFor(config, 'acr.example', 'a/b'))).toBe(
      'ERR_REGISTRY_IDENTITY_TOKEN',
    )
    expect(codeOf(() => dockerCredentialsFor(config, 'quay.io', 'team/app'))).toBe(
      'ERR_REGISTRY_IDENTITY_TOKEN',
    )
    expect(dockerCredentialsFor(config, 'quay.io', 'other/app')?.username).toBe('q')
  })

  it('refuses helpers-only registries and malformed files, naming no secret', () => {
    const config = parseDockerConfig(JSON.stringify({ credHelpers: { 'x.io': 'ecr-login' } }))
    expect(codeOf(() => dockerCredentialsFor(config, 'x.io'))).toBe(
      'ERR_REGISTRY_CREDENTIAL_HELPER',
    )
    expect(codeOf(() => parseDockerConfig('{'))).toBe('ERR_DOCKER_CONFIG')
    let message = ''
    try {
      parseDockerConfig(JSON.stringify({ auths: { h: { auth: auth('secretwithoutcolon') } } }))
    } catch (error) {
      message = JSON.stringify(error) + String(error)
    }
    expect(message).toContain('ERR_DOCKER_CONFIG')
    expect(message).not.toContain('secretwithoutcolon')
    expect(defaultDockerConfigPath({ DOCKER_CONFIG: '/etc/d' })).toBe('/etc/d/config.json')
  })
})

describe('HTTP helpers', () => {
  it('parses WWW-Authenticate challenges', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ])
    expect(parseWwwAuthenticate('Basic realm="a \\"b\\"", Bearer realm=x')).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'x' } },
    ])
  })

  // Retry-After parsing moved to the HTTP client's tests (packages/http).
  it('strips credentials and queries from registry URLs', () => {
    expect(safeUrl('https://u:p@s3.example/b/k?X-Amz-Signature=s')).toBe('https://s3.example/b/k')
  })
})
