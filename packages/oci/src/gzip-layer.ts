/**
 * gzip layers (`…tar+gzip`), decompressed by `node:zlib`'s inflate engine on the thread pool into
 * two output buffers that are reused for the whole layer: while the caller parses, hashes and
 * writes one, the engine fills the other, so decompression runs beside the unpack as it did with
 * the `createGunzip()` stream.
 *
 * Why not that stream: it hands out every decompressed chunk in a freshly allocated buffer, so
 * unpacking a 1 GiB layer allocates 1 GiB of `ArrayBuffer`s per pass. V8 frees young array
 * buffers only once they add up to twice its default largest semi-space (32 MiB on 64-bit,
 * whatever `--max-semi-space-size` says), so the stream's garbage alone kept 32–40 MB resident
 * during an unpack, and the scavenges it forced every ~100 ms grew the young generation to its
 * largest (16 MiB). Node (20–24) has no public API that inflates into a caller's buffer:
 * `zlib.inflateSync` is whole-buffer and `_processChunk` closes the engine after one call. So this
 * module drives the native engine class that `createGunzip()` itself uses, initialised with the
 * stream's defaults, through the calls `lib/zlib.js` makes (`init`, `write`, `close`, `onerror`);
 * {@link gunzipChunks} checks that they are there, and on a Node without them falls back to the
 * public `createGunzip` stream ({@link gunzipStreamChunks}): the same checks and bounded memory,
 * only more short-lived garbage (peak RSS above the benchmark's goal). gzip is checked
 * by the same engine as before: header, CRC-32 and length trailer, truncation ("unexpected end of
 * file"), and several concatenated members. After the last member only zero bytes may follow, to
 * the end of the blob (`gzip -d` ignores them; Go's reader, so containerd, refuses them): Node's
 * engine stops at the first zero byte after a member and ignores the rest, so this module checks
 * the rest itself, and refuses anything but zeros there (`ERR_LAYER_GZIP`) rather than let a
 * member or garbage hidden after padding be ignored, or, in the engine's own loop, decompressed
 * depending on where a read chunk happens to start.
 *
 * @module
 */
import { Readable, pipeline } from 'node:stream'
import { constants, createGunzip } from 'node:zlib'
import { MalformedInputError } from '@initguard/core'

/**
 * Most bytes of decompressed output handed out at a time, the size of each of the two reused
 * buffers: large enough that the thread-pool round trip per step is noise.
 */
export const GUNZIP_OUTPUT_SIZE: number = 256 * 1024

/** `node:zlib`'s native engine, as `lib/zlib.js` (`Zlib`, `processChunk`) drives it. */
interface NativeZlib {
  init(
    windowBits: number,
    level: number,
    memLevel: number,
    strategy: number,
    writeState: Uint32Array,
    afterWrite: () => void,
    dictionary: undefined,
  ): void
  /** Inflate on the thread pool; then `afterWrite`, or `onerror` on a zlib error. */
  write(
    flush: number,
    input: Uint8Array,
    inputOffset: number,
    inputLength: number,
    output: Uint8Array,
    outputOffset: number,
    outputLength: number,
  ): void
  close(): void
  onerror?: (message: string, errno: number, code: string) => void
}

type NativeZlibClass = new (mode: number) => NativeZlib

let nativeZlib: NativeZlibClass | undefined

/**
 * The class of a `Gunzip` stream's `_handle`, if it has the methods used here; `undefined` on a
 * Node whose internals differ (then the public stream is used instead).
 */
function nativeZlibClass(): NativeZlibClass | undefined {
  if (nativeZlib !== undefined) return nativeZlib
  const probe = createGunzip()
  const handle = (probe as unknown as { readonly _handle?: unknown })._handle
  probe.close()
  const found: unknown = typeof handle === 'object' ? handle?.constructor : undefined
  const prototype =
    typeof found === 'function' ? (found.prototype as Partial<Record<string, unknown>>) : {}
  if (!['init', 'write', 'close'].every((method) => typeof prototype[method] === 'function'))
    return undefined
  nativeZlib = found as NativeZlibClass
  return nativeZlib
}

/** Refusal of bytes other than zeros after the last gzip member. */
function trailingData(): MalformedInputError {
  return damaged(new Error('data other than zero bytes after the last gzip member'))
}

