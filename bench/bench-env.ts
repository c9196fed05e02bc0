/**
 * The benchmarks' numeric settings from the environment, read strictly: a value that is not a
 * number in range stops the run with its name, rather than becoming NaN (`Math.max(1, NaN)` is
 * NaN: zero rounds and NaN results, reported as if measured).
 *
 * @module
 */

/** What a setting may be. */
export interface BenchNumberRange {
  /** Whole numbers only. */
  readonly integer?: boolean
  /** The smallest value taken (inclusive). */
  readonly min: number
}

/** `name` from `env` as a number in `range`, or `fallback` when it is unset or empty. */
export function benchNumber(
  name: string,
  fallback: number,
  range: BenchNumberRange,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const value = /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(text) ? Number(text) : Number.NaN
  const kind = range.integer === true ? 'a whole number' : 'a number'
  if (
    !Number.isFinite(value) ||
    value < range.min ||
    (range.integer === true && !Number.isInteger(value))
  )
    throw new Error(
      `${name}=${JSON.stringify(text)}: expected ${kind} of at least ${String(range.min)} (unset: ${String(fallback)})`,
    )
  return value
}
