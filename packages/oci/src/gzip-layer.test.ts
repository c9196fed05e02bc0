import { gunzipSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { GzipDecoder } from './gzip-layer.ts'

/** Every chunk the decoder gives for `blob` fed in `slice`-byte pieces, each copied out. */
function decode(blob: Uint8Array, slice: number): { bytes: Buffer; buffers: Set<ArrayBufferLike> } {
  const decoder = new GzipDecoder()
  const chunks: Buffer[] = []
  const buffers = new Set<ArrayBufferLike>()
  const take = (out: Iterable<Uint8Array>): void => {
    for (const chunk of out) {
      expect(chunk.length).toBeGreaterThan(0)
      expect(chunk.length).toBeLessThanOrEqual(64 * 1024)
      buffers.add(chunk.buffer)
      chunks.push(Buffer.from(chunk))
    }
  }
  try {
    for (let offset = 0; offset < blob.length; offset += slice)
      take(decoder.feed(blob.subarray(offset, offset + slice)))
    take(decoder.end())
  } finally {
    decoder.close()
  }
  return { bytes: Buffer.concat(chunks), buffers }
}

const data = new Uint8Array(1_000_000).map((_, i) => ((i * 7919) % 251) ^ (i >> 10))

describe('GzipDecoder', () => {
  it('gives back what gzip compressed, in one reused output buffer', () => {
    const { bytes, buffers } = decode(gzipSync(data), 256 * 1024)
    expect(bytes.equals(data)).toBe(true)
    // 1 MB out in 64 KiB views of one buffer, not a new allocation per chunk (the
    // `createGunzip` stream's way, which kept tens of MB of garbage resident).
    expect(buffers.size).toBe(1)
  })

  it('gives the same bytes as gunzipSync however the input is sliced', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 20_000 }),
        fc.integer({ min: 1, max: 5000 }),
        (input, slice) => {
          const blob = gzipSync(input)
          expect(decode(blob, slice).bytes.equals(gunzipSync(blob))).toBe(true)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('reads concatenated members, as gunzip does', () => {
    const joined = Buffer.concat([gzipSync('one '), gzipSync('two')])
    expect(decode(joined, 7).bytes.toString()).toBe('one two')
  })

  it('refuses what is not gzip, a damaged trailer and a cut stream with ERR_LAYER_GZIP', () => {
    const blob = gzipSync(data)
    const badCrc = Buffer.from(blob)
    badCrc[badCrc.length - 5] = (badCrc[badCrc.length - 5] ?? 0) ^ 1
    expect(codeOf(() => decode(new Uint8Array([1, 2, 3, 4]), 2))).toBe('ERR_LAYER_GZIP')
    expect(codeOf(() => decode(badCrc, 4096))).toBe('ERR_LAYER_GZIP')
    expect(codeOf(() => decode(blob.subarray(0, blob.length - 9), 4096))).toBe('ERR_LAYER_GZIP')
    expect(codeOf(() => decode(blob.subarray(0, blob.length >> 1), 4096))).toBe('ERR_LAYER_GZIP')
  })

  it('refuses to be used once closed', () => {
    const decoder = new GzipDecoder()
    decoder.close()
    expect(codeOf(() => [...decoder.feed(gzipSync('x'))])).toBe('ERR_LAYER_GZIP')
  })
})
