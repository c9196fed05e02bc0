/**
 * The fuzzing loop: pick a seed, stack a few mutations, run the entry point, and keep every failure
 * that is not a typed rejection. A failure is a throw that is not an `InitguardError`, an
 * `InternalError` (that category means "a bug" by definition), an entry point slower than the
 * per-input limit, or a promise that never settles within it.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { isInitguardError, UsageError } from '@initguard/core'
import { mutateInput, type SeedFormat } from './mutate-structured.ts'
import { FuzzRandom } from './random.ts'

/** One real input: which entry point reads it and how it is written. */
export interface FuzzSeed {
  readonly entry: string
  readonly format: SeedFormat
  readonly bytes: Uint8Array
  /** Where it came from, for the report. */
  readonly origin: string
}

/** A target ready to run: its seeds and one function per entry point. */
export interface PreparedTarget {
  readonly seeds: readonly FuzzSeed[]
  readonly entries: Readonly<Record<string, (input: Uint8Array) => unknown>>
  /** Release what `prepare` started (a KBS, temporary files). */
  close?(): Promise<void>
}

/** What every target may use: a private directory and a TEE simulator made once per run. */
export interface FuzzContext {
  readonly scratch: string
  readonly simulatorDir: string
}

/** A fuzz target: one parser family, or the HTTP API. */
export interface FuzzTarget {
  readonly name: string
  readonly description: string
  /** Read the corpus and start what the entry points need. */
  prepare(context: FuzzContext): Promise<PreparedTarget>
}

/**
 * `worker-error`: the worker thread itself died (an exception thrown asynchronously, outside any
 * awaited entry point, or setup that threw or never finished).
 */
export type FailureKind = 'untyped-error' | 'internal-error' | 'slow' | 'hang' | 'worker-error'

/**
 * One distinct failure: the first input that showed it and how often it was seen. `input` is
 * undefined when it cannot be known (the worker died during setup or teardown).
 */
export interface FuzzFailure {
  readonly target: string
  readonly entry: string
  readonly kind: FailureKind
  /** What identifies it: error class and the top stack frame in our code. */
  readonly signature: string
  readonly message: string
  readonly stack: string
  readonly input: Uint8Array | undefined
  readonly inputSha256: string | undefined
  count: number
}

export interface FuzzStats {
  executions: number
  /** Executions that ended in a typed rejection (the parser said no, as it should). */
  rejections: number
  millis: number
  readonly failures: FuzzFailure[]
}

export interface FuzzOptions {
  readonly seed: number
  /** Stop after this many executions … */
  readonly executions?: number
  /** … or at this time (`performance.now()`), whichever comes first. */
  readonly deadline?: number
  /** The per-input limit, ms. */
  readonly timeoutMs: number
  /** Called before each execution (the worker publishes the input for its watchdog). */
  readonly onInput?: (input: Uint8Array, entry: string) => void
  /** Called after each execution. */
  readonly onExecuted?: (stats: FuzzStats) => void
  readonly onFailure?: (failure: FuzzFailure) => void
}

