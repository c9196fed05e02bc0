/**
 * Malformed hex in any option is a usage error (exit 2, `ERR_OPTION_VALUE`), in every command,
 * with the command actually run (not only `--help`): `--expected` was decoded inside the command
 * and a value that did not decode exited 3 (malformed input), unlike every other option value.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StringOptionSpec } from './command.ts'
import { expectRefused, runInProcess } from './cli-test-support.ts'
import { commandTable } from './main.ts'

const run = runInProcess
let dir: string
let doc: string
let digest: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-hex-options-'))
  doc = join(dir, 'initdata.toml')
  const built = await run(
    ['initdata', 'build', '--cdh', '-', '--for-tee', 'snp', '-o', doc],
    '[kbc]\nname = "cc_kbc"\nurl = "http://kbs"\n',
  )
  expect(built.code, built.stderr).toBe(0)
  digest = (await run(['initdata', 'digest', doc, '--tee', 'snp'])).stdout.trim()
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Every command that takes `--expected`, run with everything else it needs. */
const EXPECTED_COMMANDS: readonly [string, () => string[]][] = [
  ['initdata verify', () => ['initdata', 'verify', doc, '--tee', 'snp']],
  ['initdata explain', () => ['initdata', 'explain', doc, '--tee', 'snp']],
  [
    'image check',
    () => ['image', 'check', '127.0.0.1:9/app:v1', '--initdata', doc, '--tee', 'snp'],
  ],
  [
    'image pull',
    () => [
      'image',
      'pull',
      '127.0.0.1:9/app:v1',
      join(dir, 'dest'),
      '--initdata',
      doc,
      '--tee',
      'snp',
    ],
  ],
]

const base64Of = (hex: string): string => Buffer.from(hex, 'hex').toString('base64')

/** Values that are not the field in the encoding given: each a usage error. */
const MALFORMED: readonly [string, () => string[]][] = [
  ['not hex', () => ['--expected', 'zz']],
  ['odd digits', () => ['--expected', 'abc']],
  ['a space inside', () => ['--expected', `${digest.slice(0, 8)} ${digest.slice(8)}`]],
  ['a space before', () => ['--expected', ` ${digest}`]],
  ['a newline after', () => ['--expected', `${digest}\n`]],
  ['separators', () => ['--expected', digest.replace(/(..)(?!$)/g, '$1:')]],
  ['empty', () => ['--expected=']],
  ['0x alone', () => ['--expected', '0x']],
  ['0x then not hex', () => ['--expected', '0xzz']],
  ['base64 without --encoding', () => ['--expected', base64Of(digest)]],
  ['not base64 with --encoding base64', () => ['--expected', 'abc', '--encoding', 'base64']],
  [
    'unpadded base64',
    () => ['--expected', base64Of(digest).replace(/=+$/, ''), '--encoding', 'base64'],
  ],
]

describe('--expected: a value that does not decode is exit 2 in every command that takes it', () => {
  for (const [command, args] of EXPECTED_COMMANDS) {
    for (const [what, value] of MALFORMED) {
      it(`${command}: ${what}`, async () => {
        const refused = await run([...args(), ...value()])
        expectRefused(refused, 2, 'ERR_OPTION_VALUE')
        expect(refused.stderr).toContain('initguard: --expected ')
      })
    }
    it(`${command}: the digest itself gets past the option (control)`, async () => {
      const result = await run([...args(), '--expected', digest])
      expect(result.stderr).not.toContain('ERR_OPTION_VALUE')
      expect(result.code, result.stderr).not.toBe(2)
    })
  }

  it('says which encoding the value looks like', async () => {
    const [, args] = EXPECTED_COMMANDS[0] ?? ['', () => []]
    const looksBase64 = await run([...args(), '--expected', base64Of(digest)])
    expect(looksBase64.stderr).toContain('add --encoding base64')
    expect(
      (await run([...args(), '--expected', base64Of(digest), '--encoding', 'base64'])).code,
    ).toBe(0)
    expect((await run([...args(), '--expected', `0x${digest}`])).code).toBe(0)
  })
})

const HEX_KINDS = new Set(['hex', 'hex-up-to', 'rtmr', 'tee-field-value'])
const hexOptions = (await commandTable()).flatMap(({ words, command }) =>
  Object.entries(command.options)
    .filter(
      (entry): entry is [string, StringOptionSpec] =>
        entry[1].type === 'string' && HEX_KINDS.has(entry[1].value.kind.name),
    )
    .map(([name]) => ({ words, name })),
)

describe('every hex option of every command, run (no --help)', () => {
  it('covers the commands that take hex', () => {
    const commands = new Set(hexOptions.map(({ words }) => words.join(' ')))
    for (const command of [
      'initdata verify',
      'initdata explain',
      'image check',
      'image pull',
      'evidence verify',
      'sim evidence',
      'kbs admin',
    ])
      expect(commands).toContain(command)
  })

  for (const { words, name } of hexOptions) {
    for (const value of ['zz', 'abc', 'ab cd']) {
      it(`${words.join(' ')} --${name} ${JSON.stringify(value)}: exit 2`, async () => {
        const refused = await run([...words, `--${name}=${value}`])
        expectRefused(refused, 2, 'ERR_OPTION_VALUE')
        expect(refused.stderr).toContain(`initguard: --${name} `)
      })
    }
  }
})
