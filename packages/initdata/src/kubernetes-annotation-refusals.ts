/**
 * Refusals for `annotatePodTemplates`: the checks on the path to the annotation (block maps
 * only, no anchors, aliases, tags or merge keys) and the {@link MalformedInputError}s they raise,
 * each naming the document, line, column and path.
 *
 * @module
 */
import { isAlias, isMap, isScalar } from 'yaml'
import type { ParsedNode } from 'yaml'
import { InternalError, MalformedInputError } from '@initguard/core'
import type { ErrorCode } from '@initguard/core'
import type {
  AnnotateContext,
  ManifestObject,
  ParsedMap,
  Segment,
} from './kubernetes-annotation-context.ts'
import { describeNode, pathString } from './kubernetes-annotation-yaml-source.ts'

const BLOCK_HINT =
  'write this part of the manifest in block style (one key per line, indented), or add the annotation by hand'

/**
 * The node as a block map, or a refusal. Errors point at `key` (the line that introduces the
 * node; only its position is read) when there is one, else at the node.
 */
export function requireBlockMap(
  ctx: AnnotateContext,
  node: ParsedNode | null,
  obj: ManifestObject,
  at: readonly Segment[],
  key?: ParsedNode,
): ParsedMap {
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

/** Refuse an anchor or a tag on `node`: an anchored node may be shared, a tag may change its type. */
export function checkProps(
  ctx: AnnotateContext,
  node: ParsedNode,
  obj: ManifestObject,
  at: readonly Segment[],
  offset: number = node.range[0],
): void {
  if (!isAlias(node) && node.anchor !== undefined) throw aliasError(ctx, obj, at, node, offset)
  if (node.tag !== undefined) throw tagError(ctx, obj, at, node, offset)
}

/** Refuse alias keys and merge keys (`<<`): either may hide the key being looked for. */
export function checkKeys(
  ctx: AnnotateContext,
  map: ParsedMap,
  obj: ManifestObject,
  at: readonly Segment[],
): void {
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

/** A refusal of one YAML node, at its start unless `offset` says otherwise. */
export type NodeRefusal = (
  ctx: AnnotateContext,
  obj: ManifestObject,
  at: readonly Segment[],
  node: ParsedNode,
  offset?: number,
) => MalformedInputError

function nodeRefusal(
  code: ErrorCode,
  what: (node: ParsedNode) => string,
  hint: string,
): NodeRefusal {
  return (ctx, obj, at, node, offset = node.range[0]) =>
    malformed(ctx, code, obj, at, offset, what(node), hint)
}

/** The refusal of an alias, or of an anchor that aliases elsewhere may share. */
export const aliasError: NodeRefusal = nodeRefusal(
  'ERR_K8S_ALIAS',
  (node) =>
    isAlias(node) ? 'is an alias (*…)' : 'carries an anchor (&…) that other nodes may share',
  'write the pod template out in full, without anchors or aliases, or add the annotation by hand',
)

/** The refusal of an explicit tag. */
export const tagError: NodeRefusal = nodeRefusal(
  'ERR_K8S_TAG',
  () => 'has an explicit tag (!…)',
  'remove the tag, or add the annotation by hand',
)

/** The refusal of a layout the line edits cannot handle safely. */
export function layoutError(
  ctx: AnnotateContext,
  obj: ManifestObject,
  at: readonly Segment[],
  offset: number,
  what = 'is written in a layout that is not edited in place (an explicit ? key, or content on the line of its key)',
): MalformedInputError {
  return malformed(ctx, 'ERR_K8S_LAYOUT_UNSUPPORTED', obj, at, offset, what, BLOCK_HINT)
}

/**
 * A refusal at `offset` of document `ctx.docIndex`: the message and details give the document, the
 * object's kind, the line, column and path.
 */
export function malformed(
  ctx: AnnotateContext,
  code: ErrorCode,
  obj: ManifestObject,
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
