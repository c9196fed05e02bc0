/**
 * The memory of HTTP 404s is bounded: past its entry bound the least recently used 404 is
 * forgotten (asked of the service again), so invented chip IDs cannot grow it without limit.
 */
import { describe, expect, it } from 'vitest'
import { UnavailableError } from '@initguard/core'
import { NOT_FOUND_MAX_ENTRIES } from './download-limits.ts'
import { NotFoundMemory } from './not-found-memory.ts'

const now = new Date('2026-01-01T00:00:00Z')
const notFound = (name: string): UnavailableError =>
  new UnavailableError('ERR_KDS_NOT_FOUND', `AMD KDS has no VCEK ${name} (HTTP 404)`, {
    hint: 'check the chip',
  })

describe('NotFoundMemory', () => {
  it('forgets the least recently used 404 beyond its bound', () => {
    const memory = new NotFoundMemory(60_000, 3)
    for (const name of ['a', 'b', 'c']) memory.remember(name, notFound(name), now)
    // Recalling `a` makes it the most recently used: `b` is the oldest now.
    expect(memory.recall('a', now)?.code).toBe('ERR_KDS_NOT_FOUND')
    memory.remember('d', notFound('d'), now)
    expect(memory.recall('b', now)).toBeUndefined()
    for (const name of ['a', 'c', 'd']) expect(memory.recall(name, now)?.message).toContain(name)
  })

  it(`holds ${NOT_FOUND_MAX_ENTRIES} by default, then forgets the oldest`, () => {
    expect(NOT_FOUND_MAX_ENTRIES).toBe(4096)
    const memory = new NotFoundMemory(60_000)
    for (let i = 0; i < NOT_FOUND_MAX_ENTRIES; i++) memory.remember(`chip ${i}`, notFound('x'), now)
    expect(memory.recall('chip 0', now)).toBeDefined()
    // `chip 0` was just recalled, so one more pushes out `chip 1`, now the least recently used.
    memory.remember('one more', notFound('x'), now)
    expect(memory.recall('chip 1', now)).toBeUndefined()
    expect(memory.recall('chip 0', now)).toBeDefined()
    expect(memory.recall('one more', now)).toBeDefined()
    expect(memory.recall(`chip ${NOT_FOUND_MAX_ENTRIES - 1}`, now)).toBeDefined()
  })

  it('says what it remembered and until when, and remembers nothing with a TTL of 0', () => {
    const memory = new NotFoundMemory(60_000, 3)
    memory.remember('a', notFound('a'), now)
    const recalled = memory.recall('a', new Date(now.getTime() + 60_000))
    expect(recalled?.message).toBe(
      'AMD KDS has no VCEK a (HTTP 404); remembered, so not asked again until 2026-01-01T00:01:00.000Z',
    )
    expect([recalled?.hint, recalled?.details['rememberedUntil']]).toEqual([
      'check the chip',
      '2026-01-01T00:01:00.000Z',
    ])
    expect(memory.recall('a', new Date(now.getTime() + 60_001))).toBeUndefined()
    const forgetful = new NotFoundMemory(0, 3)
    forgetful.remember('a', notFound('a'), now)
    expect(forgetful.recall('a', now)).toBeUndefined()
  })
})
