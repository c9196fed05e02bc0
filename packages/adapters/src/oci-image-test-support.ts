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
import type { RegistryClient } from './registry-client.ts'
import { tarArchive, type RawTarEntry } from './tar-test-support.ts'

/** One layer: tar entries, gzip-compressed unless `compress` is false. */
export interface TestLayer {
  readonly entries: readonly RawTarEntry[]
  readonly compress?: boolean
}

/** What {@link writeOciLayout} wrote. */
export interface TestImage {
  readonly manifest: Uint8Array
  readonly manifestDigest: string
  readonly config: Uint8Array
  readonly layers: readonly {
    readonly digest: string
    readonly blob: Uint8Array
    readonly mediaType: string
  }[]
}

const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

/** Build the blobs of an image (no file written). */
export function buildTestImage(layers: readonly TestLayer[], label = 'test'): TestImage {
  const built = layers.map((layer) => {
    const tar = tarArchive(...layer.entries)
    const compress = layer.compress ?? true
    const blob = compress ? new Uint8Array(gzipSync(tar)) : tar
    return {
      diffId: sha256(tar),
      digest: sha256(blob),
      blob,
      mediaType: compress
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.oci.image.layer.v1.tar',
    }
  })
  const config = json({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'org.initguard.test': label } },
    rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
  })
  const manifest = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: built.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  })
  return {
    manifest,
    manifestDigest: sha256(manifest),
    config,
    layers: built.map(({ digest, blob, mediaType }) => ({ digest, blob, mediaType })),
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
export function simpleTestImage(text: string): TestImage {
  return buildTestImage([{ entries: [{ name: 'hello.txt', data: `${text}\n` }] }], text)
}

/** Push `image` to `repository` under `tag` with our client (blobs, then the manifest). */
export async function pushTestImage(
  client: RegistryClient,
  repository: string,
  tag: string,
  image: TestImage,
): Promise<void> {
  for (const layer of image.layers) await client.pushBlob(repository, layer.blob, layer.mediaType)
  await client.pushBlob(repository, image.config, 'application/vnd.oci.image.config.v1+json')
  await client.pushManifest(
    repository,
    tag,
    image.manifest,
    'application/vnd.oci.image.manifest.v1+json',
  )
}
