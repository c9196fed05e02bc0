/**
 * gzip layers (`…tar+gzip`), decompressed by `node:zlib`'s inflate engine into one output buffer
 * that is reused for the whole layer.
 *
 * Why not the `createGunzip()` stream: it hands out every decompressed chunk in a freshly
 * allocated buffer, so unpacking a 1 GiB layer allocates 1 GiB of `ArrayBuffer`s per pass. V8
 * frees young array buffers only when their bytes reach twice its default largest semi-space
 * (32 MiB on 64-bit, whatever `--max-semi-space-size` says), so the stream's garbage alone kept
 * 32–40 MB resident during an unpack and forced a scavenge every ~100 ms, which in turn grew the
 * young generation to its largest. Node (20–24) offers no public API that inflates into a
 * caller's buffer: `zlib.inflateSync` is whole-buffer and `_processChunk` closes the engine
 * after one call. So this module drives the engine that `createGunzip()` sets up through its
 * handle's `writeSync` — the call `zlib.gunzipSync` itself makes — and checks that those
 * internals are there when it is built (a Node without them fails every unpack at once, and
 * this package's tests, rather than unpacking with unbounded garbage). Errors still come from
 * the stream (`errored`), so gzip is checked exactly as before: header, CRC-32 and length
 * trailer, truncation ("unexpected end of file"), and several concatenated members.
 *
 * @module
 */
import { constants, createGunzip, type Gunzip } from 'node:zlib'
import { MalformedInputError } from '@initguard/core'

/** Bytes of decompressed output handed out at a time, in the reused buffer. */
const OUTPUT_SIZE = 64 * 1024

/** The part of `node:zlib`'s native handle used here (`lib/zlib.js`, `processChunkSync`). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inputOffset: number,
    inputLength: number,
    output: Uint8Array,
    outputOffset: number,
    outputLength: number,
  ): void
}

/** Where a `Gunzip` keeps its handle and the handle reports what is left of input and output. */
interface GunzipInternals {
  readonly _handle?: unknown
  readonly _writeState?: unknown
}

function damaged(error: unknown): MalformedInputError {
  return new MalformedInputError(
    'ERR_LAYER_GZIP',
    `layer is not valid gzip: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, hint: 'the blob is damaged or not what its media type says' },
  )
}

/**
 * A streaming gzip decoder: {@link GzipDecoder.feed} each chunk of compressed bytes and consume
 * the decompressed chunks it yields, then {@link GzipDecoder.end}; {@link GzipDecoder.close}
 * frees the engine (also after an error). Every yielded chunk is a view into one buffer that the
 * next step of the generator overwrites: consume it (parse, hash, write) before asking for more.
 */
export class GzipDecoder {
  readonly #gunzip: Gunzip
  readonly #handle: ZlibHandle
  /** `[output bytes left, input bytes left]` after each `writeSync`. */
  readonly #state: Uint32Array
  readonly #output = Buffer.allocUnsafe(OUTPUT_SIZE)

  constructor() {
    this.#gunzip = createGunzip()
    // The stream reports an engine error as an `error` event too; it is read from `errored`.
    this.#gunzip.on('error', () => undefined)
    const { _handle: handle, _writeState: state } = this.#gunzip as unknown as GunzipInternals
    if (
      typeof handle !== 'object' ||
      handle === null ||
      typeof (handle as Partial<ZlibHandle>).writeSync !== 'function' ||
      !(state instanceof Uint32Array) ||
      state.length !== 2
    ) {
      this.#gunzip.close()
      throw new Error(
        `node:zlib of Node ${process.version} has no Gunzip _handle.writeSync/_writeState: update gzip-layer.ts`,
      )
    }
    this.#handle = handle as ZlibHandle
    this.#state = state
  }

  /**
   * Decompress the next compressed bytes; yields decompressed chunks of at most 64 KiB.
   *
   * @throws {@link MalformedInputError} `ERR_LAYER_GZIP` (not gzip, damaged).
   */
  *feed(chunk: Uint8Array): Generator<Uint8Array, void, undefined> {
    if (chunk.length > 0) yield* this.#inflate(chunk, constants.Z_NO_FLUSH)
  }

  /**
   * No more compressed bytes: the rest of the output, then the engine is closed.
   *
   * @throws {@link MalformedInputError} `ERR_LAYER_GZIP` if the stream stops inside a member.
   */
  *end(): Generator<Uint8Array, void, undefined> {
    yield* this.#inflate(new Uint8Array(0), constants.Z_FINISH)
    this.close()
  }

  /** Free the engine; the decoder cannot be used afterwards. */
  close(): void {
    this.#gunzip.close()
  }

  *#inflate(input: Uint8Array, flush: number): Generator<Uint8Array, void, undefined> {
    const output = this.#output
    let offset = 0
    for (;;) {
      if (this.#gunzip.destroyed && this.#gunzip.errored === null)
        throw damaged(new Error('the decoder is closed'))
      const available = input.length - offset
      this.#handle.writeSync(flush, input, offset, available, output, 0, output.length)
      if (this.#gunzip.errored !== null) throw damaged(this.#gunzip.errored)
      const outputLeft = this.#state[0] ?? 0
      offset += available - (this.#state[1] ?? 0)
      if (outputLeft < output.length) yield output.subarray(0, output.length - outputLeft)
      // Output space left over means the engine took all it wanted of this input.
      if (outputLeft !== 0) return
    }
  }
}
