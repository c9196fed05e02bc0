/**
 * Text from elsewhere (a KBS's answer, an audit entry a guest's request wrote, a stored workload)
 * made safe to write to a terminal: every control, format (bidirectional overrides, zero-width
 * characters) and line-separator character is written as `\uXXXX`, so it cannot move the cursor,
 * recolour, clear the screen, or reorder what the operator reads. In JSON the same characters are
 * escaped too: the same JSON value, spelt safely.
 *
 * @module
 */

/** Controls (C0, DEL, C1), format characters (bidi, zero width, BOM), line/paragraph separators, lone surrogates. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu

/**
 * What `JSON.stringify` leaves unescaped of {@link UNSAFE} (it escapes C0 and lone surrogates):
 * DEL, C1, format characters, line/paragraph separators. They can only stand inside strings.
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu

const escaped = (c: string): string => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`

/** `text` with every {@link UNSAFE} character as `\uXXXX` (JSON's spelling). */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escaped)
}

/** `JSON.stringify(value, null, 2)`, with the characters it leaves as they are escaped: the same value. */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, escaped)
}
