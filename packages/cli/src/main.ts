/**
 * The `initguard` command line: `initguard GROUP COMMAND [options]`.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { InternalError, MalformedInputError, UsageError } from '@initguard/core'
import type { CliIo } from './cli-io.ts'
import { commandHelp, parseCommandArgs, type Command, type CommandGroup } from './command.ts'
import { ignoreClosedPipe, reportError } from './output.ts'

export type { CliIo, OutputStream } from './cli-io.ts'
export { EXIT_CODES } from './exit-codes.ts'

/**
 * A group and how to load its commands. Each group's modules (and what they import: the KBS
 * server, the verifiers, the registry client) load only when one of its commands runs, so a
 * command pays only for what it uses: the guest agent's cold start is measured from here.
 */
interface LazyCommandGroup {
  readonly name: string
  readonly summary: string
  readonly load: () => Promise<CommandGroup['commands']>
}

const GROUPS: readonly LazyCommandGroup[] = [
  {
    name: 'initdata',
    summary: 'build, digest, encode, deliver and check CoCo initdata documents',
    load: async () => (await import('./groups/initdata.ts')).initdataCommands,
  },
  {
    name: 'evidence',
    summary:
      'inspect and verify TEE evidence (AMD SEV-SNP reports, Intel TDX and SGX quotes, Trustee evidence JSON)',
    load: async () => (await import('./groups/evidence.ts')).evidenceCommands,
  },
  {
    name: 'image',
    summary: 'decide whether an image policy (containers-policy.json) allows an image, and pull it',
    load: async () => (await import('./groups/image.ts')).imageCommands,
  },
  {
    name: 'sim',
    summary:
      'a TEE simulator for labs and CI: SEV-SNP and TDX evidence trusted only under its own roots',
    load: async () => (await import('./groups/sim.ts')).simCommands,
  },
  {
    name: 'kbs',
    summary: 'the key broker: serve it (Trustee-compatible, HTTPS), administer it, make admin keys',
    load: async () => (await import('./groups/kbs.ts')).kbsCommands,
  },
  {
    name: 'agent',
    summary:
      'the guest agent: check init-data against a fresh report of the TEE it runs in (hardware or a simulated guest), then serve the guest API or pull images under its policy',
    load: async () => (await import('./groups/agent.ts')).agentCommands,
  },
]

/** The top-level commands (`demo`), by name, loaded when run. */
const TOP_LEVEL_NAMES: readonly string[] = ['demo']
const loadTopLevel = async (): Promise<readonly Command[]> =>
  (await import('./groups/top-level.ts')).topLevelCommands

async function loadedGroups(): Promise<CommandGroup[]> {
  return Promise.all(
    GROUPS.map(async (group) => ({
      name: group.name,
      summary: group.summary,
      commands: await group.load(),
    })),
  )
}

async function topHelp(): Promise<string> {
  const lines = [
    'Usage: initguard GROUP COMMAND [options]',
    '',
    "Initguard binds a confidential workload's configuration (CoCo initdata) to its TEE launch.",
    '',
    'Groups:',
  ]
  for (const group of await loadedGroups()) {
    lines.push(`  ${group.name.padEnd(10)}${group.summary}`)
    for (const command of group.commands)
      lines.push(
        `    ${command.name.padEnd(Math.max(12, command.name.length + 2))}${command.summary}`,
      )
  }
  lines.push('', 'Commands:')
  for (const command of await loadTopLevel())
    lines.push(`  ${command.name.padEnd(10)}${command.summary}`)
  lines.push(
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -V, --version  print the version',
    '',
    "Run `initguard GROUP COMMAND --help` for a command's options.",
    'Exit codes: 0 ok, 1 internal error, 2 usage, 3 malformed input, 4 verification failed,',
    '5 expectation or policy not met, 6 collateral or network unavailable, 7 local file error,',
    '128+N stopped by signal N (130 Ctrl-C).',
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
      io.stdout.write(await topHelp())
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
    if (TOP_LEVEL_NAMES.includes(first)) {
      const topCommand = (await loadTopLevel()).find((c) => c.name === first)
      if (topCommand === undefined)
        throw new InternalError(
          'ERR_CLI_COMMAND_TABLE',
          `top-level command ${first} is listed but not defined`,
        )
      return await runCommand('initguard', topCommand, argv.slice(1), io)
    }
    const lazyGroup = GROUPS.find((g) => g.name === first)
    if (lazyGroup === undefined) {
      throw new UsageError('ERR_USAGE', `unknown command ${JSON.stringify(first)}`, {
        hint: 'see `initguard --help`',
      })
    }
    const group: CommandGroup = {
      name: lazyGroup.name,
      summary: lazyGroup.summary,
      commands: await lazyGroup.load(),
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

/**
 * Every command with the words that run it (`['initdata', 'build']`), e.g. for tests over options.
 * Loads every group.
 */
export async function commandTable(): Promise<
  readonly { readonly words: readonly string[]; readonly command: Command }[]
> {
  const groups = await loadedGroups()
  return [
    ...(await loadTopLevel()).map((command) => ({ words: [command.name], command })),
    ...groups.flatMap((group) =>
      group.commands.map((command) => ({ words: [group.name, command.name], command })),
    ),
  ]
}
