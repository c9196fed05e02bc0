import { describe, expect, it } from 'vitest'
import { jsonMemberAt, jsonMemberPaths, withJsonMember } from './json-members.ts'

describe('jsonMemberPaths, jsonMemberAt and withJsonMember', () => {
  const doc = { a: [1, { b: 2 }, 3], c: { d: null } }

  it('lists every member and element, parents first, within the bounds', () => {
    expect(jsonMemberPaths(doc)).toEqual([
      ['a'],
      ['a', 0],
      ['a', 1],
      ['a', 1, 'b'],
      ['a', 2],
      ['c'],
      ['c', 'd'],
    ])
    expect(jsonMemberPaths(doc, { maxDepth: 0 })).toEqual([['a'], ['c']])
    expect(jsonMemberPaths(doc, { maxItems: 1 })).toEqual([['a'], ['a', 0], ['c'], ['c', 'd']])
  })

  it('reads the member at a path, undefined past a missing or scalar step', () => {
    expect(jsonMemberAt(doc, ['a', 1, 'b'])).toBe(2)
    expect(jsonMemberAt(doc, [])).toBe(doc)
    expect(jsonMemberAt(doc, ['c', 'd'])).toBeNull()
    expect(jsonMemberAt(doc, ['c', 'd', 'e'])).toBeUndefined()
    expect(jsonMemberAt(doc, ['a', 0, 'b'])).toBeUndefined()
    expect(jsonMemberAt(doc, ['x', 'y'])).toBeUndefined()
  })

  it('replaces or removes one member of a copy, and makes __proto__ an own member', () => {
    expect(withJsonMember(doc, ['a', 1, 'b'], 'x')).toEqual({
      a: [1, { b: 'x' }, 3],
      c: { d: null },
    })
    expect(withJsonMember(doc, ['c', 'd'], undefined)).toEqual({ a: [1, { b: 2 }, 3], c: {} })
    const polluted = withJsonMember(doc, ['c', '__proto__'], 1) as { c: object }
    expect(Object.hasOwn(polluted.c, '__proto__')).toBe(true)
    expect(doc).toEqual({ a: [1, { b: 2 }, 3], c: { d: null } })
  })
})
