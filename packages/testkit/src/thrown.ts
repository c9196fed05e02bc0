/**
 * What tests ask of a refusal: the InitguardError it threw, or just its code. Anything else
 * (nothing thrown, or a foreign error) fails the test with a message saying so.
 *
 * @module
 */
import { isInitguardError, type InitguardError } from '@initguard/core'

function expectInitguard(error: unknown): InitguardError {
  if (isInitguardError(error)) return error
  throw new Error(`expected an InitguardError, got ${String(error)}`, { cause: error })
}

/** The InitguardError `run` throws. */
export function thrown(run: () => unknown): InitguardError {
  try {
    run()
  } catch (error) {
    return expectInitguard(error)
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** The InitguardError `work` rejects with. */
export async function rejected(
  work: Promise<unknown> | (() => Promise<unknown>),
): Promise<InitguardError> {
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (error) {
    return expectInitguard(error)
  }
  throw new Error('expected an InitguardError, the promise resolved')
}

/** The code of the InitguardError `run` throws. */
export function codeOf(run: () => unknown): string {
  return thrown(run).code
}

/** The code of the InitguardError `work` rejects with. */
export async function rejectedCode(
  work: Promise<unknown> | (() => Promise<unknown>),
): Promise<string> {
  return (await rejected(work)).code
}

/**
 * What `run` did, as one comparable string: `accepted`, or the category and code of the
 * InitguardError it threw (`usage ERR_SNP_POLICY_INVALID`), so a test asserts the exit category
 * and the code at once.
 */
export function outcome(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    const refusal = expectInitguard(error)
    return `${refusal.category} ${refusal.code}`
  }
  return 'accepted'
}

/** {@link outcome} for a promise: `accepted` when it resolves, else its rejection's category and code. */
export async function settledOutcome(work: Promise<unknown>): Promise<string> {
  try {
    await work
  } catch (error) {
    const refusal = expectInitguard(error)
    return `${refusal.category} ${refusal.code}`
  }
  return 'accepted'
}
