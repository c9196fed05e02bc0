import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { OCI_INDEX_MEDIA_TYPE, computeDigest } from './oci-manifest.ts'
import type { BlobProgress } from './registry-blobs.ts'
import { RegistryClient } from './registry-client.ts'
import { pushTestImage, simpleTestImage, type TestImage } from './oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'

const run = promisify(execFile)
let registry: TestRegistry
let client: RegistryClient
let work: string
let hello: TestImage
const amd64 = simpleTestImage('multi amd64', { platform: { os: 'linux', architecture: 'amd64' } })
const arm64 = simpleTestImage('multi arm64', {
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
})
let index: Uint8Array

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 })
  return stdout
}

beforeAll(async () => {
  registry = await startRegistry()
  work = await mkdtemp(join(tmpdir(), 'initguard-registry-test-'))
  client = new RegistryClient({ insecureRegistries: [registry.host], backoffMs: 1 })
  hello = simpleTestImage('hello')
  await pushTestImage(client, `${registry.host}/test/hello`, 'v1', hello)
  const repo = `${registry.host}/test/multi`
  await pushTestImage(client, repo, undefined, amd64)
  await pushTestImage(client, repo, undefined, arm64)
  index = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: [
        {
          mediaType: amd64.mediaType,
          digest: amd64.manifestDigest,
          size: amd64.manifest.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: arm64.mediaType,
          digest: arm64.manifestDigest,
          size: arm64.manifest.length,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
      ],
    }),
  )
  await client.pushManifest(repo, 'latest', index, OCI_INDEX_MEDIA_TYPE)
})

afterAll(async () => {
  await registry.stop()
  await rm(work, { recursive: true, force: true })
})

