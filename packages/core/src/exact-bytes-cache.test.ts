import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ExactBytesCache } from './exact-bytes-cache.ts'
import { isInitguardError } from './errors.ts'

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)

describe('ExactBytesCache', () => {
  it('answers exactly the stored parts, however they are held', () => {
    const cache = new ExactBytesCache<string>(4)
    const long = new Uint8Array(5000).map((_, i) => i % 251)
    cache.set([bytes(1, 2), long], 'value')
    expect(cache.get([bytes(1, 2), long.slice()])).toBe('value')
    expect(cache.get([new Uint8Array([0, 1, 2]).subarray(1), long])).toBe('value')
  })

  it('misses on any changed byte, on the same bytes cut differently, and on a changed part count', () => {
    const cache = new ExactBytesCache<string>(4)
    const long = new Uint8Array(5000).map((_, i) => i % 251)
    cache.set([bytes(1, 2), long], 'value')
    // Byte 7 is not among those the look-up key samples: only the comparison tells.
    const changed = long.slice()
    changed[7] = (changed[7] ?? 0) ^ 1
    expect(cache.get([bytes(1, 2), changed])).toBeUndefined()
    expect(cache.get([bytes(1), bytes(2, ...long)])).toBeUndefined()
    expect(cache.get([bytes(1, 2)])).toBeUndefined()
    expect(cache.get([bytes(1, 2), long, bytes()])).toBeUndefined()
  })

  it('keeps its own copy of the bytes', () => {
    const cache = new ExactBytesCache<string>(4)
    const key = bytes(1, 2, 3)
    cache.set([key], 'value')
    key[0] = 9
    expect(cache.get([key])).toBeUndefined()
    expect(cache.get([bytes(1, 2, 3)])).toBe('value')
  })

  it('answers an entry with a window only for a time inside it', () => {
    const cache = new ExactBytesCache<string>(4)
    const window = {
      validFrom: new Date('2025-01-01T00:00:00Z'),
      validUntil: new Date('2026-01-01T00:00:00Z'),
    }
    cache.set([bytes(1)], 'value', window)
    expect(cache.get([bytes(1)], new Date('2025-06-01T00:00:00Z'))).toBe('value')
    expect(cache.get([bytes(1)], new Date('2026-06-01T00:00:00Z'))).toBeUndefined()
    expect(cache.get([bytes(1)])).toBeUndefined()
  })

  it('answers from the entry found last only while it is stored, unchanged, and inside its window', () => {
    const window = {
      validFrom: new Date('2025-01-01T00:00:00Z'),
      validUntil: new Date('2026-01-01T00:00:00Z'),
    }
    const inside = new Date('2025-06-01T00:00:00Z')
    const cache = new ExactBytesCache<string>(2)
    cache.set([bytes(1)], 'one', window)
    expect(cache.get([bytes(1)], inside)).toBe('one')
    // The same bytes again: past the window, a changed byte, a part added.
    expect(cache.get([bytes(1)], new Date('2026-01-02T00:00:00Z'))).toBeUndefined()
    expect(cache.get([bytes(2)], inside)).toBeUndefined()
    expect(cache.get([bytes(1), bytes()], inside)).toBeUndefined()
    expect(cache.get([bytes(1)], inside)).toBe('one')
    // Evicted (bounded to two entries) while it was the last one found: not answered.
    cache.set([bytes(2)], 'two')
    expect(cache.get([bytes(1)], inside)).toBe('one')
    cache.set([bytes(3)], 'three')
    cache.set([bytes(4)], 'four')
    expect(cache.get([bytes(1)], inside)).toBeUndefined()
    expect(cache.get([bytes(3)])).toBe('three')
    expect(cache.get([bytes(4)])).toBe('four')
  })

  it('does not answer the entry found last once another value replaced it', () => {
    const cache = new ExactBytesCache<string>(4)
    const long = new Uint8Array(5000).map((_, i) => i % 251)
    cache.set([long], 'first')
    expect(cache.get([long])).toBe('first')
    // Byte 100 is not sampled (runs of 8 bytes at 0, 713, …): these bytes share the look-up key
    // and so replace the entry.
    const other = long.slice()
    other[100] = (other[100] ?? 0) ^ 1
    cache.set([other], 'second')
    expect(cache.get([long])).toBeUndefined()
    expect(cache.get([other])).toBe('second')
    cache.set([long], 'third')
    expect(cache.get([other])).toBeUndefined()
    expect(cache.get([long])).toBe('third')
  })

  it('answers as a map of exact keys would, for any parts', () => {
    const part = fc.uint8Array({ maxLength: 200 })
    fc.assert(
      fc.property(fc.array(fc.array(part, { maxLength: 3 }), { maxLength: 12 }), (keys) => {
        const cache = new ExactBytesCache<number>(64)
        const model = new Map<string, number>()
        const text = (parts: Uint8Array[]): string => JSON.stringify(parts.map((p) => [...p]))
        keys.forEach((parts, i) => {
          const expected = model.get(text(parts))
          const found = cache.get(parts)
          // A shared sample may have replaced an entry (a miss), never answer another's value.
          if (found !== undefined) expect(found).toBe(expected)
          cache.set(parts, i)
          model.set(text(parts), i)
          expect(cache.get(parts)).toBe(i)
        })
      }),
    )
  })

  it('refuses a key with a part that is not bytes, warm as cold: never the entry found last', () => {
    const cache = new ExactBytesCache<string>(4)
    const holes = [
      [undefined],
      [bytes(1), undefined],
      ['\u0001'],
      [null],
    ] as unknown as Uint8Array[][]
    const refuses = (parts: Uint8Array[]): void => {
      let error: unknown
      try {
        cache.get(parts)
      } catch (e) {
        error = e
      }
      expect(isInitguardError(error) && error.code).toBe('ERR_CACHE_KEY')
    }
    for (const parts of holes) refuses(parts)
    cache.set([bytes(1)], 'one')
    cache.set([bytes(1), bytes(2)], 'two')
    // The entry found or stored last is compared first: a hole must not match its part.
    for (const parts of holes) refuses(parts)
    expect(() => {
      cache.set([undefined] as unknown as Uint8Array[], 'x')
    }).toThrow(/not bytes/)
  })
})
