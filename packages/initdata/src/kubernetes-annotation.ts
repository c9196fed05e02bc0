/**
 * Add a pod annotation (in practice the Kata initdata annotation,
 * `io.katacontainers.config.hypervisor.cc_init_data`) to every pod template of a multi-document
 * Kubernetes YAML file, by editing the text in place.
 *
 * Nothing is re-serialised: the file is parsed with `yaml` only to find source offsets, and the
 * output is the input with whole lines inserted (or, for an annotation already present with another
 * value, that one value's text replaced). Comments, key order, quoting, blank lines, `---`/`...`
 * markers, line endings and a missing final newline all stay as they were.
 *
 * Where the annotation goes (the pod template's `metadata.annotations`):
 *
 * - `Pod`: the object itself;
 * - `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job`, `ReplicationController`:
 *   `spec.template`;
 * - `CronJob`: `spec.jobTemplate.spec.template`;
 * - `List`, and typed lists such as `DeploymentList`: each of `items`.
 *
 * Other kinds, and built-in kind names in another API group (a Volcano `Job`, say), are skipped.
 *
 * New keys go first in their map, each on its own line: right after the line of the parent key
 * (`metadata:`, `annotations:`, `template:`), or, for a map with no parent key (a `Pod` document or
 * `List` item without `metadata`), before its first key that starts a line. Indentation follows the
 * document's own step (2 when it has no nested map), line endings the neighbouring line.
 *
 * Anything that cannot be edited safely in place (flow style, anchors, aliases, merge keys, tags, a
 * missing template, …) is refused with a {@link MalformedInputError}. The result is re-parsed and
 * checked (same data plus exactly the annotation; removing the edits gives back the input) before it
 * is returned; a failed check is an {@link InternalError}, never a wrong result.
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util'
import {
  LineCounter,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  parseDocument,
} from 'yaml'
import type { Document, EmptyStream, ParsedNode, Scalar, YAMLError, YAMLMap } from 'yaml'
import {
  ExpectationError,
  InternalError,
  MalformedInputError,
  UsageError,
  isInitguardError,
} from '@initguard/core'
import type { ErrorCode } from '@initguard/core'

/** Kubernetes' limit on the total size of all annotations of one object, in bytes (256 KiB). */
export const MAX_ANNOTATIONS_SIZE = 262_144

/** The annotation to add. */
export interface PodAnnotation {
  /** A Kubernetes annotation key: optional DNS-subdomain prefix and `/`, then a name. */
  readonly key: string
  /** The value: base64 characters only (`A-Z a-z 0-9 + / =`). */
  readonly value: string
}

/** What was done at one pod template. */
export type PlacementAction = 'inserted' | 'replaced' | 'unchanged'

/** One pod template and what happened to its annotation. */
export interface AnnotationPlacement {
  /** 1-based number of the YAML document in the file. */
  readonly document: number
  /** The object's kind (`Pod`, `Deployment`, …). */
  readonly kind: string
  /** The object's `metadata.name`, when it has one. */
  readonly name?: string
  /** Path of the annotations map in the document, e.g. `spec.template.metadata.annotations`. */
  readonly path: string
  /** 1-based line of the annotation key in the output text. */
  readonly line: number
  /** `inserted`: the key was added; `replaced`: it had another value; `unchanged`: already set. */
  readonly action: PlacementAction
}

/** A document (or `List` item) that has no pod template and was left alone. */
export interface SkippedDocument {
  /** 1-based number of the YAML document in the file. */
  readonly document: number
  /** The object's kind, when it has one. */
  readonly kind?: string
  /** Path of the object inside the document, for `List` items (e.g. `items[2]`). */
  readonly path?: string
  /** Why it was skipped. */
  readonly reason: string
}

/** Result of {@link annotatePodTemplates}. */
export interface AnnotatePodTemplatesResult {
  /** The edited file. */
  readonly text: string
  /** Every pod template, in file order. */
  readonly placements: readonly AnnotationPlacement[]
  /** Documents and `List` items without a pod template. */
  readonly skipped: readonly SkippedDocument[]
}

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
const WORKLOAD_NAMES =
  'Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob or ReplicationController'

