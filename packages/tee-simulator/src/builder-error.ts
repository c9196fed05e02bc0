/**
 * The usage error every builder of the simulator throws for a value it cannot write.
 *
 * @module
 */
import { UsageError, type ErrorCode } from '@initguard/core'

/** A builder's usage error, its code held to the builder's own prefix. */
export type BuilderError<Prefix extends ErrorCode> = (
  code: `${Prefix}${string}`,
  message: string,
  details?: Readonly<Record<string, string | number>>,
  hint?: string,
) => UsageError

/** A {@link UsageError} with `details`, and a hint only when there is one. */
export function builderError(
  code: ErrorCode,
  message: string,
  details: Readonly<Record<string, string | number>> = {},
  hint?: string,
): UsageError {
  return new UsageError(code, message, hint === undefined ? { details } : { details, hint })
}
