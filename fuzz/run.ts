/**
 * `npm run fuzz`: every target (or `--target NAME`, repeatable) for a share of the time budget
 * (`--seconds`, `FUZZ_SECONDS`, default 60), each in a worker thread watched for hangs. Writes
 * `fuzz/results.json` and each distinct failure's input to `fuzz/crashes/` (both git-ignored),
 * prints a summary, and exits 1 when anything failed. `--replay FILE` runs one saved input again
 * in this thread and prints what it throws.
 *
 * Options: --seconds N, --target NAME, --seed N, --timeout-ms N (per input, default 2000).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { initSimulator } from '@initguard/tee-simulator'
import { failureKindOf } from './engine.ts'
import { runTargetInWorker, type TargetReport } from './supervisor.ts'
import { FUZZ_TARGETS } from './targets/index.ts'

const here = new URL('.', import.meta.url).pathname
const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string' },
    'timeout-ms': { type: 'string', default: '2000' },
    replay: { type: 'string' },
  },
})

function positive(text: string, what: string): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${what} must be a positive number, not ${JSON.stringify(text)}`)
    process.exit(2)
  }
  return value
}

const root = await mkdtemp(join(tmpdir(), 'initguard-fuzz-'))
try {
  const { simulator } = await initSimulator(join(root, 'sim'))
  if (values.replay !== undefined) {
    const meta = JSON.parse(await readFile(values.replay.replace(/\.bin$/, '.json'), 'utf8')) as {
      target: string
      entry: string
    }
    const target = FUZZ_TARGETS.find((t) => t.name === meta.target)
    if (target === undefined) throw new Error(`no target ${meta.target}`)
    const prepared = await target.prepare({
      scratch: join(root, 'replay'),
      simulatorDir: simulator.dir,
    })
    try {
      await prepared.entries[meta.entry]?.(new Uint8Array(await readFile(values.replay)))
      console.log(`${meta.target}/${meta.entry}: no throw`)
    } catch (error) {
      console.log(`${meta.target}/${meta.entry}: ${failureKindOf(error) ?? 'typed rejection'}`)
      console.log(error)
    } finally {
      await prepared.close?.()
    }
    process.exit(0)
  }
  const names = values.target ?? FUZZ_TARGETS.map((t) => t.name)
  for (const name of names) {
    if (!FUZZ_TARGETS.some((t) => t.name === name)) {
      console.error(
        `no fuzz target ${name}; targets: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`,
      )
      process.exit(2)
    }
  }
  const seconds = positive(values.seconds ?? process.env['FUZZ_SECONDS'] ?? '60', '--seconds')
  const timeoutMs = positive(values['timeout-ms'], '--timeout-ms')
  const seed =
    values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : positive(values.seed, '--seed')
  console.log(
    `fuzzing ${names.join(', ')} for ${seconds} s in all (seed ${seed}, ${timeoutMs} ms per input)`,
  )
  const reports: TargetReport[] = []
  for (const [i, name] of names.entries()) {
    const millis = (seconds * 1000) / names.length
    const scratch = join(root, name)
    await mkdir(scratch, { recursive: true })
    const report = await runTargetInWorker({
      target: name,
      seed: seed + i,
      millis,
      timeoutMs,
      scratch,
      simulatorDir: simulator.dir,
    })
    reports.push(report)
    const failed =
      report.failures.length === 0 ? 'no failures' : `${report.failures.length} FAILURES`
    console.log(
      `${name.padEnd(14)} ${String(report.executions).padStart(9)} executions  ${report.executionsPerSecond.toFixed(0).padStart(6)}/s  ` +
        `${String(report.rejections).padStart(9)} typed rejections  ${failed}`,
    )
  }
  const crashes = join(here, 'crashes')
  await mkdir(crashes, { recursive: true })
  const failures = []
  for (const report of reports) {
    for (const failure of report.failures) {
      const file = join(
        crashes,
        `${failure.target}-${failure.entry}-${failure.inputSha256.slice(0, 12)}`,
      )
      await writeFile(`${file}.bin`, failure.input)
      await writeFile(
        `${file}.json`,
        JSON.stringify(
          {
            target: failure.target,
            entry: failure.entry,
            signature: failure.signature,
            stack: failure.stack,
          },
          null,
          2,
        ) + '\n',
      )
      failures.push({
        ...failure,
        input: undefined,
        crashFile: `fuzz/crashes/${file.split('/').pop() ?? ''}.bin`,
      })
      console.log(
        `\n✗ ${failure.signature} (×${failure.count})\n  ${failure.message.split('\n')[0] ?? ''}\n  input: fuzz/crashes/${file.split('/').pop() ?? ''}.bin`,
      )
    }
  }
  const results = {
    date: new Date().toISOString(),
    seconds,
    seed,
    timeoutMs,
    targets: reports.map(({ failures: f, ...rest }) => ({ ...rest, failures: f.length })),
    failures,
  }
  await writeFile(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  const total = reports.reduce((sum, r) => sum + r.executions, 0)
  console.log(
    `\n${total} executions, ${failures.length} distinct failures; results in fuzz/results.json`,
  )
  process.exitCode = failures.length === 0 ? 0 : 1
} finally {
  await rm(root, { recursive: true, force: true })
}
