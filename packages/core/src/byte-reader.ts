/**
 * A bounds-checked reader for binary formats (SEV-SNP reports, TDX/SGX quotes, event logs).
 *
 * Every read names the field it reads, checks that the bytes are there before touching them, and
 * fails with a coded {@link MalformedInputError} that says which field, at which offset, how many
 * bytes it needed and how many were left. Integers wider than 32 bits come back as `bigint`, so a
 * 64-bit field never silently loses precision.
 *
 * @module
 */
import { MalformedInputError } from './errors.ts'

/** Options for {@link ByteReader}. */
export interface ByteReaderOptions {
  /** What the bytes are (`"SNP report"`, `"TDX quote"`); prefixes every error message. */
  readonly name?: string
}

/**
 * What {@link ByteReader.end} does with bytes left after the last read.
 *
 * - `'reject-trailing'`: a format that must be consumed exactly; leftover bytes are an error.
 * - `'allow-trailing'`: a format known to carry slack (e.g. TDX quotes); the count is returned.
 */
export type TrailingMode = 'reject-trailing' | 'allow-trailing'

function hexOffset(offset: number): string {
  return `0x${offset.toString(16)}`
}

/**
 * Reads integers and fixed-size byte strings from a `Uint8Array`, sequentially (with a cursor) or
 * at fixed offsets, never past the end.
 *
 * The reader copies the input once when it is constructed, so the caller changing its array
 * afterwards cannot change what was parsed (style guide §9). Byte strings it returns are views into
 * that private copy: copy them (`.slice()`) before handing them to code that may write to them.
 *
 * Sequential reads (`u8`, `u16le`, …, `bytes`, `skip`) advance {@link ByteReader.offset}.
 * Positional reads (`u8At`, `u16leAt`, …, `bytesAt`) read at an absolute offset and leave the
 * cursor alone; they suit fixed layouts documented as offset tables.
 *
 * @example
 * ```ts
 * const r = new ByteReader(bytes, { name: 'SNP report' })
 * const version = r.u32le('version')
 * const guestSvn = r.u32le('guest_svn')
 * const policy = r.u64le('policy')
 * const reportData = r.bytesAt(0x50, 64, 'report_data')
 * r.skip(0x2a0 - r.offset, 'reserved')
 * r.bytes(512, 'signature')
 * r.end('reject-trailing')
 * ```
 *
 * @throws {@link MalformedInputError} from every read:
 * - `ERR_TRUNCATED` when fewer bytes remain than the read needs; `details` has `field`, `offset`,
 *   `needed` and `available`.
 * - `ERR_LENGTH_INVALID` when a byte count is negative, fractional or not a safe integer (usually a
 *   length computed from an inconsistent header).
 * - `ERR_OFFSET_INVALID` when a positional read's offset is negative, fractional or not a safe
 *   integer.
 */
export class ByteReader {
  /** What the bytes are, as given in the options (default `"input"`). */
  readonly name: string
  /** Total number of bytes. */
  readonly length: number
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #offset = 0

