/**
 * The benchmark harness behind `npm run bench`.
 *
 * Each benchmark pairs what we measure with a baseline measured in the same run (raw `node:crypto`,
 * a peer library), because absolute numbers on shared machines are noise; the ratio is the result.
 * Rounds alternate candidate and baseline so drift in machine load hits both alike, and the
 * reported ratio is the median of per-round ratios.
 *
 * @module
 */

/** One side of a comparison: a name and an operation to repeat. */
export interface Measured {
  readonly name: string
  /** One operation. Must do real work whose result is used (return it), or the JIT may drop it. */
  readonly run: () => unknown
}

/** A benchmark: the operation we measure and the baseline it is compared with. */
export interface Benchmark extends Measured {
  /** Unit of `value` and `baseline_value`. */
  readonly unit: 'ops/s'
  readonly baseline: Measured
  /** The ratio the issue asks for, if any; printed beside the result. */
  readonly goal?: number
}

/** One line of `bench/results.json`. */
export interface BenchResult {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baseline: string
  readonly baseline_value: number
  readonly ratio: number
  readonly goal?: number
}

/** Harness settings. */
export interface HarnessOptions {
  readonly rounds: number
  readonly roundMillis: number
  readonly warmupMillis: number
}

let sink: unknown

function opsPerSecond(run: () => unknown, millis: number): number {
  let operations = 0
  let batch = 1
  const start = process.hrtime.bigint()
  const budget = BigInt(Math.round(millis * 1e6))
  let elapsed = 0n
  while (elapsed < budget) {
    for (let i = 0; i < batch; i++) sink = run()
    operations += batch
    elapsed = process.hrtime.bigint() - start
    if (elapsed < budget / 20n) batch *= 2
  }
  return operations / (Number(elapsed) / 1e9)
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Measure one benchmark against its baseline. */
export function measure(benchmark: Benchmark, options: HarnessOptions): BenchResult {
  opsPerSecond(benchmark.run, options.warmupMillis)
  opsPerSecond(benchmark.baseline.run, options.warmupMillis)
  const values: number[] = []
  const baselines: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < options.rounds; round++) {
    const value = opsPerSecond(benchmark.run, options.roundMillis)
    const baseline = opsPerSecond(benchmark.baseline.run, options.roundMillis)
    values.push(value)
    baselines.push(baseline)
    ratios.push(value / baseline)
  }
  if (sink === Symbol.for('never')) console.log(sink)
  return {
    name: benchmark.name,
    unit: benchmark.unit,
    value: Math.round(median(values)),
    baseline: benchmark.baseline.name,
    baseline_value: Math.round(median(baselines)),
    ratio: Math.round(median(ratios) * 1000) / 1000,
    ...(benchmark.goal === undefined ? {} : { goal: benchmark.goal }),
  }
}
