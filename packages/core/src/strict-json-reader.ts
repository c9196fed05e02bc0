/**
 * The strict JSON reader behind `strict-json.ts`: it builds a tree ({@link StrictJsonReader.value})
 * or only checks ({@link StrictJsonReader.skipValue}), refusing text that is not JSON, a key
 * repeated in one object and nesting past the bound, each with the path where it is.
 *
 * @module
 */
import { MalformedInputError } from './errors.ts'
import type { JsonNode, StrictJsonOptions } from './strict-json.ts'

/** The default bound on how deeply arrays and objects nest. */
export const MAX_JSON_DEPTH = 64

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
export class StrictJsonReader {
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

  /**
   * Past the value at the reader's position, checked as {@link value} checks it, building
   * nothing: only the keys of the objects open at the position are kept.
   */
  skipValue(depth: number): void {
    this.#skipWhitespace()
    const c = this.#text[this.#pos]
    if (c === '{') {
      this.#enter(depth)
      if (this.#closes('}')) return
      const keys = new Set<string>()
      do {
        const key = this.#key(keys)
        keys.add(key)
        this.#path.push(key)
        this.skipValue(depth + 1)
        this.#path.pop()
      } while (this.#separated('}'))
    } else if (c === '[') {
      this.#enter(depth)
      if (this.#closes(']')) return
      let index = 0
      do {
        this.#path.push(index++)
        this.skipValue(depth + 1)
        this.#path.pop()
      } while (this.#separated(']'))
    } else if (c === '"') this.#skipString()
    else if (c === 't') this.#expect('true')
    else if (c === 'f') this.#expect('false')
    else if (c === 'n') this.#expect('null')
    else {
      NUMBER.lastIndex = this.#pos
      if (!NUMBER.test(this.#text)) this.#fail('expected a value')
      this.#pos = NUMBER.lastIndex
    }
  }

  /** Past `{` or `[`, refusing it when it opens one level too many. */
  #enter(depth: number): void {
    if (depth > this.#maxDepth)
      throw tooDeepError(this.#options, this.#maxDepth, this.#pos, this.#pathText())
    this.#pos++
  }

  /** An object member's key and its colon, refused when `seen` has it already. */
  #key(seen: { has(key: string): boolean }): string {
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

  /** Past a string, checked as {@link #string} checks it, without decoding it. */
  #skipString(): void {
    this.#pos++
    const text = this.#text
    for (;;) {
      let c = text.charCodeAt(this.#pos)
      while (c !== QUOTE && c !== BACKSLASH && c >= 0x20) c = text.charCodeAt(++this.#pos)
      if (c === QUOTE) {
        this.#pos++
        return
      }
      this.#escape(c)
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
