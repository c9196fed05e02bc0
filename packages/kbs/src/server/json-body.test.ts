import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { jsonNestingDepth, registerJsonBodyParser } from './json-body.ts'

/** The nesting of a parsed value, walked (the reference the scan must agree with). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf))
  if (typeof value === 'object' && value !== null)
    return 1 + Math.max(0, ...Object.values(value).map(depthOf))
  return 0
}

describe('jsonNestingDepth', () => {
  it('counts objects and arrays, not brackets inside strings or escaped quotes', () => {
    expect(jsonNestingDepth('1')).toBe(0)
    expect(jsonNestingDepth('{"a":[1,{"b":[]}]}')).toBe(4)
    expect(jsonNestingDepth('{"[[[[":"\\"{{{{"}')).toBe(1)
    expect(jsonNestingDepth('["\\\\",[]]')).toBe(2)
  })

  it('stops as soon as it passes the bound, on 100 000 levels', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    expect(jsonNestingDepth(deep)).toBe(100_000)
    expect(jsonNestingDepth(deep, 64)).toBe(65)
  })

  it('agrees with the parsed value for any JSON', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'large' }), (text) => {
        expect(jsonNestingDepth(text)).toBe(depthOf(JSON.parse(text)))
      }),
    )
  })
})

describe('registerJsonBodyParser', () => {
  it('refuses __proto__ and constructor.prototype keys with 400, as Fastify does by default', async () => {
    const app = Fastify()
    registerJsonBodyParser(app, 64)
    app.post('/', (request) => ({ keys: Object.keys(request.body as object) }))
    for (const payload of [
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"__proto__":{"polluted":1}}',
      '{"a":[{"constructor":{"prototype":{"polluted":1}}}]}',
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json' },
        payload,
      })
      expect(response.statusCode, payload).toBe(400)
    }
    const fine = await app.inject({ method: 'POST', url: '/', payload: { constructor: 1 } })
    expect(fine.json()).toEqual({ keys: ['constructor'] })
    await app.close()
  })
})
