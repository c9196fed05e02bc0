/**
 * Which `[data]` keys a guest can use. The guest agent writes each value to a file named by its
 * key in the runtime directory and serves it at `/initdata/KEY`, so a key must be one safe file
 * name and URL path segment. The rule lives here, below both the agent (which refuses a document
 * with another key at start) and `initdata build` (which refuses such a key before writing a
 * document whose digest a guest would be launched with, only to be refused there).
 *
 * @module
 */

/** The file name of the whole document in the agent's runtime directory (Kata's agent uses it too). */
export const INITDATA_DOCUMENT_FILE = 'initdata.toml'

/**
 * Why `key` cannot be a `[data]` key the guest agent serves, or `undefined` when it can: 1 to 255
 * of `A-Z a-z 0-9 . _ -`, starting with a letter or digit (so never empty, `.`, `..`, a path, a
 * hidden file or an option; no NUL, newline or other control character), and not
 * {@link INITDATA_DOCUMENT_FILE}. The reason is phrased as a hint: what to do instead.
 */
export function unsafeDataKeyReason(key: string): string | undefined {
  if (key === INITDATA_DOCUMENT_FILE)
    return `"${INITDATA_DOCUMENT_FILE}" is the name of the whole document; rename the key`
  if (key.length > 255) return `a key is at most 255 characters (this one has ${key.length})`
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(key))
    return 'use letters, digits, ".", "_" and "-" only, starting with a letter or digit (e.g. "aa.toml")'
  return undefined
}

/** True when `key` is a `[data]` key the guest agent serves ({@link unsafeDataKeyReason}). */
export function isSafeDataKey(key: string): boolean {
  return unsafeDataKeyReason(key) === undefined
}
