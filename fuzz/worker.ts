/**
 * One target in a worker thread, so that the main thread can stop it when an input hangs it
 * synchronously (a loop that never yields cannot be interrupted from inside). Before each execution
 * the input is copied into shared memory, and after it a counter moves; the main thread reads the
 * input back when the counter stops, or when the worker dies of an asynchronous exception.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import { fuzzTarget } from './engine.ts'
import {
  HEADER_ENTRY,
  HEADER_EXECUTIONS,
  HEADER_INPUT_LENGTH,
  HEADER_PHASE,
  HEADER_REJECTIONS,
  PHASE_FUZZING,
  PHASE_TEARDOWN,
  SHARED_HEADER_BYTES,
  epochNow,
  loadTarget,
  type WorkerInput,
  type WorkerMessage,
} from './worker-protocol.ts'

const input = workerData as WorkerInput
const port = parentPort
if (port === null) throw new Error('fuzz/worker.ts runs only as a worker thread')
const header = new Int32Array(input.shared, 0, SHARED_HEADER_BYTES / 4)
const bytes = new Uint8Array(input.shared, SHARED_HEADER_BYTES)

const began = performance.now()
// The target's own module (not every target's): loading is part of the budget.
const target = await loadTarget(input.targetsModule, input.target)
const prepared = await target.prepare({ scratch: input.scratch, simulatorDir: input.simulatorDir })
const entries = Object.keys(prepared.entries)
port.postMessage({
  kind: 'ready',
  entries,
  prepareMillis: performance.now() - began,
} satisfies WorkerMessage)
Atomics.store(header, HEADER_PHASE, PHASE_FUZZING)
const stats = await fuzzTarget(target.name, prepared, {
  seed: input.seed,
  // The deadline in this thread's performance time (setup already spent part of the budget).
  deadline: Math.max(input.deadline - epochNow() + performance.now(), Number.MIN_VALUE),
  timeoutMs: input.timeoutMs,
  onInput: (data, entry) => {
    const length = Math.min(data.length, bytes.length)
    bytes.set(data.subarray(0, length))
    Atomics.store(header, HEADER_INPUT_LENGTH, length)
    Atomics.store(header, HEADER_ENTRY, entries.indexOf(entry))
  },
  onExecuted: (s) => {
    Atomics.store(header, HEADER_REJECTIONS, s.rejections)
    Atomics.store(header, HEADER_EXECUTIONS, s.executions)
  },
  onFailure: (failure) => {
    port.postMessage({ kind: 'failure', failure } satisfies WorkerMessage)
  },
})
Atomics.store(header, HEADER_PHASE, PHASE_TEARDOWN)
await prepared.close?.()
port.postMessage({
  kind: 'done',
  executions: stats.executions,
  rejections: stats.rejections,
  millis: stats.millis,
  counts: Object.fromEntries(stats.failures.map((f) => [f.signature, f.count])),
} satisfies WorkerMessage)
