/**
 * A server a test starts as a child process (swtpm, Debian's docker-registry): spawned from a full
 * path, its output kept for the error message, killed when the test process exits, and a spawn
 * that fails (EACCES, ENOENT) noticed at once rather than after the caller's start-up wait, and
 * never left as an unhandled `error` event.
 *
 * @module
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process'
import type { Readable } from 'node:stream'

/** A spawned server process. */
export interface ServerProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  /** True while the process runs: spawned, and not exited. */
  readonly alive: () => boolean
  /** Why it is not running: the spawn error, or its last output (stdout and stderr). */
  readonly why: () => string
  /** SIGTERM, then SIGKILL after 5 s; resolves once it is gone. Idempotent. */
  readonly stop: () => Promise<void>
}

const running = new Set<ChildProcess>()
let exitHookInstalled = false

/** Spawn `binary ARGS` (a full path, e.g. from `commandOnPath`) with stdout and stderr kept. */
export function spawnServer(binary: string, args: readonly string[]): ServerProcess {
  const child = spawn(binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // A test run that dies early must not leave servers behind.
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL')
    })
  }
  let output = ''
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let spawnError: Error | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      spawnError = error
      resolve()
    })
    child.once('close', () => {
      resolve()
    })
  })
  const alive = (): boolean =>
    spawnError === undefined && child.exitCode === null && child.signalCode === null
  return {
    child,
    alive,
    why: () => {
      if (spawnError !== undefined) return `cannot run ${binary}: ${spawnError.message}`
      const exit =
        child.exitCode !== null
          ? ` (exit code ${String(child.exitCode)})`
          : child.signalCode !== null
            ? ` (killed by ${child.signalCode})`
            : ''
      return `${output.trim() || '(no output)'}${exit}`
    },
    stop: async () => {
      if (child.pid !== undefined && alive()) child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (alive()) {
        child.kill('SIGKILL')
        await exited
      }
      running.delete(child)
    },
  }
}
