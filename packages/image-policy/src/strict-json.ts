/**
 * A small strict JSON parser (RFC 8259) that keeps object members in order and refuses duplicate
 * keys, which `JSON.parse` silently resolves to the last one. containers/image refuses them too.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'

/** A parsed JSON value. Objects keep member order and never hold the same key twice. */
export type JsonNode =
  | { readonly kind: 'object'; readonly members: ReadonlyMap<string, JsonNode> }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }

/** How deeply arrays and objects may nest; policy.json needs 6 levels. */
export const MAX_JSON_DEPTH = 64

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

/**
 * Parse `text` as one JSON value.
 *
 * @param what - names the document in error messages.
 * @throws {@link MalformedInputError} `ERR_IMAGE_POLICY_JSON` (with `offset`),
 *   `ERR_IMAGE_POLICY_DUPLICATE_KEY` (with `field`), `ERR_IMAGE_POLICY_TOO_DEEP`.
 */
export function parseStrictJson(text: string, what: string): JsonNode {
  let pos = 0

  const fail = (message: string): never => {
    throw new MalformedInputError(
      'ERR_IMAGE_POLICY_JSON',
      `${what} is not valid JSON at offset ${pos}: ${message}`,
      { details: { offset: pos }, hint: 'check the file with a JSON validator (jq . file)' },
    )
  }
  const skipWhitespace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos)
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break
      pos++
    }
  }
  const expect = (literal: string): void => {
    if (!text.startsWith(literal, pos)) fail(`expected ${JSON.stringify(literal)}`)
    pos += literal.length
  }

  const parseString = (): string => {
    expect('"')
    let out = ''
    for (;;) {
      // Copy the run up to the next quote, backslash or control character in one slice: strings
      // are mostly plain text, and appending character by character costs the most here.
      const runStart = pos
      let c = text.charCodeAt(pos)
      while (c !== 0x22 && c !== 0x5c && c >= 0x20) c = text.charCodeAt(++pos)
      if (pos > runStart) out += text.slice(runStart, pos)
      // charCodeAt past the end is NaN, which none of the comparisons above matched.
      if (pos >= text.length) fail('unterminated string')
      if (c === 0x22) {
        pos++
        return out
      }
      if (c < 0x20) fail('control character in string')
      const escape = text[pos + 1]
      pos += 2
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out += escape
          break
        case 'b':
          out += '\b'
          break
        case 'f':
          out += '\f'
          break
        case 'n':
          out += '\n'
          break
        case 'r':
          out += '\r'
          break
        case 't':
          out += '\t'
          break
        case 'u': {
          const hex = text.slice(pos, pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape')
          out += String.fromCharCode(parseInt(hex, 16))
          pos += 4
          break
        }
        case undefined:
        default:
          pos -= 2
          fail('invalid escape in string')
      }
    }
  }

  const parseValue = (path: string, depth: number): JsonNode => {
    if (depth > MAX_JSON_DEPTH) {
      throw new MalformedInputError(
        'ERR_IMAGE_POLICY_TOO_DEEP',
        `${what} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
        { details: { offset: pos, field: path }, hint: 'a policy never needs this much nesting' },
      )
    }
    skipWhitespace()
    const c = text[pos]
    switch (c) {
      case '{': {
        pos++
        const members = new Map<string, JsonNode>()
        skipWhitespace()
        if (text[pos] === '}') {
          pos++
          return { kind: 'object', members }
        }
        for (;;) {
          skipWhitespace()
          const keyOffset = pos
          const key = parseString()
          const memberPath = `${path}${path === '' ? '' : '.'}${key}`
          if (members.has(key)) {
            throw new MalformedInputError(
              'ERR_IMAGE_POLICY_DUPLICATE_KEY',
              `duplicate key ${JSON.stringify(key)} at offset ${keyOffset} in ${what}${path === '' ? '' : ` (in ${path})`}`,
              {
                details: { field: memberPath, offset: keyOffset },
                hint: 'a key may appear once per object; merge or remove the repeated entry',
              },
            )
          }
          skipWhitespace()
          expect(':')
          members.set(key, parseValue(memberPath, depth + 1))
          skipWhitespace()
          if (text[pos] === ',') {
            pos++
            continue
          }
          expect('}')
          return { kind: 'object', members }
        }
      }
      case '[': {
        pos++
        const items: JsonNode[] = []
        skipWhitespace()
        if (text[pos] === ']') {
          pos++
          return { kind: 'array', items }
        }
        for (;;) {
          items.push(parseValue(`${path}[${items.length}]`, depth + 1))
          skipWhitespace()
          if (text[pos] === ',') {
            pos++
            continue
          }
          expect(']')
          return { kind: 'array', items }
        }
      }
      case '"':
        return { kind: 'string', value: parseString() }
      case 't':
        expect('true')
        return { kind: 'boolean', value: true }
      case 'f':
        expect('false')
        return { kind: 'boolean', value: false }
      case 'n':
        expect('null')
        return { kind: 'null' }
      case undefined:
      default: {
        NUMBER.lastIndex = pos
        const match = NUMBER.exec(text)
        if (match === null) return fail('expected a value')
        pos += match[0].length
        return { kind: 'number', value: Number(match[0]), text: match[0] }
      }
    }
  }

  const value = parseValue('', 0)
  skipWhitespace()
  if (pos !== text.length) fail('unexpected content after the JSON value')
  return value
}
