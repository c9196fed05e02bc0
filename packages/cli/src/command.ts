/**
 * What a command is, how its arguments are parsed, and how its help is printed.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InternalError, UsageError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'
import type { OptionValue } from './option-values.ts'

/** The kinds of evidence an option can apply to. */
export type EvidenceKind = 'snp' | 'tdx' | 'sgx'

interface OptionSpecBase {
  readonly short?: string
  /** One line of help. */
  readonly help: string
  /**
   * The kinds of evidence the option applies to; absent means every kind. Given for another kind,
   * the option is refused ({@link refuseInapplicableOptions}), never ignored.
   */
  readonly appliesTo?: readonly EvidenceKind[]
}

/** A flag. */
export interface BooleanOptionSpec extends OptionSpecBase {
  readonly type: 'boolean'
}

/** An option with a value: every one declares the kind of its value, parsed before the command runs. */
export interface StringOptionSpec extends OptionSpecBase {
  readonly type: 'string'
  readonly multiple?: boolean
  readonly default?: string
  /** The value's name in help, e.g. `FILE`. */
  readonly valueName?: string
  /** The strict parser of the value (see `option-values.ts`). */
  readonly value: OptionValue<unknown>
}

/** One entry of a command's options table. */
export type OptionSpec = BooleanOptionSpec | StringOptionSpec

/** One `initguard GROUP NAME` command. */
/** A named group of commands (`initguard GROUP COMMAND`). */
export interface CommandGroup {
  readonly name: string
  readonly summary: string
  readonly commands: readonly Command[]
}

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
  /** The options as given: text, `true` for a flag, a list for a repeatable option. */
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>
  readonly positionals: readonly string[]
  /** The options table the values were parsed against. */
  readonly options: Readonly<Record<string, OptionSpec>>
  /** Each string option's value (a list for a repeatable one) as its kind parsed it. */
  readonly parsed: Readonly<Record<string, unknown>>
}

/** Options every reporting command shares. */
export const JSON_OPTION: BooleanOptionSpec = {
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
    options[name] =
      spec.type === 'boolean'
        ? { type: 'boolean', ...(spec.short === undefined ? {} : { short: spec.short }) }
        : {
            type: 'string',
            ...(spec.short === undefined ? {} : { short: spec.short }),
            ...(spec.multiple === true ? { multiple: true } : {}),
            ...(spec.default === undefined
              ? {}
              : { default: spec.multiple === true ? [spec.default] : spec.default }),
          }
  }
  options['help'] = { type: 'boolean', short: 'h' }
  let values: ParsedArgs['values']
  let positionals: string[]
  let tokens: readonly { readonly kind: string; readonly name?: string }[]
  try {
    ;({ values, positionals, tokens } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    }))
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    throw new UsageError('ERR_USAGE', message.replace(/\. To specify a positional.*$/s, ''), {
      cause,
      hint: `see \`${prefix} ${command.name} --help\``,
    })
  }
  refuseRepeatedOptions(prefix, command, tokens)
  return { values, positionals, options: command.options, parsed: parseValues(command, values) }
}

/**
 * Refuse an option that takes one value given more than once. `parseArgs` keeps the last, so
 * `--database postgres://… --database sqlite` would run on SQLite and drop the first without a
 * word; which one was meant is the user's to say. A repeated flag means the same as one and is
 * let through. The values are not echoed: they may be secrets (a database URL's password).
 *
 * @throws {@link UsageError} `ERR_OPTION_REPEATED` naming the option.
 */
function refuseRepeatedOptions(
  prefix: string,
  command: Command,
  tokens: readonly { readonly kind: string; readonly name?: string }[],
): void {
  const seen = new Set<string>()
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue
    const spec = command.options[token.name]
    if (spec?.type !== 'string' || spec.multiple === true) continue
    if (seen.has(token.name))
      throw new UsageError(
        'ERR_OPTION_REPEATED',
        `--${token.name} is given more than once, and it takes one value`,
        { hint: `give --${token.name} once (see \`${prefix} ${command.name} --help\`)` },
      )
    seen.add(token.name)
  }
}

/** Every string option's value through its kind's parser: the first malformed one is refused. */
function parseValues(command: Command, values: ParsedArgs['values']): Record<string, unknown> {
  const parsed: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(command.options)) {
    const given = values[name]
    if (spec.type !== 'string' || given === undefined) continue
    parsed[name] = Array.isArray(given)
      ? given.map((text) => spec.value.parse(String(text), name))
      : spec.value.parse(String(given), name)
  }
  return parsed
}

