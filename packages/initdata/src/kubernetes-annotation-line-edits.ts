/**
 * Line edits for `annotatePodTemplates`: where new lines go in a block map, how far they are
 * indented, which line ending they take, and applying the edits to the text.
 *
 * @module
 */
import { InternalError } from '@initguard/core'
import { BUG_HINT } from './kubernetes-annotation-context.ts'
import type {
  AnnotateContext,
  Edit,
  ManifestObject,
  ParsedKey,
  ParsedMap,
  Segment,
} from './kubernetes-annotation-context.ts'
import { layoutError } from './kubernetes-annotation-refusals.ts'
import { isLineKey, lineStart } from './kubernetes-annotation-yaml-source.ts'

/**
 * Insert `lines` as the first entries of a block map: right after the parent key's line when the
 * map is a value, else before its first key that starts a line (document roots, `List` items).
 */
export function insertEntries(
  ctx: AnnotateContext,
  map: ParsedMap,
  parentKey: ParsedKey | undefined,
  obj: ManifestObject,
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
export function insertUnderKey(
  ctx: AnnotateContext,
  key: ParsedKey,
  obj: ManifestObject,
  at: readonly Segment[],
  lines: readonly string[],
): void {
  const offset = afterKeyLine(ctx, key, obj, at)
  const indent = key.range[0] - lineStart(ctx.text, key.range[0]) + ctx.step
  ctx.edits.push(linesEdit(ctx.text, offset, indent, lines))
}

/**
 * Replace an empty flow map (`key: {}`, `key: { }`, with or without a comment after it, as Helm and
 * kubectl write) by block entries: the braces are removed from the key's line (a comment stays)
 * and `lines` go on the next lines, one indentation step deeper. The braces must be on the key's
 * line with nothing but blanks around them; any other layout is refused.
 */
export function replaceEmptyFlowMap(
  ctx: AnnotateContext,
  key: ParsedKey,
  map: ParsedMap,
  obj: ManifestObject,
  at: readonly Segment[],
  lines: readonly string[],
): void {
  const { text } = ctx
  const [open, close] = map.range
  const colon = text.indexOf(':', key.range[1])
  const newline = text.indexOf('\n', key.range[1])
  const end = newline < 0 ? text.length : newline
  if (
    map.items.length !== 0 ||
    colon < 0 ||
    colon >= open ||
    close > end ||
    !/^[ \t]*$/.test(text.slice(key.range[1], colon)) ||
    !/^[ \t]*$/.test(text.slice(colon + 1, open)) ||
    !/^\{[ \t]*\}$/.test(text.slice(open, close)) ||
    !/^(?:[ \t]+#[^\n]*)?[ \t]*\r?$/.test(text.slice(close, end))
  ) {
    throw layoutError(ctx, obj, at, key.range[0])
  }
  // Remove the braces and the blanks before them; a comment after them keeps its own blank.
  ctx.edits.push({ start: colon + 1, end: close, text: '', shape: 'inline' })
  const indent = key.range[0] - lineStart(text, key.range[0]) + ctx.step
  ctx.edits.push(linesEdit(text, newline < 0 ? text.length : newline + 1, indent, lines))
}

/** Offset of the line after `key:` (or the end of the text), checking nothing else is on it. */
function afterKeyLine(
  ctx: AnnotateContext,
  key: ParsedKey,
  obj: ManifestObject,
  at: readonly Segment[],
): number {
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

/** The text with the edits (sorted by start, not overlapping) applied. */
export function applyEdits(text: string, sorted: readonly Edit[]): string {
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
