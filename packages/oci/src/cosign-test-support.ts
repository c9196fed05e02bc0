/**
 * Cosign signature attachments for tests, built the way cosign writes them: the payload as one
 * layer (`application/vnd.dev.cosign.simplesigning.v1+json`) of an OCI manifest tagged
 * `sha256-<hex>.sig`, with the base64 signature in `dev.cosignproject.cosign/signature`.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { RegistryClient } from './registry-client.ts'

/** One signature layer: the payload blob and its annotations (testkit's `buildCosignSignature`). */
export interface CosignLayer {
  readonly payload: Uint8Array
  readonly annotations: ReadonlyMap<string, string>
}

const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Push `layers` as the signature attachment of `manifestDigest` in `repository`. */
export async function pushCosignAttachment(
  client: RegistryClient,
  repository: string,
  manifestDigest: string,
  layers: readonly CosignLayer[],
): Promise<void> {
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: '',
      config: {},
      created: '0001-01-01T00:00:00Z',
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.payload)) },
    }),
  )
  const mediaType = 'application/vnd.dev.cosign.simplesigning.v1+json'
  for (const layer of layers) await client.pushBlob(repository, layer.payload, mediaType)
  await client.pushBlob(repository, config, 'application/vnd.oci.image.config.v1+json')
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType,
        digest: sha256(l.payload),
        size: l.payload.length,
        annotations: Object.fromEntries(l.annotations),
      })),
    }),
  )
  await client.pushManifest(
    repository,
    `${manifestDigest.replace(':', '-')}.sig`,
    manifest,
    'application/vnd.oci.image.manifest.v1+json',
  )
}
