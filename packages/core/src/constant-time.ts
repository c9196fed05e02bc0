/**
 * Comparison of secret-dependent byte strings in time that does not depend on where they differ.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { UsageError } from './errors.ts'

/**
 * True when `a` and `b` hold the same bytes. For equal lengths the time taken does not depend on
 * the contents (Node's `crypto.timingSafeEqual`), so comparing a received MAC, token or measurement
 * against the expected one does not leak how many leading bytes matched.
 *
 * Lengths are not treated as secret: different lengths return `false` at once. Compare fixed-size
 * values (digests, MACs), or hash both sides first when the length itself must stay hidden.
 *
 * @example
 * ```ts
 * if (!constantTimeEqual(receivedMac, expectedMac)) throw new VerificationError(…)
 * ```
 *
 * @throws {@link UsageError} `ERR_CONSTANT_TIME_ARGUMENT` when either argument is not a
 *   `Uint8Array` (a string or array passed by mistake would otherwise compare wrongly or throw a
 *   `TypeError`).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  // Checked at run time too: callers in plain JavaScript (or with `any`) can pass anything.
  if (!((a as unknown) instanceof Uint8Array) || !((b as unknown) instanceof Uint8Array)) {
    throw new UsageError(
      'ERR_CONSTANT_TIME_ARGUMENT',
      'constantTimeEqual compares Uint8Arrays only',
      {
        hint: 'decode hex or base64 text to bytes before comparing',
      },
    )
  }
  if (a.length !== b.length) return false
  return timingSafeEqual(a, b)
}

/**
 * True when `actual` holds the same bytes as one of `allowed`, each compared with
 * {@link constantTimeEqual}: an allow-list of measurements, chip IDs or key digests.
 *
 * @throws {@link UsageError} `ERR_CONSTANT_TIME_ARGUMENT` as {@link constantTimeEqual} does.
 */
export function constantTimeIncludes(allowed: readonly Uint8Array[], actual: Uint8Array): boolean {
  return allowed.some((candidate) => constantTimeEqual(candidate, actual))
}
