/**
 * Running the CLI in-process for tests: `runCli` with captured output and an empty standard input.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
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

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))

/** The bundled examples the README's tour starts from (`packages/cli/examples/`). */
export const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url))

/** `initguard initdata build` of the examples' `aa.toml`, `cdh.toml` and `policy.rego`, then `extra`. */
export function exampleBuildArgs(...extra: readonly string[]): string[] {
  return [
    ...[
      'initdata',
      'build',
      '--aa',
      join(EXAMPLES, 'aa.toml'),
      '--cdh',
      join(EXAMPLES, 'cdh.toml'),
    ],
    ...['--policy', join(EXAMPLES, 'policy.rego'), ...extra],
  ]
}

/** A `kbs serve` process started by {@link spawnKbsServe}, listening. */
export interface SpawnedKbs {
  readonly server: ChildProcess
  /** `https://127.0.0.1:PORT`, from its start-up line. */
  readonly url: string
  /** Its standard error so far. */
  readonly log: () => string
}

/** Run `initguard kbs serve ARGS` as a real process (the built CLI); resolves once it listens. */
export async function spawnKbsServe(args: readonly string[]): Promise<SpawnedKbs> {
  const server = spawn(process.execPath, [BIN, 'kbs', 'serve', ...args])
  let serverLog = ''
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr.on('data', (chunk: Buffer) => {
      serverLog += chunk.toString()
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(serverLog)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    server.on('exit', (code) => {
      reject(new Error(`kbs serve exited with ${String(code)}: ${serverLog}`))
    })
  })
  return { server, url, log: () => serverLog }
}
