/**
 * An OCI distribution (registry v2) client: resolve an image reference to a verified manifest
 * (through an index or manifest list, by platform), download verified blobs, push blobs and
 * manifests, list tags.
 *
 * Every manifest's bytes are checked: against the reference's digest when pulling by digest, else
 * against the registry's `Docker-Content-Digest`; a manifest chosen from an index is checked against
 * the index entry's digest and size. The digest reported is computed from the bytes (sha256, or
 * the reference's algorithm). Blobs are checked as {@link readVerifiedBody} describes.
 *
 * @example
 * ```ts
 * const client = new RegistryClient({ credentials: dockerConfigCredentials(await loadDockerConfig(path)) })
 * const image = await client.resolveImage('quay.io/org/app:1.0', { platform: { os: 'linux', architecture: 'arm64' } })
 * await client.pullBlobs(image.repository, image.manifest.layers, dir, { onProgress })
 * ```
 *
 * @module
 */
import { MalformedInputError, VerificationError } from '@initguard/core'
import { parseDockerImageReference, type DockerImageReference } from '@initguard/image-policy'
import {
  dockerCredentialsFor,
  type DockerConfig,
  type RegistryCredentialsLookup,
} from './docker-credentials.ts'
import {
  MANIFEST_MEDIA_TYPES,
  computeDigest,
  digestAlgorithm,
  parseManifest,
  type Descriptor,
  type ImageManifest,
  type ParsedManifest,
  type Platform,
} from './oci-manifest.ts'
import { DEFAULT_PLATFORM, chooseIndexEntry } from './oci-platform-choice.ts'
import {
  DEFAULT_MAX_BLOB_SIZE,
  fetchBlobBytes,
  fetchBlobToFile,
  pullBlobs,
  blobDeadlineMs,
  type BlobDeadline,
  type BlobDownloadOptions,
  type PullBlobsOptions,
  type PulledBlob,
} from './registry-blobs.ts'
import { readLimited, safeUrl, statusError } from './registry-http.ts'
import { listTags, pushBlob, pushManifest } from './registry-push.ts'
import {
  RegistryTransport,
  parseRepository,
  type RegistryTransportOptions,
  type Repository,
} from './registry-transport.ts'

/** Default largest manifest: 4 MiB, the limit registries themselves apply. */
export const DEFAULT_MAX_MANIFEST_SIZE: number = 4 * 1024 * 1024

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions extends RegistryTransportOptions {
  /** Largest manifest accepted; default {@link DEFAULT_MAX_MANIFEST_SIZE}. */
  readonly maxManifestSize?: number
  /** Largest blob accepted; default 8 GiB. */
  readonly maxBlobSize?: number
  /**
   * How long each request may take in all, from the most bytes it may move: default 60 s plus
   * those bytes at 32 KiB/s. For a blob download the bytes are its size (a download's own
   * `deadline` option wins), failing with `ERR_REGISTRY_BLOB_DEADLINE`; for a manifest, a tag
   * list page, an upload and the rest, the body limit or upload size and 1 MiB + 64 KiB for a
   * token answer and an error body (a 4 MiB manifest: 222 s), failing with
   * `ERR_REGISTRY_DEADLINE`. Checked when the client is made.
   */
  readonly blobDeadline?: BlobDeadline
  /** The platform picked from an index; default linux/amd64. */
  readonly platform?: Platform
}

/** A manifest as fetched and verified. */
export interface FetchedManifest {
  readonly repository: Repository
  /** Computed from the bytes: the reference digest's algorithm, else sha256. */
  readonly digest: string
  readonly mediaType: string
  readonly bytes: Uint8Array
  readonly manifest: ParsedManifest
}

/** An image reference resolved to one verified image manifest. */
export interface ResolvedImage {
  readonly reference: DockerImageReference
  readonly repository: Repository
  /** The digest of the index or manifest list the manifest was chosen from, if any. */
  readonly indexDigest: string | undefined
  /** The digest of the image manifest. */
  readonly digest: string
  readonly mediaType: string
  readonly bytes: Uint8Array
  readonly manifest: ImageManifest
  /** The platform of the index entry chosen, if any. */
  readonly platform: Platform | undefined
}

/** Credentials looked up in a parsed docker config, for {@link RegistryClientOptions.credentials}. */
export function dockerConfigCredentials(config: DockerConfig): RegistryCredentialsLookup {
  return (registry, repository) => dockerCredentialsFor(config, registry, repository)
}

function repositoryOf(repository: Repository | string): Repository {
  return typeof repository === 'string' ? parseRepository(repository) : repository
}

