/**
 * Strict JSON (RFC 8259): a repeated key in one object is refused, where `JSON.parse` silently
 * keeps the last one. A document that says one thing twice (`"allowDebug": false, …,
 * "allowDebug": true`) must not mean whichever copy a parser happens to keep; containers/image
 * refuses repeated keys too. Nesting is bounded (a deep value costs far more memory than its bytes,
 * and whatever walks it afterwards may recurse).
 *
 * Three forms: {@link parseStrictJson} builds a tree that keeps member order and number text (for
 * signature payloads and policies); {@link checkStrictJson} only checks, building nothing; and
 * `parseStrictJsonValue` (`json-key-scan.ts`) gives the plain value at `JSON.parse`'s native
 * speed, for request bodies and configuration. The reader is `strict-json-reader.ts`.
 *
 * @module
 */
import type { ErrorCode } from './errors.ts'
import { MAX_JSON_DEPTH, StrictJsonReader } from './strict-json-reader.ts'

/** A parsed JSON value. Objects keep member order and never hold the same key twice. */
export type JsonNode =
  | { readonly kind: 'object'; readonly members: ReadonlyMap<string, JsonNode> }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }

export { MAX_JSON_DEPTH }

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
 * Check `text` as {@link parseStrictJson} reads it, building nothing: what a refusal of a large
 * document costs stays near its scan (the keys of the objects open at a point, no tree).
 *
 * @throws {@link MalformedInputError} as {@link parseStrictJson}.
 */
export function checkStrictJson(text: string, options: StrictJsonOptions): void {
  const reader = new StrictJsonReader(text, options)
  reader.skipValue(1)
  reader.end()
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
