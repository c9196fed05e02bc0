/**
 * The `initguard` command line: `initguard GROUP COMMAND [options]`.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { MalformedInputError, UsageError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'
import { commandHelp, parseCommandArgs, type Command } from './command.ts'
import { agentCheckInitdataCommand } from './commands/agent-check-initdata.ts'
import { agentStartCommand } from './commands/agent-start.ts'
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
import { kbsAdminCommand } from './commands/kbs-admin.ts'
import { kbsGetResourceCommand } from './commands/kbs-get-resource.ts'
import { kbsKeygenCommand } from './commands/kbs-keygen.ts'
import { kbsServeCommand } from './commands/kbs-serve.ts'
import { simEvidenceCommand } from './commands/sim-evidence.ts'
import { simInitCommand } from './commands/sim-init.ts'
import { simLaunchCommand } from './commands/sim-launch.ts'
import { ignoreClosedPipe, reportError } from './output.ts'

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
  {
    name: 'sim',
    summary:
      'a TEE simulator for labs and CI: SEV-SNP and TDX evidence trusted only under its own roots',
    commands: [simInitCommand, simLaunchCommand, simEvidenceCommand],
  },
  {
    name: 'kbs',
    summary: 'the key broker: serve it (Trustee-compatible, HTTPS), administer it, make admin keys',
    commands: [kbsServeCommand, kbsAdminCommand, kbsKeygenCommand, kbsGetResourceCommand],
  },
  {
    name: 'agent',
    summary:
      'the guest agent: check init-data against a fresh report of the TEE it runs in (hardware or a simulated guest), then serve the guest API',
    commands: [agentCheckInitdataCommand, agentStartCommand],
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
      lines.push(
        `    ${command.name.padEnd(Math.max(12, command.name.length + 2))}${command.summary}`,
      )
  }
  lines.push('', 'Commands:')
  for (const command of TOP_LEVEL) lines.push(`  ${command.name.padEnd(10)}${command.summary}`)
  lines.push(
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -V, --version  print the version',
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
  for (const command of group.commands)
    lines.push(`  ${command.name.padEnd(Math.max(12, command.name.length + 2))}${command.summary}`)
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
    if (first === '--version' || first === '-V') {
      if (second !== undefined) {
        throw new UsageError('ERR_USAGE', `${first} takes no arguments`, {
          hint: 'run `initguard --version` alone',
        })
      }
      io.stdout.write(`initguard ${await cliVersion()}\n`)
      return 0
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

/**
 * The `initguard` process: run the command line this process was started with on its own
 * streams and set its exit code. A closed output pipe never changes the command's exit code.
 */
export async function runMain(): Promise<void> {
  ignoreClosedPipe(process.stdout)
  ignoreClosedPipe(process.stderr)
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  })
}

/**
 * The version in the CLI package's package.json: the one place it is written. `src/` and `dist/`
 * both sit one level below the package directory.
 */
export async function cliVersion(): Promise<string> {
  const path = new URL('../package.json', import.meta.url)
  const manifest: unknown = JSON.parse(await readFile(path, 'utf8'))
  const version =
    typeof manifest === 'object' && manifest !== null && 'version' in manifest
      ? manifest.version
      : undefined
  if (typeof version !== 'string' || version === '') {
    throw new MalformedInputError(
      'ERR_CLI_PACKAGE_VERSION',
      'the CLI package.json has no version',
      {
        details: { path: path.pathname },
        hint: 'reinstall initguard',
      },
    )
  }
  return version
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

/** Every command with the words that run it (`['initdata', 'build']`), e.g. for tests over options. */
export function commandTable(): readonly {
  readonly words: readonly string[]
  readonly command: Command
}[] {
  return [
    ...TOP_LEVEL.map((command) => ({ words: [command.name], command })),
    ...GROUPS.flatMap((group) =>
      group.commands.map((command) => ({ words: [group.name, command.name], command })),
    ),
  ]
}
