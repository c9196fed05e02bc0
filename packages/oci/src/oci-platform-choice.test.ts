import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import {
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  computeDigest,
  parseManifest,
  type Descriptor,
  type ImageIndex,
  type ParsedManifest,
} from './oci-manifest.ts'
import { MAX_PLATFORM_CANDIDATES, chooseIndexEntry } from './oci-platform-choice.ts'

const enc = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
const digestOf = (text: string): string => computeDigest(enc(text))
const AMD64 = { os: 'linux', architecture: 'amd64' }

/** An image manifest document naming config `config` (its layers do not matter here). */
const imageManifest = (config: string, note: string): ParsedManifest =>
  parseManifest(
    enc({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digestOf(config),
        size: 2,
      },
      layers: [],
      annotations: { note },
    }),
  )

const indexOf = (...digests: string[]): ImageIndex =>
  parseManifest(
    enc({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: digests.map((digest) => ({
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        digest,
        size: 1,
        platform: AMD64,
      })),
    }),
  ) as ImageIndex

/** A registry stand-in: the manifests it serves by digest, and the digests asked for. */
function served(manifests: Record<string, ParsedManifest>): {
  fetchManifest: (entry: Descriptor) => Promise<{ manifest: ParsedManifest; digest: string }>
  asked: string[]
} {
  const asked: string[] = []
  return {
    asked,
    fetchManifest: (entry) => {
      asked.push(entry.digest)
      const manifest = manifests[entry.digest]
      if (manifest === undefined) return Promise.reject(new Error(`not served: ${entry.digest}`))
      return Promise.resolve({ manifest, digest: entry.digest })
    },
  }
}

describe('chooseIndexEntry', () => {
  const gzip = digestOf('gzip')
  const zstd = digestOf('zstd')

  it('fetches a single candidate alone', async () => {
    const registry = served({ [gzip]: imageManifest('config', 'gzip') })
    const choice = await chooseIndexEntry(indexOf(gzip), AMD64, registry.fetchManifest)
    expect(choice.entry.digest).toBe(gzip)
    expect(registry.asked).toEqual([gzip])
  })

  it('takes the first of candidates that name one config, whichever comes first', async () => {
    const registry = served({
      [gzip]: imageManifest('config', 'gzip'),
      [zstd]: imageManifest('config', 'zstd'),
    })
    const first = await chooseIndexEntry(indexOf(gzip, zstd), AMD64, registry.fetchManifest)
    expect([first.entry.digest, first.fetched.digest]).toEqual([gzip, gzip])
    const reversed = await chooseIndexEntry(indexOf(zstd, gzip), AMD64, registry.fetchManifest)
    expect([reversed.entry.digest, reversed.fetched.digest]).toEqual([zstd, zstd])
    expect(registry.asked).toEqual([gzip, zstd, zstd, gzip])
  })

  it('refuses candidates that are different images, or not images', async () => {
    const nested = digestOf('nested')
    const registry = served({
      [gzip]: imageManifest('config', 'gzip'),
      [zstd]: imageManifest('another config', 'zstd'),
      [nested]: indexOf(gzip),
    })
    for (const index of [indexOf(gzip, zstd), indexOf(gzip, nested), indexOf(nested, gzip)]) {
      expect(await rejectedCode(chooseIndexEntry(index, AMD64, registry.fetchManifest))).toBe(
        'ERR_REGISTRY_PLATFORM_AMBIGUOUS',
      )
    }
  })

  it(`refuses more than ${MAX_PLATFORM_CANDIDATES} candidates without fetching any`, async () => {
    const digests = Array.from({ length: MAX_PLATFORM_CANDIDATES + 1 }, (_, i) => digestOf(`${i}`))
    const manifests = Object.fromEntries(digests.map((d) => [d, imageManifest('config', d)]))
    const registry = served(manifests)
    expect(
      await rejectedCode(chooseIndexEntry(indexOf(...digests), AMD64, registry.fetchManifest)),
    ).toBe('ERR_REGISTRY_PLATFORM_AMBIGUOUS')
    expect(registry.asked).toEqual([])
    const atLimit = await chooseIndexEntry(
      indexOf(...digests.slice(0, MAX_PLATFORM_CANDIDATES)),
      AMD64,
      registry.fetchManifest,
    )
    expect(atLimit.entry.digest).toBe(digests[0])
  })

  it('refuses an index with no entry for the platform before fetching', async () => {
    const registry = served({})
    expect(
      await rejectedCode(
        chooseIndexEntry(
          indexOf(gzip),
          { os: 'linux', architecture: 'arm64' },
          registry.fetchManifest,
        ),
      ),
    ).toBe('ERR_REGISTRY_NO_PLATFORM')
    expect(registry.asked).toEqual([])
  })
})
