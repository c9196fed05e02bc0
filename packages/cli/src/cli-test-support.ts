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
}

/** Run `initguard ARGS` in-process and capture its exit code and output. */
export async function runInProcess(args: readonly string[]): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => (stdout += Buffer.from(c).toString()) },
    stderr: { write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()) },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}