/** Deeper documents are refused before they are resolved (no real manifest comes close). */
const MAX_DEPTH = 200
const DEFAULT_STEP = 2

const BUG_HINT =
  'this is a bug in Initguard: please report it with the input file (secrets removed); add the annotation by hand meanwhile'
const BLOCK_HINT =
  'write this part of the manifest in block style (one key per line, indented), or add the annotation by hand'

type Segment = string | number

/** A text edit against the input: `lines` inserts whole lines, `inline` edits within one line. */
interface Edit {
  readonly start: number
  readonly end: number
  readonly text: string
  readonly shape: 'lines' | 'inline'
}

/** A pod template found, before the output exists. */
interface Target {
  readonly docIndex: number
  readonly kind: string
  readonly name: string | undefined
  /** Segments of the annotations map. */
  readonly segments: readonly Segment[]
  readonly action: PlacementAction
}

/** What is being worked on, for edits and error messages. */
interface Ctx {
  readonly text: string
  readonly lines: LineCounter
  readonly docIndex: number
  readonly step: number
  readonly annotation: PodAnnotation
  readonly keyLine: string
  readonly valueText: string
  readonly edits: Edit[]
  readonly targets: Target[]
  readonly skipped: SkippedDocument[]
}

/** The object being edited (a document root or a `List` item). */
interface Obj {
  readonly kind: string | undefined
  readonly name: string | undefined
}

type Map_ = YAMLMap.Parsed
type Key = Scalar.Parsed

/**
 * Add `annotation` to every pod template in `text`, a multi-document Kubernetes YAML file.
 *
 * @returns the edited text, where each pod template's annotation went, and what was skipped.
 * @throws {@link UsageError} `ERR_K8S_ANNOTATION_KEY_INVALID`, `ERR_K8S_ANNOTATION_VALUE_INVALID`,
 *   `ERR_K8S_ANNOTATION_TOO_LARGE`.
 * @throws {@link MalformedInputError} `ERR_K8S_YAML_INVALID`, `ERR_K8S_LINE_ENDING`,
 *   `ERR_K8S_ROOT_NOT_MAP`, `ERR_K8S_TEMPLATE_MISSING`, `ERR_K8S_NOT_A_MAP`,
 *   `ERR_K8S_NOT_A_SEQUENCE`, `ERR_K8S_FLOW_STYLE`, `ERR_K8S_ALIAS`, `ERR_K8S_MERGE_KEY`,
 *   `ERR_K8S_TAG`, `ERR_K8S_ANNOTATION_NOT_STRING`, `ERR_K8S_LAYOUT_UNSUPPORTED`,
 *   `ERR_K8S_TOO_DEEP`, `ERR_K8S_NO_POD_TEMPLATE`.
 * @throws {@link ExpectationError} `ERR_K8S_ANNOTATIONS_TOTAL_TOO_LARGE`.
 * @throws {@link InternalError} `ERR_K8S_SELF_CHECK` when the result fails its own check.
 */
export function annotatePodTemplates(
  text: string,
  annotation: PodAnnotation,
): AnnotatePodTemplatesResult {
  try {
    return annotate(text, annotation)
  } catch (e) {
    if (isInitguardError(e)) throw e
    throw new InternalError(
      'ERR_K8S_INTERNAL',
      'unexpected failure while adding the pod annotation; no output was produced',
      { cause: e, hint: BUG_HINT },
    )
  }
}

