/**
 * Test support for the `kubernetes-annotation*.test.ts` files: the annotation used throughout, a
 * Pod manifest template, and helpers that run `annotatePodTemplates`, catch its errors, read the
 * data of a YAML stream and take inserted lines back out of the output. Not exported from the
 * package.
 *
 * @internal
 * @module
 */
import { expect } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { isInitguardError } from '@initguard/core'
import type { InitguardError } from '@initguard/core'
import { KATA_INITDATA_ANNOTATION, encodeAnnotation } from './kata.ts'
import { annotatePodTemplates } from './kubernetes-annotation.ts'
import type { AnnotatePodTemplatesResult, PodAnnotation } from './kubernetes-annotation.ts'

/** The annotation key the tests add: Kata's initdata annotation. */
export const KEY: string = KATA_INITDATA_ANNOTATION
/** The annotation value the tests add: a small initdata document, encoded for the annotation. */
export const VALUE: string = encodeAnnotation(
  new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n'),
)
/** Another valid value, standing for an annotation set before. */
export const OLD = 'H4sIAAAAAAAAA0tMSgYAwkOtGwMAAAA='
/** {@link KEY} with {@link VALUE}. */
const ANNOTATION: PodAnnotation = { key: KEY, value: VALUE }

/** Run `annotatePodTemplates` on `text`, with {@link ANNOTATION} unless told otherwise. */
export function run(
  text: string,
  annotation: PodAnnotation = ANNOTATION,
): AnnotatePodTemplatesResult {
  return annotatePodTemplates(text, annotation)
}

/** The InitguardError that `fn` throws; anything else thrown is rethrown. */
function errorOf(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an error')
}

/** The error {@link run} throws for `text`. */
export const refusal = (text: string, annotation: PodAnnotation = ANNOTATION): InitguardError =>
  errorOf(() => run(text, annotation))

/** The data of every document, as plain JavaScript. */
export function data(text: string): unknown[] {
  const docs = parseAllDocuments(text)
  if ('empty' in docs) return []
  for (const doc of docs) expect(doc.errors).toEqual([])
  return docs.map((doc) => doc.toJS() as unknown)
}

/** Set `key` in the annotations map at `path` (dotted, with `[n]` for items), creating maps. */
export function withAnnotation(
  doc: unknown,
  path: string,
  key: string = KEY,
  value: string = VALUE,
): unknown {
  const segments = path
    .split(/\.|(?=\[)/)
    .map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s))
  let node = doc as Record<string | number, unknown>
  for (const segment of segments) {
    const next = node[segment]
    if (typeof next !== 'object' || next === null) node[segment] = {}
    node = node[segment] as Record<string | number, unknown>
  }
  node[key] = value
  return doc
}

/**
 * Remove the lines that are in `output` but not in `input` (greedy line diff, line endings aside),
 * check that gives back `input` byte for byte, and return the removed lines.
 */
export function insertedLines(
  input: string,
  output: string,
  same: (a: string, b: string) => boolean = (a, b) => a === b,
): string[] {
  const inLines = input.split(/\r?\n/)
  const outTokens = output.split(/(\r?\n)/)
  const outLines = outTokens.filter((_, i) => i % 2 === 0)
  const kept: (string | undefined)[] = []
  let i = 0
  for (const line of outLines) {
    const original = inLines[i]
    const match = original !== undefined && same(original, line)
    kept.push(match ? original : undefined)
    if (match) i++
  }
  expect(i).toBe(inLines.length)
  let rebuilt = ''
  let pendingEol = ''
  kept.forEach((line, j) => {
    if (line === undefined) return
    rebuilt += pendingEol + line
    pendingEol = outTokens[2 * j + 1] ?? ''
  })
  expect(rebuilt).toBe(input)
  return outLines.filter((_, j) => kept[j] === undefined)
}

/** A Pod manifest with `metadata` (given as its lines, or empty) before its spec. */
export const pod = (metadata: string): string => `apiVersion: v1
kind: Pod
${metadata}spec:
  containers:
  - name: app
    image: busybox
`
