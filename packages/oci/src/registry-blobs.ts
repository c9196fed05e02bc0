/**
 * Blob transfer: downloads that hash and count while they stream and never leave unverified bytes
 * behind (a temporary file renamed into place only after the digest and size match, or bytes handed
 * over only once verified), bounded parallel layer pulls with progress, and monolithic uploads.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { LocalIoError, MalformedInputError, VerificationError } from '@initguard/core'
import { digestAlgorithm, type Descriptor } from './oci-manifest.ts'
import { blobDeadlineError, withinDeadline, type BlobDeadline } from './registry-deadline.ts'
import { safeUrl, statusError } from './registry-http.ts'
import type { RegistryResponse, RegistryTransport, Repository } from './registry-transport.ts'

export {
  DEFAULT_BLOB_DEADLINE_BASE_MS,
  DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
  blobDeadlineMs,
  type BlobDeadline,
} from './registry-deadline.ts'

/** Progress of one blob download. */
export interface BlobProgress {
  readonly digest: string
  readonly received: number
  readonly total: number
}

/** Options of a blob download. */
export interface BlobDownloadOptions {
  /** Called as bytes arrive (and once at 0, and again from 0 when an attempt restarts). */
  readonly onProgress?: (progress: BlobProgress) => void
  /** Largest blob accepted, checked against the descriptor before anything is fetched. */
  readonly maxSize?: number
  /** Cancels the download. */
  readonly signal?: AbortSignal
  /** How long the whole download may take, from the blob's size; see {@link BlobDeadline}. */
  readonly deadline?: BlobDeadline
}

/** Default largest blob: 8 GiB. */
export const DEFAULT_MAX_BLOB_SIZE: number = 8 * 1024 * 1024 * 1024

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : 'unknown error'
}

function checkDescriptor(descriptor: Descriptor, maxSize: number): string {
  const algorithm = digestAlgorithm(descriptor.digest, 'blob digest')
  if (descriptor.size > maxSize)
    throw new MalformedInputError(
      'ERR_REGISTRY_BLOB_TOO_LARGE',
      `blob ${descriptor.digest} is ${descriptor.size} bytes, more than the limit of ${maxSize}`,
      {
        details: { digest: descriptor.digest, size: descriptor.size, maxSize },
        hint: 'raise the blob size limit if the image is trusted to be this large',
      },
    )
  return algorithm
}

function sizeMismatch(descriptor: Descriptor, url: URL, received: string): VerificationError {
  return new VerificationError(
    'ERR_REGISTRY_SIZE_MISMATCH',
    `blob ${descriptor.digest} from ${safeUrl(url)} has ${received} bytes, but its descriptor says ${descriptor.size}`,
    {
      details: {
        url: safeUrl(url),
        digest: descriptor.digest,
        expected: descriptor.size,
        received,
      },
      hint: 'the registry or a proxy serves wrong content; do not use this image until it is explained',
    },
  )
}

/**
 * Stream a blob response into `sink`, hashing and counting; throws before the sink sees a byte
 * beyond the descriptor's size, and after the last byte when the digest or size is wrong.
 *
 * @throws {@link VerificationError} `ERR_REGISTRY_DIGEST_MISMATCH`, `ERR_REGISTRY_SIZE_MISMATCH`.
 */
export async function readVerifiedBody(
  response: RegistryResponse,
  descriptor: Descriptor,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  onProgress?: (progress: BlobProgress) => void,
): Promise<void> {
  const algorithm = digestAlgorithm(descriptor.digest, 'blob digest')
  const hash = createHash(algorithm)
  let received = 0
  onProgress?.({ digest: descriptor.digest, received, total: descriptor.size })
  const { url } = response
  // The descriptor's size is the limit: a longer body (declared or streamed) is refused before the
  // sink sees a byte beyond it; the stream stays a stream.
  const limit = {
    maxBytes: descriptor.size,
    tooLarge: () => sizeMismatch(descriptor, url, `more than ${descriptor.size}`),
  }
  for await (const chunk of response.chunks(limit)) {
    received += chunk.length
    hash.update(chunk)
    await sink(chunk)
    onProgress?.({ digest: descriptor.digest, received, total: descriptor.size })
  }
  if (received !== descriptor.size) throw sizeMismatch(descriptor, url, String(received))
  const actual = `${algorithm}:${hash.digest('hex')}`
  if (actual !== descriptor.digest)
    throw new VerificationError(
      'ERR_REGISTRY_DIGEST_MISMATCH',
      `blob from ${safeUrl(url)} has digest ${actual}, not ${descriptor.digest}`,
      {
        details: { url: safeUrl(url), expected: descriptor.digest, actual },
        hint: 'the registry or a proxy serves wrong content; do not use this image until it is explained',
      },
    )
}

/**
 * GET a blob and hand the response to `consume` (with the progress callback to give
 * {@link readVerifiedBody}), within the blob's deadline ({@link blobDeadlineMs}).
 *
 * @throws {@link UnavailableError} `ERR_REGISTRY_BLOB_DEADLINE` when the deadline passes; the
 *   transport's errors; what `consume` throws.
 */
