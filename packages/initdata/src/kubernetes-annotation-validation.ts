/**
 * Validation of the annotation for `annotatePodTemplates`: the key and value against
 * Kubernetes' rules, how they are written as YAML, and the size limit on all annotations of an
 * object.
 *
 * @module
 */
import { isScalar, parseDocument } from 'yaml'
import { ExpectationError, UsageError } from '@initguard/core'
import type { PodAnnotation } from './kubernetes-annotation.ts'
import type {
  AnnotateContext,
  ManifestObject,
  ParsedMap,
  Segment,
} from './kubernetes-annotation-context.ts'
import { pathString } from './kubernetes-annotation-yaml-source.ts'

/** Kubernetes' limit on the total size of all annotations of one object, in bytes (256 KiB). */
export const MAX_ANNOTATIONS_SIZE = 262_144

const ASCII_GRAPHIC = /^[\x21-\x7e]+$/
const ANNOTATION_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/
const BASE64_CHARS = /^[A-Za-z0-9+/=]+$/

/**
 * Check the annotation's key, value and size, and return it as YAML: the `key: value` line to insert
 * and the value text for a replacement.
 */
export function checkAnnotation(annotation: PodAnnotation): { keyLine: string; valueText: string } {
  const { key, value } = annotation
  if (!isAnnotationKey(key)) {
    throw new UsageError(
      'ERR_K8S_ANNOTATION_KEY_INVALID',
      `the annotation key is not a valid Kubernetes annotation key (length ${key.length})`,
      {
        details: { field: 'annotation key', length: key.length },
        hint: 'use an optional DNS-subdomain prefix and "/" followed by a name of at most 63 characters of A-Z a-z 0-9 . _ - that begins and ends with a letter or digit, e.g. io.katacontainers.config.hypervisor.cc_init_data',
      },
    )
  }
  if (!BASE64_CHARS.test(value)) {
    throw new UsageError(
      'ERR_K8S_ANNOTATION_VALUE_INVALID',
      value.length === 0
        ? 'the annotation value is empty'
        : `the annotation value has a character other than base64 (A-Z a-z 0-9 + / =) at position ${value.search(/[^A-Za-z0-9+/=]/)}`,
      {
        details: { field: 'annotation value', length: value.length },
        hint: 'give the value as one line of base64, e.g. the output of `gzip -c initdata.toml | base64 -w0`',
      },
    )
  }
  const size = key.length + value.length
  if (size > MAX_ANNOTATIONS_SIZE) {
    throw new UsageError(
      'ERR_K8S_ANNOTATION_TOO_LARGE',
      `the annotation is ${size} bytes, more than the ${MAX_ANNOTATIONS_SIZE} bytes Kubernetes allows for all annotations of an object together: the initdata document is too large to go in a pod annotation`,
      {
        details: { size, limit: MAX_ANNOTATIONS_SIZE },
        hint: 'shrink the initdata document (e.g. move large data out of it) or deliver it on a block device instead of the annotation',
      },
    )
  }
  const valueText = scalarText(value)
  return { keyLine: `${scalarText(key)}: ${valueText}`, valueText }
}

/** Kubernetes' rule (`ValidateAnnotations`): the lower-cased key is a qualified name. */
function isAnnotationKey(key: string): boolean {
  if (!ASCII_GRAPHIC.test(key)) return false
  const parts = key.toLowerCase().split('/')
  if (parts.length > 2) return false
  const name = parts[parts.length - 1] ?? ''
  const prefix = parts.length === 2 ? (parts[0] ?? '') : undefined
  if (name.length === 0 || name.length > 63 || !ANNOTATION_NAME.test(name)) return false
  return prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix))
}

/**
 * The scalar as YAML: plain when both YAML 1.1 (what Kubernetes' parser follows) and YAML 1.2 read
 * it back as the same string, else double-quoted (the allowed characters never need escapes).
 */
function scalarText(s: string): string {
  const plain = (['1.1', '1.2'] as const).every((version) => {
    const doc = parseDocument(s, { version, prettyErrors: false, logLevel: 'silent' })
    return doc.errors.length === 0 && isScalar(doc.contents) && doc.contents.value === s
  })
  return plain ? s : `"${s}"`
}

/**
 * Refuse when the annotations map, with the new annotation in place of any old one, exceeds
 * {@link MAX_ANNOTATIONS_SIZE}: Kubernetes would reject the object.
 */
export function checkTotalSize(
  ctx: AnnotateContext,
  map: ParsedMap,
  obj: ManifestObject,
  at: readonly Segment[],
): void {
  const encoder = new TextEncoder()
  const bytes = (node: unknown): number => {
    const value: unknown = isScalar(node) ? node.value : undefined
    return typeof value === 'string' ||
      typeof value === 'number' ||
      typeof value === 'boolean' ||
      typeof value === 'bigint'
      ? encoder.encode(String(value)).length
      : 0
  }
  let total = ctx.annotation.key.length + ctx.annotation.value.length
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === ctx.annotation.key) continue
    total += bytes(pair.key) + bytes(pair.value)
  }
  if (total > MAX_ANNOTATIONS_SIZE) {
    const { line } = ctx.lines.linePos(map.range[0])
    throw new ExpectationError(
      'ERR_K8S_ANNOTATIONS_TOTAL_TOO_LARGE',
      `document ${ctx.docIndex + 1}${obj.kind === undefined ? '' : ` (${obj.kind})`}, line ${line}: with the new annotation, ${pathString(at)} would hold ${total} bytes, more than the ${MAX_ANNOTATIONS_SIZE} bytes Kubernetes allows`,
      {
        details: {
          document: ctx.docIndex + 1,
          line,
          path: pathString(at),
          size: total,
          limit: MAX_ANNOTATIONS_SIZE,
        },
        hint: 'remove other large annotations from the pod template, shrink the initdata document, or deliver it on a block device',
      },
    )
  }
}
