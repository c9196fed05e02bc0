/**
 * The `initguard` command line: `initguard GROUP COMMAND [options]`.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'
import { commandHelp, parseCommandArgs, type Command } from './command.ts'
import { annotateCommand } from './commands/initdata-annotate.ts'
import { buildCommand } from './commands/initdata-build.ts'
import {
  digestCommand,
  explainCommand,
  qemuArgsCommand,
  verifyCommand,
} from './commands/initdata-digest.ts'
import {
  decodeCommand,
  encodeCommand,
  imageCommand,
  readImageCommand,
} from './commands/initdata-transport.ts'
import { demoCommand } from './commands/demo.ts'
import { inspectCommand } from './commands/evidence-inspect.ts'
import { verifySnpCommand } from './commands/evidence-verify.ts'
import { imageCheckCommand, imagePullCommand } from './commands/image.ts'
import { reportError } from './output.ts'

export type { CliIo, OutputStream } from './cli-io.ts'
export { EXIT_CODES } from './exit-codes.ts'

interface CommandGroup {
  readonly name: string
  readonly summary: string
  readonly commands: readonly Command[]
}

const GROUPS: readonly CommandGroup[] = [
  {
    name: 'initdata',
    summary: 'build, digest, encode, deliver and check CoCo initdata documents',
    commands: [
      buildCommand,
      digestCommand,
      encodeCommand,
      decodeCommand,
      imageCommand,
      readImageCommand,
      qemuArgsCommand,
      annotateCommand,
      verifyCommand,
      explainCommand,
    ],
  },
  {
    name: 'evidence',
    summary:
      'inspect and verify TEE evidence (AMD SEV-SNP reports, Intel TDX and SGX quotes, Trustee evidence JSON)',
    commands: [inspectCommand, verifySnpCommand],
  },
  {
    name: 'image',
    summary: 'decide whether an image policy (containers-policy.json) allows an image, and pull it',
    commands: [imageCheckCommand, imagePullCommand],
  },
]

const TOP_LEVEL: readonly Command[] = [demoCommand]

function topHelp(): string {
  const lines = [
    'Usage: initguard GROUP COMMAND [options]',
    '',
    "Initguard binds a confidential workload's configuration (CoCo initdata) to its TEE launch.",
    '',
    'Groups:',
  ]
  for (const group of GROUPS) {
    lines.push(`  ${group.name.padEnd(10)}${group.summary}`)
    for (const command of group.commands)
      lines.push(`    ${command.name.padEnd(12)}${command.summary}`)
  }
  lines.push('', 'Commands:')
  for (const command of TOP_LEVEL) lines.push(`  ${command.name.padEnd(10)}${command.summary}`)
  lines.push(
    '',
    "Run `initguard GROUP COMMAND --help` for a command's options.",
    'Exit codes: 0 ok, 1 internal error, 2 usage, 3 malformed input, 4 verification failed,',
    '5 expectation or policy not met, 6 collateral or network unavailable, 7 local file error.',
  )
  return lines.join('\n') + '\n'
}

function groupHelp(group: CommandGroup): string {
  const lines = [
    `Usage: initguard ${group.name} COMMAND [options]`,
    '',
    group.summary,
    '',
    'Commands:',
  ]
  for (const command of group.commands) lines.push(`  ${command.name.padEnd(12)}${command.summary}`)
  return lines.join('\n') + '\n'
}

/**
 * Run the CLI with `argv` (without the node and script paths) and return the exit code.
 * Never throws: every error is reported on the streams.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json')
  try {
    const [first, second, ...rest] = argv
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write(topHelp())
      return first === undefined ? 2 : 0
    }
    const topCommand = TOP_LEVEL.find((c) => c.name === first)
    if (topCommand !== undefined)
      return await runCommand('initguard', topCommand, argv.slice(1), io)
    const group = GROUPS.find((g) => g.name === first)
    if (group === undefined) {
      throw new UsageError('ERR_USAGE', `unknown command ${JSON.stringify(first)}`, {
        hint: 'see `initguard --help`',
      })
    }
    if (second === undefined || second === '--help' || second === '-h') {
      io.stdout.write(groupHelp(group))
      return second === undefined ? 2 : 0
    }
    const command = group.commands.find((c) => c.name === second)
    if (command === undefined) {
      throw new UsageError(
        'ERR_USAGE',
        `unknown command ${JSON.stringify(`${group.name} ${second}`)}`,
        {
          hint: `see \`initguard ${group.name} --help\``,
        },
      )
    }
    return await runCommand(`initguard ${group.name}`, command, rest, io)
  } catch (error) {
    return reportError(io, json, error)
  }
}

async function runCommand(
  prefix: string,
  command: Command,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  const args = parseCommandArgs(prefix, command, argv)
  if (args.values['help'] === true) {
    io.stdout.write(commandHelp(prefix, command))
    return 0
  }
  return command.run(args, io)
}
