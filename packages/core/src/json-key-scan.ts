/**
 * Strict JSON at `JSON.parse`'s speed: one pass over the text finds every object's keys and the
 * nesting depth (a repeated key or nesting past the bound is refused), then the native parser
 * builds the value and refuses what is not JSON. The pass jumps with native searches (`indexOf`
 * over strings, a sticky regular expression to the next quote, bracket or object comma), so a
 * request whose evidence is a long JSON string, or an array of thousands of numbers, costs a
 * fraction of its parse; it keeps no path, and a refusal is named by the strict tree reader.
 *
 * The pass trusts nothing it reads: on text that is not JSON it may stop early or see odd keys, and
 * the parse after it refuses that text anyway. It never lets a repeated key through in text the
 * parser accepts: there every string, bracket and comma is where the pass takes it to be, and a
 * string right after `{` or an object's comma is a key.
 *
 * @module
 */
import { InternalError, MalformedInputError } from './errors.ts'
import { checkStrictJson, MAX_JSON_DEPTH, type StrictJsonOptions } from './strict-json.ts'

const QUOTE = 0x22
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d

/** From a position inside an object: past everything but a quote, a bracket or a comma. */
const SKIP_IN_OBJECT = /[^"{}[\],]*/y
/** Inside an array commas do not matter either (its items have no keys). */
const SKIP_IN_ARRAY = /[^"{}[\]]*/y

/**
 * `JSON.parse(text)`, refusing a key repeated in one object and nesting deeper than
 * `options.maxDepth` (default {@link MAX_JSON_DEPTH}) before it parses.
 *
 * @throws {@link MalformedInputError} `syntaxCode` for text that is not JSON (with the parser's
 *   message in `details.reason`), `duplicateKeyCode` (with `field`, the key's path, and `offset`),
 *   `tooDeepCode`.
 */
export function parseStrictJsonValue(text: string, options: StrictJsonOptions): unknown {
  scanJsonKeys(text, options)
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    const { what, syntaxCode, hints } = options
    throw new MalformedInputError(syntaxCode, `${what} is not valid JSON`, {
      cause,
      details: { reason: cause instanceof Error ? cause.message : String(cause) },
      hint: hints?.syntax ?? 'check it with a JSON validator (jq . FILE)',
    })
  }
}

/**
 * Refuse a key repeated in one object of `text`, or nesting deeper than the bound. Text that is
 * not JSON passes unless it shows one of these; the caller parses it after.
 *
 * @throws {@link MalformedInputError} as {@link parseStrictJsonValue}: for a refusal the scan
 *   finds, the strict tree reader reads the text again for the error it names (with the path), and
 *   that error may be `syntaxCode` when the text is not JSON before that point.
 */
export function scanJsonKeys(text: string, options: StrictJsonOptions): void {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH
  // Per open value: an object's keys so far, or undefined for an array.
  const open: (Set<string> | undefined)[] = []
  let keys: Set<string> | undefined
  let expectKey = false
  let pos = 0
  // Where the next backslash is, shared by every string's search (see `stringEnd`).
  const backslash = { at: text.indexOf('\\') }
  for (;;) {
    const skip = open.length > 0 && keys === undefined ? SKIP_IN_ARRAY : SKIP_IN_OBJECT
    skip.lastIndex = pos
    skip.test(text)
    pos = skip.lastIndex
    if (pos >= text.length) return
    const c = text.charCodeAt(pos)
    if (c === QUOTE) {
      const end = stringEnd(text, pos + 1, backslash)
      if (end < 0) return
      if (expectKey && keys !== undefined) {
        const key = keyOf(text.slice(pos + 1, end))
        if (key === undefined) return
        if (keys.has(key)) refuse(text, options, 'a repeated key')
        keys.add(key)
        expectKey = false
      }
      pos = end + 1
      continue
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (open.length >= maxDepth) refuse(text, options, 'nesting past the bound')
      open.push(keys)
      keys = c === OPEN_BRACE ? new Set() : undefined
      expectKey = keys !== undefined
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      keys = open.pop()
      expectKey = false
    } else expectKey = keys !== undefined // a comma: in an object, a key follows
    pos++
  }
}

/**
 * Throw the refusal of `text`, which the scan found to hold `what`: the strict reader's, which
 * names where (the scan keeps no path, so that it stays fast), read in its checking mode so that a
 * refusal builds no tree; the scan's own only if that reader unexpectedly accepts the text.
 */
function refuse(text: string, options: StrictJsonOptions, what: string): never {
  checkStrictJson(text, options)
  throw new InternalError(
    'ERR_JSON_SCAN',
    `the JSON key scan found ${what} in ${options.what} that the strict reader accepts`,
  )
}

/**
 * The index of the quote that ends the string whose text starts at `from`, or -1 when none does.
 * `backslash.at` is the first backslash at or after the last search's end (or -1): it is searched
 * for again only once passed, so all the strings of a text cost one pass for backslashes however
 * many there are (searching afresh per string would scan to the end of a text without one for
 * every string in it: quadratic, seconds for a 2 MiB body of short strings).
 */
function stringEnd(text: string, from: number, backslash: { at: number }): number {
  let quote = text.indexOf('"', from)
  if (backslash.at >= 0 && backslash.at < from) backslash.at = text.indexOf('\\', from)
  for (;;) {
    if (quote < 0) return -1
    if (backslash.at < 0 || backslash.at > quote) return quote
    // An escape: the character after the backslash (maybe a quote) is part of the string.
    const next = backslash.at + 2
    if (quote < next) quote = text.indexOf('"', next)
    backslash.at = text.indexOf('\\', next)
  }
}

/** A key's value from its text between the quotes; undefined when that is not a JSON string. */
function keyOf(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw
  try {
    return JSON.parse(`"${raw}"`) as string
  } catch {
    return undefined
  }
}
