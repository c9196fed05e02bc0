/**
 * Deterministic OCI image layouts for tests: the same layers give the same bytes and digests, so
 * images pushed with skopeo have known manifest digests.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Descriptor, Platform } from './oci-manifest.ts'
import type { RegistryClient } from './registry-client.ts'
import { tarArchive, type RawTarEntry } from './tar-test-support.ts'

/** One layer: tar entries, gzip-compressed unless `compress` is false. */
export interface TestLayer {
  readonly entries: readonly RawTarEntry[]
  readonly compress?: boolean
}

/** A built image: its blobs and descriptors, ready to push or write as a layout. */
export interface TestImage {
  readonly manifest: Uint8Array
  readonly manifestDigest: string
  /** The manifest's media type (OCI, or Docker schema 2 for the `docker` flavour). */
  readonly mediaType: string
  readonly config: Uint8Array
  readonly configDescriptor: Descriptor
  readonly layers: readonly {
    readonly digest: string
    readonly blob: Uint8Array
    readonly mediaType: string
  }[]
  /** The layers' descriptors, as in the manifest. */
  readonly layerDescriptors: readonly Descriptor[]
  /** The first layer's blob and descriptor (what single-layer tests look at). */
  readonly layer: Uint8Array
  readonly layerDescriptor: Descriptor
}

/** Options of {@link buildTestImage}. */
export interface TestImageOptions {
  /** Recorded in the config (`os`, `architecture`, `variant`); default linux/amd64. */
  readonly platform?: Platform
  /** OCI media types (default) or Docker schema 2's. */
  readonly flavour?: 'oci' | 'docker'
}

const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

/** Build the blobs of an image (no file written). */
export function buildTestImage(
  layers: readonly TestLayer[],
  label = 'test',
  options: TestImageOptions = {},
): TestImage {
  const docker = options.flavour === 'docker'
  const built = layers.map((layer) => {
    const tar = tarArchive(...layer.entries)
    const compress = layer.compress ?? true
    const blob = compress ? new Uint8Array(gzipSync(tar)) : tar
    return {
      diffId: sha256(tar),
      digest: sha256(blob),
      blob,
      mediaType: docker
        ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
        : compress
          ? 'application/vnd.oci.image.layer.v1.tar+gzip'
          : 'application/vnd.oci.image.layer.v1.tar',
    }
  })
  const config = json({
    ...(options.platform ?? { os: 'linux', architecture: 'amd64' }),
    config: { Labels: { 'org.initguard.test': label } },
    rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
  })
  const configDescriptor: Descriptor = {
    mediaType: docker
      ? 'application/vnd.docker.container.image.v1+json'
      : 'application/vnd.oci.image.config.v1+json',
    digest: sha256(config),
    size: config.length,
  }
  const layerDescriptors: Descriptor[] = built.map((l) => ({
    mediaType: l.mediaType,
    digest: l.digest,
    size: l.blob.length,
  }))
  const mediaType = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json'
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    config: configDescriptor,
    layers: layerDescriptors,
  })
  return {
    manifest,
    manifestDigest: sha256(manifest),
    mediaType,
    config,
    configDescriptor,
    layers: built.map(({ digest, blob, mediaType: type }) => ({ digest, blob, mediaType: type })),
    layerDescriptors,
    layer: built[0]?.blob ?? new Uint8Array(),
    layerDescriptor: layerDescriptors[0] ?? { mediaType: '', digest: '', size: 0 },
  }
}

/** Write `image` as an OCI layout at `dir` under `tag` (for `skopeo copy oci:DIR:TAG …`). */
export async function writeOciLayout(dir: string, tag: string, image: TestImage): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256')
  await mkdir(blobs, { recursive: true })
  const put = (bytes: Uint8Array): Promise<void> =>
    writeFile(join(blobs, sha256(bytes).slice('sha256:'.length)), bytes)
  await Promise.all([
    put(image.manifest),
    put(image.config),
    ...image.layers.map((l) => put(l.blob)),
  ])
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: image.manifestDigest,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  )
}

/** A one-file image whose content differs by `text`. */
export function simpleTestImage(text: string, options: TestImageOptions = {}): TestImage {
  return buildTestImage([{ entries: [{ name: 'hello.txt', data: `${text}\n` }] }], text, options)
}

/**
 * Push `image` to `repository` with our client (blobs, then the manifest) under `tag`, or under
 * its digest when `tag` is undefined. Returns the manifest digest.
 */
export async function pushTestImage(
  client: RegistryClient,
  repository: string,
  tag: string | undefined,
  image: TestImage,
): Promise<string> {
  for (const layer of image.layers) await client.pushBlob(repository, layer.blob, layer.mediaType)
  await client.pushBlob(repository, image.config, image.configDescriptor.mediaType)
  return client.pushManifest(
    repository,
    tag ?? image.manifestDigest,
    image.manifest,
    image.mediaType,
  )
}
