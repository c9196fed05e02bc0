/**
 * zstd layers (`…tar+zstd`), decompressed with `fzstd` (pure JS; Node 20's zlib has no zstd).
 * Input is fed in slices so output arrives in pieces and a decompression bomb stops at the limit
 * instead of being allocated whole.
 *
 * @module
 */
import { Decompress } from 'fzstd'
import { MalformedInputError } from '@initguard/core'

const INPUT_SLICE = 64 * 1024

class LimitReached extends Error {}

/**
 * Decompress a whole zstd stream (one or more frames), refusing output beyond `maxSize` bytes.
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_TOO_LARGE`, `ERR_LAYER_ZSTD` (not valid zstd).
 */
export function decompressZstd(blob: Uint8Array, maxSize: number): Uint8Array {
  const chunks: Uint8Array[] = []
  let total = 0
  const stream = new Decompress((data) => {
    total += data.length
    if (total > maxSize) throw new LimitReached()
    chunks.push(data)
  })
  try {
    if (blob.length === 0) throw new Error('empty input')
    for (let offset = 0; offset < blob.length; offset += INPUT_SLICE) {
      const end = Math.min(offset + INPUT_SLICE, blob.length)
      stream.push(blob.subarray(offset, end), end === blob.length)
    }
  } catch (error) {
    if (error instanceof LimitReached) {
      throw new MalformedInputError(
        'ERR_LAYER_TOO_LARGE',
        `layer unpacks to more than ${maxSize} bytes`,
        {
          details: { maxSize },
          hint: 'raise maxUnpackedSize if the image is trusted to be this large',
        },
      )
    }
    throw new MalformedInputError(
      'ERR_LAYER_ZSTD',
      `layer is not valid zstd: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, hint: 'the blob is damaged or not what its media type says' },
    )
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}
