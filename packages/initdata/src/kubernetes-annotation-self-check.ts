/**
 * The self-check of `annotatePodTemplates`: the data each edited document must have, and the
 * check of the output against it (same data plus exactly the annotation, untouched documents
 * byte for byte, removing the edits gives back the input) before anything is returned.
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util'
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml'
import type { Document, EmptyStream, ParsedNode } from 'yaml'
import { InternalError, MalformedInputError } from '@initguard/core'
import type { AnnotationPlacement, PodAnnotation } from './kubernetes-annotation.ts'
import { BUG_HINT } from './kubernetes-annotation-context.ts'
import type {
  Edit,
  ParsedMap,
  PodTemplateTarget,
  Segment,
} from './kubernetes-annotation-context.ts'
import { depthOf, pathString, peek, rangeOf } from './kubernetes-annotation-yaml-source.ts'

/** Deeper documents are refused before they are resolved (no real manifest comes close). */
const MAX_DEPTH = 200

/**
 * Check `output` against `input` and the expected data, and return where each annotation ended up.
 * Any failure is an {@link InternalError}: a wrong result is never returned.
 */
export function selfCheck(
  input: string,
  output: string,
  sorted: readonly Edit[],
  inputDocs: readonly Document.Parsed[],
  expected: ReadonlyMap<number, unknown>,
  targets: readonly PodTemplateTarget[],
  annotation: PodAnnotation,
): AnnotationPlacement[] {
  const fail = (check: string): never => {
    throw new InternalError(
      'ERR_K8S_SELF_CHECK',
      `self-check failed (${check}); no output was produced`,
      { details: { check }, hint: BUG_HINT },
    )
  }
  // Removing what was inserted (and restoring what was replaced) gives back the input exactly.
  let rebuilt = ''
  let position = 0
  let delta = 0
  for (const edit of sorted) {
    const start = edit.start + delta
    if (output.slice(start, start + edit.text.length) !== edit.text) fail('edit position')
    if (edit.shape === 'inline' && /[\r\n]/.test(edit.text)) fail('inline edit spans lines')
    if (edit.shape === 'lines') {
      const atLineStart = edit.start === 0 || input[edit.start - 1] === '\n'
      const whole = atLineStart
        ? edit.text.endsWith('\n')
        : edit.start === input.length && /^\r?\n/.test(edit.text)
      if (!whole || edit.start !== edit.end) fail('inserted text is not whole lines')
    }
    rebuilt += output.slice(position, start) + input.slice(edit.start, edit.end)
    position = start + edit.text.length
    delta += edit.text.length - (edit.end - edit.start)
  }
  rebuilt += output.slice(position)
  if (rebuilt !== input) fail('removing the edits does not give back the input')

  const lines = new LineCounter()
  let outputDocs: Document.Parsed[] | EmptyStream
  try {
    outputDocs = parseAllDocuments(output, {
      lineCounter: lines,
      prettyErrors: false,
      logLevel: 'silent',
    })
  } catch {
    return fail('the output does not parse')
  }
  if ('empty' in outputDocs || outputDocs.length !== inputDocs.length) fail('document count')
  outputDocs.forEach((doc, index) => {
    if (doc.errors.length > 0) fail(`document ${index + 1} does not parse`)
    const data = expected.get(index)
    if (data === undefined) {
      const before = inputDocs[index]?.range
      if (before === undefined) return fail('document count')
      const same = output.slice(doc.range[0], doc.range[2]) === input.slice(before[0], before[2])
      if (!same) fail(`document ${index + 1} changed`)
      return
    }
    let actual: unknown
    try {
      actual = doc.toJS()
    } catch {
      fail(`document ${index + 1} does not resolve`)
    }
    if (!isDeepStrictEqual(actual, data)) fail(`document ${index + 1} data`)
  })
  return targets.map((target): AnnotationPlacement => {
    const root = outputDocs[target.docIndex]?.contents ?? null
    const map = nodeAt(root, target.segments)
    const pair = map === undefined ? undefined : peek(map, annotation.key)
    const value = pair?.value
    if (
      pair === undefined ||
      value === undefined ||
      value === null ||
      !isScalar(value) ||
      value.value !== annotation.value
    ) {
      return fail(`annotation in document ${target.docIndex + 1}`)
    }
    return {
      document: target.docIndex + 1,
      kind: target.kind,
      ...(target.name === undefined ? {} : { name: target.name }),
      path: pathString(target.segments),
      line: lines.linePos(pair.key.range[0]).line,
      action: target.action,
    }
  })
}

/** The document's data as plain JavaScript, refusing what cannot be resolved safely. */
export function resolveInput(doc: Document.Parsed, docIndex: number, lines: LineCounter): unknown {
  const root = doc.contents
  const depth = root === null ? 0 : depthOf(root)
  const at = root === null ? doc.range[0] : rangeOf(root)[0]
  const { line } = lines.linePos(at)
  if (depth > MAX_DEPTH) {
    throw new MalformedInputError(
      'ERR_K8S_TOO_DEEP',
      `document ${docIndex + 1} (line ${line}) nests deeper than ${MAX_DEPTH} levels`,
      {
        details: { document: docIndex + 1, line, limit: MAX_DEPTH },
        hint: 'check that the input is a Kubernetes manifest',
      },
    )
  }
  try {
    return doc.toJS() as unknown
  } catch (cause) {
    throw new MalformedInputError(
      'ERR_K8S_YAML_INVALID',
      `document ${docIndex + 1} (line ${line}) cannot be resolved: an alias refers to an unknown anchor, or aliases expand too much`,
      {
        cause,
        details: { document: docIndex + 1, line },
        hint: 'define every anchor (&name) before its aliases (*name), or write the values out in full',
      },
    )
  }
}

/** Set the annotation in the expected data, creating `metadata`/`annotations` as the edit does. */
export function setAnnotation(
  data: unknown,
  segments: readonly Segment[],
  annotation: PodAnnotation,
): void {
  let current: unknown = data
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1
    if (Array.isArray(current) && typeof segment === 'number') {
      current = current[segment]
      return
    }
    if (typeof current !== 'object' || current === null || typeof segment !== 'string') {
      throw new InternalError('ERR_K8S_SELF_CHECK', 'self-check failed (expected data path)', {
        hint: BUG_HINT,
      })
    }
    const record = current as Record<string, unknown>
    const next = record[segment]
    if (typeof next === 'object' && next !== null) current = next
    else {
      const created: Record<string, unknown> = {}
      record[segment] = created
      current = created
    }
    if (last) (current as Record<string, unknown>)[annotation.key] = annotation.value
  })
}

function nodeAt(root: ParsedNode | null, segments: readonly Segment[]): ParsedMap | undefined {
  let node: unknown = root
  for (const segment of segments) {
    if (typeof segment === 'number') node = isSeq(node) ? node.items[segment] : undefined
    else node = isMap(node) ? peek(node as ParsedMap, segment)?.value : undefined
  }
  return isMap(node) ? (node as ParsedMap) : undefined
}
