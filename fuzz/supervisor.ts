/**
 * Runs one target in a worker thread until its deadline and watches it. When the execution
 * counter stops for longer than the per-input limit (plus slack), the input in shared memory is
 * recorded as a hang and the worker is stopped; when the worker dies (an exception thrown
 * asynchronously, outside any awaited entry point) that is recorded as a `worker-error` with the
 * input it was executing. Either way a new worker goes on with the remaining time. Setup and
 * teardown count against the budget: a worker still alive at its deadline plus the grace (the
 * per-input limit + 3 s), whatever it is doing, is stopped and recorded too (in setup or teardown
 * its input is unknown). A failure's count is the sum over the workers that saw it.
 *
 * @module
 */
import { Worker } from 'node:worker_threads'
import { describeFailure, type FuzzFailure } from './engine.ts'
import {
  HEADER_ENTRY,
  HEADER_EXECUTIONS,
  HEADER_INPUT_LENGTH,
  HEADER_PHASE,
  HEADER_REJECTIONS,
  PHASE_FUZZING,
  PHASE_SETUP,
  SHARED_HEADER_BYTES,
  epochNow,
  type WorkerInput,
  type WorkerMessage,
} from './worker-protocol.ts'

/** The result of one target. */
export interface TargetReport {
  readonly name: string
  readonly executions: number
  readonly executionsPerSecond: number
  readonly rejections: number
  /** Time spent fuzzing, and setting up (every worker's `prepare`). */
  readonly seconds: number
  readonly setupSeconds: number
  readonly restarts: number
  readonly failures: FuzzFailure[]
  /**
   * Why the target did not run at all: the budget was spent by overruns before it, or no input was
   * executed (setup ended after its deadline, or its worker failed before the first input).
   */
  readonly notRun?: string
}

/** What to run: `deadline` is in {@link epochNow} time. */
export type TargetRunOptions = Omit<WorkerInput, 'shared' | 'targetsModule'> & {
  /** The module that exports the target; by default `fuzz/targets/NAME.ts`. */
  readonly targetsModule?: string
}

const SHARED_INPUT_BYTES = 8 << 20
/** Added to the per-input limit: how long a worker may be silent before it is stopped. */
export const WATCHDOG_SLACK_MS = 3000
/** tsx's loader is per thread: register it in the worker before loading the TypeScript. */
export const workerBootstrap = (url: string): string =>
  `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}) })`

interface Run {
  executions: number
  rejections: number
  millis: number
  prepareMillis: number
  /** The worker was stopped or died while fuzzing: a new one may go on. */
  interrupted: boolean
}

/** A stopped worker's failure, named by what it was doing rather than by a stack. */
function stopped(target: string, entry: string, what: string, input?: Uint8Array): FuzzFailure {
  const failure = describeFailure(target, entry, 'hang', new Error(what), input)
  return { ...failure, signature: `${entry}: hang (${what})`, stack: '' }
}

