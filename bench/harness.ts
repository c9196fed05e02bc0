/**
 * The benchmark harness behind `npm run bench`.
 *
 * Each benchmark pairs what we measure with a baseline measured in the same run (raw `node:crypto`,
 * a peer library), because absolute numbers on shared machines are noise; the ratio is the result.
 * Within each round candidate and baseline run in short alternating slices (ABBA), so drift in
 * machine load hits both alike, and the reported ratio is the median of per-round ratios.
 *
 * A job of several seconds (unpacking a 1 GiB layer) does not fit many short rounds: a
 * {@link JobBenchmark} runs itself, still against a baseline in the same run, and reports further
 * measurements of the same runs (peak memory) beside the ratio, each with its goal.
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

/**
 * A further measurement of a job, with its goal when it has one: `value` must stay below
 * `below`, or reach `atLeast`. Without either it is reported for information (e.g. a rate the
 * load generator set).
 */
export interface ExtraMeasurement {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly below?: number
  readonly atLeast?: number
  readonly met?: boolean
}

/** One line of `bench/results.json`. */
export interface BenchResult {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baseline: string
  readonly baseline_value: number
  readonly ratio: number
  /** The ratio the issue asks for (at least), if any. */
  readonly goal?: number
  /** Whether `ratio` reaches `goal` (set by jobs; the printer decides for the others). */
  readonly met?: boolean
  /** How many times the job and its baseline ran. */
  readonly runs?: number
  readonly extra?: readonly ExtraMeasurement[]
}

/**
 * A benchmark that is one multi-second job: `job` measures it and its baseline (alternating, a
 * few times) and returns the result, cleaning up after itself.
 */
export interface JobBenchmark {
  readonly name: string
  readonly job: () => Promise<BenchResult>
}

/** Harness settings. */
export interface HarnessOptions {
  readonly rounds: number
  readonly roundMillis: number
  readonly warmupMillis: number
}

let sink: unknown

/** Run `run` for about `millis`; how many operations ran and in how many seconds. */
function timed(run: () => unknown, millis: number): { operations: number; seconds: number } {
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
  return { operations, seconds: Number(elapsed) / 1e9 }
}

function opsPerSecond(run: () => unknown, millis: number): number {
  const { operations, seconds } = timed(run, millis)
  return operations / seconds
}

/** Slices a round is cut into, in the order A B B A …, so both sides see the same machine load. */
const SLICES = 8

/**
 * One round: the candidate and the baseline in short alternating slices (ABBA order), each side's
 * rate over its own slices. On a shared machine the load changes within a round; interleaving
 * makes a burst of load hit both sides alike instead of whichever side was running then.
 */
function interleavedRound(
  candidate: () => unknown,
  baseline: () => unknown,
  millis: number,
): { value: number; baseline: number } {
  const totals = {
    candidate: { operations: 0, seconds: 0 },
    baseline: { operations: 0, seconds: 0 },
  }
  for (let slice = 0; slice < SLICES; slice++) {
    const candidateFirst = slice % 4 === 0 || slice % 4 === 3
    for (const side of candidateFirst
      ? (['candidate', 'baseline'] as const)
      : (['baseline', 'candidate'] as const)) {
      const { operations, seconds } = timed(
        side === 'candidate' ? candidate : baseline,
        millis / SLICES,
      )
      totals[side].operations += operations
      totals[side].seconds += seconds
    }
  }
  return {
    value: totals.candidate.operations / totals.candidate.seconds,
    baseline: totals.baseline.operations / totals.baseline.seconds,
  }
}

/** The median of `values` (at least one). */
export function median(values: readonly number[]): number {
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
    const { value, baseline } = interleavedRound(
      benchmark.run,
      benchmark.baseline.run,
      options.roundMillis,
    )
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
