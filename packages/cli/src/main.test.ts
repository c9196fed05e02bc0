import { describe, expect, it } from 'vitest'
import { runInProcess as run } from './cli-test-support.ts'

/** The commands a group's help lists, with the summary on each line. */
function listed(help: string): Map<string, string> {
  const start = help.indexOf('Commands:\n')
  const rows = help.slice(start + 'Commands:\n'.length).split('\n')
  return new Map(
    rows
      .map((row) => /^ {2}(\S+) +(.+)$/.exec(row))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] ?? '']),
  )
}

describe('initguard --help and the group helps', () => {
  it('list every command with the summary its own --help gives', async () => {
    const top = await run(['--help'])
    expect(top.code).toBe(0)
    for (const group of ['initdata', 'evidence', 'image', 'sim']) {
      const help = await run([group, '--help'])
      expect(help.code).toBe(0)
      const commands = listed(help.stdout)
      expect(commands.size, group).toBeGreaterThan(1)
      for (const [name, summary] of commands) {
        const own = await run([group, name, '--help'])
        expect(own.code, `${group} ${name}`).toBe(0)
        // Usage line, blank line, then the summary.
        expect(own.stdout.split('\n')[2], `${group} ${name}`).toBe(summary)
        expect(top.stdout).toContain(`    ${name.padEnd(12)}${summary}\n`)
      }
    }
    expect(top.stdout).toContain(`  ${'demo'.padEnd(10)}`)
  })

  it('say what the evidence group does today: SEV-SNP, TDX and SGX', async () => {
    for (const args of [['--help'], ['evidence', '--help']]) {
      const line = (await run(args)).stdout
        .split('\n')
        .find((l) => /^ {2}evidence|^inspect and/.test(l))
      expect(line, args.join(' ')).toMatch(/SEV-SNP.*TDX.*SGX/)
    }
  })

  it('no group or no command prints the help and exits 2', async () => {
    for (const args of [[], ['initdata'], ['evidence'], ['image']]) {
      const result = await run(args)
      expect([result.code, result.stdout.startsWith('Usage: initguard')]).toEqual([2, true])
    }
  })
})
