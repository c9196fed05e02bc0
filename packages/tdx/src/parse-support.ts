/**
 * Shared machinery of the DCAP quote parsers: the input check, and a bounded cursor that reads a
 * window of the quote and says, when it runs out, whether the quote was cut off or a size field
 * inside it lied.
 *
 * @internal nothing here is exported from the package.
 * @module
 */
import { MalformedInputError, requireUint8Array } from '@initguard/core'
import type { ByteReader, ErrorDetails } from '@initguard/core'

/** What the quote parsers call their input in messages. */
export const QUOTE_NAME = 'DCAP quote'

const TRUNCATED_HINT =
  'the quote is shorter than its own header and size fields say: check that it was not cut off in transfer or decoded from the wrong encoding'
const SIZE_HINT =
  "a size field inside the quote's signature data disagrees with the bytes it describes: the quote is corrupt or was not produced by a conforming quoting enclave"

function hexOffset(offset: number): string {
  return `0x${offset.toString(16)}`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Check that untrusted input really is a `Uint8Array` (style guide §8: check at the entry point
 * even when the parameter is typed).
 *
 * @throws {@link UsageError} `ERR_TDX_INPUT_TYPE`.
 */
export function requireBytes(input: unknown, what: string): Uint8Array {
  return requireUint8Array(input, 'ERR_TDX_INPUT_TYPE', what)
}

/** A coded {@link MalformedInputError} about the quote, with the standard hint for its code. */
export function quoteError(
  code: `ERR_TDX_${string}`,
  message: string,
  details: ErrorDetails,
  options: { readonly hint?: string; readonly cause?: unknown } = {},
): MalformedInputError {
  const prefix = code === 'ERR_TDX_QUOTE_TRUNCATED' ? `${QUOTE_NAME} is truncated` : QUOTE_NAME
  return new MalformedInputError(code, `${prefix}: ${message}`, {
    details,
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    hint:
      options.hint ??
      (code === 'ERR_TDX_QUOTE_TRUNCATED'
        ? TRUNCATED_HINT
        : code === 'ERR_TDX_QUOTE_SIZE_INVALID'
          ? SIZE_HINT
          : 'check that the bytes are an Intel SGX or TDX DCAP quote (version 3, 4 or 5)'),
  })
}

/** A region whose size a field of the quote declared. */
interface DeclaredRegion {
  /** What the region holds, e.g. `QE report certification data`. */
  readonly name: string
  /** The field that declared its size, e.g. `certification data size`. */
  readonly sizeField: string
  /** The declared size in bytes. */
  readonly size: number
}

/**
 * A cursor over the window `[start, end)` of the quote.
 *
 * The outermost cursor covers the whole input: running out there means the quote was cut off
 * (`ERR_TDX_QUOTE_TRUNCATED`). A cursor opened with {@link QuoteCursor.region} covers exactly the
 * bytes a size field declared: running out there, or leaving bytes unread, means the size field
 * is wrong (`ERR_TDX_QUOTE_SIZE_INVALID`). Reads never go past the window, so nothing is ever read
 * past a declared size, and nothing after the signature data is read at all.
 *
 * Byte strings returned are views into the reader's private copy of the input.
 */
export class QuoteCursor {
  readonly #reader: ByteReader
  readonly #end: number
  readonly #region: DeclaredRegion | undefined
  #offset: number

  constructor(reader: ByteReader, start: number, end: number, region?: DeclaredRegion) {
    this.#reader = reader
    this.#offset = start
    this.#end = end
    this.#region = region
  }

  /** Absolute offset of the next read. */
  get offset(): number {
    return this.#offset
  }

  /** Bytes left in the window. */
  get remaining(): number {
    return this.#end - this.#offset
  }

  /** Read a u16, little-endian. */
  u16(field: string): number {
    return this.#reader.u16leAt(this.#take(2, field), field)
  }

  /** Read a u32, little-endian. */
  u32(field: string): number {
    return this.#reader.u32leAt(this.#take(4, field), field)
  }

  /** Read `length` bytes; a view into the private copy. */
  bytes(length: number, field: string): Uint8Array {
    return this.#reader.bytesAt(this.#take(length, field), length, field)
  }

  /** Absolute offset of `length` bytes at the cursor, which are then consumed. */
  skip(length: number, field: string): number {
    return this.#take(length, field)
  }

  /**
   * Open a cursor over the next `size` bytes, whose size `sizeField` declared, and consume them
   * here. `size` more than what is left is the parent's failure: truncation of the quote, or an
   * inconsistent size inside an enclosing region.
   */
  region(size: number, name: string, sizeField: string): QuoteCursor {
    const start = this.offset
    if (size > this.remaining) throw this.#overrun(name, start, size, sizeField)
    this.#offset = start + size
    return new QuoteCursor(this.#reader, start, start + size, { name, sizeField, size })
  }

  /** A declared region must be consumed exactly: bytes left over mean the size field is wrong. */
  finish(): void {
    const region = this.#region
    if (region === undefined || this.remaining === 0) return
    const used = region.size - this.remaining
    throw quoteError(
      'ERR_TDX_QUOTE_SIZE_INVALID',
      `${region.name} ending at offset ${this.#end} (${hexOffset(this.#end)}) declares ${plural(region.size, 'byte')} (${region.sizeField}) but its contents take ${used}; ${plural(this.remaining, 'byte')} unaccounted for`,
      {
        field: region.name,
        sizeField: region.sizeField,
        offset: this.#offset,
        declared: region.size,
        used,
      },
    )
  }

  #take(length: number, field: string): number {
    const at = this.#offset
    if (length > this.remaining) throw this.#overrun(field, at, length)
    this.#offset = at + length
    return at
  }

  #overrun(field: string, at: number, needed: number, sizeField?: string): MalformedInputError {
    const available = this.remaining
    const what =
      sizeField === undefined
        ? `needs ${plural(needed, 'byte')}`
        : `is declared as ${plural(needed, 'byte')} (${sizeField})`
    const region = this.#region
    if (region === undefined) {
      return quoteError(
        'ERR_TDX_QUOTE_TRUNCATED',
        `${field} at offset ${at} (${hexOffset(at)}) ${what} but only ${plural(available, 'byte')} remain`,
        { field, offset: at, needed, available },
      )
    }
    return quoteError(
      'ERR_TDX_QUOTE_SIZE_INVALID',
      `${field} at offset ${at} (${hexOffset(at)}) ${what} but only ${plural(available, 'byte')} remain of the ${region.name} (${region.sizeField} = ${region.size})`,
      {
        field,
        offset: at,
        needed,
        available,
        enclosing: region.name,
        enclosingSize: region.size,
      },
    )
  }
}

