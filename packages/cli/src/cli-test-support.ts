/**
 * Running the CLI in-process for tests: `runCli` with captured output and an empty standard input.
 *
 * @module
 */
import { Readable } from 'node:stream'
import { runCli } from './main.ts'

/** What one in-process run gave. */
export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** Standard output as written, byte for byte. */
  readonly stdoutBytes: Buffer
}

/** Run `initguard ARGS` in-process and capture its exit code and output. */
export async function runInProcess(args: readonly string[]): Promise<CliRun> {
  const out: Buffer[] = []
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
    stderr: { write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()) },
    stdin: Readable.from([]),
  })
  const stdoutBytes = Buffer.concat(out)
  return { code, stdout: stdoutBytes.toString(), stderr, stdoutBytes }
}

/** The `error` object of a `--json` run that failed. */
export function jsonError(run: CliRun): {
  code: string
  message: string
  hint?: string
  details: Record<string, unknown>
} {
  return (
    JSON.parse(run.stdout) as {
      error: { code: string; message: string; hint?: string; details: Record<string, unknown> }
    }
  ).error
}