function annotate(text: string, annotation: PodAnnotation): AnnotatePodTemplatesResult {
  const { keyLine, valueText } = checkAnnotation(annotation)
  checkLineEndings(text)
  const lines = new LineCounter()
  const docs = parseStream(text, lines)
  const edits: Edit[] = []
  const targets: Target[] = []
  const skipped: SkippedDocument[] = []
  docs.forEach((doc, docIndex) => {
    const root = doc.contents
    if (root === null || (isScalar(root) && root.value === null && root.source === '')) {
      skipped.push({ document: docIndex + 1, reason: 'empty document' })
      return
    }
    const ctx: Ctx = {
      text,
      lines,
      docIndex,
      step: detectStep(text, root),
      annotation,
      keyLine,
      valueText,
      edits,
      targets,
      skipped,
    }
    if (!isMap(root)) {
      throw malformed(
        ctx,
        'ERR_K8S_ROOT_NOT_MAP',
        { kind: undefined, name: undefined },
        [],
        rangeOf(root)[0],
        `is ${describeNode(root)}, not a Kubernetes object (a map with apiVersion and kind)`,
        'each document of a manifest must be one object; remove or fix this document',
      )
    }
    visitObject(ctx, root, [], undefined, false)
  })
  if (targets.length === 0) {
    throw new MalformedInputError(
      'ERR_K8S_NO_POD_TEMPLATE',
      `the input has no pod template: none of its ${docs.length} document(s) is a ${WORKLOAD_NAMES}`,
      {
        details: { documents: docs.length, skipped: skipped.length },
        hint: 'give the manifest that defines the pods (Services, ConfigMaps and the like carry no pod template)',
      },
    )
  }
  const expected = new Map<number, unknown>()
  for (const target of targets) {
    const doc = docs[target.docIndex]
    if (doc === undefined) throw new InternalError('ERR_K8S_INTERNAL', 'lost a document')
    let data = expected.get(target.docIndex)
    if (data === undefined) {
      data = resolveInput(doc, target.docIndex, lines)
      expected.set(target.docIndex, data)
    }
    setAnnotation(data, target.segments, annotation)
  }
  const sorted = [...edits].sort((a, b) => a.start - b.start)
  const output = applyEdits(text, sorted)
  const placements = selfCheck(text, output, sorted, docs, expected, targets, annotation)
  return { text: output, placements, skipped }
}

// ---------------------------------------------------------------------------------------------
// Annotation, line endings, parsing

const ASCII_GRAPHIC = /^[\x21-\x7e]+$/
const ANNOTATION_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/
const BASE64_CHARS = /^[A-Za-z0-9+/=]+$/

