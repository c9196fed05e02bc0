/**
 * Find the TOML 1.1 syntax in a document that smol-toml (a TOML 1.1 parser) has accepted. The Kata
 * Go runtime (BurntSushi/toml) and the Kata agent and runtime-rs (the `toml` 0.5 crate) parse TOML
 * 1.0 and refuse it, so a document using it never starts a pod; we refuse it up front.
 *
 * What TOML 1.1 added that an initdata document can hold (every other 1.1 addition is a date or time,
 * which no field of a valid document may be): the escapes `\e` and `\xHH` in basic strings and
 * quoted keys, and newlines and a trailing comma inside an inline table.
 *
 * @module
 */

/** Where a TOML 1.1 construct is, and which one. */
export interface Toml11Construct {
  readonly offset: number
  readonly what: string
}

/**
 * The first TOML 1.1-only construct in `text`, or `undefined`. `text` must already have parsed as
 * TOML 1.1: the scan only tells strings, comments and inline tables apart, it does not validate.
 */
export function findToml11Construct(text: string): Toml11Construct | undefined {
  let depth = 0 // inline-table nesting
  let lastSignificant = ''
  let i = 0
  while (i < text.length) {
    const c = text[i] ?? ''
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
      continue
    }
    if (c === '"' || c === "'") {
      const multiLine = text.startsWith(c.repeat(3), i)
      const end = stringEnd(text, i, c, multiLine)
      if (c === '"') {
        const escape = badEscape(text, i, end)
        if (escape !== undefined) return escape
      }
      i = end
      lastSignificant = c
      continue
    }
    if (depth > 0 && c === '\n') return { offset: i, what: 'a line break inside an inline table' }
    if (c === '{') depth++
    if (c === '}') {
      if (lastSignificant === ',') return { offset: i, what: 'a trailing comma in an inline table' }
      depth--
    }
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') lastSignificant = c
    i++
  }
  return undefined
}

/** The offset just past the string that opens at `start` (delimiter `quote`). */
function stringEnd(text: string, start: number, quote: string, multiLine: boolean): number {
  const delimiter = multiLine ? quote.repeat(3) : quote
  let i = start + delimiter.length
  while (i < text.length) {
    if (quote === '"' && text[i] === '\\') {
      i += 2
      continue
    }
    if (text.startsWith(delimiter, i)) {
      i += delimiter.length
      // Up to two more quotes right before a closing ''' or """ belong to the string.
      if (multiLine) for (let extra = 0; extra < 2 && text[i] === quote; extra++) i++
      return i
    }
    i++
  }
  return i
}

/** A `\e` or `\x` escape in the basic string from `start` to `end`. */
function badEscape(text: string, start: number, end: number): Toml11Construct | undefined {
  for (let i = start; i < end; i++) {
    if (text[i] !== '\\') continue
    const next = text[i + 1]
    if (next === 'e' || next === 'x') return { offset: i, what: `the escape \\${next}` }
    i++
  }
  return undefined
}
