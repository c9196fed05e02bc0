/**
 * Find what a multi-line string holds that CoCo's TOML parsers read differently from smol-toml:
 *
 * - `crlf`: a carriage return the string keeps in its value. TOML lets a parser normalise the
 *   newlines inside multi-line strings (TOML 1.0.0, "Multi-line basic strings": "TOML parsers
 *   should feel free to normalize newline to whatever makes sense for their platform"), and CoCo's
 *   parsers differ: the Rust `toml` 0.5 crate (Kata agent and runtime-rs before 4.0) and `toml` 0.8
 *   (guest-components' attestation agent before 0.17, its `config` files before 0.16) read a CRLF
 *   there as LF, while `toml` 0.9 and later (Kata 4, later guest-components, Trustee),
 *   BurntSushi/toml (the Kata Go runtime) and smol-toml keep CRLF. So the agent would write a
 *   different `aa.toml` or `policy.rego` than a verifier reads from the same document.
 * - `trimmed-quotes`: one or two quotes that belong to a `"""` string (the closing delimiter is the
 *   last three of four or five) right after a line-ending backslash's trimmed whitespace. Every
 *   other parser keeps them; smol-toml (1.9) drops them.
 *
 * What every parser reads alike is not reported: CRLF as a line end outside strings, the newline
 * right after an opening `"""` or `'''` (trimmed), and line breaks after a line-ending backslash in a
 * `"""` string (trimmed with the whitespace around them). A lone CR is not TOML at all, and
 * smol-toml has already refused it.
 *
 * @module
 */
import { scanToml } from './toml-scan.ts'

/** Where a multi-line string is read differently, and why. */
export interface MultiLineStringHazard {
  readonly kind: 'crlf' | 'trimmed-quotes'
  readonly offset: number
}

/**
 * The first hazard in the multi-line strings of `text`, or `undefined`. `text` must already have
 * parsed as TOML: the scan only tells strings and comments apart, it does not validate.
 */
export function findMultiLineStringHazard(text: string): MultiLineStringHazard | undefined {
  // The closing delimiter is the last three quotes; any quotes before it are content.
  return scanToml(text, (string) =>
    string.multiLine
      ? contentHazard(text, string.start + 3, string.end - 3, string.quote === '"')
      : undefined,
  )
}

/** The first hazard in the content `text[from, to)` of a multi-line string. */
function contentHazard(
  text: string,
  from: number,
  to: number,
  basic: boolean,
): MultiLineStringHazard | undefined {
  let i = from
  if (text.startsWith('\r\n', i)) i += 2 // the newline right after the delimiter is trimmed
  for (; i < to; i++) {
    const c = text[i]
    if (c === '\r') return { kind: 'crlf', offset: i }
    if (!basic || c !== '\\') continue
    // A line-ending backslash: `\`, spaces or tabs, a newline; it and all whitespace and newlines
    // after it are trimmed. Any other backslash escapes the next character.
    let j = i + 1
    while (text[j] === ' ' || text[j] === '\t') j++
    if (text[j] === '\n' || text.startsWith('\r\n', j)) {
      while (
        j < to &&
        (text[j] === ' ' || text[j] === '\t' || text[j] === '\r' || text[j] === '\n')
      )
        j++
      // Only content quotes left: they run into the closing delimiter.
      if (j < to && /^"+$/.test(text.slice(j, to))) return { kind: 'trimmed-quotes', offset: j }
      i = j - 1
    } else {
      i++
    }
  }
  return undefined
}
