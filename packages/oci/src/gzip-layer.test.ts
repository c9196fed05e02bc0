import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { GUNZIP_OUTPUT_SIZE, gunzipChunks, gunzipStreamChunks } from './gzip-layer.ts'

/** Every chunk {@link gunzipChunks} gives for `blob` fed in `slice`-byte pieces, each copied. */
async function decode(
  blob: Uint8Array,
  slice: number,
  gunzip: typeof gunzipChunks = gunzipChunks,
): Promise<{ bytes: Buffer; buffers: Set<ArrayBufferLike> }> {
  function* pieces(): Generator<Uint8Array, void, undefined> {
    // One buffer for every piece, as the unpacker reads the blob file.
    const buffer = new Uint8Array(slice)
    for (let offset = 0; offset < blob.length; offset += slice) {
      const piece = blob.subarray(offset, offset + slice)
      buffer.set(piece)
      yield buffer.subarray(0, piece.length)
    }
  }
  const chunks: Buffer[] = []
  const buffers = new Set<ArrayBufferLike>()
  for await (const chunk of gunzip(pieces())) {
    expect(chunk.length).toBeGreaterThan(0)
    if (gunzip === gunzipChunks) expect(chunk.length).toBeLessThanOrEqual(GUNZIP_OUTPUT_SIZE)
    buffers.add(chunk.buffer)
    chunks.push(Buffer.from(chunk))
  }
  return { bytes: Buffer.concat(chunks), buffers }
}

const data = new Uint8Array(1_000_000).map((_, i) => ((i * 7919) % 251) ^ (i >> 10))

/**
 * `blob` in `size`-byte pieces from an asynchronous source that answers `delay` ms late (or on
 * the next turn, for -1) and keeps one buffer, refilled as soon as the next piece is asked for,
 * as a file read into one buffer does; then what the gunzip gives, read `slow` ms apart, or its
 * error code.
 */
async function decodeTimed(
  gunzip: typeof gunzipChunks,
  blob: Uint8Array,
  { size, delay, slow }: { size: number; delay: number; slow: number },
): Promise<string> {
  const buffer = new Uint8Array(size)
  let at = 0
  const source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array, undefined>> => {
        const piece = blob.subarray(at, at + size)
        at += piece.length
        buffer.set(piece)
        if (delay < 0) await new Promise((resolve) => setImmediate(resolve))
        else await sleep(delay)
        return piece.length === 0
          ? { done: true, value: undefined }
          : { done: false, value: buffer.subarray(0, piece.length) }
      },
    }),
  }
  const out: Buffer[] = []
  try {
    for await (const chunk of gunzip(source)) {
      out.push(Buffer.from(chunk))
      if (slow > 0) await sleep(slow)
    }
  } catch (error) {
    return String((error as { code?: unknown }).code)
  }
  return Buffer.concat(out).toString()
}

