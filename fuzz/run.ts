/**
 * `npm run fuzz`: every target (or `--target NAME`, repeatable) for a share of the time budget
 * (`--seconds`, `FUZZ_SECONDS`, default 60), each in a worker thread watched for hangs and deaths.
 * The budget starts when the process does: setup (loading, the simulator, each worker's `prepare`)
 * counts against it, each target gets an equal share of what is left when it starts, and a worker
 * still alive at its deadline plus the grace (per-input limit + 3 s) is stopped, so the whole run
 * ends within the budget plus that grace. Writes
 * `fuzz/results.json` and each distinct failure's input to `fuzz/crashes/` (both git-ignored),
 * prints a summary, and exits 1 when anything failed. `--replay FILE` runs one saved input again
 * in a worker thread within the per-input limit (its target's setup within `--seconds`), prints
 * what it throws (or that it is slow or a hang), and exits 1 when it still fails. A malformed option, a
 * one-value option given twice, or one `--replay` does not use is refused with exit 2.
 *
 * Options: --seconds N, --target NAME, --seed N, --timeout-ms N (per input, default 2000).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isInitguardError } from '@initguard/core'
import { initSimulator } from '@initguard/tee-simulator'
import { describeFailure } from './engine.ts'
import { exitCodeOf, parseFuzzOptions, type FuzzRunOptions } from './options.ts'
import { replayCrash, replayVerdict } from './replay.ts'
import { saveResults } from './report.ts'
import { runTargetInWorker, type TargetReport } from './supervisor.ts'
import { FUZZ_TARGETS } from './targets/index.ts'
import { epochNow } from './worker-protocol.ts'

/** The budget starts with the process: loading the targets counts too. */
const started = performance.timeOrigin
const here = new URL('.', import.meta.url).pathname

/** Print a refusal (a usage error, an unreadable crash file) and give its exit code. */
function refusal(error: unknown): number {
  if (!isInitguardError(error)) throw error
  const hint = error.hint === undefined ? '' : `\n  ${error.hint}`
  console.error(`npm run fuzz: ${error.message}${hint}`)
  return exitCodeOf(error)
}

async function replay(
  file: string,
  options: FuzzRunOptions,
  simulatorDir: string,
  scratch: string,
): Promise<number> {
  const targets = FUZZ_TARGETS.map((t) => t.name)
  const outcome = await replayCrash(file, {
    targets,
    context: { scratch, simulatorDir },
    timeoutMs: options.timeoutMs,
    setupSeconds: options.seconds,
  })
  const { line, exitCode } = replayVerdict(outcome)
  console.log(line)
  if (outcome.error !== undefined) console.log(outcome.error)
  return exitCode
}

async function fuzz(options: FuzzRunOptions, simulatorDir: string, root: string): Promise<number> {
  const end = started + options.seconds * 1000
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const names = options.targets
  console.log(
    `fuzzing ${names.join(', ')} for ${String(options.seconds)} s in all, setup included ` +
      `(seed ${String(seed)}, ${String(options.timeoutMs)} ms per input)`,
  )
  const reports: TargetReport[] = []
  for (const [i, name] of names.entries()) {
    const now = epochNow()
    const base = { name, executions: 0, executionsPerSecond: 0, rejections: 0, seconds: 0 }
    const none = { ...base, setupSeconds: 0, restarts: 0, failures: [] }
    if (now >= end) {
      reports.push({ ...none, notRun: 'the budget was spent before it (overruns above)' })
      console.log(`${name.padEnd(14)} NOT RUN: the budget was spent before it`)
      continue
    }
    const scratch = join(root, name)
    await mkdir(scratch, { recursive: true })
    const job = { target: name, seed: seed + i, timeoutMs: options.timeoutMs, scratch }
    const deadline = now + (end - now) / (names.length - i)
    const report = await runTargetInWorker({ ...job, deadline, simulatorDir }).catch(
      (error: unknown): TargetReport => ({
        ...none,
        failures: [describeFailure(name, '(supervisor)', 'worker-error', error, undefined)],
      }),
    )
    reports.push(report)
    if (report.notRun !== undefined) console.log(`${name.padEnd(14)} NOT RUN: ${report.notRun}`)
    const failed =
      report.failures.length === 0 ? 'no failures' : `${String(report.failures.length)} FAILURES`
    console.log(
      `${name.padEnd(14)} ${String(report.executions).padStart(9)} executions  ${report.executionsPerSecond.toFixed(0).padStart(6)}/s  ` +
        `${String(report.rejections).padStart(9)} typed rejections  ${failed}`,
    )
  }
  const { seconds, timeoutMs } = options
  const results = await saveResults(here, 'fuzz', { seconds, seed, timeoutMs }, reports)
  for (const failure of results.failures) {
    const input = failure.input === 'saved' ? 'input' : 'input unknown, see'
    console.log(
      `\n✗ ${failure.signature} (×${String(failure.count)})\n  ${failure.message.split('\n')[0] ?? ''}\n  ${input}: ${failure.crashFile}`,
    )
  }
  const total = reports.reduce((sum, r) => sum + r.executions, 0)
  const notRun = reports.filter((r) => r.notRun !== undefined).length
  console.log(
    `\n${String(total)} executions, ${String(results.failures.length)} distinct failures` +
      `${notRun === 0 ? '' : `, ${String(notRun)} targets not run`}; results in fuzz/results.json ` +
      `(${((epochNow() - started) / 1000).toFixed(1)} s)`,
  )
  return results.failures.length === 0 && notRun === 0 ? 0 : 1
}

let options: FuzzRunOptions
try {
  options = parseFuzzOptions(
    process.argv.slice(2),
    process.env,
    FUZZ_TARGETS.map((t) => t.name),
  )
} catch (error) {
  process.exit(refusal(error))
}
const root = await mkdtemp(join(tmpdir(), 'initguard-fuzz-'))
try {
  const { simulator } = await initSimulator(join(root, 'sim'))
  process.exitCode =
    options.replay === undefined
      ? await fuzz(options, simulator.dir, root)
      : await replay(options.replay, options, simulator.dir, join(root, 'replay')).catch(refusal)
} finally {
  await rm(root, { recursive: true, force: true })
}
