import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { isInitguardError, MalformedInputError } from '@initguard/core'
import { unpackLayer } from './oci-layer-unpack.ts'
import { tarArchive } from './tar-test-support.ts'
import { MAX_ZSTD_WINDOW, ZstdDecoder } from './zstd-layer.ts'

/**
 * Decompress a whole zstd stream through {@link ZstdDecoder}, fed in 64 KiB slices, refusing
 * output beyond `maxSize` bytes as the unpacker does.
 */
function decompressZstd(blob: Uint8Array, maxSize: number, slice = 64 * 1024): Uint8Array {
  const decoder = new ZstdDecoder()
  const chunks: Uint8Array[] = []
  let total = 0
  const take = (blocks: Iterable<Uint8Array>): void => {
    for (const block of blocks) {
      expect(block.length).toBeLessThanOrEqual(128 * 1024)
      total += block.length
      if (total > maxSize) throw new MalformedInputError('ERR_LAYER_TOO_LARGE', 'too large')
      chunks.push(block)
    }
  }
  for (let offset = 0; offset < blob.length; offset += slice)
    take(decoder.feed(blob.subarray(offset, offset + slice)))
  take(decoder.end())
  return Buffer.concat(chunks)
}

/** Compress with the real zstd CLI (the producer real images use). */
const zstd = (input: Uint8Array, ...args: string[]): Uint8Array =>
  new Uint8Array(execFileSync('zstd', ['-q', '-c', ...args], { input }))

describe('decompressZstd', () => {
  it('gives back what zstd compressed, at several levels and across many input slices', () => {
    const data = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251)
    for (const level of ['-1', '-19']) {
      expect(
        Buffer.from(decompressZstd(zstd(data, level), 1 << 20)).equals(Buffer.from(data)),
      ).toBe(true)
    }
  })

  it('reads several concatenated frames, as zstd writes them for appended streams', () => {
    const joined = Buffer.concat([
      zstd(new TextEncoder().encode('one ')),
      zstd(new TextEncoder().encode('two')),
    ])
    expect(new TextDecoder().decode(decompressZstd(joined, 100))).toBe('one two')
  })

  it('stops a bomb at the limit', () => {
    const bomb = zstd(new Uint8Array(8 * 1024 * 1024))
    expect(bomb.length).toBeLessThan(2048)
    expect(codeOf(() => decompressZstd(bomb, 1024 * 1024))).toBe('ERR_LAYER_TOO_LARGE')
  })

  it('refuses empty, truncated and damaged input with its own code', () => {
    const good = zstd(new TextEncoder().encode('hello zstd layer'.repeat(100)))
    expect(codeOf(() => decompressZstd(new Uint8Array(), 100))).toBe('ERR_LAYER_ZSTD')
    expect(codeOf(() => decompressZstd(good.subarray(0, good.length - 4), 1 << 20))).toBe(
      'ERR_LAYER_ZSTD',
    )
    expect(codeOf(() => decompressZstd(new TextEncoder().encode('not zstd at all'), 100))).toBe(
      'ERR_LAYER_ZSTD',
    )
  })

  it('only ever throws coded errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decompressZstd(bytes, 1 << 16)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })

  it('gives the same output however the input is sliced, one byte at a time included', () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 31) % 97)
    const joined = Buffer.concat([
      zstd(data, '-3'),
      zstd(new Uint8Array(0)),
      zstd(data, '--no-check'),
    ])
    const expected = Buffer.concat([data, data])
    for (const slice of [1, 3, 17, 4096]) {
      expect(Buffer.from(decompressZstd(joined, 1 << 20, slice)).equals(expected)).toBe(true)
    }
  })

  it('refuses a window larger than the limit before decompressing anything', () => {
    /** The window limit the refusal names, if the refusal is about the window. */
    const refusedWindow = (bytes: Uint8Array): unknown => {
      try {
        decompressZstd(bytes, 1 << 20)
      } catch (error) {
        return isInitguardError(error) && error.code === 'ERR_LAYER_ZSTD'
          ? error.details['maxWindow']
          : error
      }
      return 'accepted'
    }
    // Frame header: magic, descriptor (no single segment, no checksum), window 2^(10+17) = 128 MiB.
    expect(refusedWindow(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 17 << 3]))).toBe(
      MAX_ZSTD_WINDOW,
    )
    // zstd --long=27 writes a 128 MiB window for input of unknown size (a pipe).
    expect(refusedWindow(zstd(new Uint8Array(1000), '--long=27'))).toBe(MAX_ZSTD_WINDOW)
    // A single-segment frame's window is its content size: 64 MiB declared, refused.
    expect(refusedWindow(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 4]))).toBe(
      MAX_ZSTD_WINDOW,
    )
    // At the limit (32 MiB = 2^(10+15)) the frame is read on, here to its truncation.
    expect(refusedWindow(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 15 << 3]))).toBe(undefined)
  })

  it('unpacks a tar+zstd layer', async () => {
    const dest = mkdtempSync(join(tmpdir(), 'initguard-zstd-'))
    onTestFinished(() => {
      rmSync(dest, { recursive: true, force: true })
    })
    const layer = zstd(
      tarArchive({ name: 'etc/', type: '5', mode: 0o755 }, { name: 'etc/motd', data: 'zstd\n' }),
    )
    await unpackLayer(layer, 'application/vnd.oci.image.layer.v1.tar+zstd', dest)
    expect(readFileSync(join(dest, 'etc/motd'), 'utf8')).toBe('zstd\n')
  })
})