describe('RegistryClient against docker-registry 2.8', () => {
  it('pulls a pushed image by tag and by digest, and skopeo sees the same manifest', async () => {
    const image = await client.resolveImage(`${registry.host}/test/hello:v1`)
    expect(image.digest).toBe(hello.manifestDigest)
    expect(image.indexDigest).toBeUndefined()
    expect(Buffer.from(image.bytes)).toEqual(Buffer.from(hello.manifest))
    expect(image.manifest.layers).toEqual([hello.layerDescriptor])
    const byDigest = await client.resolveImage(
      `${registry.host}/test/hello@${hello.manifestDigest}`,
    )
    expect(byDigest.digest).toBe(hello.manifestDigest)

    const raw = await skopeo(
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/test/hello:v1`,
    )
    expect(computeDigest(new TextEncoder().encode(raw))).toBe(image.digest)
    const layout = join(work, 'hello-oci')
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/test/hello:v1`,
      `oci:${layout}:v1`,
    )
    const indexJson = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[]
    }
    expect(indexJson.manifests[0]?.digest).toBe(image.digest)
  })

  it('downloads verified layers in parallel with progress, and they match skopeo’s copy', async () => {
    const image = await client.resolveImage(`${registry.host}/test/hello:v1`)
    const progress: BlobProgress[] = []
    const dir = join(work, 'blobs')
    const pulled = await client.pullBlobs(
      image.repository,
      [...image.manifest.layers, image.manifest.config],
      dir,
      { concurrency: 2, onProgress: (p) => progress.push(p) },
    )
    expect(pulled.map((p) => p.path)).toEqual([
      join(dir, 'sha256', hello.layerDescriptor.digest.slice(7)),
      join(dir, 'sha256', hello.configDescriptor.digest.slice(7)),
    ])
    const layer = await readFile(pulled[0]?.path ?? '')
    expect(computeDigest(layer)).toBe(hello.layerDescriptor.digest)
    const fromSkopeo = await readFile(
      join(work, 'hello-oci', 'blobs', 'sha256', hello.layerDescriptor.digest.slice(7)),
    )
    expect(Buffer.compare(layer, fromSkopeo)).toBe(0)
    expect(
      progress
        .filter((p) => p.received === p.total)
        .map((p) => p.digest)
        .sort(),
    ).toEqual([hello.layerDescriptor.digest, hello.configDescriptor.digest].sort())
    expect((await readdir(join(dir, 'sha256'))).some((n) => n.endsWith('.partial'))).toBe(false)
    const config = await client.fetchBlob(image.repository, image.manifest.config)
    expect(Buffer.from(config)).toEqual(Buffer.from(hello.config))
  })

  it('selects a platform from a multi-arch index and reports both digests', async () => {
    const ref = `${registry.host}/test/multi:latest`
    const indexDigest = computeDigest(index)
    const chosen = await client.resolveImage(ref)
    expect(chosen.indexDigest).toBe(indexDigest)
    expect(chosen.digest).toBe(amd64.manifestDigest)
    const arm = await client.resolveImage(ref, { platform: { os: 'linux', architecture: 'arm64' } })
    expect(arm.digest).toBe(arm64.manifestDigest)
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' })
    const armClient = new RegistryClient({
      insecureRegistries: [registry.host],
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    })
    expect((await armClient.resolveImage(ref)).digest).toBe(arm64.manifestDigest)
    expect(
      await rejectedCode(
        client.resolveImage(ref, { platform: { os: 'linux', architecture: 's390x' } }),
      ),
    ).toBe('ERR_REGISTRY_NO_PLATFORM')

    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${ref}`)
    expect(computeDigest(new TextEncoder().encode(raw))).toBe(indexDigest)
    const layout = join(work, 'multi-oci')
    await skopeo(
      '--override-arch',
      'arm64',
      'copy',
      '--src-tls-verify=false',
      `docker://${ref}`,
      `oci:${layout}:x`,
    )
    const copied = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[]
    }
    expect(copied.manifests[0]?.digest).toBe(arm64.manifestDigest)
  })

  it('takes the first of two manifests for one platform only when they are one image', async () => {
    // A copy of the amd64 manifest that differs only in an annotation, as a second compression
    // of one image differs only in its layer descriptors: same config, so same DiffIDs.
    const repo = `${registry.host}/test/multi`
    const copy = new TextEncoder().encode(
      JSON.stringify({
        ...(JSON.parse(new TextDecoder().decode(amd64.manifest)) as object),
        annotations: { 'io.github.containers.compression.zstd': 'true' },
      }),
    )
    const copyDigest = await client.pushManifest(repo, computeDigest(copy), copy, amd64.mediaType)
    const other = simpleTestImage('multi other amd64')
    await pushTestImage(client, repo, undefined, other)
    const entry = (image: TestImage, manifest: Uint8Array, digest: string): object => ({
      mediaType: image.mediaType,
      digest,
      size: manifest.length,
      platform: { os: 'linux', architecture: 'amd64' },
    })
    const pushIndex = async (tag: string, ...manifests: object[]): Promise<void> => {
      const bytes = new TextEncoder().encode(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests }),
      )
      await client.pushManifest(repo, tag, bytes, OCI_INDEX_MEDIA_TYPE)
    }
    await pushIndex(
      'one-image',
      entry(amd64, amd64.manifest, amd64.manifestDigest),
      entry(amd64, copy, copyDigest),
    )
    expect((await client.resolveImage(`${repo}:one-image`)).digest).toBe(amd64.manifestDigest)
    await pushIndex(
      'copy-first',
      entry(amd64, copy, copyDigest),
      entry(amd64, amd64.manifest, amd64.manifestDigest),
    )
    expect((await client.resolveImage(`${repo}:copy-first`)).digest).toBe(copyDigest)
    await pushIndex(
      'two-images',
      entry(amd64, amd64.manifest, amd64.manifestDigest),
      entry(other, other.manifest, other.manifestDigest),
    )
    expect(await rejectedCode(client.resolveImage(`${repo}:two-images`))).toBe(
      'ERR_REGISTRY_PLATFORM_AMBIGUOUS',
    )
  })

  it('handles Docker schema 2 manifests, tag lists and missing images', async () => {
    const docker = simpleTestImage('docker flavour', { flavour: 'docker' })
    await pushTestImage(client, `${registry.host}/test/docker`, 'd1', docker)
    const image = await client.resolveImage(`${registry.host}/test/docker:d1`)
    expect(image.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
    expect(image.digest).toBe(docker.manifestDigest)
    expect(await client.listTags(`${registry.host}/test/hello`)).toEqual(['v1'])
    expect(await rejectedCode(client.resolveImage(`${registry.host}/test/hello:nope`))).toBe(
      'ERR_REGISTRY_NOT_FOUND',
    )
    // A second push of the same blob is a HEAD hit, not a new upload.
    expect((await client.pushBlob(`${registry.host}/test/hello`, hello.layer)).digest).toBe(
      hello.layerDescriptor.digest,
    )
  })

  it('uses https unless the registry is listed as insecure, loopback included', async () => {
    const strict = new RegistryClient({ attempts: 1 })
    const error = await strict
      .resolveImage(`${registry.host}/test/hello:v1`)
      .catch((e: unknown) => e)
    expect(isInitguardError(error) && error.code).toBe('ERR_REGISTRY_UNREACHABLE')
    expect(isInitguardError(error) && error.details['url']).toBe(
      `https://${registry.host}/v2/test/hello/manifests/v1`,
    )
  })
})
