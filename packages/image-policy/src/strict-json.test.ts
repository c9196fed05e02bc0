/**
 * The strict JSON reader agrees with `JSON.parse` on every document without a repeated key,
 * whatever the white space around its brackets, commas and colons, and refuses what is not JSON
 * with its own code.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { jsonNodeValue, parseStrictJson } from './strict-json.ts'

const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n')

/** JSON text of `value` with random white space wherever JSON allows it. */
function spaced(value: unknown, ws: () => string): string {
  if (Array.isArray(value)) {
    return `[${ws()}${value.map((v) => spaced(v, ws)).join(`${ws()},${ws()}`)}${ws()}]`
  }
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}${ws()}:${ws()}${spaced(v, ws)}`,
    )
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`
  }
  return JSON.stringify(value)
}

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, white space anywhere JSON allows it', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.infiniteStream(space), (value, spaces) => {
        const text = spaced(value, () => spaces.next().value as string)
        expect(jsonNodeValue(parseStrictJson(text, 'doc'))).toEqual(JSON.parse(text))
      }),
    )
  })

  it('reads empty objects and arrays, with or without white space inside', () => {
    expect(jsonNodeValue(parseStrictJson('{ "a": [ ], "b": {} }', 'doc'))).toEqual({ a: [], b: {} })
  })

  it.each([
    ['a trailing comma in an object', '{"a": 1,}', 'ERR_IMAGE_POLICY_JSON'],
    ['a trailing comma in an array', '[1, 2,]', 'ERR_IMAGE_POLICY_JSON'],
    ['a missing comma', '[1 2]', 'ERR_IMAGE_POLICY_JSON'],
    ['an unclosed object', '{"a": 1', 'ERR_IMAGE_POLICY_JSON'],
    ['a bracket of the other kind', '[1}', 'ERR_IMAGE_POLICY_JSON'],
    ['a repeated key', '{"a": 1, "a": 2}', 'ERR_IMAGE_POLICY_DUPLICATE_KEY'],
  ])('refuses %s', (_what, text, code) => {
    let thrown: unknown
    try {
      parseStrictJson(text, 'doc')
    } catch (error) {
      thrown = error
    }
    expect(isInitguardError(thrown) ? thrown.code : thrown).toBe(code)
  })
})
