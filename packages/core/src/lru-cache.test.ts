import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { LruCache } from './lru-cache.ts'
import { UsageError } from './errors.ts'

const window = { validFrom: new Date('2025-01-01'), validUntil: new Date('2025-12-31') }

describe('LruCache', () => {
  it('drops the least recently stored entry when full', () => {
    const cache = new LruCache<string, number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('c', 3)
    expect(cache.keys()).toEqual(['b', 'c'])
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(2)
  })

  it('a hit makes the entry the most recently used', () => {
    const cache = new LruCache<string, number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    expect(cache.get('a')).toBe(1)
    cache.set('c', 3)
    expect(cache.keys()).toEqual(['a', 'c'])
  })

  it('storing an existing key replaces it without evicting another', () => {
    const cache = new LruCache<string, number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('a', 10)
    expect(cache.keys()).toEqual(['b', 'a'])
    expect(cache.get('a')).toBe(10)
  })

  it('getOrSet stores what make returns, once, and nothing when make throws', () => {
    const cache = new LruCache<string, number>(4)
    let calls = 0
    expect(cache.getOrSet('a', () => ++calls)).toBe(1)
    expect(cache.getOrSet('a', () => ++calls)).toBe(1)
    expect(() =>
      cache.getOrSet('b', () => {
        throw new Error('bad input')
      }),
    ).toThrow('bad input')
    expect(cache.has('b')).toBe(false)
  })

  it('returns an entry with a window only for a time inside it, and keeps it', () => {
    const cache = new LruCache<string, string>(4)
    cache.set('chain', 'verified', window)
    expect(cache.get('chain', new Date('2025-06-01'))).toBe('verified')
    expect(cache.get('chain', window.validFrom)).toBe('verified')
    expect(cache.get('chain', window.validUntil)).toBe('verified')
    expect(cache.get('chain', new Date('2026-01-01'))).toBeUndefined()
    expect(cache.get('chain', new Date('2024-12-31'))).toBeUndefined()
    // Without a time, or with an invalid one, a windowed entry is not used: fail closed.
    expect(cache.get('chain')).toBeUndefined()
    expect(cache.get('chain', new Date(Number.NaN))).toBeUndefined()
    expect(cache.getOrSet('chain', () => 'again')).toBe('again')
    expect(cache.has('chain')).toBe(true)
  })

  it('refuses a bound that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new LruCache(bad)).toThrow(UsageError)
      try {
        new LruCache(bad)
      } catch (error) {
        expect((error as UsageError).code).toBe('ERR_CACHE_BOUND')
      }
    }
  })

  it('delete and clear remove entries', () => {
    const cache = new LruCache<number, number>(3)
    cache.set(1, 1)
    cache.set(2, 2)
    expect(cache.delete(1)).toBe(true)
    expect(cache.delete(1)).toBe(false)
    cache.clear()
    expect(cache.size).toBe(0)
  })
})

/** The reference: a list of [key, value], least recently used first. */
class ReferenceLru {
  entries: [number, number][] = []
  readonly bound: number
  constructor(bound: number) {
    this.bound = bound
  }
  get(key: number): number | undefined {
    const i = this.entries.findIndex(([k]) => k === key)
    if (i < 0) return undefined
    const [entry] = this.entries.splice(i, 1)
    if (entry === undefined) return undefined
    this.entries.push(entry)
    return entry[1]
  }
  set(key: number, value: number): void {
    this.entries = this.entries.filter(([k]) => k !== key)
    if (this.entries.length >= this.bound) this.entries.shift()
    this.entries.push([key, value])
  }
}

describe('LruCache against a reference model', () => {
  it('behaves as a list with most recently used last, for any sequence of operations', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('get' as const), key: fc.integer({ min: 0, max: 9 }) }),
      fc.record({
        op: fc.constant('set' as const),
        key: fc.integer({ min: 0, max: 9 }),
        value: fc.integer(),
      }),
    )
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(operation), (bound, operations) => {
        const cache = new LruCache<number, number>(bound)
        const reference = new ReferenceLru(bound)
        for (const step of operations) {
          if (step.op === 'get') {
            expect(cache.get(step.key)).toBe(reference.get(step.key))
          } else {
            cache.set(step.key, step.value)
            reference.set(step.key, step.value)
          }
          expect(cache.size).toBeLessThanOrEqual(bound)
          expect(cache.keys()).toEqual(reference.entries.map(([k]) => k))
        }
      }),
    )
  })
})
