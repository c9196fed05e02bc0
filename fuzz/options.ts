/**
 * `npm run fuzz`'s options, checked before anything runs: a value that is not what its option
 * takes is refused (a usage error naming the option and the value), never read as "no bound"; so
 * is a one-value option given twice, and an option `--replay` does not use.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import { isInitguardError, UsageError, type ErrorCategory } from '@initguard/core'

/** What one run does: fuzz `targets` within `seconds`, or replay one saved input. */
export interface FuzzRunOptions {
  /** The whole run's budget; with `replay`, the limit on the target's setup. */
  readonly seconds: number
  readonly targets: readonly string[]
  /** Undefined: a random seed. */
  readonly seed: number | undefined
  readonly timeoutMs: number
  /** A crash file to run again instead of fuzzing. */
  readonly replay: string | undefined
}

export const DEFAULT_SECONDS = 60
export const DEFAULT_TIMEOUT_MS = 2000

const OPTIONS = {
  seconds: { type: 'string' },
  target: { type: 'string', multiple: true },
  seed: { type: 'string' },
  'timeout-ms': { type: 'string' },
  replay: { type: 'string' },
} as const
/** What `--replay` reads besides the file: the per-input limit and the limit on setup. */
const REPLAY_OPTIONS: readonly string[] = ['replay', 'timeout-ms', 'seconds']

/** A positive decimal number, written plainly (no sign, exponent, hex or blank). */
function positiveNumber(text: string, what: string, max: number): number {
  const value = Number(text)
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) || !(value > 0) || value > max)
    throw new UsageError(
      'ERR_FUZZ_OPTION',
      `${what} must be a positive number, not ${JSON.stringify(text)}`,
      {
        hint: `give a number of ${what === '--timeout-ms' ? 'milliseconds' : 'seconds'} above 0 and at most ${String(max)}`,
      },
    )
  return value
}

function seedOf(text: string): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || value >= 2 ** 31)
    throw new UsageError(
      'ERR_FUZZ_OPTION',
      `--seed must be an integer, not ${JSON.stringify(text)}`,
      {
        hint: `give an integer from 0 to ${String(2 ** 31 - 1)}, as a previous run printed it`,
      },
    )
  return value
}

/** Read `args` (and `FUZZ_SECONDS` from `env`); `known` are the target names there are. */
export function parseFuzzOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
): FuzzRunOptions {
  let values, tokens
  try {
    ;({ values, tokens } = parseArgs({ args: [...args], options: OPTIONS, tokens: true }))
  } catch (error) {
    throw new UsageError(
      'ERR_FUZZ_OPTION',
      error instanceof Error ? error.message : String(error),
      {
        hint: 'options: --seconds N, --target NAME, --seed N, --timeout-ms N, --replay FILE',
      },
    )
  }
  // parseArgs keeps the last of a repeated value: which one was meant is the user's to say.
  const seen = new Set<string>()
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === 'target') continue
    if (seen.has(token.name))
      throw new UsageError(
        'ERR_FUZZ_OPTION',
        `--${token.name} is given more than once, and it takes one value`,
        { hint: `give --${token.name} once` },
      )
    seen.add(token.name)
  }
  if (values.replay !== undefined) {
    const unused = [...seen].filter((name) => !REPLAY_OPTIONS.includes(name))
    if (values.target !== undefined) unused.unshift('target')
    if (unused.length > 0)
      throw new UsageError(
        'ERR_FUZZ_OPTION',
        `${unused.map((name) => `--${name}`).join(', ')} does not apply to --replay`,
        {
          hint: 'with --replay give only --timeout-ms and --seconds (the crash file names the target)',
        },
      )
  }
  for (const name of values.target ?? []) {
    if (!known.includes(name))
      throw new UsageError('ERR_FUZZ_TARGET', `there is no fuzz target ${JSON.stringify(name)}`, {
        hint: `targets: ${known.join(', ')}`,
      })
  }
  const seconds =
    values.seconds !== undefined
      ? positiveNumber(values.seconds, '--seconds', 86_400)
      : env['FUZZ_SECONDS'] !== undefined
        ? positiveNumber(env['FUZZ_SECONDS'], 'FUZZ_SECONDS', 86_400)
        : DEFAULT_SECONDS
  return {
    seconds,
    targets: values.target ?? known,
    seed: values.seed === undefined ? undefined : seedOf(values.seed),
    timeoutMs:
      values['timeout-ms'] === undefined
        ? DEFAULT_TIMEOUT_MS
        : positiveNumber(values['timeout-ms'], '--timeout-ms', 3_600_000),
    replay: values.replay,
  }
}

const EXIT_CODES: Partial<Record<ErrorCategory, number>> = { usage: 2, malformed: 3, io: 7 }

/** The exit code for a refusal (the README's table): usage 2, malformed input 3, local file 7. */
export function exitCodeOf(error: unknown): number {
  return (isInitguardError(error) ? EXIT_CODES[error.category] : undefined) ?? 1
}