function stringSpec<T>(args: ParsedArgs, name: string, kind: OptionValue<T>): void {
  const spec = args.options[name]
  // The command asked for a value of a kind its table does not declare: a bug, not a user error.
  if (spec?.type !== 'string' || spec.value !== kind)
    throw new InternalError('ERR_INTERNAL', `--${name} is not declared with the kind asked for`)
}

/** A string option's value as its kind parsed it, or `undefined` when not given. */
export function parsedOption<T>(
  args: ParsedArgs,
  name: string,
  kind: OptionValue<T>,
): T | undefined {
  stringSpec(args, name, kind)
  const value = args.parsed[name]
  // A repeatable option asked for as one value: a bug in the command, not a user error.
  if (Array.isArray(value))
    throw new InternalError('ERR_INTERNAL', `--${name} is repeatable; read it with parsedList`)
  return value as T | undefined
}

/** A repeatable string option's values as its kind parsed them. */
export function parsedList<T>(args: ParsedArgs, name: string, kind: OptionValue<T>): T[] {
  stringSpec(args, name, kind)
  const value = args.parsed[name]
  return value === undefined ? [] : Array.isArray(value) ? (value as T[]) : [value as T]
}

/** True when the option was given (a flag set, or a value). */
export function optionGiven(args: ParsedArgs, name: string): boolean {
  const value = args.values[name]
  return value !== undefined && value !== false
}

/**
 * Refuse every option given that does not apply to this kind of evidence: an expectation for a
 * field the evidence does not have would otherwise be skipped and the evidence accepted unchecked.
 *
 * @throws {@link UsageError} `ERR_OPTION_NOT_APPLICABLE` naming the option and the evidence.
 */
export function refuseInapplicableOptions(
  args: ParsedArgs,
  kind: EvidenceKind,
  evidence: string,
): void {
  for (const [name, spec] of Object.entries(args.options)) {
    if (spec.appliesTo === undefined || spec.appliesTo.includes(kind) || !optionGiven(args, name))
      continue
    const names = spec.appliesTo.map((k) => EVIDENCE_NAMES[k])
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `--${name} applies to ${names.join(' and ')} evidence; this is ${evidence}`,
      {
        details: { option: `--${name}`, evidence: kind },
        hint: `drop --${name}: the ${EVIDENCE_NAMES[kind]} evidence has no such field, so it cannot be checked`,
      },
    )
  }
}

/**
 * The refusal of an option given where it cannot change anything (the project's rule: an option is
 * never silently ignored): what it is, why it has no effect here, and what to do.
 *
 * @returns a {@link UsageError} `ERR_OPTION_NOT_APPLICABLE` (exit 2) naming the option.
 */
export function optionWithoutEffect(name: string, why: string, hint: string): UsageError {
  return new UsageError('ERR_OPTION_NOT_APPLICABLE', `--${name} has no effect: ${why}`, {
    details: { option: `--${name}` },
    hint,
  })
}

/** Throw {@link optionWithoutEffect} when `name` is given. */
export function refuseWithoutEffect(
  args: ParsedArgs,
  name: string,
  why: string,
  hint: string,
): void {
  if (optionGiven(args, name)) throw optionWithoutEffect(name, why, hint)
}

const EVIDENCE_NAMES: Readonly<Record<EvidenceKind, string>> = {
  snp: 'SEV-SNP',
  tdx: 'TDX',
  sgx: 'SGX',
}

/**
 * Refuse two options given together when each does what the other does in another way (`--crl
 * FILE` and `--fetch-crl`): one of them would otherwise be dropped without a word.
 *
 * @throws {@link UsageError} `ERR_USAGE` naming both.
 */
export function refuseTogether(
  args: ParsedArgs,
  first: string,
  second: string,
  hint: string,
): void {
  if (optionGiven(args, first) && optionGiven(args, second))
    throw new UsageError('ERR_USAGE', `give --${first} or --${second}, not both`, {
      details: { options: [`--${first}`, `--${second}`] },
      hint,
    })
}

/** The text `--help` prints for a command. */
export function commandHelp(prefix: string, command: Command): string {
  const lines = [
    `Usage: ${[prefix, command.name, command.usage, '[options]'].filter((part) => part !== '').join(' ')}`,
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
      spec.help + (spec.type === 'string' && spec.multiple === true ? ' (repeatable)' : ''),
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

/** A required option's parsed value, or a usage error naming it. */
export function requiredParsed<T>(
  args: ParsedArgs,
  name: string,
  kind: OptionValue<T>,
  command: string,
): T {
  const given = parsedOption(args, name, kind)
  if (given === undefined) {
    const spec = args.options[name]
    const value = spec?.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''
    throw new UsageError('ERR_USAGE', `missing --${name}${value}`, {
      hint: `see \`initguard ${command} --help\``,
    })
  }
  return given
}