async function openBlob(
  transport: RegistryTransport,
  repository: Repository,
  descriptor: Descriptor,
  options: BlobDownloadOptions,
  consume: (r: RegistryResponse, onProgress: (progress: BlobProgress) => void) => Promise<void>,
): Promise<void> {
  const what = `download blob ${descriptor.digest} of ${repository.registry}/${repository.path}`
  let received = 0
  const onProgress = (progress: BlobProgress): void => {
    received = progress.received
    options.onProgress?.(progress)
  }
  await withinDeadline(
    descriptor.size,
    options.deadline,
    options.signal,
    (signal) =>
      transport.request(
        {
          method: 'GET',
          repository,
          target: `blobs/${descriptor.digest}`,
          actions: 'pull',
          what,
          // The blob's own deadline, from its size, is in the signal.
          deadline: 'caller',
          signal,
        },
        async (r) => {
          if (r.status !== 200) throw await statusError(r, what)
          await consume(r, onProgress)
        },
      ),
    (numbers, cause) => blobDeadlineError(what, descriptor, received, numbers, cause),
  )
}

/**
 * Download a blob into memory and return it once verified.
 *
 * @throws {@link VerificationError} `ERR_REGISTRY_DIGEST_MISMATCH`, `ERR_REGISTRY_SIZE_MISMATCH`;
 *   {@link MalformedInputError} `ERR_REGISTRY_BLOB_TOO_LARGE`; {@link UnavailableError}
 *   `ERR_REGISTRY_BLOB_DEADLINE`; {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION`; the
 *   transport's errors.
 */
export async function fetchBlobBytes(
  transport: RegistryTransport,
  repository: Repository,
  descriptor: Descriptor,
  options: BlobDownloadOptions = {},
): Promise<Uint8Array> {
  checkDescriptor(descriptor, options.maxSize ?? 64 * 1024 * 1024)
  let bytes = new Uint8Array(0)
  await openBlob(transport, repository, descriptor, options, async (r, onProgress) => {
    const buffer = new Uint8Array(descriptor.size)
    let offset = 0
    await readVerifiedBody(
      r,
      descriptor,
      (chunk) => {
        buffer.set(chunk, offset)
        offset += chunk.length
      },
      onProgress,
    )
    bytes = buffer
  })
  return bytes
}

/**
 * Download a blob to `path`: into a temporary file beside it, renamed to `path` only once the
 * digest and size match. Nothing is left behind on failure.
 *
 * @throws as {@link fetchBlobBytes}, and {@link LocalIoError} `ERR_FILE_WRITE`.
 */
export async function fetchBlobToFile(
  transport: RegistryTransport,
  repository: Repository,
  descriptor: Descriptor,
  path: string,
  options: BlobDownloadOptions = {},
): Promise<void> {
  checkDescriptor(descriptor, options.maxSize ?? DEFAULT_MAX_BLOB_SIZE)
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`,
  )
  const ioError = (error: unknown): LocalIoError =>
    new LocalIoError(
      'ERR_FILE_WRITE',
      `cannot write blob ${descriptor.digest} to ${JSON.stringify(path)}`,
      {
        cause: error,
        details: { path, reason: errorCode(error) },
      },
    )
  try {
    await openBlob(transport, repository, descriptor, options, async (r, onProgress) => {
      // Each attempt starts the file afresh ('w' truncates), so a retried download never appends.
      const file = await open(temporary, 'w', 0o644).catch((e: unknown) => {
        throw ioError(e)
      })
      try {
        await readVerifiedBody(
          r,
          descriptor,
          async (chunk) => {
            await file.write(chunk).catch((e: unknown) => {
              throw ioError(e)
            })
          },
          onProgress,
        )
        await file.sync()
      } finally {
        await file.close()
      }
    })
    await rename(temporary, path).catch((e: unknown) => {
      throw ioError(e)
    })
  } finally {
    await rm(temporary, { force: true })
  }
}

/** Options of {@link pullBlobs}. */
export interface PullBlobsOptions extends BlobDownloadOptions {
  /** Downloads at once; default 3. */
  readonly concurrency?: number
}

/** A blob pulled by {@link pullBlobs}. */
export interface PulledBlob {
  readonly descriptor: Descriptor
  /** `<dir>/<algorithm>/<hex>`, the OCI layout's `blobs/` scheme. */
  readonly path: string
}

/**
 * Download blobs into `dir/<algorithm>/<hex>`, at most `concurrency` at a time, each verified. The
 * first failure cancels the downloads still running and is thrown once they have stopped.
 */
export async function pullBlobs(
  transport: RegistryTransport,
  repository: Repository,
  descriptors: readonly Descriptor[],
  dir: string,
  options: PullBlobsOptions = {},
): Promise<PulledBlob[]> {
  const results = descriptors.map((descriptor) => {
    const [algorithm = '', hex = ''] = descriptor.digest.split(':')
    digestAlgorithm(descriptor.digest, 'blob digest')
    return { descriptor, path: join(dir, algorithm, hex) }
  })
  const unique = [...new Map(results.map((r) => [r.descriptor.digest, r])).values()]
  const cancel = new AbortController()
  // The caller's signal (Ctrl-C) stops every download, like a failure of one of them does.
  const stop = (): void => {
    cancel.abort(new Error('cancelled'))
  }
  if (options.signal?.aborted === true) stop()
  options.signal?.addEventListener('abort', stop, { once: true })
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < unique.length) {
      const item = unique[next++]
      if (item === undefined) return
      try {
        await mkdir(dirname(item.path), { recursive: true })
        await fetchBlobToFile(transport, repository, item.descriptor, item.path, {
          ...options,
          signal: cancel.signal,
        })
      } catch (error) {
        failure ??= { error }
        cancel.abort(new Error('another download failed'))
      }
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency ?? 3, unique.length))
  await Promise.all(Array.from({ length: workers }, worker))
  options.signal?.removeEventListener('abort', stop)
  if (failure !== undefined) throw failure.error
  return results
}
