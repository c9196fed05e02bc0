/**
 * The byte pipeline of one layer, as a stream with bounded memory: the blob (a file, read in
 * chunks, or bytes) → decompression (gzip with {@link gunzipChunks}, zstd with
 * {@link ZstdDecoder}, or none) → the uncompressed size limit → {@link TarStreamReader} → events
 * for the caller. Both the blob and the uncompressed tar are hashed as they pass: the tar's
 * SHA-256 is the layer's DiffID; the blob's lets a second read prove it saw the same bytes.
 *
 * The pipeline is pulled one chunk at a time, and a chunk is parsed, hashed and written before the
 * next is asked for, so the file is read into one reused buffer and gzip decompresses into two
 * more: the steady state of a pass allocates no buffers, and so leaves V8 nothing large to
 * collect (see `gzip-layer.ts` for what per-chunk buffers cost).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { LocalIoError, MalformedInputError, UnavailableError, UsageError } from '@initguard/core'
import { gunzipChunks } from './gzip-layer.ts'
import { TarStreamReader, type TarEvent } from './tar-reader.ts'
import { ZstdDecoder } from './zstd-layer.ts'

/** A layer blob: bytes in memory, or a file (read in chunks, never whole). */
export type LayerSource = Uint8Array | { readonly path: string }

/** How a layer's tar is compressed. */
export type LayerCompression = 'none' | 'gzip' | 'zstd'

/** Bytes read, decompressed and parsed at a time: large enough that per-chunk work is noise. */
const CHUNK = 256 * 1024

const TAR_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
])
const ZSTD_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
])
const GZIP_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
])

/**
 * The compression a layer media type names.
 *
 * @throws {@link UsageError} `ERR_LAYER_MEDIA_TYPE` for any other media type.
 */
export function layerCompression(mediaType: string): LayerCompression {
  if (TAR_TYPES.has(mediaType)) return 'none'
  if (GZIP_TYPES.has(mediaType)) return 'gzip'
  if (ZSTD_TYPES.has(mediaType)) return 'zstd'
  throw new UsageError(
    'ERR_LAYER_MEDIA_TYPE',
    `unsupported layer media type ${JSON.stringify(mediaType)}`,
    { details: { mediaType } },
  )
}

/** Limits and cancellation of {@link scanLayer}. */
export interface ScanLayerOptions {
  /** Largest uncompressed tar size in bytes. */
  readonly maxUnpackedSize: number
  /** Stops the scan between chunks. */
  readonly signal?: AbortSignal
  /**
   * Whether to hash the uncompressed tar (default true). A read that only has to prove it saw
   * the blob an earlier read checked need not: the same blob decompresses to the same tar.
   */
  readonly hashTar?: boolean
}

/** What {@link scanLayer} read. */
export interface LayerScan {
  /** `sha256:<hex>` of the blob as read. */
  readonly blobDigest: string
  /**
   * `sha256:<hex>` of the uncompressed tar, trailing bytes after the end of the archive included;
   * `undefined` if `hashTar` was false.
   */
  readonly diffId: string | undefined
  /** Bytes of the uncompressed tar. */
  readonly unpackedSize: number
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new UnavailableError('ERR_LAYER_CANCELLED', 'unpacking the layer was cancelled', {
      hint: 'discard the destination directory; it may be partly updated',
    })
  }
}

async function* blobChunks(
  source: LayerSource,
  hash: ReturnType<typeof createHash>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (source instanceof Uint8Array) {
    for (let offset = 0; offset < source.length; offset += CHUNK) {
      throwIfCancelled(signal)
      const chunk = source.subarray(offset, offset + CHUNK)
      hash.update(chunk)
      yield chunk
    }
    return
  }
  const readError = (cause: unknown): LocalIoError =>
    new LocalIoError('ERR_LAYER_READ', `cannot read layer blob ${JSON.stringify(source.path)}`, {
      cause,
      details: { path: source.path },
    })
  const file = await open(source.path, 'r').catch((error: unknown) => {
    throw readError(error)
  })
  // Two buffers for the whole blob, so that the next chunk is read while this one is
  // decompressed: each chunk is decompressed, parsed and written before the generator is asked
  // for the next one, and then its buffer receives the chunk after that.
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const
  let next: 0 | 1 = 0
  const readInto = (buffer: Buffer): Promise<number> => {
    const read = file.read(buffer, 0, CHUNK, null).then(
      ({ bytesRead }) => bytesRead,
      (error: unknown) => {
        throw readError(error)
      },
    )
    // Read ahead: a failure is thrown where the chunk is awaited, if it ever is.
    read.catch(() => undefined)
    return read
  }
  let reading = readInto(buffers[next])
  try {
    for (;;) {
      throwIfCancelled(signal)
      const bytesRead = await reading
      if (bytesRead === 0) return
      const chunk = buffers[next].subarray(0, bytesRead)
      next = next === 0 ? 1 : 0
      reading = readInto(buffers[next])
      hash.update(chunk)
      yield chunk
    }
  } finally {
    // A read may still be under way (the caller stopped early): let it end before closing.
    await reading.catch(() => undefined)
    await file.close()
  }
}

async function* zstdChunks(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new ZstdDecoder()
  for await (const chunk of chunks) yield* decoder.feed(chunk)
  yield* decoder.end()
}

/**
 * Read a layer once from start to end, handing every tar event to `onEvent` (awaited before the
 * next), and return its digests and size.
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_TOO_LARGE`, `ERR_LAYER_GZIP`, `ERR_LAYER_ZSTD`,
 *   the tar reader's `ERR_TAR_*`; {@link LocalIoError} `ERR_LAYER_READ`;
 *   {@link UnavailableError} `ERR_LAYER_CANCELLED`; and what `onEvent` throws.
 */
export async function scanLayer(
  source: LayerSource,
  compression: LayerCompression,
  options: ScanLayerOptions,
  onEvent: (event: TarEvent) => Promise<void> | undefined,
): Promise<LayerScan> {
  const blobHash = createHash('sha256')
  const tarHash = options.hashTar === false ? undefined : createHash('sha256')
  const blob = blobChunks(source, blobHash, options.signal)
  const tar =
    compression === 'gzip' ? gunzipChunks(blob) : compression === 'zstd' ? zstdChunks(blob) : blob
  const reader = new TarStreamReader()
  let unpackedSize = 0
  for await (const chunk of tar) {
    unpackedSize += chunk.length
    if (unpackedSize > options.maxUnpackedSize) {
      throw new MalformedInputError(
        'ERR_LAYER_TOO_LARGE',
        `layer unpacks to more than ${options.maxUnpackedSize} bytes`,
        {
          details: { maxSize: options.maxUnpackedSize },
          hint: 'raise maxUnpackedSize if the image is trusted to be this large',
        },
      )
    }
    tarHash?.update(chunk)
    for (const event of reader.push(chunk)) {
      const pending = onEvent(event)
      if (pending !== undefined) await pending
    }
  }
  reader.end()
  return {
    blobDigest: `sha256:${blobHash.digest('hex')}`,
    diffId: tarHash === undefined ? undefined : `sha256:${tarHash.digest('hex')}`,
    unpackedSize,
  }
}
