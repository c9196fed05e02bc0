/**
 * Strict JSON (RFC 8259): a repeated key in one object is refused, where `JSON.parse` silently
 * keeps the last one. A document that says one thing twice (`"allowDebug": false, …,
 * "allowDebug": true`) must not mean whichever copy a parser happens to keep; containers/image
 * refuses repeated keys too. Nesting is bounded (a deep value costs far more memory than its bytes,
 * and whatever walks it afterwards may recurse).
 *
 * Two forms: {@link parseStrictJson} builds a tree that keeps member order and number text (for
 * signature payloads and policies); `parseStrictJsonValue` (`json-key-scan.ts`) gives the plain
 * value at `JSON.parse`'s native speed, for request bodies and configuration.
 *
 * @module
 */
import { MalformedInputError, type ErrorCode } from './errors.ts'

/** A parsed JSON value. Objects keep member order and never hold the same key twice. */
export type JsonNode =
  | { readonly kind: 'object'; readonly members: ReadonlyMap<string, JsonNode> }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }

/** The default bound on how deeply arrays and objects nest. */
export const MAX_JSON_DEPTH = 64

/** What a caller names its refusals: one code per kind, and the hints to give. */
export interface StrictJsonOptions {
  /** Names the document in messages ("policy.json", "the request body"). */
  readonly what: string
  /** Code for text that is not JSON. */
  readonly syntaxCode: ErrorCode
  /** Code for a key repeated in one object; default `syntaxCode`. */
  readonly duplicateKeyCode?: ErrorCode
  /** Code for nesting deeper than `maxDepth`; default `syntaxCode`. */
  readonly tooDeepCode?: ErrorCode
  /** Deepest nesting accepted (a top-level object or array is 1); default {@link MAX_JSON_DEPTH}. */
  readonly maxDepth?: number
  /** Hints per refusal; each has a default. */
  readonly hints?: {
    readonly syntax?: string
    readonly duplicateKey?: string
    readonly tooDeep?: string
  }
}

/**
 * Parse `text` as one JSON value, into a tree.
 *
 * @throws {@link MalformedInputError} `syntaxCode` (with `offset`), `duplicateKeyCode` (with
 *   `field`, the key's path, and `offset`), `tooDeepCode`.
 */
export function parseStrictJson(text: string, options: StrictJsonOptions): JsonNode {
  const reader = new StrictJsonReader(text, options)
  const value = reader.value(1)
  reader.end()
  return value
}

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

/** The refusal of `key`, repeated at `offset` in the object at `within` (a path). */
function duplicateKeyError(
  options: StrictJsonOptions,
  key: string,
  offset: number,
  within: string,
): MalformedInputError {
  const { what, syntaxCode, duplicateKeyCode, hints } = options
  return new MalformedInputError(
    duplicateKeyCode ?? syntaxCode,
    `duplicate key ${JSON.stringify(key)} at offset ${String(offset)} in ${what}${within === '' ? '' : ` (in ${within})`}`,
    {
      details: { field: within === '' ? key : `${within}.${key}`, offset },
      hint:
        hints?.duplicateKey ??
        'a key may appear once per object; merge or remove the repeated entry',
    },
  )
}

/** The refusal of nesting past `maxDepth`, at `offset` (inside `within`, when known). */
function tooDeepError(
  options: StrictJsonOptions,
  maxDepth: number,
  offset: number,
  within: string | undefined,
): MalformedInputError {
  const { what, syntaxCode, tooDeepCode, hints } = options
  return new MalformedInputError(
    tooDeepCode ?? syntaxCode,
    `${what} nests arrays and objects more than ${String(maxDepth)} levels deep`,
    {
      details: { offset, maxDepth, ...(within === undefined ? {} : { field: within }) },
      hint: hints?.tooDeep ?? 'no document of this kind nests this deep',
    },
  )
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
}

/**
 * The reader's state and steps. A class, not closures: a parse then allocates no functions, which
 * counts when a signature payload or a request body is read for every verification. The path to
 * the current value is a stack, made into text only for a refusal.
 */
class StrictJsonReader {
  #pos = 0
  readonly #text: string
  readonly #options: StrictJsonOptions
  readonly #maxDepth: number
  readonly #path: (string | number)[] = []

  constructor(text: string, options: StrictJsonOptions) {
    this.#text = text
    this.#options = options
    this.#maxDepth = options.maxDepth ?? MAX_JSON_DEPTH
  }

