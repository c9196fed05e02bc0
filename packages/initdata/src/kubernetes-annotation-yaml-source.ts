/**
 * Reading the input YAML for `annotatePodTemplates`: parsing the stream (and refusing what the
 * parser or the line endings rule out), and finding things by source position: keys, line starts,
 * paths, nesting depth and the document's indentation step.
 *
 * @module
 */
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml'
import type { Document, EmptyStream, LineCounter, ParsedNode, YAMLError } from 'yaml'
import { MalformedInputError } from '@initguard/core'
import type { ParsedKey, ParsedMap, Segment } from './kubernetes-annotation-context.ts'

/** Refuse a carriage return that is not part of a CRLF line ending. */
export function checkLineEndings(text: string): void {
  const at = text.search(/\r(?!\n)/)
  if (at >= 0) {
    const line = text.slice(0, at).split('\n').length
    throw new MalformedInputError(
      'ERR_K8S_LINE_ENDING',
      `the input has a carriage return without a line feed at line ${line}`,
      {
        details: { line, offset: at },
        hint: 'use LF or CRLF line endings (e.g. convert the file with `dos2unix`)',
      },
    )
  }
}

const PARSER_CODES: Readonly<Record<string, string>> = {
  BAD_INDENT: 'bad indentation',
  DUPLICATE_KEY: 'a key appears twice in the same map',
  TAB_AS_INDENT: 'a tab is used for indentation',
  MISSING_CHAR: 'a character is missing',
  UNEXPECTED_TOKEN: 'unexpected token',
  MULTILINE_IMPLICIT_KEY: 'a key spans several lines',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block is used as a key',
  BAD_SCALAR_START: 'a plain value starts with a reserved character',
  BAD_DQ_ESCAPE: 'an invalid escape in a double-quoted string',
  BAD_ALIAS: 'an invalid alias',
  ALIAS_PROPS: 'an alias with a tag or anchor',
  BAD_DIRECTIVE: 'an invalid directive',
  BAD_PROP_ORDER: 'anchor or tag in the wrong place',
  BLOCK_IN_FLOW: 'block syntax inside a flow collection',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MULTIPLE_ANCHORS: 'several anchors on one node',
  MULTIPLE_TAGS: 'several tags on one node',
  MULTIPLE_DOCS: 'several documents where one was expected',
  BAD_COLLECTION_TYPE: 'a tag that does not fit the collection',
}

function yamlError(error: YAMLError, document: number, lines: LineCounter): MalformedInputError {
  const { line, col } = lines.linePos(error.pos[0])
  const what = PARSER_CODES[error.code] ?? 'syntax error'
  return new MalformedInputError(
    'ERR_K8S_YAML_INVALID',
    `document ${document} is not valid YAML: ${what} (${error.code}) at line ${line}, column ${col}`,
    {
      details: { document, line, column: col, parserCode: error.code },
      hint: 'fix the YAML at that position; `kubectl apply --dry-run=client -f <file>` reports the same problem',
    },
  )
}

/** Parse every document of `text`, refusing the first syntax error the parser reports. */
export function parseStream(text: string, lines: LineCounter): Document.Parsed[] {
  let docs: Document.Parsed[] | EmptyStream
  try {
    docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, logLevel: 'silent' })
  } catch (cause) {
    throw new MalformedInputError(
      'ERR_K8S_YAML_INVALID',
      `the input (${text.length} characters) cannot be parsed as YAML: it is too large or too deeply nested`,
      {
        cause,
        details: { length: text.length },
        hint: 'check that the input is a Kubernetes manifest',
      },
    )
  }
  if ('empty' in docs) {
    const error = docs.errors[0]
    if (error !== undefined) throw yamlError(error, 1, lines)
    return []
  }
  docs.forEach((doc, index) => {
    const error = doc.errors[0]
    if (error !== undefined) throw yamlError(error, index + 1, lines)
  })
  return docs
}

/** The pair of `map` whose key is the scalar `key`, if any. */
export function peek(map: ParsedMap, key: string): ParsedMap['items'][number] | undefined {
  return map.items.find((pair) => isScalar(pair.key) && pair.key.value === key)
}

/** `null`, `~`, or nothing at all, without tag or anchor. */
export function isNullNode(node: ParsedNode): boolean {
  return (
    isScalar(node) && node.value === null && node.tag === undefined && node.anchor === undefined
  )
}

/** `key:` with nothing (but perhaps a comment) after it. */
export function isEmptyValue(node: ParsedNode | null): boolean {
  return node === null || (isNullNode(node) && isScalar(node) && node.source === '')
}

/** What the node is, for messages: `a map`, `a string scalar`, `null`, … */
export function describeNode(node: ParsedNode): string {
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a sequence'
  if (isAlias(node)) return 'an alias'
  return node.value === null ? 'null' : `a ${typeof node.value} scalar`
}

/** The node's source range: start, end of value, end of node. */
export function rangeOf(node: ParsedNode): readonly [number, number, number] {
  return node.range
}

/** Offset of the start of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return offset === 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1
}

/** A non-empty scalar key with only spaces before it on its line. */
export function isLineKey(text: string, key: unknown): key is ParsedKey {
  return (
    isScalar(key) &&
    key.range !== undefined &&
    key.range !== null &&
    key.range[1] > key.range[0] &&
    startsLine(text, key.range[0])
  )
}

function startsLine(text: string, offset: number): boolean {
  return /^ *$/.test(text.slice(lineStart(text, offset), offset))
}

/** The path as text: `spec.template.metadata`, `items[2].spec`. */
export function pathString(segments: readonly Segment[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`,
    )
    .join('')
}

/** Nesting depth of a node, walked without recursion. */
export function depthOf(root: ParsedNode): number {
  let deepest = 0
  const stack: [ParsedNode, number][] = [[root, 1]]
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [node, depth] = entry
    deepest = Math.max(deepest, depth)
    if (isMap(node)) {
      for (const { key, value } of node.items) {
        if (isNode(key)) stack.push([key, depth + 1])
        if (value !== null) stack.push([value, depth + 1])
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) {
          if (isNode(item.key)) stack.push([item.key as ParsedNode, depth + 1])
          if (isNode(item.value)) stack.push([item.value as ParsedNode, depth + 1])
        } else stack.push([item, depth + 1])
      }
    }
  }
  return deepest
}

const DEFAULT_STEP = 2

/**
 * The document's indentation step: the most common distance between a key and the keys of the
 * block map under it (ties go to the smaller); 2 when there is no nested block map.
 */
export function detectStep(text: string, root: ParsedNode): number {
  const counts = new Map<number, number>()
  const stack: ParsedNode[] = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (isMap(node)) {
      for (const { key, value } of node.items) {
        if (value === null) continue
        stack.push(value)
        if (node.flow === true || !isScalar(key) || !isMap(value) || value.flow === true) continue
        const first = value.items[0]?.key
        if (!isLineKey(text, first)) continue
        const distance =
          first.range[0] -
          lineStart(text, first.range[0]) -
          (key.range[0] - lineStart(text, key.range[0]))
        if (distance > 0) counts.set(distance, (counts.get(distance) ?? 0) + 1)
      }
    } else if (isSeq(node)) {
      for (const item of node.items) if (!isPair(item)) stack.push(item)
    }
  }
  let best = DEFAULT_STEP
  let bestCount = 0
  for (const [distance, count] of counts) {
    if (count > bestCount || (count === bestCount && distance < best)) {
      best = distance
      bestCount = count
    }
  }
  return best
}
