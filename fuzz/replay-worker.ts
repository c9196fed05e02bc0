/**
 * One saved input run again in a worker thread, so that `--replay` can stop it at the per-input
 * limit even when it loops synchronously (see `replay.ts`); a promise that does not settle within
 * the limit is a hang, as in a run. Says `ready` once the target is set up
 * (the limit starts then), then the result; or `no-entry` when the entry point does not exist.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import { failureKindOf, InputTimeout, settle } from './engine.ts'
import { loadTarget } from './worker-protocol.ts'
import type { ReplayInput, ReplayMessage } from './replay.ts'

const job = workerData as ReplayInput
const port = parentPort
if (port === null) throw new Error('fuzz/replay-worker.ts runs only as a worker thread')
const say = (message: ReplayMessage): void => {
  port.postMessage(message)
}

const target = await loadTarget(job.targetsModule, job.target)
const prepared = await target.prepare(job.context)
try {
  const run = prepared.entries[job.entry]
  if (run === undefined) say({ kind: 'no-entry', entries: Object.keys(prepared.entries) })
  else {
    say({ kind: 'ready' })
    const began = performance.now()
    try {
      await settle(run(job.input), job.timeoutMs)
      say({ kind: 'result', result: 'none', millis: performance.now() - began, error: undefined })
    } catch (error) {
      say({
        kind: 'result',
        result: error instanceof InputTimeout ? 'hang' : (failureKindOf(error) ?? 'typed'),
        millis: performance.now() - began,
        error: error instanceof Error ? (error.stack ?? String(error)) : String(error),
      })
    }
  }
} finally {
  await prepared.close?.()
}
