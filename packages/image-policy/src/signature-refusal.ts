/**
 * The refusal of a signature (simple signing, sigstore): a {@link VerificationError} with the
 * caller's code, a hint, safe details and the lower-level cause.
 *
 * @module
 * @internal
 */
import { VerificationError, type ErrorCode, type ErrorDetails } from '@initguard/core'

/** A signature refusal with `code`, `hint` and `details`. */
export function refuseSignature(
  code: ErrorCode,
  message: string,
  hint: string,
  details: ErrorDetails = {},
  cause?: unknown,
): VerificationError {
  return new VerificationError(code, message, {
    details,
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}