  end(): void {
    this.#skipWhitespace()
    if (this.#pos !== this.#text.length) this.#fail('unexpected content after the JSON value')
  }

  /** The value at the reader's position, built. */
  value(depth: number): JsonNode {
    this.#skipWhitespace()
    const c = this.#text[this.#pos]
    if (c === '{') {
      this.#enter(depth)
      const members = new Map<string, JsonNode>()
      if (this.#closes('}')) return { kind: 'object', members }
      do {
        const key = this.#key(members)
        this.#path.push(key)
        members.set(key, this.value(depth + 1))
        this.#path.pop()
      } while (this.#separated('}'))
      return { kind: 'object', members }
    }
    if (c === '[') {
      this.#enter(depth)
      const items: JsonNode[] = []
      if (this.#closes(']')) return { kind: 'array', items }
      do {
        this.#path.push(items.length)
        items.push(this.value(depth + 1))
        this.#path.pop()
      } while (this.#separated(']'))
      return { kind: 'array', items }
    }
    if (c === '"') return { kind: 'string', value: this.#string() }
    if (c === 't' || c === 'f') {
      const value = c === 't'
      this.#expect(value ? 'true' : 'false')
      return { kind: 'boolean', value }
    }
    if (c === 'n') {
      this.#expect('null')
      return { kind: 'null' }
    }
    const text = this.#number()
    return { kind: 'number', value: Number(text), text }
  }

  /** Past `{` or `[`, refusing it when it opens one level too many. */
  #enter(depth: number): void {
    if (depth > this.#maxDepth)
      throw tooDeepError(this.#options, this.#maxDepth, this.#pos, this.#pathText())
    this.#pos++
  }

  /** An object member's key and its colon, refused when `seen` has it already. */
  #key(seen: ReadonlyMap<string, unknown>): string {
    this.#skipWhitespace()
    const offset = this.#pos
    const key = this.#string()
    if (seen.has(key)) {
      throw duplicateKeyError(this.#options, key, offset, this.#pathText())
    }
    this.#skipWhitespace()
    this.#expect(':')
    return key
  }

  #pathText(): string {
    let text = ''
    for (const step of this.#path)
      text += typeof step === 'number' ? `[${String(step)}]` : `${text === '' ? '' : '.'}${step}`
    return text
  }

  #fail(message: string): never {
    const { what, syntaxCode, hints } = this.#options
    throw new MalformedInputError(
      syntaxCode,
      `${what} is not valid JSON at offset ${String(this.#pos)}: ${message}`,
      {
        details: { offset: this.#pos },
        hint: hints?.syntax ?? 'check it with a JSON validator (jq . FILE)',
      },
    )
  }

  #skipWhitespace(): void {
    const text = this.#text
    let c = text.charCodeAt(this.#pos)
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++this.#pos)
  }

  #expect(literal: string): void {
    if (!this.#text.startsWith(literal, this.#pos))
      this.#fail(`expected ${JSON.stringify(literal)}`)
    this.#pos += literal.length
  }

  /** Right after `{` or `[`: past `close` and true when it follows at once (an empty value). */
  #closes(close: '}' | ']'): boolean {
    this.#skipWhitespace()
    if (this.#text[this.#pos] !== close) return false
    this.#pos++
    return true
  }

  /** After a member or item: past a comma and true, or past `close` and false; else it fails. */
  #separated(close: '}' | ']'): boolean {
    this.#skipWhitespace()
    if (this.#text[this.#pos] === ',') {
      this.#pos++
      return true
    }
    this.#expect(close)
    return false
  }

  #number(): string {
    NUMBER.lastIndex = this.#pos
    const match = NUMBER.exec(this.#text)
    if (match === null) return this.#fail('expected a value')
    this.#pos += match[0].length
    return match[0]
  }

  /** A string, decoded. */
  #string(): string {
    this.#expect('"')
    const text = this.#text
    let out = ''
    for (;;) {
      // Copy the run up to the next quote, backslash or control character in one slice: strings
      // are mostly plain text, and appending character by character costs the most here.
      const runStart = this.#pos
      let c = text.charCodeAt(this.#pos)
      while (c !== QUOTE && c !== BACKSLASH && c >= 0x20) c = text.charCodeAt(++this.#pos)
      if (this.#pos > runStart) out += text.slice(runStart, this.#pos)
      if (c === QUOTE) {
        this.#pos++
        return out
      }
      out += this.#escape(c)
    }
  }

  /** At `c`, which ends a plain run inside a string: past the escape it starts, decoded. */
  #escape(c: number): string {
    // charCodeAt past the end is NaN, which none of the run's comparisons matched.
    if (Number.isNaN(c)) this.#fail('unterminated string')
    if (c < 0x20) this.#fail('control character in string')
    const escape = this.#text[this.#pos + 1] ?? ''
    const simple = ESCAPES[escape]
    if (simple !== undefined) {
      this.#pos += 2
      return simple
    }
    if (escape === 'u') {
      const hex = this.#text.slice(this.#pos + 2, this.#pos + 6)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#fail('invalid \\u escape')
      this.#pos += 6
      return String.fromCharCode(parseInt(hex, 16))
    }
    return this.#fail('invalid escape in string')
  }
}