/** A reserved area of a structure: its name (as `reservedNonZero` gives it), offset and length. */
export type ReservedArea = readonly [name: string, offset: number, length: number]

/**
 * The names of the `areas` of the structure at `base` that hold a byte other than zero, in the
 * order given (the caller has checked the structure's bytes are there). Reserved bytes never fail
 * parsing: they are reported, so that a newer layout is noticed.
 */
export function nonZeroReservedAreas(
  reader: ByteReader,
  base: number,
  areas: readonly ReservedArea[],
): string[] {
  return areas
    .filter(([name, offset, length]) =>
      reader.bytesAt(base + offset, length, name).some((b) => b !== 0),
    )
    .map(([name]) => name)
}

/**
 * The fields of one fixed-layout structure (a TD report body, an SGX report) as views into one
 * private copy of it: one allocation for the structure instead of one per field, and still a
 * caller who changes a field changes neither another field, nor `raw`, nor what was verified.
 * A field outside the structure is read from the reader as before (copied, or refused there).
 *
 * @internal shared by the report readers.
 */
export class FieldCopy {
  readonly #reader: ByteReader
  readonly #base: number
  readonly #bytes: Uint8Array

  /** Copy the `length` bytes at `base` (the caller has checked they are there). */
  constructor(reader: ByteReader, base: number, length: number, name: string) {
    this.#reader = reader
    this.#base = base
    this.#bytes = reader.bytesAt(base, length, name).slice()
  }

  /** The `length` bytes at absolute offset `offset`, as `ByteReader.copyAt` reads them. */
  copyAt(offset: number, length: number, field: string): Uint8Array {
    const start = offset - this.#base
    if (
      Number.isSafeInteger(start) &&
      Number.isSafeInteger(length) &&
      start >= 0 &&
      length >= 0 &&
      start + length <= this.#bytes.length
    ) {
      return this.#bytes.subarray(start, start + length)
    }
    return this.#reader.copyAt(offset, length, field)
  }
}
