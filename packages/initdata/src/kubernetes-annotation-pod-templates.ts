/**
 * Finding the pod templates for `annotatePodTemplates`: which kinds (in which API groups) have
 * one and where, recursing into `List`s, and deciding per template what to insert or replace. The
 * edits are recorded in the context; nothing is written here.
 *
 * @module
 */
import { isAlias, isMap, isNode, isPair, isScalar, isSeq } from 'yaml'
import type { ParsedNode } from 'yaml'
import type { PlacementAction } from './kubernetes-annotation.ts'
import type {
  AnnotateContext,
  ManifestObject,
  ParsedKey,
  ParsedMap,
  Segment,
} from './kubernetes-annotation-context.ts'
import {
  insertEntries,
  insertUnderKey,
  replaceEmptyFlowMap,
} from './kubernetes-annotation-line-edits.ts'
import {
  aliasError,
  checkKeys,
  checkProps,
  layoutError,
  malformed,
  requireBlockMap,
  tagError,
} from './kubernetes-annotation-refusals.ts'
import { checkTotalSize } from './kubernetes-annotation-validation.ts'
import {
  describeNode,
  isEmptyValue,
  isNullNode,
  pathString,
  peek,
  rangeOf,
} from './kubernetes-annotation-yaml-source.ts'

/** Where each built-in workload keeps its pod template, and the API groups it lives in. */
interface WorkloadShape {
  readonly groups: readonly string[]
  readonly template: readonly string[]
}

const SPEC_TEMPLATE = ['spec', 'template'] as const
const WORKLOADS: ReadonlyMap<string, WorkloadShape> = new Map<string, WorkloadShape>([
  ['Pod', { groups: [''], template: [] }],
  ['ReplicationController', { groups: [''], template: SPEC_TEMPLATE }],
  ['Deployment', { groups: ['apps', 'extensions'], template: SPEC_TEMPLATE }],
  ['ReplicaSet', { groups: ['apps', 'extensions'], template: SPEC_TEMPLATE }],
  ['DaemonSet', { groups: ['apps', 'extensions'], template: SPEC_TEMPLATE }],
  ['StatefulSet', { groups: ['apps'], template: SPEC_TEMPLATE }],
  ['Job', { groups: ['batch'], template: SPEC_TEMPLATE }],
  ['CronJob', { groups: ['batch'], template: ['spec', 'jobTemplate', 'spec', 'template'] }],
])

/** The kinds with a pod template, for messages. */
export const WORKLOAD_NAMES =
  'Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or ReplicationController'

/**
 * Find the pod template of the object `map` (a document root or `List` item) and record its edit,
 * or record why it was skipped. `inheritedKind` is the item kind of a typed list.
 */
export function visitObject(
  ctx: AnnotateContext,
  map: ParsedMap,
  segments: readonly Segment[],
  inheritedKind: string | undefined,
  inList: boolean,
): void {
  const kindNode = peek(map, 'kind')?.value
  const name = nameOf(map)
  let kind: string
  if (kindNode === undefined) {
    if (inheritedKind !== undefined) kind = inheritedKind
    else {
      checkKeys(ctx, map, { kind: undefined, name }, segments)
      skip(ctx, segments, undefined, 'no kind: not a Kubernetes object')
      return
    }
  } else if (kindNode !== null && isAlias(kindNode)) {
    throw aliasError(ctx, { kind: undefined, name }, [...segments, 'kind'], kindNode)
  } else if (kindNode === null || !isScalar(kindNode) || typeof kindNode.value !== 'string') {
    skip(ctx, segments, undefined, 'kind is not a string')
    return
  } else kind = kindNode.value
  const obj: ManifestObject = { kind, name }
  const apiVersionNode = peek(map, 'apiVersion')?.value
  const apiVersion =
    apiVersionNode != null && isScalar(apiVersionNode) && typeof apiVersionNode.value === 'string'
      ? apiVersionNode.value
      : undefined
  const group =
    apiVersion === undefined
      ? undefined
      : apiVersion.includes('/')
        ? apiVersion.slice(0, apiVersion.indexOf('/'))
        : ''
  const listOf = kind === 'List' ? undefined : kind.endsWith('List') ? kind.slice(0, -4) : undefined
  const listShape = listOf === undefined ? undefined : WORKLOADS.get(listOf)
  if (
    kind === 'List' ||
    (listShape !== undefined && (group === undefined || listShape.groups.includes(group)))
  ) {
    if (inList) {
      skip(ctx, segments, kind, 'a List inside a List is not expanded')
      return
    }
    visitList(ctx, map, segments, obj, listOf)
    return
  }
  const shape = WORKLOADS.get(kind)
  if (shape === undefined) {
    skip(ctx, segments, kind, `kind ${kind} has no pod template`)
    return
  }
  if (group !== undefined && !shape.groups.includes(group)) {
    skip(
      ctx,
      segments,
      kind,
      `apiVersion ${apiVersion ?? ''} is not the Kubernetes API group of ${kind}, so this is some other ${kind}`,
    )
    return
  }
  annotateWorkload(ctx, map, segments, obj, shape)
}

