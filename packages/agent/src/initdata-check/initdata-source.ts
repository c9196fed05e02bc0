/**
 * Reading the initdata document from where Kata delivers it, once, into memory.
 *
 * | kind         | what the path holds                                   | decoded with                 |
 * | ------------ | ----------------------------------------------------- | ---------------------------- |
 * | `file`       | the document itself (TOML)                            | nothing                      |
 * | `annotation` | the value of `io.katacontainers.config.hypervisor.cc_init_data`: base64(gzip(document)) | `decodeAnnotation` |
 * | `image`      | the initdata block device (or its `data.img`): magic `initdata`, u64 LE length L, gzip(document), zero padding to 512 | `readInitdataImage` |
 *
 * Each source is read exactly once; everything after (parsing, digesting, serving, writing the
 * runtime files) works on the bytes returned here, so a later change to the file or device is
 * never seen. A block device is identified by its magic: a path whose first 8 bytes are not
 * `initdata` is refused (`ERR_INITDATA_IMAGE_MAGIC`), never searched within. Finding the device
 * among the guest's disks when none is named is `findInitdataDevice` (initdata-device.ts).
 *
 * @module
 */
import { open, stat } from 'node:fs/promises'
import { readInput } from '@initguard/files'
import { LocalIoError, MalformedInputError, UsageError, utf8ToString } from '@initguard/core'
import {
  DEFAULT_MAX_DOCUMENT_SIZE,
  INITDATA_IMAGE_MAGIC,
  decodeAnnotation,
  readInitdataImage,
} from '@initguard/initdata'
import type { InitdataSourceKind } from '../verified-initdata.ts'

/** Every {@link InitdataSourceKind}, in a stable order. */
export const INITDATA_SOURCE_KINDS: readonly InitdataSourceKind[] = ['file', 'annotation', 'image']

/** The document's exact bytes and where they were read from. */
export interface InitdataInput {
  /** The document (TOML) after base64 and gzip are undone: the bytes that are digested. */
  readonly bytes: Uint8Array
  readonly source: { readonly kind: InitdataSourceKind; readonly path: string }
}

/** Options for {@link readInitdataSource}. */
export interface ReadInitdataSourceOptions {
  /** Largest accepted document in bytes (after decompression); default 16 MiB, as the readers. */
  readonly maxSize?: number
  /** Where the path `-` reads from (kinds `file` and `annotation`); default the process's. */
  readonly stdin?: NodeJS.ReadableStream
}

/** The image header: the magic (8 bytes) and the payload length (u64 LE). */
export const INITDATA_HEADER_SIZE = 16
const HEADER_SIZE = INITDATA_HEADER_SIZE
const MAGIC = new TextEncoder().encode(INITDATA_IMAGE_MAGIC)
const SECTOR_SIZE = 512
/** base64 is 4/3 of its input, and gzip of incompressible data adds a little: room for both. */
const annotationLimit = (maxSize: number): number => Math.ceil((maxSize * 4) / 3) + 64 * 1024

/**
 * Read the document from `path`, which holds it in the form `kind` names.
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ` (missing, unreadable, a directory);
 *   {@link MalformedInputError} `ERR_FILE_TOO_LARGE`, `ERR_INITDATA_IMAGE_MAGIC`,
 *   `ERR_INITDATA_IMAGE_LENGTH`, `ERR_INITDATA_IMAGE_PADDING`, `ERR_INITDATA_TOO_LARGE`, the
 *   base64, gzip and UTF-8 errors of the decoders.
 */
export async function readInitdataSource(
  kind: InitdataSourceKind,
  path: string,
  options: ReadInitdataSourceOptions = {},
): Promise<InitdataInput> {
  const maxSize = options.maxSize ?? DEFAULT_MAX_DOCUMENT_SIZE
  const source = { kind, path }
  const stdin = options.stdin === undefined ? {} : { stdin: options.stdin }
  if (kind !== 'image') await refuseBlockDevice(kind, path)
  switch (kind) {
    case 'file': {
      const bytes = await readInput(path, { what: 'initdata document', maxSize, ...stdin })
      return { bytes, source }
    }
    case 'annotation': {
      const raw = await readInput(path, {
        what: 'initdata annotation value',
        maxSize: annotationLimit(maxSize),
        ...stdin,
      })
      const text = utf8ToString(raw, { field: 'annotation value' })
      return { bytes: decodeAnnotation(text, { maxSize }), source }
    }
    case 'image': {
      const image = await readImageBytes(path, maxSize)
      return { bytes: readInitdataImage(image, { maxSize }), source }
    }
  }
}

