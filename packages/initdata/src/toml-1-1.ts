/**
 * Find the TOML 1.1 syntax in a document that smol-toml (a TOML 1.1 parser) has accepted. The Kata
 * agent and runtime-rs before Kata 4.0 (the Rust `toml` 0.5 crate), the Kata Go runtime before 3.28
 * (BurntSushi/toml 1.3 and 1.5) and guest-components' attestation agent before 0.17 (`toml` 0.8)
 * parse TOML 1.0 and refuse it, so a document using it starts no pod there; newer releases (`toml`
 * 1.1, BurntSushi/toml 1.6) read TOML 1.1. We refuse it up front, so a document means one thing on
 * every release.
 *
 * What TOML 1.1 added to strings and inline tables: the escapes `\e` and `\xHH` in basic strings
 * and quoted keys, and newlines and a trailing comma inside an inline table. Its other addition, a
 * time without seconds, is found with the other values in `toml-values.ts`.
 *
 * @module
 */
import { scanToml } from './toml-scan.ts'

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
  return scanToml<Toml11Construct>(
    text,
    (string) => {
      lastSignificant = string.quote
      return string.quote === '"' ? badEscape(text, string.start, string.end) : undefined
    },
    (i, c) => {
      if (depth > 0 && c === '\n') return { offset: i, what: 'a line break inside an inline table' }
      if (c === '{') depth++
      if (c === '}') {
        if (lastSignificant === ',')
          return { offset: i, what: 'a trailing comma in an inline table' }
        depth--
      }
      if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') lastSignificant = c
      return undefined
    },
  )
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
