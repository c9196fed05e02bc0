/**
 * The demo's child processes: `initguard` commands started as real processes (the KBS, the guest
 * agents), each logged to a file, and stopped when the demo ends, however it ends.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import { UnavailableError } from '@initguard/core'

/** The `initguard` command: `src/` and `dist/` both sit two levels below the package directory. */
const BIN = fileURLToPath(new URL('../../bin/initguard.js', import.meta.url))
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
/** How long a child may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 3000

/** A running `initguard` child. */
export interface DemoChild {
  readonly pid: number
  /** Standard output and error so far, interleaved as they came. */
  output(): string
  /** Resolves with the exit code (or 128 + signal number) once the child has exited. */
  readonly exited: Promise<number>
  /** Stop it (SIGTERM, then SIGKILL after a grace period); resolves with its exit code. */
  stop(): Promise<number>
}

/** How a child started: ready (the line matched) or exited before that. */
export type ChildStart =
  | { readonly kind: 'ready'; readonly child: DemoChild; readonly match: RegExpExecArray }
  | { readonly kind: 'exited'; readonly child: DemoChild; readonly code: number }

const running = new Set<ChildProcess>()

function killAll(): void {
  for (const child of running) child.kill('SIGKILL')
}

/**
 * Run `work`; every child started meanwhile is stopped when it returns or throws, and killed if
 * this process exits or is interrupted first (SIGINT/SIGTERM/SIGHUP: exit 128 + the signal
 * number, as a shell does).
 */
export async function withDemoChildren<T>(work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: (typeof STOP_SIGNALS)[number]): void => {
    killAll()
    process.exit(128 + constants.signals[signal])
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  // Whatever calls process.exit (e.g. the temporary directory's own signal handler) runs this.
  process.on('exit', killAll)
  try {
    return await work()
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal)
    process.off('exit', killAll)
    for (const child of [...running]) await stopChild(child)
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve()
    }),
  )
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

/**
 * Start `initguard ARGS` as a child process (its output also goes to `logFile`) and wait until a
 * line of its output matches `ready`, or it exits, or `timeoutMs` passes (then it is stopped and
 * this throws).
 */
export async function startInitguard(
  args: readonly string[],
  options: { readonly ready: RegExp; readonly logFile: string; readonly timeoutMs?: number },
): Promise<ChildStart> {
  const log = createWriteStream(options.logFile, { mode: 0o600 })
  const process_ = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(process_)
  let output = ''
  const closed = new Promise((resolve) => process_.once('close', resolve))
  const exited = new Promise<number>((resolve) => {
    process_.once('exit', (code, signal) => {
      running.delete(process_)
      log.end()
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]))
    })
  })
  const child: DemoChild = {
    pid: process_.pid ?? -1,
    output: () => output,
    exited,
    stop: async () => {
      await stopChild(process_)
      return exited
    },
  }
  const ready = new Promise<RegExpExecArray>((resolve) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      log.write(chunk)
      const match = options.ready.exec(output)
      if (match !== null) resolve(match)
    }
    process_.stdout.on('data', onData)
    process_.stderr.on('data', onData)
  })
  const timeoutMs = options.timeoutMs ?? 15_000
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout')
    }, timeoutMs)
  })
  const first = await Promise.race([
    ready.then((match) => ({ kind: 'ready' as const, match })),
    exited.then((code) => ({ kind: 'exited' as const, code })),
    timeout,
  ])
  clearTimeout(timer)
  if (first === 'timeout') {
    await child.stop()
    throw new UnavailableError(
      'ERR_DEMO_CHILD_TIMEOUT',
      `initguard ${args.slice(0, 2).join(' ')} did not get ready within ${timeoutMs} ms`,
      { details: { log: options.logFile }, hint: `see its log ${options.logFile}` },
    )
  }
  // Output that came with the exit may still be in the pipes: wait for the streams to close.
  if (first.kind === 'exited') await closed
  return first.kind === 'ready'
    ? { kind: 'ready', child, match: first.match }
    : { kind: 'exited', child, code: first.code }
}