/** The frame that names the failure: the first one in the workspace outside node_modules. */
export function stackTop(stack: string): string {
  const frames = stack.split('\n').filter((line) => line.trimStart().startsWith('at '))
  const ours = frames.find((f) => /packages\/|fuzz\//.test(f) && !f.includes('node_modules'))
  return (ours ?? frames[0] ?? '(no stack)')
    .trim()
    .replace(/^at /, '')
    .replace(/file:\/\/\S*?\/(packages|fuzz)\//, '$1/')
}

/** Undefined for a typed rejection; else the kind of failure `error` is. */
export function failureKindOf(error: unknown): FailureKind | undefined {
  if (!isInitguardError(error)) return 'untyped-error'
  return error.category === 'internal' ? 'internal-error' : undefined
}

/** Rethrow `error` unless it is a typed rejection, for a target that goes on after one. */
export function rethrowUnlessTyped(error: unknown): void {
  if (failureKindOf(error) !== undefined) throw error
}

/** The signature and record of a failure of `entry` in `target` (count 1). */
export function describeFailure(
  target: string,
  entry: string,
  kind: FailureKind,
  error: unknown,
  input: Uint8Array | undefined,
): FuzzFailure {
  const stack = error instanceof Error ? (error.stack ?? String(error)) : String(error)
  const cls = error instanceof Error ? error.constructor.name : typeof error
  const code = isInitguardError(error) ? ` ${error.code}` : ''
  // A target or the supervisor may name the failure itself (HTTP: status, method and route).
  const key = error instanceof Error && 'fuzzKey' in error ? String(error.fuzzKey) : undefined
  const where = key ?? (kind === 'slow' ? '-' : stackTop(stack))
  return {
    target,
    entry,
    kind,
    signature: `${entry}: ${kind} ${cls}${code} at ${where}`,
    message: error instanceof Error ? error.message : String(error),
    stack,
    input,
    inputSha256: input === undefined ? undefined : createHash('sha256').update(input).digest('hex'),
    count: 1,
  }
}

/** Refuse a limit that is not a positive number (NaN would compare as "never reached"). */
function checkLimit(name: string, value: number | undefined): void {
  if (value === undefined || (Number.isFinite(value) && value > 0)) return
  throw new UsageError('ERR_FUZZ_LIMIT', `the fuzz option ${name} is ${String(value)}`, {
    hint: `${name} must be a finite positive number`,
  })
}

/** What {@link settle} throws when the entry point's promise does not settle within the limit. */
export class InputTimeout extends Error {}

/** Wait for `value` when it is a promise, at most `timeoutMs` ({@link InputTimeout}). */
export async function settle(value: unknown, timeoutMs: number): Promise<void> {
  if (!(value instanceof Promise)) return
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new InputTimeout(`no answer within ${timeoutMs} ms`))
    }, timeoutMs)
  })
  try {
    await Promise.race([value, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Mutations to stack on one seed: most inputs get one or two, some many. */
function mutated(seed: FuzzSeed, random: FuzzRandom, donors: readonly Uint8Array[]): Uint8Array {
  let input = seed.bytes
  const rounds = random.smallCount(8)
  for (let i = 0; i < rounds; i++) input = mutateInput(input, seed.format, random, donors)
  return input
}

/** Run `target` until the execution count or the deadline; the seeds themselves go first. */
export async function fuzzTarget(
  name: string,
  target: PreparedTarget,
  options: FuzzOptions,
): Promise<FuzzStats> {
  checkLimit('executions', options.executions)
  checkLimit('deadline', options.deadline)
  checkLimit('timeoutMs', options.timeoutMs)
  if (!Number.isSafeInteger(options.seed))
    throw new UsageError('ERR_FUZZ_LIMIT', `the fuzz seed is ${String(options.seed)}`, {
      hint: 'the seed must be an integer',
    })
  const random = new FuzzRandom(options.seed)
  const stats: FuzzStats = { executions: 0, rejections: 0, millis: 0, failures: [] }
  const known = new Map<string, FuzzFailure>()
  const donorsOf = new Map<string, Uint8Array[]>()
  for (const seed of target.seeds)
    donorsOf.set(seed.entry, [...(donorsOf.get(seed.entry) ?? []), seed.bytes])
  const start = performance.now()
  const record = (entry: string, kind: FailureKind, error: unknown, input: Uint8Array): void => {
    const failure = describeFailure(name, entry, kind, error, input)
    const seen = known.get(failure.signature)
    if (seen !== undefined) {
      seen.count++
      return
    }
    known.set(failure.signature, failure)
    stats.failures.push(failure)
    options.onFailure?.(failure)
  }
  for (let i = 0; ; i++) {
    if (options.executions !== undefined && stats.executions >= options.executions) break
    if (options.deadline !== undefined && performance.now() >= options.deadline) break
    const seed = i < target.seeds.length ? target.seeds[i] : random.pick(target.seeds)
    if (seed === undefined) break
    const run = target.entries[seed.entry]
    if (run === undefined) throw new Error(`seed ${seed.origin} names no entry point ${seed.entry}`)
    const input =
      i < target.seeds.length ? seed.bytes : mutated(seed, random, donorsOf.get(seed.entry) ?? [])
    options.onInput?.(input, seed.entry)
    const began = performance.now()
    let hung = false
    try {
      await settle(run(input), options.timeoutMs)
    } catch (error) {
      hung = error instanceof InputTimeout
      if (hung) record(seed.entry, 'hang', error, input)
      else {
        const kind = failureKindOf(error)
        if (kind === undefined) stats.rejections++
        else record(seed.entry, kind, error, input)
      }
    }
    const took = performance.now() - began
    if (took > options.timeoutMs && !hung) {
      record(
        seed.entry,
        'slow',
        new Error(`took ${Math.round(took)} ms (limit ${options.timeoutMs} ms)`),
        input,
      )
    }
    stats.executions++
    options.onExecuted?.(stats)
  }
  stats.millis = performance.now() - start
  return stats
}
