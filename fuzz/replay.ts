/**
 * `npm run fuzz -- --replay FILE`: run one saved input (`fuzz/crashes/TARGET-ENTRY-SHA.bin`, with
 * the `.json` beside it naming the target, entry point and kind of failure) again, and say whether
 * it still fails. It runs in a worker thread bounded by the per-input limit the way a run bounds an
 * input: slower than the limit is `slow`, a promise not settled within it is `hang`, and no return
 * within the limit plus the watchdog's slack is `hang` too (the worker is stopped, so a synchronous
 * endless loop is stopped). The target's setup is bounded too (`--seconds`, `FUZZ_SECONDS`, default
 * 60 s), and a setup that fails or overruns is refused as such, never reported as the input's
 * outcome. A target or entry point that does not exist is refused, naming those that do.
 *
 * @module
 */
import { Worker } from 'node:worker_threads'
import {
  asObject,
  InternalError,
  MalformedInputError,
  parseJson,
  stringField,
  UsageError,
  type JsonDocument,
} from '@initguard/core'
import { readInput } from '@initguard/files'
import type { FailureKind, FuzzContext } from './engine.ts'
import { WATCHDOG_SLACK_MS, workerBootstrap } from './supervisor.ts'

/** What the saved input does now. */
export interface ReplayOutcome {
  readonly target: string
  readonly entry: string
  /** `typed`: a typed rejection (no failure); `none`: no throw; else the failure it still is. */
  readonly result: FailureKind | 'typed' | 'none'
  /** The kind of failure the crash file was saved for (undefined in files from before it was). */
  readonly expected: FailureKind | undefined
  /** What it threw, or why it is slow or a hang. */
  readonly error: string | undefined
}

/** What `replay-worker.ts` is given. */
export interface ReplayInput {
  readonly targetsModule: string
  readonly target: string
  readonly entry: string
  readonly input: Uint8Array
  readonly context: FuzzContext
  readonly timeoutMs: number
}

/** What `replay-worker.ts` says. */
export type ReplayMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'no-entry'; readonly entries: readonly string[] }
  | {
      readonly kind: 'result'
      readonly result: FailureKind | 'typed' | 'none'
      readonly millis: number
      readonly error: string | undefined
    }

/** Where the targets are, the per-input limit and the limit on the target's setup. */
export interface ReplayOptions {
  /** The target names there are. */
  readonly targets: readonly string[]
  /** The module that exports target `name`; by default `fuzz/targets/NAME.ts`. */
  readonly targetsModule?: (name: string) => string
  readonly context: FuzzContext
  readonly timeoutMs: number
  /** How long loading and preparing the target may take (`--seconds`, `FUZZ_SECONDS`). */
  readonly setupSeconds: number
}

const KINDS: readonly FailureKind[] = [
  'untyped-error',
  'internal-error',
  'slow',
  'hang',
  'worker-error',
]

const CRASH_META: JsonDocument = {
  name: 'crash description',
  code: 'ERR_FUZZ_CRASH_FILE',
  hint: 'replay the .bin file that `npm run fuzz` wrote, with its .json beside it',
}

