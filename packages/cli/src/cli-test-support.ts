/**
 * Running the CLI in-process for tests, with its output captured.
 *
 * @module
 */
import { Readable } from 'node:stream'
import { runCli } from './main.ts'

/** What one run of the CLI did. */
export interface CapturedRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Run `initguard ARGS` in-process with empty standard input; its exit code and output. */
export async function runCaptured(args: readonly string[]): Promise<CapturedRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => (stdout += Buffer.from(c).toString()) },
    stderr: { write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()) },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}
