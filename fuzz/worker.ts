/**
 * One target in a worker thread, so that the main thread can stop it when an input hangs it
 * synchronously (a loop that never yields cannot be interrupted from inside). Before each execution
 * the input is copied into shared memory, and after it a counter moves; the main thread reads the
 * input back when the counter stops.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import { fuzzTarget } from './engine.ts'
import { FUZZ_TARGETS } from './targets/index.ts'
import { SHARED_HEADER_BYTES, type WorkerInput, type WorkerMessage } from './worker-protocol.ts'

const input = workerData as WorkerInput
const port = parentPort
if (port === null) throw new Error('fuzz/worker.ts runs only as a worker thread')
const target = FUZZ_TARGETS.find((t) => t.name === input.target)
if (target === undefined) throw new Error(`no fuzz target ${input.target}`)
const header = new Int32Array(input.shared, 0, 4)
const bytes = new Uint8Array(input.shared, SHARED_HEADER_BYTES)

const began = performance.now()
const prepared = await target.prepare({ scratch: input.scratch, simulatorDir: input.simulatorDir })
const entries = Object.keys(prepared.entries)
port.postMessage({
  kind: 'ready',
  entries,
  prepareMillis: performance.now() - began,
} satisfies WorkerMessage)
const stats = await fuzzTarget(target.name, prepared, {
  seed: input.seed,
  deadline: performance.now() + input.millis,
  timeoutMs: input.timeoutMs,
  onInput: (data, entry) => {
    const length = Math.min(data.length, bytes.length)
    bytes.set(data.subarray(0, length))
    Atomics.store(header, 1, length)
    Atomics.store(header, 2, entries.indexOf(entry))
  },
  onExecuted: (s) => Atomics.store(header, 0, s.executions),
  onFailure: (failure) => {
    port.postMessage({ kind: 'failure', failure } satisfies WorkerMessage)
  },
})
await prepared.close?.()
port.postMessage({
  kind: 'done',
  executions: stats.executions,
  rejections: stats.rejections,
  millis: stats.millis,
  counts: Object.fromEntries(stats.failures.map((f) => [f.signature, f.count])),
} satisfies WorkerMessage)