/** Run the input in `file` through the target and entry point its `.json` names. */
export async function replayCrash(file: string, options: ReplayOptions): Promise<ReplayOutcome> {
  const metaPath = file.replace(/\.bin$/, '.json')
  if (metaPath === file)
    throw new UsageError('ERR_FUZZ_REPLAY', `--replay takes a .bin crash file, not ${file}`, {
      hint: 'give fuzz/crashes/TARGET-ENTRY-SHA.bin',
    })
  const metaText = new TextDecoder().decode(
    await readInput(metaPath, { what: 'crash description' }),
  )
  const meta = asObject(CRASH_META, parseJson(CRASH_META, metaText, metaPath), metaPath)
  const target = stringField(CRASH_META, meta, 'target', metaPath)
  const entry = stringField(CRASH_META, meta, 'entry', metaPath)
  const kind = meta['kind']
  if (kind !== undefined && !KINDS.includes(kind as FailureKind))
    throw new MalformedInputError(
      'ERR_FUZZ_CRASH_FILE',
      `${metaPath}: kind is ${JSON.stringify(kind)}`,
      {
        hint: `a kind is one of ${KINDS.join(', ')}`,
      },
    )
  if (!options.targets.includes(target))
    throw new UsageError('ERR_FUZZ_TARGET', `${metaPath} names no fuzz target ${target}`, {
      hint: `targets: ${options.targets.join(', ')}`,
    })
  const input = await readInput(file, { what: 'crash input' })
  const targetsModule =
    options.targetsModule?.(target) ?? new URL(`./targets/${target}.ts`, import.meta.url).href
  const { context, timeoutMs } = options
  const job: ReplayInput = { targetsModule, target, entry, input, context, timeoutMs }
  const ran = await runInWorker(job, options.setupSeconds * 1000)
  if ('setupFailure' in ran)
    throw new InternalError(
      'ERR_FUZZ_SETUP',
      `the setup of fuzz target ${target} failed, so ${file} was not run: ${ran.setupFailure}`,
      {
        hint: ran.setupFailure.startsWith('not done')
          ? 'raise --seconds (or FUZZ_SECONDS), which bounds the setup with --replay'
          : 'the target itself is broken: run `npm run fuzz -- --target ' + target + '` to see it',
      },
    )
  if ('entries' in ran)
    throw new UsageError(
      'ERR_FUZZ_ENTRY',
      `${metaPath} names no entry point ${entry} of target ${target}`,
      { hint: `entry points of ${target}: ${ran.entries.join(', ')}` },
    )
  return { target, entry, expected: kind as FailureKind | undefined, ...ran }
}

type Ran =
  | Pick<ReplayOutcome, 'result' | 'error'>
  | { readonly entries: readonly string[] }
  | { readonly setupFailure: string }

/**
 * Run `job` in a worker. As in a run, a promise still pending at the limit is a hang (the worker
 * says so), and a worker silent for the limit plus the watchdog's slack is stopped as a hang.
 * Before the worker says it is ready, a failure or `setupMs` passing is the setup's failure, not
 * the input's: the worker is stopped and nothing is said about the input.
 */
function runInWorker(job: ReplayInput, setupMs: number): Promise<Ran> {
  const { timeoutMs } = job
  const grace = timeoutMs + WATCHDOG_SLACK_MS
  const worker = new Worker(workerBootstrap(new URL('./replay-worker.ts', import.meta.url).href), {
    eval: true,
    workerData: job,
  })
  return new Promise<Ran>((resolve) => {
    let ready = false
    let done = false
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      finish({ setupFailure: `not done within ${String(setupMs / 1000)} s` })
    }, setupMs)
    const finish = (ran: Ran): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(ran)
      // Done: nothing it still holds open (a server's keep-alive socket) may outlive the replay.
      void worker.terminate()
    }
    worker.on('message', (message: ReplayMessage) => {
      if (message.kind === 'ready') {
        ready = true
        clearTimeout(timer)
        timer = setTimeout(() => {
          finish({ result: 'hang', error: `no return within ${String(grace)} ms` })
        }, grace)
      } else if (message.kind === 'no-entry') finish({ entries: message.entries })
      else if (
        message.millis > timeoutMs &&
        (message.result === 'none' || message.result === 'typed')
      )
        finish({
          result: 'slow',
          error: `took ${String(Math.round(message.millis))} ms (limit ${String(timeoutMs)} ms)`,
        })
      else finish({ result: message.result, error: message.error })
    })
    // An exception thrown outside the awaited entry point, as a run records it.
    worker.on('error', (error) => {
      const text = error.stack ?? String(error)
      finish(ready ? { result: 'worker-error', error: text } : { setupFailure: text })
    })
    worker.on('exit', (code) => {
      const text = `the worker exited (code ${String(code)})`
      finish(ready ? { result: 'worker-error', error: text } : { setupFailure: text })
    })
  })
}

/** The line to print for `outcome`, and the exit code: 1 when the input still fails, else 0. */
export function replayVerdict(outcome: ReplayOutcome): { line: string; exitCode: number } {
  const { target, entry, result, expected } = outcome
  const saved = expected === undefined ? '' : ` (saved as ${expected})`
  if (result === 'none') return { line: `${target}/${entry}: no throw${saved}`, exitCode: 0 }
  if (result === 'typed')
    return { line: `${target}/${entry}: typed rejection (no failure)${saved}`, exitCode: 0 }
  return { line: `${target}/${entry}: still fails: ${result}${saved}`, exitCode: 1 }
}
