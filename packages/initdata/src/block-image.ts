/**
 * The initdata block device that the Kata runtime attaches read-only and the agent scans for.
 *
 * Layout (little-endian):
 *
 * | offset | size | content                                  |
 * | ------ | ---- | ---------------------------------------- |
 * | 0      | 8    | ASCII magic `initdata`                   |
 * | 8      | 8    | u64 length L of the gzip payload          |
 * | 16     | L    | gzip(document)                           |
 * | 16 + L | pad  | zero bytes up to a multiple of 512       |
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { DEFAULT_MAX_DOCUMENT_SIZE, assertWritableDocumentSize, gunzip, gzip } from './gzip.ts'

/** The 8-byte magic at the start of the image. */
export const INITDATA_IMAGE_MAGIC = 'initdata'
const HEADER_SIZE = 16
const SECTOR_SIZE = 512

/**
 * Build the block-device image for a document.
 *
 * @throws {@link MalformedInputError} `ERR_INITDATA_TOO_LARGE` above {@link DEFAULT_MAX_DOCUMENT_SIZE}
 *   bytes, which {@link readInitdataImage} would refuse.
 */
export function buildInitdataImage(document: Uint8Array): Uint8Array {
  assertWritableDocumentSize(document.length, 'the block image')
  const payload = gzip(document)
  const size = Math.ceil((HEADER_SIZE + payload.length) / SECTOR_SIZE) * SECTOR_SIZE
  const image = new Uint8Array(size)
  image.set(new TextEncoder().encode(INITDATA_IMAGE_MAGIC), 0)
  new DataView(image.buffer).setBigUint64(8, BigInt(payload.length), true)
  image.set(payload, HEADER_SIZE)
  return image
}

/** Options for {@link readInitdataImage}. */
export interface ReadImageOptions {
  /** Largest accepted document in bytes; default 16 MiB. */
  readonly maxSize?: number
}

/**
 * Read the document out of an image.
 *
 * The padding after the payload must be zero: a device is exactly what we built, and bytes we would
 * otherwise never look at are where a tampered image would hide something.
 *
 * @throws {@link MalformedInputError} `ERR_INITDATA_IMAGE_MAGIC`, `ERR_INITDATA_IMAGE_LENGTH`,
 *   `ERR_INITDATA_IMAGE_PADDING`, and the gzip errors.
 */
export function readInitdataImage(image: Uint8Array, options: ReadImageOptions = {}): Uint8Array {
  const magic = new TextEncoder().encode(INITDATA_IMAGE_MAGIC)
  if (image.length < HEADER_SIZE || !magic.every((b, i) => image[i] === b)) {
    throw new MalformedInputError(
      'ERR_INITDATA_IMAGE_MAGIC',
      image.length < HEADER_SIZE
        ? `the image has ${image.length} bytes, fewer than its 16-byte header`
        : 'the image does not start with the magic "initdata"',
      {
        details: { length: image.length },
        hint: 'give the initdata block device or data.img file',
      },
    )
  }
  const length = new DataView(image.buffer, image.byteOffset, image.byteLength).getBigUint64(
    8,
    true,
  )
  const available = image.length - HEADER_SIZE
  if (length === 0n || length > BigInt(available)) {
    throw new MalformedInputError(
      'ERR_INITDATA_IMAGE_LENGTH',
      length === 0n
        ? 'the image says its payload is empty'
        : `the image's length field says ${length} bytes, but only ${available} follow the header`,
      {
        details: { field: 'length', offset: 8, available },
        hint: 'the image is truncated or its header is corrupt; build it again',
      },
    )
  }
  const end = HEADER_SIZE + Number(length)
  const firstNonZero = image.subarray(end).findIndex((b) => b !== 0)
  if (firstNonZero >= 0) {
    throw new MalformedInputError(
      'ERR_INITDATA_IMAGE_PADDING',
      `the image has non-zero bytes after its payload, at offset ${end + firstNonZero}`,
      { details: { offset: end + firstNonZero }, hint: 'the image was modified; build it again' },
    )
  }
  return gunzip(image.subarray(HEADER_SIZE, end), {
    field: 'initdata image payload',
    maxSize: options.maxSize ?? DEFAULT_MAX_DOCUMENT_SIZE,
  })
}