/** A block device holds the image form: reading it whole as a document would read the disk. */
async function refuseBlockDevice(kind: InitdataSourceKind, path: string): Promise<void> {
  if (path === '-') return
  const info = await stat(path).catch(() => undefined) // a missing path is reported by the read
  if (info?.isBlockDevice() !== true) return
  throw new UsageError(
    'ERR_AGENT_INITDATA_SOURCE_KIND',
    `${JSON.stringify(path)} is a block device, which holds the initdata image, not the ${kind === 'file' ? 'document' : 'annotation value'}`,
    { details: { path, from: kind }, hint: 'add --from image' },
  )
}

/**
 * The image's bytes as far as its header says it reaches (header, payload, padding to 512), read
 * through one open handle. A block device may be larger than the image; what lies beyond the
 * padded image is not part of it (Kata's agent reads only the declared length too).
 */
async function readImageBytes(path: string, maxSize: number): Promise<Uint8Array> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    throw readError(error, path)
  }
  try {
    const header = await readUpTo(handle, 0, HEADER_SIZE, path)
    if (!isInitdataHeader(header)) {
      throw new MalformedInputError(
        'ERR_INITDATA_IMAGE_MAGIC',
        `${JSON.stringify(path)} is not an initdata image: it does not start with the magic "${INITDATA_IMAGE_MAGIC}"`,
        {
          details: { path, length: header.length },
          hint: 'give the initdata block device Kata attached (the one starting with "initdata"), or use --from file or --from annotation for the other forms',
        },
      )
    }
    const declared = new DataView(header.buffer, header.byteOffset, HEADER_SIZE).getBigUint64(
      8,
      true,
    )
    // A gzip payload this long could never decompress within the limit and be a sane image.
    const payloadLimit = BigInt(annotationLimit(maxSize))
    if (declared === 0n || declared > payloadLimit) {
      throw new MalformedInputError(
        'ERR_INITDATA_IMAGE_LENGTH',
        declared === 0n
          ? `the initdata image ${JSON.stringify(path)} says its payload is empty`
          : `the initdata image ${JSON.stringify(path)} says its payload has ${declared} bytes, more than the ${payloadLimit} accepted`,
        {
          details: { path, field: 'length', offset: 8 },
          hint: 'the image header is corrupt; build the image again',
        },
      )
    }
    const total = Math.ceil((HEADER_SIZE + Number(declared)) / SECTOR_SIZE) * SECTOR_SIZE
    const rest = await readUpTo(handle, HEADER_SIZE, total - HEADER_SIZE, path)
    const image = new Uint8Array(HEADER_SIZE + rest.length)
    image.set(header)
    image.set(rest, HEADER_SIZE)
    return image
  } finally {
    await handle.close()
  }
}

/** True when `header` is a whole image header starting with the magic `initdata`. */
export function isInitdataHeader(header: Uint8Array): boolean {
  return header.length >= HEADER_SIZE && MAGIC.every((b, i) => header[i] === b)
}

/**
 * Up to `length` bytes from `position` (fewer at the end of the file or device).
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ`.
 */
export async function readUpTo(
  handle: Awaited<ReturnType<typeof open>>,
  position: number,
  length: number,
  path: string,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length)
  let filled = 0
  try {
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
  } catch (error) {
    throw readError(error, path)
  }
  return buffer.subarray(0, filled)
}

function readError(error: unknown, path: string): LocalIoError {
  const code = (error as { code?: unknown } | null)?.code
  const reason = error instanceof Error ? error.message : String(error)
  return new LocalIoError(
    'ERR_FILE_READ',
    `cannot read initdata image ${JSON.stringify(path)}: ${reason}`,
    {
      cause: error,
      details: { path, reason },
      ...(code === 'ENOENT'
        ? { hint: 'check the path of the initdata block device' }
        : code === 'EISDIR'
          ? { hint: 'give the block device or image file itself, not a directory' }
          : {}),
    },
  )
}
