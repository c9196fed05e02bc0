/**
 * An option that takes one value, given twice, is refused: `parseArgs` would keep the last and
 * drop the first without a word (`--database postgres://… --database sqlite` ran on SQLite).
 */
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { parseCommandArgs, parsedList, parsedOption, type Command } from './command.ts'
import { PATH_VALUE } from './option-values.ts'
import { runInProcess } from './cli-test-support.ts'

const command: Command = {
  name: 'probe',
  summary: 'a command for these tests',
  usage: '',
  description: '',
  options: {
    one: { type: 'string', short: 'o', value: PATH_VALUE, help: 'one value' },
    many: { type: 'string', value: PATH_VALUE, multiple: true, help: 'several values' },
    flag: { type: 'boolean', help: 'a flag' },
  },
  run: () => Promise.resolve(0),
}

const parse = (argv: readonly string[]) => parseCommandArgs('initguard', command, argv)

describe('options given more than once', () => {
  it('refuses a one-value option given twice, in any spelling, without echoing the values', () => {
    for (const argv of [
      ['--one', 'a', '--one', 'b'],
      ['--one=a', '--one=a'],
      ['-o', 'a', '--one', 'b'],
      ['--one', 'a', 'positional', '-o', 'secret-b'],
    ]) {
      let message = ''
      expect(
        codeOf(() => {
          try {
            parse(argv)
          } catch (error) {
            message = String(error)
            throw error
          }
        }),
      ).toBe('ERR_OPTION_REPEATED')
      expect(message).toContain('--one is given more than once')
      expect(message).not.toContain('secret-b')
    }
  })

  it('takes a repeatable option, a repeated flag and one of each', () => {
    const args = parse(['--one', 'a', '--many', 'x', '--many', 'y', '--flag', '--flag'])
    expect(parsedOption(args, 'one', PATH_VALUE)).toBe('a')
    expect(parsedList(args, 'many', PATH_VALUE)).toEqual(['x', 'y'])
    expect(codeOf(() => parsedOption(args, 'many', PATH_VALUE))).toBe('ERR_INTERNAL')
  })

  it('is a usage error (exit 2) from the real command line, naming the option', async () => {
    const run = await runInProcess([
      'kbs',
      'serve',
      '--database',
      'postgres://kbs:pw@127.0.0.1:1/kbs',
      '--database',
      'sqlite',
    ])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('ERR_OPTION_REPEATED')
    expect(run.stderr).toContain('--database')
    expect(run.stderr).not.toContain(':pw@')
  })
})
