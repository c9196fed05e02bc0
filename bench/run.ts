/**
 * `npm run bench`: run every `bench/*.bench.ts`, write `bench/results.json`, print a table.
 *
 * Environment: BENCH_ROUNDS (default 7), BENCH_ROUND_MS (default 300), BENCH_FILTER (substring of
 * benchmark names to run); jobs read their own (BENCH_UNPACK_RUNS).
 */
import { readdir, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { measure, type BenchResult, type Benchmark, type JobBenchmark } from './harness.ts'
import { benchNumber } from './bench-env.ts'

const here = fileURLToPath(new URL('.', import.meta.url))
const options = {
  rounds: benchNumber('BENCH_ROUNDS', 7, { integer: true, min: 1 }),
  roundMillis: benchNumber('BENCH_ROUND_MS', 300, { integer: true, min: 1 }),
  warmupMillis: 300,
}
const filter = process.env['BENCH_FILTER'] ?? ''

const files = (await readdir(here)).filter((f) => f.endsWith('.bench.ts')).sort()
const results: BenchResult[] = []
for (const file of files) {
  const module = (await import(pathToFileURL(join(here, file)).href)) as {
    benchmarks: readonly (Benchmark | JobBenchmark)[]
  }
  for (const benchmark of module.benchmarks) {
    if (!benchmark.name.includes(filter)) continue
    const result = 'job' in benchmark ? await benchmark.job() : measure(benchmark, options)
    results.push(result)
    const met = (ok: boolean): string => (ok ? 'met' : 'NOT met')
    const goal =
      result.goal === undefined
        ? ''
        : `  (goal ≥ ${result.goal}: ${met(result.met ?? result.ratio >= result.goal)})`
    console.log(
      `${result.name.padEnd(56)} ${Math.round(result.value).toLocaleString('en').padStart(12)} ${result.unit}  ` +
        `ratio ${result.ratio.toFixed(3)} vs ${result.baseline} (${Math.round(result.baseline_value).toLocaleString('en')} ${result.unit})${goal}`,
    )
    for (const extra of result.extra ?? []) {
      console.log(
        `${`  ${extra.name}`.padEnd(56)} ${extra.value.toLocaleString('en').padStart(12)} ${extra.unit}  ` +
          (extra.below === undefined ? '' : `(goal < ${extra.below}: ${met(extra.met === true)})`) +
          (extra.atLeast === undefined
            ? ''
            : `(goal ≥ ${extra.atLeast}: ${met(extra.met === true)})`),
      )
    }
  }
}
await writeFile(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n')
console.log(`\n${results.length} benchmarks; results in bench/results.json`)
