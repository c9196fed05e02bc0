/**
 * How commands report: text for people, one JSON object for scripts, warnings on standard error
 * (or in the JSON's `warnings` array), errors with their code and hint.
 *
 * @module
 */
import { AppraisalError, isInitguardError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'
import type { ParsedArgs } from './command.ts'
import { EXIT_CODES } from './exit-codes.ts'

/** What a command reports. */
export interface Report {
  /** The JSON object for `--json` (warnings are added to it). */
  readonly json: Readonly<Record<string, unknown>>
  /** The text for people; a final newline is added if missing. */
  readonly text: string
  readonly warnings?: readonly string[]
}

/** Print a report in the form the user asked for. */
export function emit(io: CliIo, json: boolean, report: Report): void {
  const warnings = report.warnings ?? []
  if (json) {
    io.stdout.write(JSON.stringify({ ...report.json, warnings }, null, 2) + '\n')
    return
  }
  for (const warning of warnings) io.stderr.write(`warning: ${warning}\n`)
  if (report.text !== '')
    io.stdout.write(report.text.endsWith('\n') ? report.text : report.text + '\n')
}

/**
 * The end of a command that succeeded: print its report in the form `--json` asked for and give
 * exit code 0 (`return reply(io, args, { json, text })`).
 */
export function reply(io: CliIo, args: ParsedArgs, report: Report): 0 {
  emit(io, args.values['json'] === true, report)
  return 0
}

/**
 * Print an error and return the exit code for it. Unexpected errors are bugs: exit 1 with the
 * stack. In JSON, a refused appraisal lists every failure (`error.failures`) and the claims.
 */
export function reportError(io: CliIo, json: boolean, error: unknown): number {
  if (isInitguardError(error)) {
    if (json) {
      // A refused appraisal also says what the evidence claims: the values to compare with.
      const claims =
        error instanceof AppraisalError && error.claims !== undefined
          ? { claims: error.claims }
          : {}
      io.stdout.write(
        JSON.stringify({ ok: false, error: error.toJSON(), ...claims }, null, 2) + '\n',
      )
    } else {
      io.stderr.write(`initguard: ${error.message}\n`)
      if (error.hint !== undefined) io.stderr.write(`  hint: ${error.hint}\n`)
      io.stderr.write(`  code: ${error.code}\n`)
    }
    return EXIT_CODES[error.category]
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
  if (json) {
    io.stdout.write(
      JSON.stringify({
        ok: false,
        error: { code: 'ERR_INTERNAL', category: 'internal', message: String(error) },
      }) + '\n',
    )
  }
  io.stderr.write(`initguard: internal error (a bug; please report it):\n${text}\n`)
  return EXIT_CODES.internal
}

/** Error codes a write gets once the reader of a pipe has gone away. */
const CLOSED_PIPE_CODES: ReadonlySet<unknown> = new Set(['EPIPE', 'ERR_STREAM_DESTROYED'])

/**
 * Drop output once the reader of `stream` has gone away (`initguard … | head -c0`): Node reports
 * a write to a closed pipe as an `'error'` event, which would otherwise crash the process with
 * exit 1 and a stack trace after the command has already decided its own exit code. Other stream
 * errors are still thrown: they are bugs or system failures we must not hide.
 */
export function ignoreClosedPipe(stream: NodeJS.EventEmitter): void {
  stream.on('error', (error: unknown) => {
    if (CLOSED_PIPE_CODES.has((error as { code?: unknown } | null)?.code)) return
    throw error
  })
}
