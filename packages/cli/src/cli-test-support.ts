/**
 * Running the CLI in-process for tests: the exit code and what it printed.
 *
 * @module
 */
import { Readable } from 'node:stream'
import { runCli } from './main.ts'

/** What one run printed, and its exit code. */
export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run `initguard ARGS` with empty standard input. */
export async function runCliCaptured(args: readonly string[]): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => (stdout += Buffer.from(c).toString()) },
    stderr: { write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()) },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}

/** The `error` object of a `--json` run that failed. */
export function jsonError(run: CliRun): {
  code: string
  hint?: string
  details: Record<string, unknown>
} {
  return (
    JSON.parse(run.stdout) as {
      error: { code: string; hint?: string; details: Record<string, unknown> }
    }
  ).error
}