function digestMismatch(
  url: string,
  expected: string,
  actual: string,
  what: string,
): VerificationError {
  return new VerificationError(
    'ERR_REGISTRY_DIGEST_MISMATCH',
    `${what} from ${url} has digest ${actual}, not ${expected}`,
    {
      details: { url, expected, actual },
      hint: 'the registry or a proxy serves wrong content; do not use this image until it is explained',
    },
  )
}

/** A registry client; one instance caches tokens, so reuse it for related requests. */
export class RegistryClient {
  readonly #options: RegistryClientOptions
  readonly #transport: RegistryTransport

  /**
   * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION` for a malformed
   *   `blobDeadline`.
   */
  constructor(options: RegistryClientOptions = {}) {
    blobDeadlineMs(0, options.blobDeadline)
    this.#options = options
    this.#transport = new RegistryTransport(options)
  }

  /** The client's blob deadline, as a download option (a download's own wins). */
  #deadline(): Pick<BlobDownloadOptions, 'deadline'> {
    const deadline = this.#options.blobDeadline
    return deadline === undefined ? {} : { deadline }
  }

  /**
   * Fetch one manifest by tag or digest and verify its bytes. `expected`, for a manifest named by
   * an index entry, also checks the size.
   *
   * @throws {@link VerificationError} `ERR_REGISTRY_DIGEST_MISMATCH`, `ERR_REGISTRY_SIZE_MISMATCH`;
   *   {@link MalformedInputError} `ERR_REGISTRY_MANIFEST`, `ERR_REGISTRY_MANIFEST_TOO_LARGE`,
   *   `ERR_REGISTRY_MEDIA_TYPE`, `ERR_REGISTRY_DIGEST_FORMAT`; {@link ExpectationError}
   *   `ERR_REGISTRY_SCHEMA1`, `ERR_REGISTRY_UNAUTHORIZED`, `ERR_REGISTRY_DENIED`;
   *   {@link UnavailableError} `ERR_REGISTRY_NOT_FOUND`, `ERR_REGISTRY_STATUS`, `ERR_REGISTRY_UNREACHABLE`,
   *   `ERR_REGISTRY_DEADLINE` (the manifest, with any token request, took longer than the
   *   deadline for {@link DEFAULT_MAX_MANIFEST_SIZE | maxManifestSize} bytes; see `blobDeadline`).
   */
  async getManifest(
    repository: Repository | string,
    tagOrDigest: string,
    expected?: Descriptor,
  ): Promise<FetchedManifest> {
    const repo = repositoryOf(repository)
    const byDigest = tagOrDigest.includes(':')
    const algorithm = byDigest ? digestAlgorithm(tagOrDigest, 'manifest digest') : 'sha256'
    const maxSize = this.#options.maxManifestSize ?? DEFAULT_MAX_MANIFEST_SIZE
    const what = `get the manifest ${repo.registry}/${repo.path}${byDigest ? '@' : ':'}${tagOrDigest}`
    const fetched = await this.#transport.request(
      {
        method: 'GET',
        repository: repo,
        target: `manifests/${tagOrDigest}`,
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        actions: 'pull',
        what,
        deadline: { bytes: maxSize },
      },
      async (r) => {
        if (r.status !== 200) throw await statusError(r, what)
        const bytes = await readLimited(r, maxSize, 'manifest', 'ERR_REGISTRY_MANIFEST_TOO_LARGE')
        return { bytes, url: safeUrl(r.url), headers: r.headers }
      },
    )
    const { bytes, url, headers } = fetched
    const digest = computeDigest(bytes, algorithm)
    if (byDigest && digest !== tagOrDigest)
      throw digestMismatch(url, tagOrDigest, digest, 'manifest')
    const served = headers.get('docker-content-digest')
    if (!byDigest && served !== null) {
      const servedDigest = served.trim()
      const actual = computeDigest(bytes, digestAlgorithm(servedDigest, 'Docker-Content-Digest'))
      if (actual !== servedDigest) throw digestMismatch(url, servedDigest, actual, 'manifest')
    }
    if (expected !== undefined && expected.size !== bytes.length)
      throw new VerificationError(
        'ERR_REGISTRY_SIZE_MISMATCH',
        `manifest from ${url} has ${bytes.length} bytes, but the index says ${expected.size}`,
        { details: { url, expected: expected.size, received: bytes.length } },
      )
    const manifest = parseManifest(bytes, headers.get('content-type') ?? undefined)
    return { repository: repo, digest, mediaType: manifest.mediaType, bytes, manifest }
  }

  /**
   * Resolve a reference (`host/path:tag` or `host/path@digest`) to a verified image manifest,
   * choosing by platform when it names an index or manifest list.
   *
   * @throws everything {@link getManifest} throws; {@link ExpectationError} `ERR_REGISTRY_NO_PLATFORM`;
   *   {@link MalformedInputError} `ERR_IMAGE_REF_*`, `ERR_REGISTRY_NESTED_INDEX`.
   */
  async resolveImage(
    reference: string | DockerImageReference,
    options: { readonly platform?: Platform } = {},
  ): Promise<ResolvedImage> {
    const ref = typeof reference === 'string' ? parseDockerImageReference(reference) : reference
    const repository: Repository = { registry: ref.domain, path: ref.path }
    const top = await this.getManifest(repository, ref.digest ?? ref.tag ?? 'latest')
    if (top.manifest.kind === 'image')
      return {
        reference: ref,
        repository,
        indexDigest: undefined,
        digest: top.digest,
        mediaType: top.mediaType,
        bytes: top.bytes,
        manifest: top.manifest,
        platform: undefined,
      }
    const { entry, fetched: child } = await chooseIndexEntry(
      top.manifest,
      options.platform ?? this.#options.platform ?? DEFAULT_PLATFORM,
      (e) => this.getManifest(repository, e.digest, e),
    )
    if (child.manifest.kind !== 'image')
      throw new MalformedInputError(
        'ERR_REGISTRY_NESTED_INDEX',
        `the index entry ${entry.digest} is itself an index`,
        {
          details: { digest: entry.digest },
          hint: 'nested indexes are not supported: reference the inner index by digest',
        },
      )
    return {
      reference: ref,
      repository,
      indexDigest: top.digest,
      digest: child.digest,
      mediaType: child.mediaType,
      bytes: child.bytes,
      manifest: child.manifest,
      platform: entry.platform,
    }
  }

  /** Download a verified blob into memory (default limit 64 MiB; for configs and small blobs). */
  async fetchBlob(
    repository: Repository | string,
    descriptor: Descriptor,
    options: BlobDownloadOptions = {},
  ): Promise<Uint8Array> {
    return fetchBlobBytes(this.#transport, repositoryOf(repository), descriptor, {
      ...this.#deadline(),
      ...options,
    })
  }

  /** Download a verified blob to `path` (temporary file, renamed once verified). */
  async fetchBlobToFile(
    repository: Repository | string,
    descriptor: Descriptor,
    path: string,
    options: BlobDownloadOptions = {},
  ): Promise<void> {
    await fetchBlobToFile(this.#transport, repositoryOf(repository), descriptor, path, {
      maxSize: this.#options.maxBlobSize ?? DEFAULT_MAX_BLOB_SIZE,
      ...this.#deadline(),
      ...options,
    })
  }

  /** Download blobs into `dir/<algorithm>/<hex>`, `concurrency` (default 3) at a time. */
  async pullBlobs(
    repository: Repository | string,
    descriptors: readonly Descriptor[],
    dir: string,
    options: PullBlobsOptions = {},
  ): Promise<PulledBlob[]> {
    return pullBlobs(this.#transport, repositoryOf(repository), descriptors, dir, {
      maxSize: this.#options.maxBlobSize ?? DEFAULT_MAX_BLOB_SIZE,
      ...this.#deadline(),
      ...options,
    })
  }

  /** Upload a blob unless the registry has it; returns its sha256 descriptor. */
  async pushBlob(
    repository: Repository | string,
    bytes: Uint8Array,
    mediaType?: string,
  ): Promise<Descriptor> {
    return pushBlob(this.#transport, repositoryOf(repository), bytes, mediaType)
  }

  /**
   * Upload a manifest under a tag or its digest; returns its sha256 digest.
   *
   * @throws {@link UsageError} `ERR_REGISTRY_DIGEST_MISMATCH` when pushed by a digest the bytes do
   *   not have; {@link VerificationError} `ERR_REGISTRY_DIGEST_MISMATCH` when the registry reports
   *   another digest; the transport's errors.
   */
  async pushManifest(
    repository: Repository | string,
    tagOrDigest: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    return pushManifest(this.#transport, repositoryOf(repository), tagOrDigest, bytes, mediaType)
  }

  /** The repository's tags, following `Link: <…>; rel="next"` pages (at most 100). */
  async listTags(repository: Repository | string): Promise<string[]> {
    return listTags(this.#transport, repositoryOf(repository))
  }
}