describe('gunzipChunks', () => {
  it('gives back what gzip compressed, in two reused output buffers', async () => {
    const { bytes, buffers } = await decode(gzipSync(data), 256 * 1024)
    expect(bytes.equals(data)).toBe(true)
    // 1 MB out in views of two buffers, not a new allocation per chunk (the
    // `createGunzip` stream's way, which kept tens of MB of garbage resident).
    expect(buffers.size).toBe(2)
  })

  it('gives the same bytes as gunzipSync however the input is sliced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 20_000 }),
        fc.integer({ min: 1, max: 5000 }),
        async (input, slice) => {
          const blob = gzipSync(input)
          expect((await decode(blob, slice)).bytes.equals(gunzipSync(blob))).toBe(true)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('reads concatenated members and ignores zeros after them, as gunzip does', async () => {
    const joined = Buffer.concat([gzipSync('one '), gzipSync('two'), Buffer.alloc(600)])
    expect((await decode(joined, 7)).bytes.toString()).toBe('one two')
  })

  it('refuses what is not gzip, a damaged trailer, trailing garbage and a cut stream', async () => {
    const blob = gzipSync(data)
    const badCrc = Buffer.from(blob)
    badCrc[badCrc.length - 5] = (badCrc[badCrc.length - 5] ?? 0) ^ 1
    for (const [damaged, slice] of [
      [new Uint8Array([1, 2, 3, 4]), 2],
      [new Uint8Array(0), 1],
      [badCrc, 4096],
      [Buffer.concat([gzipSync('x'), Buffer.from('garbage')]), 3],
      [blob.subarray(0, blob.length - 9), 4096],
      [blob.subarray(0, blob.length >> 1), 100_000],
    ] as const) {
      expect(await rejectedCode(decode(damaged, slice))).toBe('ERR_LAYER_GZIP')
    }
  })

  it('refuses anything but zeros after the padding that follows the last member, however sliced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 700 }),
        fc.oneof(
          fc.constant(gzipSync('hidden')),
          fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((t) => t.some((b) => b !== 0)),
        ),
        fc.integer({ min: 1, max: 800 }),
        async (zeros, tail, slice) => {
          const blob = Buffer.concat([gzipSync('one '), Buffer.alloc(zeros), tail])
          for (const gunzip of [gunzipChunks, gunzipStreamChunks])
            expect(await rejectedCode(decode(blob, slice, gunzip))).toBe('ERR_LAYER_GZIP')
          const padded = Buffer.concat([gzipSync('one '), Buffer.alloc(zeros + tail.length)])
          for (const gunzip of [gunzipChunks, gunzipStreamChunks])
            expect((await decode(padded, slice, gunzip)).bytes.toString()).toBe('one ')
        },
      ),
      { numRuns: 60 },
    )
  })

  // Both paths, since the fallback's stream reads ahead of its engine: when the output ends, a
  // read may still be under way, and chunks already written still go through the engine.
  it('refuses what follows the padding whatever the timing of the source and of the reader', async () => {
    const padded = (zeros: number): Buffer => Buffer.concat([gzipSync('one'), Buffer.alloc(zeros)])
    const wrong: string[] = []
    for (const gunzip of [gunzipChunks, gunzipStreamChunks]) {
      for (const delay of [-1, 0, 2])
        for (const slow of [0, 3])
          for (const size of [1, 5, 64, 'split'] as const)
            for (const zeros of [1, 2, 6]) {
              // 'split': the first piece ends with the padding, the next starts what follows.
              const timing = { size: size === 'split' ? padded(zeros).length : size, delay, slow }
              const blobs = {
                'hidden member': Buffer.concat([padded(zeros), padded(zeros)]),
                'garbage byte': Buffer.concat([padded(zeros), Buffer.from('G'), Buffer.alloc(9)]),
                'zeros only': Buffer.concat([padded(zeros), Buffer.alloc(zeros * 5)]),
              }
              for (const [what, blob] of Object.entries(blobs)) {
                const got = await decodeTimed(gunzip, blob, timing)
                if (got !== (what === 'zeros only' ? 'one' : 'ERR_LAYER_GZIP'))
                  wrong.push(`${gunzip.name} ${JSON.stringify(timing)} ${zeros} ${what}: ${got}`)
              }
            }
    }
    expect(wrong).toEqual([])
  }, 60_000)

  it('stops cleanly when the reader stops early, the engine busy on the next buffer', async () => {
    for await (const chunk of gunzipChunks([gzipSync(data)])) {
      expect(chunk.length).toBe(GUNZIP_OUTPUT_SIZE)
      break
    }
    // Nothing left running: an abandoned step would fail the test run as an unhandled error.
    await new Promise((resolve) => setTimeout(resolve, 50))
  })
})

// The public-stream fallback, used where Node's zlib engine cannot be driven directly, decides
// every input exactly as the engine path does.
describe('gunzipStreamChunks (the fallback)', () => {
  it('gives the same bytes as gunzipSync however the input is sliced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 20_000 }),
        fc.integer({ min: 1, max: 5000 }),
        async (input, slice) => {
          const blob = gzipSync(input)
          const { bytes } = await decode(blob, slice, gunzipStreamChunks)
          expect(bytes.equals(gunzipSync(blob))).toBe(true)
        },
      ),
      { numRuns: 30 },
    )
  })

  it('reads concatenated members, ignores zeros after them, and refuses what gunzip refuses', async () => {
    const joined = Buffer.concat([gzipSync('one '), gzipSync('two'), Buffer.alloc(600)])
    expect((await decode(joined, 7, gunzipStreamChunks)).bytes.toString()).toBe('one two')
    const blob = gzipSync(data)
    for (const [damaged, slice] of [
      [new Uint8Array([1, 2, 3, 4]), 2],
      [new Uint8Array(0), 1],
      [Buffer.concat([gzipSync('x'), Buffer.from('garbage')]), 3],
      [blob.subarray(0, blob.length - 9), 4096],
    ] as const) {
      expect(await rejectedCode(decode(damaged, slice, gunzipStreamChunks))).toBe('ERR_LAYER_GZIP')
    }
  })

  it("passes the source's own error through unchanged", async () => {
    async function* failing(): AsyncGenerator<Uint8Array, void, undefined> {
      yield gzipSync(data).subarray(0, 100)
      await Promise.reject(new Error('disk gone'))
    }
    await expect(async () => {
      for await (const chunk of gunzipStreamChunks(failing()))
        expect(chunk.length).toBeGreaterThan(0)
    }).rejects.toThrow('disk gone')
  })
})
