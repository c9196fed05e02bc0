/**
 * gzip with limits: compression for delivery, and decompression that refuses truncated streams,
 * trailing garbage and decompression bombs.
 *
 * @module
 */
import { constants, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib'
import { MalformedInputError } from '@initguard/core'

/** The most an initdata document may decompress to by default (16 MiB). */
export const DEFAULT_MAX_DOCUMENT_SIZE: number = 16 * 1024 * 1024

/**
 * Refuse to write a document of `size` bytes that the readers would refuse: every form we produce
 * (the annotation, the block image, a rendered document) must decode again with the default limit
 * {@link DEFAULT_MAX_DOCUMENT_SIZE}.
 *
 * @param what - the form being written, for the message.
 * @throws {@link MalformedInputError} `ERR_INITDATA_TOO_LARGE`.
 */
export function assertWritableDocumentSize(size: number, what: string): void {
  if (size > DEFAULT_MAX_DOCUMENT_SIZE) {
    throw new MalformedInputError(
      'ERR_INITDATA_TOO_LARGE',
      `the initdata document has ${size} bytes; ${what} is refused above ${DEFAULT_MAX_DOCUMENT_SIZE} bytes (16 MiB), the most the readers accept`,
      {
        details: { size, maxSize: DEFAULT_MAX_DOCUMENT_SIZE },
        hint: 'initdata carries configuration files; move large data out of the document (e.g. fetch it from the KBS)',
      },
    )
  }
}

/**
 * gzip `bytes`. Node writes a zero mtime and a fixed OS byte, so the output is deterministic for a
 * given zlib; consumers hash only the decompressed bytes, so other tools' gzip output is equally
 * good.
 */
export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }))
}

/** Options for {@link gunzip}. */
export interface GunzipOptions {
  /** What is being decompressed, for error messages. */
  readonly field: string
  /** Largest accepted output in bytes; default {@link DEFAULT_MAX_DOCUMENT_SIZE}. */
  readonly maxSize?: number
}

/**
 * Decompress exactly one gzip member (RFC 1952).
 *
 * Several concatenated members are refused: the Kata readers disagree on them. The Go runtime
 * (`compress/gzip`, multistream) hashes every member, while the agent reading the block device
 * (`async-compression`) and runtime-rs reading the annotation (`flate2::read::GzDecoder`) stop after
 * the first. A document split over members would be one document to one reader and another to the
 * next. `gzip -c` and every tool that compresses one file write one member.
 *
 * @throws {@link MalformedInputError} `ERR_GZIP_INVALID` (not gzip, corrupt, truncated, trailing
 *   bytes), `ERR_GZIP_MEMBERS` (more than one member) or `ERR_GZIP_TOO_LARGE` (the output would
 *   exceed `maxSize`).
 */
export function gunzip(bytes: Uint8Array, options: GunzipOptions): Uint8Array {
  const maxSize = options.maxSize ?? DEFAULT_MAX_DOCUMENT_SIZE
  const field = options.field
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new MalformedInputError(
      'ERR_GZIP_INVALID',
      `${field} is not gzip data (no gzip magic 1f 8b)`,
      {
        details: { field, length: bytes.length },
        hint: 'the document must be gzip-compressed, e.g. `gzip -c initdata.toml | base64 -w0`',
      },
    )
  }
  try {
    const { buffer, engine } = gunzipSync(bytes, {
      maxOutputLength: maxSize,
      info: true,
    }) as unknown as {
      buffer: Buffer
      engine: { bytesWritten: number }
    }
    // zlib stops at the end of the last member it recognises; anything after that was not read.
    if (engine.bytesWritten !== bytes.length) {
      throw new MalformedInputError(
        'ERR_GZIP_INVALID',
        `${field} has ${bytes.length - engine.bytesWritten} bytes after the end of the gzip data`,
        { details: { field, trailing: bytes.length - engine.bytesWritten } },
      )
    }
    const firstEnd = firstMemberEnd(bytes, maxSize)
    if (firstEnd !== bytes.length) {
      throw new MalformedInputError(
        'ERR_GZIP_MEMBERS',
        `${field} holds several gzip members (the first ends at byte ${firstEnd} of ${bytes.length})`,
        {
          details: { field, length: bytes.length, firstMemberEnd: firstEnd },
          hint: 'compress the document in one go (`gzip -c initdata.toml`): the Kata agent reads only the first member, the Kata Go runtime all of them',
        },
      )
    }
    return new Uint8Array(buffer)
  } catch (cause) {
    if (cause instanceof MalformedInputError) throw cause
    const code = (cause as { code?: unknown }).code
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new MalformedInputError(
        'ERR_GZIP_TOO_LARGE',
        `${field} decompresses to more than ${maxSize} bytes`,
        {
          cause,
          details: { field, maxSize },
          hint: 'initdata documents are small configuration files; check the input',
        },
      )
    }
    const reason =
      code === 'Z_BUF_ERROR' ? 'the gzip data is truncated' : 'the gzip data is corrupt'
    throw new MalformedInputError('ERR_GZIP_INVALID', `${field}: ${reason}`, {
      cause,
      details: { field, length: bytes.length },
      hint: 'copy the whole value again; it may have been cut short or edited',
    })
  }
}

const FHCRC = 0x02
const FEXTRA = 0x04
const FNAME = 0x08
const FCOMMENT = 0x10

/**
 * Where the first member of `bytes` ends: its header (RFC 1952 §2.3, with the optional extra field,
 * name, comment and header CRC), the deflate stream and the 8-byte trailer. Only called on data that
 * `gunzipSync` has just read whole, so the header is well formed; the bounds are checked anyway.
 */
function firstMemberEnd(bytes: Uint8Array, maxSize: number): number {
  const flags = bytes[3] ?? 0
  let at = 10
  if ((flags & FEXTRA) !== 0) at += 2 + (bytes[at] ?? 0) + ((bytes[at + 1] ?? 0) << 8)
  if ((flags & FNAME) !== 0) at = bytes.indexOf(0, at) + 1
  if ((flags & FCOMMENT) !== 0) at = bytes.indexOf(0, at) + 1
  if ((flags & FHCRC) !== 0) at += 2
  if (at <= 0 || at > bytes.length) return -1
  const { engine } = inflateRawSync(bytes.subarray(at), {
    maxOutputLength: maxSize,
    info: true,
  }) as unknown as { engine: { bytesWritten: number } }
  return at + engine.bytesWritten + 8
}
