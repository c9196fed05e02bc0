/**
 * The little lexing that the portability checks share: a walk over a TOML text that tells strings,
 * comments and everything else apart, and the line and column of an offset. The checks run only on
 * text that smol-toml has already parsed, so nothing here validates.
 *
 * @module
 */

/** One string of a TOML text: `text[start, end)`, delimiters included. */
export interface TomlString {
  readonly start: number
  readonly end: number
  readonly quote: '"' | "'"
  readonly multiLine: boolean
}

/**
 * Walk `text`, skipping comments: `onString` sees each string (key or value), `onOther` each other
 * character. The first result that is not `undefined` ends the walk and is returned.
 */
export function scanToml<T>(
  text: string,
  onString: (string: TomlString) => T | undefined,
  onOther: (offset: number, c: string) => T | undefined = () => undefined,
): T | undefined {
  let i = 0
  while (i < text.length) {
    const c = text.charAt(i)
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++
      continue
    }
    if (c === '"' || c === "'") {
      const multiLine = text.startsWith(c.repeat(3), i)
      const string: TomlString = {
        start: i,
        end: stringEnd(text, i, c, multiLine),
        quote: c,
        multiLine,
      }
      const found = onString(string)
      if (found !== undefined) return found
      i = string.end
      continue
    }
    const found = onOther(i, c)
    if (found !== undefined) return found
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

/** The 1-based line and column of `offset` in `text` (columns in UTF-16 code units). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset)
  return {
    line: before.split('\n').length,
    column: offset - before.lastIndexOf('\n'),
  }
}