function visitList(
  ctx: AnnotateContext,
  map: ParsedMap,
  segments: readonly Segment[],
  obj: ManifestObject,
  itemKind: string | undefined,
): void {
  checkProps(ctx, map, obj, segments)
  checkKeys(ctx, map, obj, segments)
  const pair = peek(map, 'items')
  const items = pair?.value
  const at = [...segments, 'items']
  if (pair === undefined || items === undefined || items === null || isNullNode(items)) {
    skip(ctx, segments, obj.kind, 'the List has no items')
    return
  }
  if (isAlias(items)) throw aliasError(ctx, obj, at, items)
  checkProps(ctx, items, obj, at)
  if (!isSeq(items)) {
    throw malformed(
      ctx,
      'ERR_K8S_NOT_A_SEQUENCE',
      obj,
      at,
      rangeOf(items)[0],
      `is ${describeNode(items)}, not a sequence of objects`,
      'a List keeps its objects in a sequence under items; fix the manifest',
    )
  }
  items.items.forEach((item, index) => {
    const itemAt = [...at, index]
    if (isNode(item) && isAlias(item)) throw aliasError(ctx, obj, itemAt, item)
    if (!isNode(item) || !isMap(item)) {
      throw malformed(
        ctx,
        'ERR_K8S_NOT_A_MAP',
        obj,
        itemAt,
        isPair(item) ? rangeOf(map)[0] : rangeOf(item)[0],
        `is ${isPair(item) ? 'a key-value pair' : describeNode(item)}, not a Kubernetes object`,
        'each item of a List must be an object (a map with apiVersion and kind)',
      )
    }
    visitObject(ctx, item, itemAt, itemKind, true)
  })
}

function annotateWorkload(
  ctx: AnnotateContext,
  root: ParsedMap,
  segments: readonly Segment[],
  obj: ManifestObject,
  shape: WorkloadShape,
): void {
  requireBlockMap(ctx, root, obj, segments)
  let map = root
  let parentKey: ParsedKey | undefined = undefined
  let at: readonly Segment[] = segments
  for (const segment of shape.template) {
    const pair = peek(map, segment)
    const next = [...at, segment]
    if (pair === undefined || pair.value === null || isNullNode(pair.value)) {
      throw malformed(
        ctx,
        'ERR_K8S_TEMPLATE_MISSING',
        obj,
        next,
        pair === undefined ? (parentKey ?? map).range[0] : pair.key.range[0],
        pair === undefined ? 'is missing' : 'is empty',
        `a ${obj.kind ?? 'workload'} needs its pod template at ${pathString([...segments, ...shape.template])}; fix the manifest`,
      )
    }
    parentKey = pair.key as ParsedKey
    map = requireBlockMap(ctx, pair.value, obj, next, parentKey)
    at = next
  }
  placeInTemplate(ctx, map, parentKey, at, obj)
}

