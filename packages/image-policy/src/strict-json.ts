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

/**
 * A parsed tree as the plain value `JSON.parse` gives (objects in member order), e.g. for
 * canonicalization.
 */
export function jsonNodeValue(node: JsonNode): unknown {
  switch (node.kind) {
    case 'object':
      return Object.fromEntries([...node.members].map(([k, v]) => [k, jsonNodeValue(v)]))
    case 'array':
      return node.items.map(jsonNodeValue)
    case 'null':
      return null
    case 'string':
    case 'number':
    case 'boolean':
      return node.value
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

/**
 * Parse `text` as one JSON value.
 *
 * @param what - names the document in error messages.
 * @throws {@link MalformedInputError} `ERR_IMAGE_POLICY_JSON` (with `offset`),
 *   `ERR_IMAGE_POLICY_DUPLICATE_KEY` (with `field`), `ERR_IMAGE_POLICY_TOO_DEEP`.
 */
export function parseStrictJson(text: string, what: string): JsonNode {
  return new StrictJsonReader(text, what).document()
}

/**
 * The parser's state and steps. A class, not closures: a parse then allocates no functions, which
 * counts when a signature payload is parsed for every verification.
 */
class StrictJsonReader {
  #pos = 0
  readonly text: string
  readonly what: string

  constructor(text: string, what: string) {
    this.text = text
    this.what = what
  }

  document(): JsonNode {
    const value = this.value('', 0)
    this.skipWhitespace()
    if (this.#pos !== this.text.length) this.fail('unexpected content after the JSON value')
    return value
  }

  fail(message: string): never {
    throw new MalformedInputError(
      'ERR_IMAGE_POLICY_JSON',
      `${this.what} is not valid JSON at offset ${this.#pos}: ${message}`,
      { details: { offset: this.#pos }, hint: 'check the file with a JSON validator (jq . file)' },
    )
  }
  skipWhitespace(): void {
    while (this.#pos < this.text.length) {
      const c = this.text.charCodeAt(this.#pos)
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break
      this.#pos++
    }
  }
  expect(literal: string): void {
    if (!this.text.startsWith(literal, this.#pos)) this.fail(`expected ${JSON.stringify(literal)}`)
    this.#pos += literal.length
  }
  /** Right after `{` or `[`: past `close` and true when it follows at once (an empty value). */
  #closes(close: '}' | ']'): boolean {
    this.skipWhitespace()
    if (this.text[this.#pos] !== close) return false
    this.#pos++
    return true
  }
  /** After a member or item: past a comma and true, or past `close` and false; else it fails. */
  #separated(close: '}' | ']'): boolean {
    this.skipWhitespace()
    if (this.text[this.#pos] === ',') {
      this.#pos++
      return true
    }
    this.expect(close)
    return false
  }

  string(): string {
    this.expect('"')
    let out = ''
    for (;;) {
      // Copy the run up to the next quote, backslash or control character in one slice: strings
      // are mostly plain this.text, and appending character by character costs the most here.
      const runStart = this.#pos
      let c = this.text.charCodeAt(this.#pos)
      while (c !== 0x22 && c !== 0x5c && c >= 0x20) c = this.text.charCodeAt(++this.#pos)
      if (this.#pos > runStart) out += this.text.slice(runStart, this.#pos)
      // charCodeAt past the end is NaN, which none of the comparisons above matched.
      if (this.#pos >= this.text.length) this.fail('unterminated string')
      if (c === 0x22) {
        this.#pos++
        return out
      }
      if (c < 0x20) this.fail('control character in string')
      const escape = this.text[this.#pos + 1]
      this.#pos += 2
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
          const hex = this.text.slice(this.#pos, this.#pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape')
          out += String.fromCharCode(parseInt(hex, 16))
          this.#pos += 4
          break
        }
        case undefined:
        default:
          this.#pos -= 2
          this.fail('invalid escape in string')
      }
    }
  }

  value(path: string, depth: number): JsonNode {
    if (depth > MAX_JSON_DEPTH) {
      throw new MalformedInputError(
        'ERR_IMAGE_POLICY_TOO_DEEP',
        `${this.what} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`,
        {
          details: { offset: this.#pos, field: path },
          hint: 'a policy never needs this much nesting',
        },
      )
    }
    this.skipWhitespace()
    const c = this.text[this.#pos]
    switch (c) {
      case '{': {
        this.#pos++
        const members = new Map<string, JsonNode>()
        if (this.#closes('}')) return { kind: 'object', members }
        do {
          this.skipWhitespace()
          const keyOffset = this.#pos
          const key = this.string()
          const memberPath = `${path}${path === '' ? '' : '.'}${key}`
          if (members.has(key)) {
            throw new MalformedInputError(
              'ERR_IMAGE_POLICY_DUPLICATE_KEY',
              `duplicate key ${JSON.stringify(key)} at offset ${keyOffset} in ${this.what}${path === '' ? '' : ` (in ${path})`}`,
              {
                details: { field: memberPath, offset: keyOffset },
                hint: 'a key may appear once per object; merge or remove the repeated entry',
              },
            )
          }
          this.skipWhitespace()
          this.expect(':')
          members.set(key, this.value(memberPath, depth + 1))
        } while (this.#separated('}'))
        return { kind: 'object', members }
      }
      case '[': {
        this.#pos++
        const items: JsonNode[] = []
        if (this.#closes(']')) return { kind: 'array', items }
        do items.push(this.value(`${path}[${items.length}]`, depth + 1))
        while (this.#separated(']'))
        return { kind: 'array', items }
      }
      case '"':
        return { kind: 'string', value: this.string() }
      case 't':
        this.expect('true')
        return { kind: 'boolean', value: true }
      case 'f':
        this.expect('false')
        return { kind: 'boolean', value: false }
      case 'n':
        this.expect('null')
        return { kind: 'null' }
      case undefined:
      default: {
        NUMBER.lastIndex = this.#pos
        const match = NUMBER.exec(this.text)
        if (match === null) return this.fail('expected a value')
        this.#pos += match[0].length
        return { kind: 'number', value: Number(match[0]), text: match[0] }
      }
    }
  }
}
