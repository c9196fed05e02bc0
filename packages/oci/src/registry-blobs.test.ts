import { describe, expect, it } from 'vitest'
import {
  blobDeadlineMs,
  DEFAULT_BLOB_DEADLINE_BASE_MS,
  DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
} from './registry-blobs.ts'

describe('blobDeadlineMs', () => {
  it('gives a base time plus the size at the slowest rate accepted', () => {
    expect(DEFAULT_BLOB_DEADLINE_BASE_MS).toBe(60_000)
    expect(DEFAULT_BLOB_MIN_BYTES_PER_SECOND).toBe(32 * 1024)
    expect(blobDeadlineMs(0)).toBe(60_000)
    // A 1 GiB layer: a minute and about 9.1 hours.
    expect(blobDeadlineMs(1024 ** 3)).toBe(60_000 + 32_768_000)
    expect(blobDeadlineMs(5000, { baseMs: 100, minBytesPerSecond: 1000 })).toBe(5100)
  })

  it('cuts a deadline past the longest timer Node keeps to it, rather than firing at once', () => {
    // setTimeout takes a delay over 2^31 - 1 ms as 1 ms.
    expect(blobDeadlineMs(8 * 1024 ** 3, { minBytesPerSecond: 1 })).toBe(2 ** 31 - 1)
  })
})