  constructor(bytes: Uint8Array, options: ByteReaderOptions = {}) {
    this.name = options.name ?? 'input'
    // `new Uint8Array(…)`, not `.slice()`: a Node Buffer's slice is a view of the caller's memory.
    this.#bytes = new Uint8Array(bytes)
    this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength)
    this.length = this.#bytes.length
  }

  /** The cursor: how many bytes sequential reads have consumed. */
  get offset(): number {
    return this.#offset
  }

  /** How many bytes remain after the cursor. */
  get remaining(): number {
    return this.length - this.#offset
  }

  /** Read one byte. */
  u8(field: string): number {
    return this.#view.getUint8(this.#advance(1, field))
  }

  /** Read an unsigned 16-bit little-endian integer. */
  u16le(field: string): number {
    return this.#view.getUint16(this.#advance(2, field), true)
  }

  /** Read an unsigned 16-bit big-endian integer. */
  u16be(field: string): number {
    return this.#view.getUint16(this.#advance(2, field), false)
  }

  /** Read an unsigned 32-bit little-endian integer. */
  u32le(field: string): number {
    return this.#view.getUint32(this.#advance(4, field), true)
  }

  /** Read an unsigned 32-bit big-endian integer. */
  u32be(field: string): number {
    return this.#view.getUint32(this.#advance(4, field), false)
  }

  /** Read an unsigned 64-bit little-endian integer as a `bigint`. */
  u64le(field: string): bigint {
    return this.#view.getBigUint64(this.#advance(8, field), true)
  }

  /** Read an unsigned 64-bit big-endian integer as a `bigint`. */
  u64be(field: string): bigint {
    return this.#view.getBigUint64(this.#advance(8, field), false)
  }

  /** Read exactly `length` bytes; returns a view into the reader's copy of the input. */
  bytes(length: number, field: string): Uint8Array {
    const at = this.#advance(this.#checkLength(length, field), field)
    return this.#bytes.subarray(at, at + length)
  }

  /** Step over exactly `length` bytes (reserved or padding fields), checking they are there. */
  skip(length: number, field: string): void {
    this.#advance(this.#checkLength(length, field), field)
  }

  /** Read one byte at an absolute offset. */
  u8At(offset: number, field: string): number {
    return this.#view.getUint8(this.#at(offset, 1, field))
  }

  /** Read an unsigned 16-bit little-endian integer at an absolute offset. */
  u16leAt(offset: number, field: string): number {
    return this.#view.getUint16(this.#at(offset, 2, field), true)
  }

  /** Read an unsigned 16-bit big-endian integer at an absolute offset. */
  u16beAt(offset: number, field: string): number {
    return this.#view.getUint16(this.#at(offset, 2, field), false)
  }

  /** Read an unsigned 32-bit little-endian integer at an absolute offset. */
  u32leAt(offset: number, field: string): number {
    return this.#view.getUint32(this.#at(offset, 4, field), true)
  }

  /** Read an unsigned 32-bit big-endian integer at an absolute offset. */
  u32beAt(offset: number, field: string): number {
    return this.#view.getUint32(this.#at(offset, 4, field), false)
  }

  /** Read an unsigned 64-bit little-endian integer at an absolute offset, as a `bigint`. */
  u64leAt(offset: number, field: string): bigint {
    return this.#view.getBigUint64(this.#at(offset, 8, field), true)
  }

  /** Read an unsigned 64-bit big-endian integer at an absolute offset, as a `bigint`. */
  u64beAt(offset: number, field: string): bigint {
    return this.#view.getBigUint64(this.#at(offset, 8, field), false)
  }

  /** Read exactly `length` bytes at an absolute offset; returns a view into the reader's copy. */
  bytesAt(offset: number, length: number, field: string): Uint8Array {
    const at = this.#at(offset, this.#checkLength(length, field), field)
    return this.#bytes.subarray(at, at + length)
  }

  /** A copy of `length` bytes at `offset`, as {@link ByteReader.bytesAt} reads them. */
  copyAt(offset: number, length: number, field: string): Uint8Array {
    return this.bytesAt(offset, length, field).slice()
  }

  /**
   * Finish reading. Returns the number of bytes after the cursor.
   *
   * @throws {@link MalformedInputError} `ERR_TRAILING_BYTES` in `'reject-trailing'` mode when any
   *   byte is left; `details` has `offset`, `trailing` and `length`.
   */
  end(mode: TrailingMode): number {
    const trailing = this.remaining
    if (mode === 'reject-trailing' && trailing > 0) {
      throw new MalformedInputError(
        'ERR_TRAILING_BYTES',
        `${this.name} has ${trailing} unexpected trailing byte${trailing === 1 ? '' : 's'} after offset ${this.#offset} (${hexOffset(this.#offset)}); expected exactly ${this.#offset} bytes`,
        {
          details: { name: this.name, offset: this.#offset, trailing, length: this.length },
          hint: 'the input is longer than the format allows: check that it was not concatenated with other data or padded in transfer',
        },
      )
    }
    return trailing
  }

  /** Check and consume `needed` bytes at the cursor; returns where they start. */
  #advance(needed: number, field: string): number {
    const at = this.#offset
    this.#ensure(at, needed, field)
    this.#offset = at + needed
    return at
  }

  /** Check an absolute offset and that `needed` bytes follow it; returns the offset. */
  #at(offset: number, needed: number, field: string): number {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new MalformedInputError(
        'ERR_OFFSET_INVALID',
        `${this.name}: offset of ${field} is not a non-negative integer (${String(offset)})`,
        {
          details: { name: this.name, field, offset: String(offset) },
          hint: 'the offset was probably computed from an inconsistent header field',
        },
      )
    }
    this.#ensure(offset, needed, field)
    return offset
  }

  #checkLength(length: number, field: string): number {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new MalformedInputError(
        'ERR_LENGTH_INVALID',
        `${this.name}: length of ${field} at offset ${this.#offset} is not a non-negative integer (${String(length)})`,
        {
          details: { name: this.name, field, offset: this.#offset, length: String(length) },
          hint: 'the length was probably computed from an inconsistent header field',
        },
      )
    }
    return length
  }

  #ensure(offset: number, needed: number, field: string): void {
    const available = Math.max(0, this.length - offset)
    // `offset > length` matters for zero-length reads: an empty field cannot start past the end.
    if (needed > available || offset > this.length) {
      throw new MalformedInputError(
        'ERR_TRUNCATED',
        offset > this.length
          ? `${this.name} is truncated: ${field} at offset ${offset} (${hexOffset(offset)}) starts past the end (${this.length} bytes)`
          : `${this.name} is truncated: ${field} at offset ${offset} (${hexOffset(offset)}) needs ${needed} byte${needed === 1 ? '' : 's'} but ${available} ${available === 1 ? 'is' : 'are'} available`,
        {
          details: { name: this.name, field, offset, needed, available },
          hint: `the ${this.name} is shorter than its format requires: check that it was not cut off in transfer or decoded from the wrong encoding`,
        },
      )
    }
  }
}