function checkAnnotation(annotation: PodAnnotation): { keyLine: string; valueText: string } {
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

function checkLineEndings(text: string): void {
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

function parseStream(text: string, lines: LineCounter): Document.Parsed[] {
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

// ---------------------------------------------------------------------------------------------
// Finding pod templates

function visitObject(
  ctx: Ctx,
  map: Map_,
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
  const obj: Obj = { kind, name }
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
  ctx: Ctx,
  map: Map_,
  segments: readonly Segment[],
  obj: Obj,
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
  ctx: Ctx,
  root: Map_,
  segments: readonly Segment[],
  obj: Obj,
  shape: WorkloadShape,
): void {
  requireBlockMap(ctx, root, obj, segments)
  let map = root
  let parentKey: Key | undefined = undefined
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
    parentKey = pair.key as Key
    map = requireBlockMap(ctx, pair.value, obj, next, parentKey)
    at = next
  }
  placeInTemplate(ctx, map, parentKey, at, obj)
}

function placeInTemplate(
  ctx: Ctx,
  template: Map_,
  templateKey: Key | undefined,
  segments: readonly Segment[],
  obj: Obj,
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
    insertUnderKey(ctx, metadata.key as Key, obj, metaAt, ['annotations:', `${step}${ctx.keyLine}`])
    target('inserted')
    return
  }
  const meta = requireBlockMap(ctx, metadata.value, obj, metaAt, metadata.key as Key)
  const annotations = peek(meta, 'annotations')
  if (annotations === undefined) {
    insertEntries(ctx, meta, metadata.key as Key, obj, metaAt, [
      'annotations:',
      `${step}${ctx.keyLine}`,
    ])
    target('inserted')
    return
  }
  if (isEmptyValue(annotations.value)) {
    insertUnderKey(ctx, annotations.key as Key, obj, annotationsAt, [ctx.keyLine])
    target('inserted')
    return
  }
  const map = requireBlockMap(ctx, annotations.value, obj, annotationsAt, annotations.key as Key)
  const existing = peek(map, ctx.annotation.key)
  if (existing === undefined) {
    checkTotalSize(ctx, map, obj, annotationsAt)
    insertEntries(ctx, map, annotations.key as Key, obj, annotationsAt, [ctx.keyLine])
    target('inserted')
    return
  }
  const action = replaceValue(ctx, existing.key as Key, existing.value, obj, annotationsAt)
  if (action !== 'unchanged') checkTotalSize(ctx, map, obj, annotationsAt)
  target(action)
}

/** Set an existing annotation to the value; returns `unchanged` or `replaced`. */
function replaceValue(
  ctx: Ctx,
  key: Key,
  value: ParsedNode | null,
  obj: Obj,
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

function checkTotalSize(ctx: Ctx, map: Map_, obj: Obj, at: readonly Segment[]): void {
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

// ---------------------------------------------------------------------------------------------
// Edits

/**
 * Insert `lines` as the first entries of a block map: right after the parent key's line when the
 * map is a value, else before its first key that starts a line (document roots, `List` items).
 */
function insertEntries(
  ctx: Ctx,
  map: Map_,
  parentKey: Key | undefined,
  obj: Obj,
  at: readonly Segment[],
  lines: readonly string[],
): void {
  const { text } = ctx
  let offset: number
  let indent: number
  if (parentKey !== undefined) {
    const first = map.items[0]?.key
    if (!isLineKey(text, first)) {
      throw layoutError(ctx, obj, at, parentKey.range[0])
    }
    offset = afterKeyLine(ctx, parentKey, obj, at)
    const between = text.slice(offset, lineStart(text, first.range[0]))
    if (offset > first.range[0] || !/^(?:[ \t]*(?:#[^\n]*)?\r?\n)*$/.test(between)) {
      throw layoutError(ctx, obj, at, parentKey.range[0])
    }
    indent = first.range[0] - lineStart(text, first.range[0])
  } else {
    const first = map.items.find((pair) => isLineKey(text, pair.key))?.key
    if (first === undefined) throw layoutError(ctx, obj, at, map.range[0])
    offset = lineStart(text, first.range[0])
    indent = first.range[0] - offset
  }
  ctx.edits.push(linesEdit(text, offset, indent, lines))
}

/** Insert `lines` under `key: ` (a key with an empty value), one indentation step deeper. */
function insertUnderKey(
  ctx: Ctx,
  key: Key,
  obj: Obj,
  at: readonly Segment[],
  lines: readonly string[],
): void {
  const offset = afterKeyLine(ctx, key, obj, at)
  const indent = key.range[0] - lineStart(ctx.text, key.range[0]) + ctx.step
  ctx.edits.push(linesEdit(ctx.text, offset, indent, lines))
}

/** Offset of the line after `key:` (or the end of the text), checking nothing else is on it. */
function afterKeyLine(ctx: Ctx, key: Key, obj: Obj, at: readonly Segment[]): number {
  const { text } = ctx
  const newline = text.indexOf('\n', key.range[1])
  const end = newline < 0 ? text.length : newline
  if (!/^[ \t]*:(?:[ \t]+#[^\n]*)?[ \t]*\r?$/.test(text.slice(key.range[1], end))) {
    throw layoutError(ctx, obj, at, key.range[0])
  }
  return newline < 0 ? text.length : newline + 1
}

function linesEdit(text: string, offset: number, indent: number, lines: readonly string[]): Edit {
  const pad = ' '.repeat(indent)
  const eol = eolNear(text, offset === 0 ? 0 : offset - 1)
  const atEnd = offset === text.length && offset > 0 && text[offset - 1] !== '\n'
  return {
    start: offset,
    end: offset,
    text: atEnd
      ? lines.map((line) => `${eol}${pad}${line}`).join('')
      : lines.map((line) => `${pad}${line}${eol}`).join(''),
    shape: 'lines',
  }
}

/** The line ending of the line holding `offset` (or of the nearest line before it). */
function eolNear(text: string, offset: number): string {
  let newline = text.indexOf('\n', offset)
  if (newline < 0) newline = offset > 0 ? text.lastIndexOf('\n', offset - 1) : -1
  if (newline < 0) return '\n'
  return newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n'
}

function applyEdits(text: string, sorted: readonly Edit[]): string {
  let out = ''
  let position = 0
  for (const edit of sorted) {
    if (edit.start < position) {
      throw new InternalError('ERR_K8S_SELF_CHECK', 'self-check failed: two edits overlap', {
        hint: BUG_HINT,
      })
    }
    out += text.slice(position, edit.start) + edit.text
    position = edit.end
  }
  return out + text.slice(position)
}

// ---------------------------------------------------------------------------------------------
// Self-check

function selfCheck(
  input: string,
  output: string,
  sorted: readonly Edit[],
  inputDocs: readonly Document.Parsed[],
  expected: ReadonlyMap<number, unknown>,
  targets: readonly Target[],
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
function resolveInput(doc: Document.Parsed, docIndex: number, lines: LineCounter): unknown {
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
function setAnnotation(
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

function nodeAt(root: ParsedNode | null, segments: readonly Segment[]): Map_ | undefined {
  let node: unknown = root
  for (const segment of segments) {
    if (typeof segment === 'number') node = isSeq(node) ? node.items[segment] : undefined
    else node = isMap(node) ? peek(node as Map_, segment)?.value : undefined
  }
  return isMap(node) ? (node as Map_) : undefined
}

// ---------------------------------------------------------------------------------------------
// Checks on the path to the annotation

/**
 * The node as a block map, or a refusal. Errors point at `key` (the line that introduces the
 * node) when there is one, else at the node.
 */
function requireBlockMap(
  ctx: Ctx,
  node: ParsedNode | null,
  obj: Obj,
  at: readonly Segment[],
  key?: Key,
): Map_ {
  if (node === null) throw new InternalError('ERR_K8S_INTERNAL', 'unexpected empty node')
  const offset = key?.range[0] ?? node.range[0]
  if (isAlias(node)) throw aliasError(ctx, obj, at, node, offset)
  checkProps(ctx, node, obj, at, offset)
  if (!isMap(node)) {
    throw malformed(
      ctx,
      'ERR_K8S_NOT_A_MAP',
      obj,
      at,
      offset,
      `is ${describeNode(node)}, not a map`,
      isScalar(node) && node.value === null
        ? 'leave the value empty (`key:` with nothing after it) or remove the line'
        : 'Kubernetes expects a map here; fix the manifest',
    )
  }
  if (node.flow === true) {
    throw malformed(
      ctx,
      'ERR_K8S_FLOW_STYLE',
      obj,
      at,
      offset,
      'is a flow-style map ({…}, as in JSON); only block-style YAML is edited in place',
      BLOCK_HINT,
    )
  }
  checkKeys(ctx, node, obj, at)
  return node
}

function checkProps(
  ctx: Ctx,
  node: ParsedNode,
  obj: Obj,
  at: readonly Segment[],
  offset: number = node.range[0],
): void {
  if (!isAlias(node) && node.anchor !== undefined) throw aliasError(ctx, obj, at, node, offset)
  if (node.tag !== undefined) throw tagError(ctx, obj, at, node, offset)
}

/** Refuse alias keys and merge keys (`<<`): either may hide the key being looked for. */
function checkKeys(ctx: Ctx, map: Map_, obj: Obj, at: readonly Segment[]): void {
  for (const { key } of map.items) {
    if (isAlias(key)) throw aliasError(ctx, obj, at, key)
    if (isScalar(key) && (key.value === '<<' || typeof key.value === 'symbol')) {
      throw malformed(
        ctx,
        'ERR_K8S_MERGE_KEY',
        obj,
        at,
        key.range[0],
        'uses a merge key (<<)',
        'write the merged keys out in full, or add the annotation by hand',
      )
    }
  }
}

function aliasError(
  ctx: Ctx,
  obj: Obj,
  at: readonly Segment[],
  node: ParsedNode,
  offset: number = node.range[0],
): MalformedInputError {
  return malformed(
    ctx,
    'ERR_K8S_ALIAS',
    obj,
    at,
    offset,
    isAlias(node) ? 'is an alias (*…)' : 'carries an anchor (&…) that other nodes may share',
    'write the pod template out in full, without anchors or aliases, or add the annotation by hand',
  )
}

function tagError(
  ctx: Ctx,
  obj: Obj,
  at: readonly Segment[],
  node: ParsedNode,
  offset: number = node.range[0],
): MalformedInputError {
  return malformed(
    ctx,
    'ERR_K8S_TAG',
    obj,
    at,
    offset,
    'has an explicit tag (!…)',
    'remove the tag, or add the annotation by hand',
  )
}

function layoutError(
  ctx: Ctx,
  obj: Obj,
  at: readonly Segment[],
  offset: number,
  what = 'is written in a layout that is not edited in place (an explicit ? key, or content on the line of its key)',
): MalformedInputError {
  return malformed(ctx, 'ERR_K8S_LAYOUT_UNSUPPORTED', obj, at, offset, what, BLOCK_HINT)
}

function malformed(
  ctx: Ctx,
  code: ErrorCode,
  obj: Obj,
  at: readonly Segment[],
  offset: number,
  what: string,
  hint: string,
): MalformedInputError {
  const { line, col } = ctx.lines.linePos(offset)
  const document = ctx.docIndex + 1
  const path = pathString(at)
  const subject = path === '' ? 'the document root' : path
  return new MalformedInputError(
    code,
    `document ${document}${obj.kind === undefined ? '' : ` (${obj.kind})`}, line ${line}: ${subject} ${what}`,
    {
      details: {
        document,
        line,
        column: col,
        path,
        ...(obj.kind === undefined ? {} : { kind: obj.kind }),
      },
      hint,
    },
  )
}

function skip(
  ctx: Ctx,
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

// ---------------------------------------------------------------------------------------------
// Small helpers

function peek(map: Map_, key: string): Map_['items'][number] | undefined {
  return map.items.find((pair) => isScalar(pair.key) && pair.key.value === key)
}

function nameOf(map: Map_): string | undefined {
  const metadata = peek(map, 'metadata')?.value
  if (metadata == null || !isMap(metadata)) return undefined
  const name = peek(metadata, 'name')?.value
  return name != null && isScalar(name) && typeof name.value === 'string' ? name.value : undefined
}

/** `null`, `~`, or nothing at all, without tag or anchor. */
function isNullNode(node: ParsedNode): boolean {
  return (
    isScalar(node) && node.value === null && node.tag === undefined && node.anchor === undefined
  )
}

/** `key:` with nothing (but perhaps a comment) after it. */
function isEmptyValue(node: ParsedNode | null): boolean {
  return node === null || (isNullNode(node) && isScalar(node) && node.source === '')
}

function describeNode(node: ParsedNode): string {
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a sequence'
  if (isAlias(node)) return 'an alias'
  return node.value === null ? 'null' : `a ${typeof node.value} scalar`
}

function rangeOf(node: ParsedNode): readonly [number, number, number] {
  return node.range
}

function lineStart(text: string, offset: number): number {
  return offset === 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1
}

/** A non-empty scalar key with only spaces before it on its line. */
function isLineKey(text: string, key: unknown): key is Key {
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

function pathString(segments: readonly Segment[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`,
    )
    .join('')
}

/** Nesting depth of a node, walked without recursion. */
function depthOf(root: ParsedNode): number {
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

/**
 * The document's indentation step: the most common distance between a key and the keys of the
 * block map under it (ties go to the smaller); 2 when there is no nested block map.
 */
function detectStep(text: string, root: ParsedNode): number {
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
