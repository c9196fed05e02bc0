/**
 * Runs one target in a worker thread for its share of the time and watches it: when the execution
 * counter stops for longer than the per-input limit (plus slack), the input in shared memory is
 * recorded as a hang, the worker is stopped, and a new one continues with the remaining time.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import type { FuzzFailure } from './engine.ts'
import { SHARED_HEADER_BYTES, type WorkerInput, type WorkerMessage } from './worker-protocol.ts'

/** The result of one target. */
export interface TargetReport {
  readonly name: string
  readonly executions: number
  readonly executionsPerSecond: number
  readonly rejections: number
  readonly seconds: number
  readonly restarts: number
  readonly failures: FuzzFailure[]
}

const SHARED_INPUT_BYTES = 8 << 20
const WATCHDOG_SLACK_MS = 3000
/** tsx's loader is per thread: register it in the worker before loading the TypeScript. */
const bootstrap = (url: string): string =>
  `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}) })`

interface Run {
  executions: number
  rejections: number
  millis: number
  hung: boolean
}

function runOnce(
  options: Omit<WorkerInput, 'shared'>,
  failures: Map<string, FuzzFailure>,
): Promise<Run> {
  const shared = new SharedArrayBuffer(SHARED_HEADER_BYTES + SHARED_INPUT_BYTES)
  const header = new Int32Array(shared, 0, 4)
  const worker = new Worker(bootstrap(new URL('./worker.ts', import.meta.url).href), {
    eval: true,
    workerData: { ...options, shared } satisfies WorkerInput,
  })
  const started = performance.now()
  return new Promise<Run>((resolve, reject) => {
    let entries: readonly string[] = []
    let watchdog: NodeJS.Timeout | undefined
    let last = -1
    let lastChange = performance.now()
    const finish = (run: Run): void => {
      clearInterval(watchdog)
      resolve(run)
    }
    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'ready') {
        entries = message.entries
        lastChange = performance.now()
        watchdog = setInterval(() => {
          const executions = Atomics.load(header, 0)
          if (executions !== last) {
            last = executions
            lastChange = performance.now()
            return
          }
          if (performance.now() - lastChange < options.timeoutMs + WATCHDOG_SLACK_MS) return
          const input = new Uint8Array(shared, SHARED_HEADER_BYTES, Atomics.load(header, 1)).slice()
          const entry = entries[Atomics.load(header, 2)] ?? '?'
          const signature = `${entry}: hang (no return within ${options.timeoutMs + WATCHDOG_SLACK_MS} ms)`
          const known = failures.get(signature)
          if (known === undefined) {
            failures.set(signature, {
              target: options.target,
              entry,
              kind: 'hang',
              signature,
              message: 'the entry point did not return; the worker was stopped',
              stack: '',
              input,
              inputSha256: createHash('sha256').update(input).digest('hex'),
              count: 1,
            })
          } else known.count++
          clearInterval(watchdog)
          void worker.terminate().then(() => {
            finish({ executions, rejections: 0, millis: performance.now() - started, hung: true })
          })
        }, 200)
      } else if (message.kind === 'failure') {
        const known = failures.get(message.failure.signature)
        if (known === undefined) failures.set(message.failure.signature, message.failure)
      } else {
        for (const [signature, count] of Object.entries(message.counts)) {
          const known = failures.get(signature)
          if (known !== undefined) known.count = count
        }
        finish({
          executions: message.executions,
          rejections: message.rejections,
          millis: message.millis,
          hung: false,
        })
      }
    })
    worker.on('error', (error) => {
      clearInterval(watchdog)
      reject(error)
    })
  })
}

/** Fuzz one target for `millis` in worker threads (restarted after a hang). */
export async function runTargetInWorker(
  options: Omit<WorkerInput, 'shared'>,
): Promise<TargetReport> {
  const failures = new Map<string, FuzzFailure>()
  const deadline = performance.now() + options.millis
  let executions = 0
  let rejections = 0
  let fuzzMillis = 0
  let restarts = 0
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - performance.now()
    if (remaining <= 0 || attempt > 20) break
    const run = await runOnce(
      { ...options, seed: options.seed + attempt * 7919, millis: remaining },
      failures,
    )
    executions += run.executions
    rejections += run.rejections
    fuzzMillis += run.millis
    if (!run.hung) break
    restarts++
  }
  return {
    name: options.target,
    executions,
    executionsPerSecond: fuzzMillis > 0 ? (executions * 1000) / fuzzMillis : 0,
    rejections,
    seconds: fuzzMillis / 1000,
    restarts,
    failures: [...failures.values()],
  }
}
