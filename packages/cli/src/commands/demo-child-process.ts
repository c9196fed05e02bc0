/**
 * The demo's child processes: the KBS and each guest's agent run as separate `initguard`
 * processes, as they would on separate machines. Each is started, waited for until it prints its
 * ready line, and always stopped (SIGTERM, then SIGKILL) when the demo ends.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { UnavailableError } from '@initguard/core'

/** The `initguard` bin; `src/commands/` and `dist/commands/` both sit two levels below it. */
const BIN = fileURLToPath(new URL('../../bin/initguard.js', import.meta.url))

/** A running `initguard` child. */
export interface DemoChild {
  /** Everything it printed so far (stdout and stderr, interleaved as received). */
  output(): string
  /** Resolves with its exit code (null when killed by a signal) once it has exited. */
  readonly exited: Promise<number | null>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<number | null>
}

/** What to wait for. */
export interface StartChildOptions {
  /** A line matching this means the child is ready. */
  readonly ready: RegExp
  /** Give up (and stop the child) after this long; default 15 s. */
  readonly timeoutMs?: number
}

/** The outcome of a start: ready (with the matching line), or exited first (with its code). */
export type ChildStart =
  | { readonly ready: true; readonly child: DemoChild; readonly match: RegExpExecArray }
  | { readonly ready: false; readonly child: DemoChild; readonly code: number | null }

/**
 * Start `initguard ARGS` and wait until it prints a line matching `options.ready`, or exits.
 *
 * @throws {@link UnavailableError} `ERR_DEMO_CHILD_TIMEOUT` when it does neither in time (the
 *   child is stopped first).
 */
export async function startInitguardChild(
  args: readonly string[],
  options: StartChildOptions,
): Promise<ChildStart> {
  const process_: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  const exited = new Promise<number | null>((resolve) => {
    // 'close', not 'exit': by then every byte it wrote has been read.
    process_.on('close', (code) => {
      resolve(code)
    })
  })
  const child: DemoChild = {
    output: () => text,
    exited,
    async stop(graceMs = 3000) {
      if (process_.exitCode !== null || process_.signalCode !== null) return exited
      process_.kill('SIGTERM')
      const timer = setTimeout(() => process_.kill('SIGKILL'), graceMs)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
  const timeoutMs = options.timeoutMs ?? 15_000
  return new Promise<ChildStart>((resolve, reject) => {
    let settled = false
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8')
      if (settled) return
      for (const line of text.split('\n')) {
        const match = options.ready.exec(line)
        if (match !== null) {
          settled = true
          clearTimeout(timer)
          resolve({ ready: true, child, match })
          return
        }
      }
    }
    process_.stdout?.on('data', onData)
    process_.stderr?.on('data', onData)
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      void child.stop().then(() => {
        reject(
          new UnavailableError(
            'ERR_DEMO_CHILD_TIMEOUT',
            `initguard ${args.slice(0, 2).join(' ')} was not ready within ${timeoutMs} ms`,
            { details: { output: text.slice(-2000) }, hint: 'run the command by hand to see why' },
          ),
        )
      })
    }, timeoutMs)
    void exited.then((code) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ ready: false, child, code })
    })
  })
}