function placeInTemplate(
  ctx: AnnotateContext,
  template: ParsedMap,
  templateKey: ParsedKey | undefined,
  segments: readonly Segment[],
  obj: ManifestObject,
): void {
  const metaAt = [...segments, 'metadata']
  const annotationsAt = [...metaAt, 'annotations']
  const step = ' '.repeat(ctx.step)
  const target = (action: PlacementAction): void => {
    ctx.targets.push({
      docIndex: ctx.docIndex,
      kind: obj.kind ?? '',
      name: obj.name,
      segments: annotationsAt,
      action,
    })
  }
  const metadata = peek(template, 'metadata')
  if (metadata === undefined) {
    insertEntries(ctx, template, templateKey, obj, segments, [
      'metadata:',
      `${step}annotations:`,
      `${step}${step}${ctx.keyLine}`,
    ])
    target('inserted')
    return
  }
  if (isEmptyValue(metadata.value)) {
    insertUnderKey(ctx, metadata.key as ParsedKey, obj, metaAt, [
      'annotations:',
      `${step}${ctx.keyLine}`,
    ])
    target('inserted')
    return
  }
  if (isEmptyFlowMap(ctx, metadata.value, obj, metaAt)) {
    replaceEmptyFlowMap(ctx, metadata.key as ParsedKey, metadata.value, obj, metaAt, [
      'annotations:',
      `${step}${ctx.keyLine}`,
    ])
    target('inserted')
    return
  }
  const meta = requireBlockMap(ctx, metadata.value, obj, metaAt, metadata.key)
  const annotations = peek(meta, 'annotations')
  if (annotations === undefined) {
    insertEntries(ctx, meta, metadata.key as ParsedKey, obj, metaAt, [
      'annotations:',
      `${step}${ctx.keyLine}`,
    ])
    target('inserted')
    return
  }
  if (isEmptyValue(annotations.value)) {
    insertUnderKey(ctx, annotations.key as ParsedKey, obj, annotationsAt, [ctx.keyLine])
    target('inserted')
    return
  }
  if (isEmptyFlowMap(ctx, annotations.value, obj, annotationsAt)) {
    replaceEmptyFlowMap(ctx, annotations.key as ParsedKey, annotations.value, obj, annotationsAt, [
      ctx.keyLine,
    ])
    target('inserted')
    return
  }
  const map = requireBlockMap(ctx, annotations.value, obj, annotationsAt, annotations.key)
  const existing = peek(map, ctx.annotation.key)
  if (existing === undefined) {
    checkTotalSize(ctx, map, obj, annotationsAt)
    insertEntries(ctx, map, annotations.key as ParsedKey, obj, annotationsAt, [ctx.keyLine])
    target('inserted')
    return
  }
  const action = replaceValue(ctx, existing.key as ParsedKey, existing.value, obj, annotationsAt)
  if (action !== 'unchanged') checkTotalSize(ctx, map, obj, annotationsAt)
  target(action)
}

/**
 * Whether `node` is `{}` (an empty flow map, as Helm and kubectl write an empty map), checking
 * first that it carries no anchor or tag. A flow map with entries is not: it is refused as flow
 * style, because rewriting it would mean re-serialising the user's entries.
 */
function isEmptyFlowMap(
  ctx: AnnotateContext,
  node: ParsedNode | null,
  obj: ManifestObject,
  at: readonly Segment[],
): node is ParsedMap {
  if (node === null || !isMap(node) || node.flow !== true || node.items.length !== 0) return false
  checkProps(ctx, node, obj, at)
  return true
}

/** Set an existing annotation to the value; returns `unchanged` or `replaced`. */
function replaceValue(
  ctx: AnnotateContext,
  key: ParsedKey,
  value: ParsedNode | null,
  obj: ManifestObject,
  mapAt: readonly Segment[],
): PlacementAction {
  const at = [...mapAt, ctx.annotation.key]
  if (value === null || isEmptyValue(value)) {
    // `key:` with nothing after it: put the value right after the colon.
    const colon = ctx.text.indexOf(':', key.range[1])
    if (colon < 0 || !/^[ \t]*$/.test(ctx.text.slice(key.range[1], colon))) {
      throw layoutError(ctx, obj, at, key.range[0])
    }
    ctx.edits.push({ start: colon + 1, end: colon + 1, text: ` ${ctx.valueText}`, shape: 'inline' })
    return 'replaced'
  }
  if (isAlias(value)) throw aliasError(ctx, obj, at, value)
  if (!isScalar(value)) {
    throw malformed(
      ctx,
      'ERR_K8S_ANNOTATION_NOT_STRING',
      obj,
      at,
      value.range[0],
      `is ${describeNode(value)}; an annotation value must be a string`,
      'remove the existing annotation and run again',
    )
  }
  if (value.tag !== undefined && value.tag !== 'tag:yaml.org,2002:str') {
    throw tagError(ctx, obj, at, value)
  }
  if (value.value === ctx.annotation.value) return 'unchanged'
  if (value.anchor !== undefined) throw aliasError(ctx, obj, at, value)
  if (value.type === 'BLOCK_LITERAL' || value.type === 'BLOCK_FOLDED') {
    throw layoutError(ctx, obj, at, value.range[0], 'holds a block scalar (| or >)')
  }
  ctx.edits.push({
    start: value.range[0],
    end: value.range[1],
    text: ctx.valueText,
    shape: 'inline',
  })
  return 'replaced'
}

function nameOf(map: ParsedMap): string | undefined {
  const metadata = peek(map, 'metadata')?.value
  if (metadata == null || !isMap(metadata)) return undefined
  const name = peek(metadata, 'name')?.value
  return name != null && isScalar(name) && typeof name.value === 'string' ? name.value : undefined
}

function skip(
  ctx: AnnotateContext,
  segments: readonly Segment[],
  kind: string | undefined,
  reason: string,
): void {
  ctx.skipped.push({
    document: ctx.docIndex + 1,
    ...(kind === undefined ? {} : { kind }),
    ...(segments.length === 0 ? {} : { path: pathString(segments) }),
    reason,
  })
}
