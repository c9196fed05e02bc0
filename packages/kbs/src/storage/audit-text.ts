/**
 * Text as the audit log stores it. Messages quote what a client sent, and a client may send
 * anything: PostgreSQL refuses U+0000 in a `text` column (22021, the entry would be lost and the
 * request answered 500), and line breaks or other control characters would let a client forge
 * what a reader of the log sees. Every text field the audit log writes goes through
 * {@link auditText}, on every engine, so both store the same thing.
 *
 * @module
 */

/** C0 controls (tab and line breaks included), DEL, C1 controls, and U+2028/U+2029. */
// eslint-disable-next-line no-control-regex -- control characters are what is escaped
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu
/** A surrogate not in a pair (with `u`, a pair is one code point and does not match). */
const LONE_SURROGATE = /[\ud800-\udfff]/gu

/**
 * `text` with each control character written as `\uXXXX` (JSON's spelling), everything else as
 * given, except a lone surrogate, which becomes U+FFFD here (the drivers differ in how they
 * encode it, and both engines must store the same text).
 */
export function auditText(text: string): string
export function auditText(text: string | undefined): string | null
export function auditText(text: string | undefined): string | null {
  if (text === undefined) return null
  return text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(
      CONTROL,
      (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
    )
}
