/**
 * The entry check of every binary parser: untrusted input really is a `Uint8Array` (style guide
 * §8: check at the entry point even when the parameter is typed, since JavaScript callers and
 * `as` casts do not respect it).
 *
 * @module
 */
import { UsageError, type ErrorCode } from './errors.ts'

/**
 * Return `input` when it is a `Uint8Array`; otherwise throw.
 *
 * @param code - the parser's own code, e.g. `ERR_SNP_INPUT_TYPE`.
 * @param what - what the input should be, for the message, e.g. `'an SNP report'`.
 *
 * @example
 * ```ts
 * const input = requireUint8Array(bytes, 'ERR_SNP_INPUT_TYPE', 'an SNP report')
 * ```
 *
 * @throws {@link UsageError} `code`: "`what` must be given as a Uint8Array", with the type given.
 */
export function requireUint8Array(input: unknown, code: ErrorCode, what: string): Uint8Array {
  if (!(input instanceof Uint8Array)) {
    throw new UsageError(code, `${what} must be given as a Uint8Array`, {
      details: { what, type: input === null ? 'null' : typeof input },
    })
  }
  return input
}
