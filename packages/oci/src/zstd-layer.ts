/**
 * zstd layers (`…tar+zstd`), decompressed as a stream with `fzstd`'s `Decompress` (pure JS;
 * Node 20's zlib has no zstd).
 *
 * `fzstd` keeps a window buffer as large as a frame declares (up to 2 GiB) and, handed a chunk,
 * decompresses every block in it at once. So this module reads the frame and block headers itself
 * first: a frame whose window is larger than {@link MAX_ZSTD_WINDOW} is refused before `fzstd`
 * allocates it, and each push to `fzstd` ends at a block boundary, so one push yields at most one
 * block (at most 128 KiB) and a decompression bomb costs time, never memory.
 *
 * @module
 */
import { Decompress } from 'fzstd'
import { MalformedInputError } from '@initguard/core'

/**
 * Largest zstd window accepted: 32 MiB, what `zstd` levels 1–20 use at most (level 19 uses
 * 8 MiB). `zstd --long` and `--ultra -21/-22` write larger windows and are refused.
 */
export const MAX_ZSTD_WINDOW: number = 32 * 1024 * 1024

const FRAME_MAGIC = 0xfd2fb528
const BLOCK_MAXIMUM_SIZE = 128 * 1024

function damaged(message: string, cause?: unknown): MalformedInputError {
  return new MalformedInputError('ERR_LAYER_ZSTD', `layer is not valid zstd: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: 'the blob is damaged or not what its media type says',
  })
}

const le = (bytes: Uint8Array, start: number, length: number): number => {
  let value = 0
  for (let i = length - 1; i >= 0; i--) value = value * 256 + (bytes[start + i] ?? 0)
  return value
}

/**
 * What comes next in the stream: a header of `need` bytes to inspect (`magic`: a frame's first
 * bytes; `frame`: its whole header; `block`: a block header; `skippable`: a skippable frame's
 * size), or `skip` bytes that `fzstd` reads alone (`end` says a block ends with them).
 */
type Phase =
  | { readonly kind: 'magic' | 'frame' | 'block' | 'skippable'; readonly need: number }
  | { readonly kind: 'skip'; remaining: number; readonly end: 'block' | 'last-block' | 'none' }

/**
 * A streaming zstd decoder: {@link ZstdDecoder.feed} each chunk of compressed bytes and consume
 * the decompressed blocks it yields, then call {@link ZstdDecoder.end}.
 */
export class ZstdDecoder {
  #phase: Phase = { kind: 'magic', need: 5 }
  readonly #header = new Uint8Array(18)
  #held = 0
  #frames = 0
  #checksum = false
  #output: Uint8Array[] = []
  readonly #fzstd: Decompress

  constructor() {
    this.#fzstd = new Decompress((data) => {
      if (data.length > 0) this.#output.push(data)
    })
  }

  /**
   * Decompress the next compressed bytes; yields decompressed blocks, each at most 128 KiB.
   *
   * @throws {@link MalformedInputError} `ERR_LAYER_ZSTD` (not zstd, damaged, window too large).
   */
  *feed(chunk: Uint8Array): Generator<Uint8Array, void, undefined> {
    let start = 0
    let position = 0
    // An empty block or skippable frame is over as soon as its header is: go round once more.
    const pending = (): boolean =>
      position < chunk.length || (this.#phase.kind === 'skip' && this.#phase.remaining === 0)
    while (pending()) {
      const phase = this.#phase
      if (phase.kind === 'skip') {
        const take = Math.min(phase.remaining, chunk.length - position)
        position += take
        phase.remaining -= take
        if (phase.remaining > 0) break
        if (phase.end === 'last-block' && this.#checksum)
          this.#phase = { kind: 'skip', remaining: 4, end: 'none' }
        else this.#phase = phase.end === 'block' ? { kind: 'block', need: 3 } : this.#nextFrame()
        if (phase.end !== 'none') {
          // A block ends here: hand it to fzstd alone, so it yields that one block.
          yield* this.#decompress(chunk.subarray(start, position), false)
          start = position
        }
        continue
      }
      const take = Math.min(phase.need - this.#held, chunk.length - position)
      this.#header.set(chunk.subarray(position, position + take), this.#held)
      this.#held += take
      position += take
      if (this.#held < phase.need) break
      this.#phase = this.#inspect(phase.kind)
      if (this.#phase.kind === 'skip') this.#held = 0
    }
    yield* this.#decompress(chunk.subarray(start, position), false)
  }

  /**
   * No more compressed bytes.
   *
   * @throws {@link MalformedInputError} `ERR_LAYER_ZSTD` if the stream stops inside a frame or has
   *   no frame at all.
   */
  *end(): Generator<Uint8Array, void, undefined> {
    const phase = this.#phase
    if (this.#frames === 0) throw damaged('no zstd frame')
    if (phase.kind !== 'magic' || this.#held > 0) throw damaged('the stream is truncated')
    yield* this.#decompress(new Uint8Array(0), true)
  }

  #nextFrame(): Phase {
    this.#held = 0
    return { kind: 'magic', need: 5 }
  }

  *#decompress(bytes: Uint8Array, final: boolean): Generator<Uint8Array, void, undefined> {
    if (bytes.length === 0 && !final) return
    try {
      this.#fzstd.push(bytes, final)
    } catch (error) {
      throw damaged(error instanceof Error ? error.message : String(error), error)
    }
    const output = this.#output
    this.#output = []
    yield* output
  }

  /** The header bytes in `#header` are complete: what follows them. */
  #inspect(kind: Exclude<Phase['kind'], 'skip'>): Phase {
    const header = this.#header
    if (kind === 'magic') {
      const magic = le(header, 0, 4)
      if (magic >>> 4 === 0x184d2a5) return { kind: 'skippable', need: 8 }
      if (magic !== FRAME_MAGIC) throw damaged('bad frame magic number')
      const descriptor = header[4] ?? 0
      const singleSegment = (descriptor >> 5) & 1
      const sizeFlag = descriptor >> 6
      const sizeBytes = sizeFlag === 0 ? singleSegment : 1 << sizeFlag
      const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] ?? 0
      return { kind: 'frame', need: 5 + (1 - singleSegment) + dictionaryBytes + sizeBytes }
    }
    if (kind === 'frame') {
      const descriptor = header[4] ?? 0
      if ((descriptor & 8) !== 0) throw damaged('reserved frame header bit set')
      const singleSegment = (descriptor >> 5) & 1
      this.#checksum = (descriptor & 4) !== 0
      let window: number
      if (singleSegment === 1) {
        const sizeFlag = descriptor >> 6
        const sizeBytes = sizeFlag === 0 ? 1 : 1 << sizeFlag
        const start = 5 + ([0, 1, 2, 4][descriptor & 3] ?? 0)
        window = le(header, start, sizeBytes) + (sizeFlag === 1 ? 256 : 0)
      } else {
        const windowDescriptor = header[5] ?? 0
        const base = 2 ** (10 + (windowDescriptor >> 3))
        window = base + (base / 8) * (windowDescriptor & 7)
      }
      if (window > MAX_ZSTD_WINDOW) {
        throw new MalformedInputError(
          'ERR_LAYER_ZSTD',
          `layer is zstd with a ${window}-byte window, more than the ${MAX_ZSTD_WINDOW} accepted`,
          {
            details: { window, maxWindow: MAX_ZSTD_WINDOW },
            hint: 'recompress the layer without --long or --ultra',
          },
        )
      }
      this.#frames++
      this.#held = 0
      return { kind: 'block', need: 3 }
    }
    if (kind === 'skippable') return { kind: 'skip', remaining: le(header, 4, 4), end: 'none' }
    const block = le(header, 0, 3)
    const type = (block >> 1) & 3
    const size = block >>> 3
    if (type === 3) throw damaged('reserved block type')
    if (size > BLOCK_MAXIMUM_SIZE) throw damaged(`block of ${size} bytes, more than 128 KiB`)
    return {
      kind: 'skip',
      remaining: type === 1 ? 1 : size,
      end: (block & 1) === 1 ? 'last-block' : 'block',
    }
  }
}
