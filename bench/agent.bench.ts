/**
 * The guest agent's cold start: `initguard agent start` spawned as a new process on the built
 * `dist` (no TypeScript loader), in a simulated SEV-SNP guest, timed from spawn to the line it
 * prints once the init-data is verified (`initguard agent: init-data verified …`, on standard
 * error, right after the check and before the guest API loads). Its peak RSS is the process's
 * `VmHWM` (/proc/PID/status) read as that line arrives, while it is still running. Goals: < 300 ms
 * and < 80 MB (medians).
 *
 * Baseline, in the same run and alternating with it: a bare `node -e` process printing one line,
 * timed and measured the same way, so the machine's load (and node's own start) shows in the JSON.
 * The time on to the ready line (guest API serving) is reported beside, for information.
 *
 * Environment: BENCH_AGENT_RUNS (default 15).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initSimulator, launchSimulatedGuest } from '@initguard/tee-simulator'
import { median, type BenchResult, type JobBenchmark } from './harness.ts'
import { benchNumber } from './bench-env.ts'

const BIN = fileURLToPath(new URL('../packages/cli/bin/initguard.js', import.meta.url))
const TIME_GOAL_MS = 300
const RSS_GOAL_MB = 80
/** A document naming a KBS over plain HTTP (explicitly): the agent starts without reaching it. */
const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "http://127.0.0.1:9"\n\'\'\'\n'
const BARE = "process.stderr.write('ready\\n'); setInterval(() => {}, 1000)"

interface Start {
  /** Spawn → the line matching `marker`. */
  readonly ms: number
  /** VmHWM when that line arrived, in MB. */
  readonly peakMb: number
  /** Spawn → the line matching `then`, if given. */
  readonly thenMs?: number
}

/** The peak resident set (VmHWM) of a running process, in MB. */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error(`no VmHWM for process ${pid} (has it exited?)`)
  return (Number(kib) * 1024) / 1e6
}

/** Spawn `args`, time it to `marker` (reading its peak RSS then) and to `then`; stop it. */
function timeStart(args: readonly string[], marker: RegExp, then?: RegExp): Promise<Start> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    let measured: { ms: number; peakMb: number } | undefined
    let result: Start | undefined
    const elapsed = (): number => Number(process.hrtime.bigint() - start) / 1e6
    // Stopped and waited for, so the next run does not share the machine with its exit.
    const finish = (done: Start): void => {
      result ??= done
      child.kill('SIGTERM')
    }
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (measured === undefined && marker.test(output)) {
        measured = { ms: elapsed(), peakMb: peakRssMb(child.pid ?? -1) }
        if (then === undefined) finish(measured)
      }
      if (measured !== undefined && then?.test(output) === true)
        finish({ ...measured, thenMs: elapsed() })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', reject)
    child.on('exit', (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`${args.join(' ')} exited (${String(code)}) early: ${output}`))
    })
  })
}

async function agentColdStart(): Promise<BenchResult> {
  const runs = benchNumber('BENCH_AGENT_RUNS', 15, { integer: true, min: 1 })
  const work = await mkdtemp(join(tmpdir(), 'initguard-bench-agent-'))
  try {
    const simDir = join(work, 'sim')
    const document = join(work, 'initdata.toml')
    await writeFile(document, DOCUMENT)
    await initSimulator(simDir)
    const initdata = new TextEncoder().encode(DOCUMENT)
    await launchSimulatedGuest({ simDir, name: 'bench', tee: 'snp', initdata })
    const agent = [
      ...[BIN, 'agent', 'start', '--initdata', document, '--tee', 'sim'],
      ...['--sim-dir', simDir, '--sim-guest', 'bench', '--listen', '127.0.0.1:0'],
    ]
    const verified = /initguard agent: init-data verified/
    const ready = /initguard agent ready: /
    const bare = ['-e', BARE]
    // One of each first, unmeasured: the first spawn pays for a cold page cache.
    await timeStart(agent, verified, ready)
    await timeStart(bare, /ready/)
    const ours: Start[] = []
    const baseline: Start[] = []
    for (let run = 0; run < runs; run++) {
      // Alternating, so a burst of load hits both alike.
      ours.push(await timeStart(agent, verified, ready))
      baseline.push(await timeStart(bare, /ready/))
    }
    const ms = median(ours.map((s) => s.ms))
    const baselineMs = median(baseline.map((s) => s.ms))
    const peak = median(ours.map((s) => s.peakMb))
    const round = (value: number): number => Math.round(value * 10) / 10
    return {
      name: 'agent cold start (spawn → init-data verified, simulated SNP)',
      unit: 'ms',
      value: round(ms),
      baseline: 'bare node -e printing a line',
      baseline_value: round(baselineMs),
      // Lower is better here: how many bare node starts one agent start costs.
      ratio: Math.round((ms / baselineMs) * 1000) / 1000,
      runs,
      extra: [
        {
          name: 'time to init-data verified (median)',
          unit: 'ms',
          value: round(ms),
          below: TIME_GOAL_MS,
          met: ms < TIME_GOAL_MS,
        },
        {
          name: 'peak RSS at init-data verified (median VmHWM)',
          unit: 'MB',
          value: round(peak),
          below: RSS_GOAL_MB,
          met: peak < RSS_GOAL_MB,
        },
        {
          name: 'peak RSS of the bare node baseline (median)',
          unit: 'MB',
          value: round(median(baseline.map((s) => s.peakMb))),
        },
        {
          name: 'time to guest API ready (median)',
          unit: 'ms',
          value: round(median(ours.map((s) => s.thenMs ?? Number.NaN))),
        },
      ],
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

export const benchmarks: readonly JobBenchmark[] = [
  { name: 'agent cold start (spawn → init-data verified, simulated SNP)', job: agentColdStart },
]