function runOnce(options: WorkerInput, failures: Map<string, FuzzFailure>): Promise<Run> {
  const header = new Int32Array(options.shared, 0, SHARED_HEADER_BYTES / 4)
  header[HEADER_ENTRY] = -1
  const worker = new Worker(workerBootstrap(new URL('./worker.ts', import.meta.url).href), {
    eval: true,
    workerData: options,
  })
  const started = performance.now()
  const grace = options.timeoutMs + WATCHDOG_SLACK_MS
  const keep = (failure: FuzzFailure): void => {
    const known = failures.get(failure.signature)
    if (known === undefined) failures.set(failure.signature, failure)
    else known.count++
  }
  let entries: readonly string[] = []
  let prepareMillis = 0
  /** The entry (its index) and input being executed, or the phase when no input is. */
  const snapshot = (): { entry: string | number; input: Uint8Array | undefined } => {
    const phase = Atomics.load(header, HEADER_PHASE)
    const index = Atomics.load(header, HEADER_ENTRY)
    if (phase !== PHASE_FUZZING || index < 0)
      return { entry: phase === PHASE_SETUP ? '(setup)' : '(teardown)', input: undefined }
    const length = Atomics.load(header, HEADER_INPUT_LENGTH)
    const input = new Uint8Array(options.shared, SHARED_HEADER_BYTES, length).slice()
    return { entry: index, input }
  }
  type Snapshot = ReturnType<typeof snapshot>
  const named = ({ entry, input }: Snapshot): { entry: string; input: Uint8Array | undefined } => ({
    entry: typeof entry === 'string' ? entry : (entries[entry] ?? '?'),
    input,
  })
  const current = (): { entry: string; input: Uint8Array | undefined } => named(snapshot())
  return new Promise<Run>((resolve) => {
    let finished = false
    const finish = (run: Omit<Run, 'prepareMillis'>): void => {
      if (finished) return
      finished = true
      clearInterval(watchdog)
      resolve({ ...run, prepareMillis })
    }
    /** End this worker abnormally, recording `failure`; fuzzing may go on in a new one. */
    const end = (failure: FuzzFailure, interrupted: boolean): void => {
      if (finished) return
      keep(failure)
      const executions = Atomics.load(header, HEADER_EXECUTIONS)
      const rejections = Atomics.load(header, HEADER_REJECTIONS)
      const millis = performance.now() - started - prepareMillis
      finish({ executions, rejections, millis, interrupted })
      void worker.terminate()
    }
    let last = -1
    let phase = -1
    let lastChange = performance.now()
    const watchdog = setInterval(() => {
      const now = performance.now()
      const executions = Atomics.load(header, HEADER_EXECUTIONS)
      const phaseNow = Atomics.load(header, HEADER_PHASE)
      if (executions !== last || phaseNow !== phase) {
        last = executions
        phase = phaseNow
        lastChange = now
        return
      }
      const { entry, input } = current()
      const fuzzing = phase === PHASE_FUZZING
      if (epochNow() >= options.deadline + grace) {
        const what = fuzzing
          ? `still running ${grace} ms after the deadline`
          : `${phase === PHASE_SETUP ? 'setup' : 'teardown'} not done ${grace} ms after the deadline; raise --seconds`
        end(stopped(options.target, entry, what, input), false)
      } else if (fuzzing && now - lastChange >= grace) {
        end(stopped(options.target, entry, `no return within ${grace} ms`, input), true)
      }
    }, 200)
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'ready') {
        entries = message.entries
        prepareMillis = message.prepareMillis
      } else if (message.kind === 'failure') {
        // A worker reports each failure once, when it first sees it: one sighting now, the rest
        // with `done` (a worker stopped before then leaves only this one, a lower bound).
        keep(message.failure)
      } else {
        for (const [signature, count] of Object.entries(message.counts)) {
          const known = failures.get(signature)
          if (known !== undefined) known.count += count - 1
        }
        const { executions, rejections, millis } = message
        finish({ executions, rejections, millis, interrupted: false })
        // Done: nothing it still holds open (a server's keep-alive socket) may outlive the run.
        void worker.terminate()
      }
    })
    // An exception the worker did not catch (thrown from a timer, an unhandled rejection, or in
    // setup): a failure of this target, with the input it was executing when it died.
    // What it was executing is taken at once; its entry's name only after the messages already
    // queued are handled: the worker's `ready` (the entry names) may still be queued when `error`
    // or `exit` arrives, and the entry would read as unknown.
    const died = (error: Error, interrupted: boolean): void => {
      const taken = snapshot()
      setImmediate(() => {
        const { entry, input } = named(taken)
        end(describeFailure(options.target, entry, 'worker-error', error, input), interrupted)
      })
    }
    worker.on('error', (error) => {
      died(error, Atomics.load(header, HEADER_PHASE) === PHASE_FUZZING)
    })
    worker.on('exit', (code) => {
      died(new Error(`the worker exited (code ${String(code)}) before it was done`), false)
    })
  })
}

/** Fuzz one target until `options.deadline` in worker threads (a new one after a hang or death). */
export async function runTargetInWorker(options: TargetRunOptions): Promise<TargetReport> {
  const failures = new Map<string, FuzzFailure>()
  let executions = 0
  let rejections = 0
  let fuzzMillis = 0
  let prepareMillis = 0
  let restarts = 0
  for (let attempt = 0; attempt <= 20 && epochNow() < options.deadline; attempt++) {
    const run = await runOnce(
      {
        ...options,
        targetsModule:
          options.targetsModule ?? new URL(`./targets/${options.target}.ts`, import.meta.url).href,
        seed: options.seed + attempt * 7919,
        shared: new SharedArrayBuffer(SHARED_HEADER_BYTES + SHARED_INPUT_BYTES),
      },
      failures,
    )
    executions += run.executions
    rejections += run.rejections
    fuzzMillis += run.millis
    prepareMillis += run.prepareMillis
    if (!run.interrupted) break
    restarts++
  }
  // A target that executed nothing was not fuzzed: never a pass.
  const notRun =
    executions > 0
      ? undefined
      : failures.size > 0
        ? 'its worker failed before it executed an input'
        : 'no input was executed before its deadline (setup took its share; raise --seconds)'
  return {
    name: options.target,
    ...(notRun === undefined ? {} : { notRun }),
    executions,
    executionsPerSecond: fuzzMillis > 0 ? (executions * 1000) / fuzzMillis : 0,
    rejections,
    seconds: fuzzMillis / 1000,
    setupSeconds: prepareMillis / 1000,
    restarts,
    failures: [...failures.values()],
  }
}
