/**
 * What a command is, how its arguments are parsed, and how its help is printed.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'

/** The options table of a command, as `node:util` `parseArgs` takes it, plus help text. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  /** One line of help; `ARG` names the value. */
  readonly help: string
  readonly valueName?: string
}

/** One `initguard GROUP NAME` command. */
export interface Command {
  readonly name: string
  /** One line: what the command does. */
  readonly summary: string
  /** Positional arguments, e.g. `FILE`. */
  readonly usage: string
  /** Longer help: details and examples. */
  readonly description: string
  readonly options: Readonly<Record<string, OptionSpec>>
  run(args: ParsedArgs, io: CliIo): Promise<number>
}

/** Parsed options and positionals. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>
  readonly positionals: readonly string[]
}

/** Options every reporting command shares. */
export const JSON_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'print one JSON object on standard output instead of text',
}

/** Parse `argv` against a command's options; unknown options and missing values are usage errors. */
export function parseCommandArgs(
  prefix: string,
  command: Command,
  argv: readonly string[],
): ParsedArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {}
  for (const [name, spec] of Object.entries(command.options)) {
    const { help: _help, valueName: _valueName, ...rest } = spec
    options[name] = rest
  }
  options['help'] = { type: 'boolean', short: 'h' }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    })
    return { values, positionals }
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new UsageError('ERR_USAGE', message.replace(/\. To specify a positional.*$/s, ''), {
      cause,
      hint: `see \`${prefix} ${command.name} --help\``,
    })
  }
}

/** The text `--help` prints for a command. */
export function commandHelp(prefix: string, command: Command): string {
  const lines = [
    `Usage: ${prefix} ${command.name} ${command.usage} [options]`,
    '',
    command.summary,
    '',
  ]
  if (command.description !== '') lines.push(command.description, '')
  lines.push('Options:')
  const rows = Object.entries(command.options).map(([name, spec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `
    const value = spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''
    return [
      `  ${short}--${name}${value}`,
      spec.help + (spec.multiple === true ? ' (repeatable)' : ''),
    ] as const
  })
  rows.push(['  -h, --help', 'show this help'])
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  for (const [left, right] of rows) lines.push(left.padEnd(width) + right)
  return lines.join('\n') + '\n'
}

/** A string option's value, or `undefined`. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name]
  return typeof value === 'string' ? value : undefined
}

/** A required string option's value. */
export function requiredOption(args: ParsedArgs, name: string, command: string): string {
  const value = stringOption(args, name)
  if (value === undefined) {
    throw new UsageError('ERR_USAGE', `missing --${name}`, {
      hint: `see \`initguard ${command} --help\``,
    })
  }
  return value
}

/** A repeatable string option's values. */
export function listOption(args: ParsedArgs, name: string): string[] {
  const value = args.values[name]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** The one positional argument a command takes. */
export function onePositional(args: ParsedArgs, what: string, command: string): string {
  if (args.positionals.length !== 1) {
    throw new UsageError(
      'ERR_USAGE',
      args.positionals.length === 0
        ? `missing ${what}`
        : `expected one ${what}, got ${args.positionals.length} arguments`,
      { hint: `see \`initguard ${command} --help\`` },
    )
  }
  return args.positionals[0] ?? ''
}

/** One of a fixed set of values, or a usage error naming the accepted ones. */
export function choice<T extends string>(value: string, accepted: readonly T[], option: string): T {
  if (!(accepted as readonly string[]).includes(value)) {
    throw new UsageError(
      'ERR_USAGE',
      `--${option} must be one of ${accepted.join(', ')}; got ${JSON.stringify(value)}`,
    )
  }
  return value as T
}