/** The rest of a gzip blob after its last member: zero bytes only. */
async function refuseAfterEnd(
  rest: Uint8Array,
  source: AsyncIterator<Uint8Array, unknown, undefined>,
): Promise<void> {
  if (rest.some((byte) => byte !== 0)) throw trailingData()
  for (let read = await source.next(); read.done !== true; read = await source.next())
    if (read.value.some((byte) => byte !== 0)) throw trailingData()
}

function damaged(error: unknown): MalformedInputError {
  return new MalformedInputError(
    'ERR_LAYER_GZIP',
    `layer is not valid gzip: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, hint: 'the blob is damaged or not what its media type says' },
  )
}

/** What one inflate step did. */
interface Step {
  /** Input bytes the engine took. */
  readonly consumed: number
  /** Output bytes it wrote, from the start of the output buffer. */
  readonly produced: number
}

/** How the step in progress ends. */
interface Settle {
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
  /** The step's buffers, kept reachable while the thread pool uses them. */
  readonly buffers: readonly Uint8Array[]
}

/** One gzip stream's engine: one inflate step at a time, on the thread pool. */
class InflateEngine {
  readonly #handle: NativeZlib
  /** `[output bytes left, input bytes left]` after each step. */
  readonly #state = new Uint32Array(2)
  #settle: Settle | undefined

  constructor(engine: NativeZlibClass) {
    const handle = new engine(constants.GUNZIP)
    handle.onerror = (message, errno, code) => {
      const error = Object.assign(new Error(message), { errno, code })
      this.#finish()?.reject(damaged(error))
    }
    handle.init(
      constants.Z_DEFAULT_WINDOWBITS,
      constants.Z_DEFAULT_COMPRESSION,
      constants.Z_DEFAULT_MEMLEVEL,
      constants.Z_DEFAULT_STRATEGY,
      this.#state,
      () => this.#finish()?.resolve(),
      undefined,
    )
    this.#handle = handle
  }

  #finish(): Settle | undefined {
    const settle = this.#settle
    this.#settle = undefined
    return settle
  }

  /**
   * Inflate `input` from `offset` into `output`.
   *
   * @throws {@link MalformedInputError} `ERR_LAYER_GZIP` (rejects with it).
   */
  step(flush: number, input: Uint8Array, offset: number, output: Uint8Array): Promise<Step> {
    const available = input.length - offset
    const step = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject, buffers: [input, output] }
    }).then(() => ({
      consumed: available - (this.#state[1] ?? 0),
      produced: output.length - (this.#state[0] ?? 0),
    }))
    // A step may be abandoned (the caller stopped reading); its failure then concerns nobody.
    step.catch(() => undefined)
    this.#handle.write(flush, input, offset, available, output, 0, output.length)
    return step
  }

  /** Free the engine (after a step in progress, if any, ends). */
  close(): void {
    this.#handle.close()
  }
}

/**
 * Decompress a gzip stream given in chunks. Each chunk of `compressed` is only read until the
 * next is asked for, so its source may reuse one buffer. Each chunk yielded is a view into one of
 * two buffers that the engine refills once the next chunk is asked for: consume it (parse, hash,
 * write) before asking.
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_GZIP` (not gzip, damaged, truncated); what
 *   `compressed` throws.
 */
export async function* gunzipChunks(
  compressed: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const native = nativeZlibClass()
  if (native === undefined) {
    yield* gunzipStreamChunks(compressed)
    return
  }
  const engine = new InflateEngine(native)
  const outputs = [
    Buffer.allocUnsafe(GUNZIP_OUTPUT_SIZE),
    Buffer.allocUnsafe(GUNZIP_OUTPUT_SIZE),
  ] as const
  const source = (async function* () {
    yield* compressed
  })()
  /** The next input and how to flush it; after the last, an empty input that ends the stream. */
  const take = async (): Promise<{ input: Uint8Array; flush: number }> => {
    for (;;) {
      const { done, value } = await source.next()
      if (done === true) return { input: new Uint8Array(0), flush: constants.Z_FINISH }
      if (value.length > 0) return { input: value, flush: constants.Z_NO_FLUSH }
    }
  }
  try {
    let { input, flush } = await take()
    let offset = 0
    let next: 0 | 1 = 0
    let pending = engine.step(flush, input, offset, outputs[next])
    // Each buffer is handed out while the engine fills the other.
    for (;;) {
      const output = outputs[next]
      const { consumed, produced } = await pending
      offset += consumed
      next = next === 0 ? 1 : 0
      // A full buffer means the engine may have more output for this input; otherwise it took
      // all of the input it wanted, and starts on the next input. Input left over with room
      // for output means the engine stopped at the end of a member, on a zero byte (it starts a
      // new member at anything else): the rest is checked here, and never decompressed.
      const full = produced === output.length
      const ended = !full && offset < input.length
      const last = ended || (!full && flush === constants.Z_FINISH)
      if (ended) await refuseAfterEnd(input.subarray(offset), source)
      else if (full) pending = engine.step(flush, input, offset, outputs[next])
      else if (!last) {
        ;({ input, flush } = await take())
        offset = 0
        pending = engine.step(flush, input, offset, outputs[next])
      }
      if (produced > 0) yield output.subarray(0, produced)
      if (last) return
    }
  } finally {
    await source.return(undefined)
    engine.close()
  }
}

/**
 * The same as {@link gunzipChunks} through the public `createGunzip` stream: each chunk is a new
 * buffer (more garbage, same bounds and checks). Used where Node's zlib engine cannot be driven
 * directly. Input chunks are copied, since the source may reuse its buffer while the stream still
 * holds a chunk.
 *
 * The stream pulls input ahead of the engine, so when the output ends (at the end of the last
 * member) a read may still be under way while the check of the rest starts reading too, and
 * chunks already written go on through the engine. So reads of the source are made one at a
 * time, each chunk noted and copied before the next read starts (a source may refill its buffer
 * once the next chunk is asked for), and the engine's input count is taken when the output
 * ends, not after: the stream keeps counting what it takes later, and decompresses a member
 * found there (failing with `ERR_STREAM_PUSH_AFTER_EOF`, refused here as trailing data).
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_GZIP` (not gzip, damaged, truncated); what
 *   `compressed` throws.
 */
export async function* gunzipStreamChunks(
  compressed: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const source = (async function* () {
    yield* compressed
  })()
  /** Bytes taken from `source`, and the offset of the last one that is not zero. */
  let taken = 0
  let lastNonZero = -1
  const note = (chunk: Uint8Array): void => {
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== 0) {
        lastNonZero = taken + i
        break
      }
    }
    taken += chunk.length
  }
  /** The read in progress; the next starts once it has noted and copied its chunk. */
  let reading: Promise<unknown> = Promise.resolve()
  const read = (): Promise<IteratorResult<Uint8Array, undefined>> => {
    const next = reading.then(async (): Promise<IteratorResult<Uint8Array, undefined>> => {
      const result = await source.next()
      if (result.done === true) return { done: true, value: undefined }
      note(result.value)
      return { done: false, value: Uint8Array.from(result.value) }
    })
    reading = next.catch(() => undefined)
    return next
  }
  // An iterator without `return`: the stream stops reading at the end of the last member, and
  // the rest of `source` is then still there to be checked.
  const copies: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: read }) }
  const gunzip = createGunzip()
  /** What the engine had taken when its output ended: the end of the last member. */
  let consumed: number | undefined
  const push = gunzip.push.bind(gunzip)
  gunzip.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) consumed ??= gunzip.bytesWritten
    return push(chunk, encoding)
  }
  // Errors reach the loop below through the destroyed stream; the callback has nothing to add.
  pipeline(Readable.from(copies), gunzip, () => undefined)
  try {
    try {
      for await (const chunk of gunzip) yield chunk as Uint8Array
    } catch (error) {
      // A zlib error means the bytes are not good gzip; output after the end means a member
      // after the padding; anything else is the source's own error.
      if (isZlibError(error)) throw damaged(error)
      if ((error as { code?: unknown }).code === 'ERR_STREAM_PUSH_AFTER_EOF') throw trailingData()
      throw error
    }
    // The engine took `consumed` bytes, up to the end of the last member; only zeros after.
    for (let next = await read(); next.done !== true; next = await read());
    if (lastNonZero >= (consumed ?? gunzip.bytesWritten)) throw trailingData()
  } finally {
    gunzip.destroy()
    await reading
    await source.return(undefined)
  }
}

/** Whether `error` comes from zlib (a damaged or cut gzip stream) rather than from the source. */
function isZlibError(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' && code.startsWith('Z_')
}
