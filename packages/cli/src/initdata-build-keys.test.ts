/**
 * `initdata build` refuses every `[data]` key the guest agent refuses, by the agent's own rule:
 * `--data '../x=FILE'` built a document a guest could be launched with, and `agent start` then
 * refused it (exit 3, `ERR_AGENT_DATA_KEY_UNSAFE`).
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { parseInitdata } from '@initguard/initdata'
import { assertSafeDataKeys } from '@initguard/agent'
import { expectRefused, runInProcess } from './cli-test-support.ts'

const run = runInProcess
let dir: string
let file: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-build-keys-'))
  file = join(dir, 'value.txt')
  await writeFile(file, 'value\n')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Keys the agent refuses: a path, a hidden file, the document's own name, control characters. */
const REFUSED_KEYS = [
  '../x',
  'a/b',
  '/etc/passwd',
  '.hidden',
  '..',
  '.',
  'initdata.toml',
  'a\nb',
  'a\rb',
  'a\0b',
  '-rf',
  'k é',
  'ké',
  'x'.repeat(256),
]

describe('initdata build --data KEY=FILE', () => {
  for (const key of REFUSED_KEYS) {
    it(`refuses the key ${JSON.stringify(key)} the agent refuses, writing nothing`, async () => {
      expect(
        codeOf(() => {
          assertSafeDataKeys([key])
        }),
      ).toBe('ERR_AGENT_DATA_KEY_UNSAFE')
      const out = join(dir, 'refused.toml')
      const refused = await run(['initdata', 'build', `--data=${key}=${file}`, '-o', out])
      expectRefused(refused, 2, 'ERR_OPTION_VALUE')
      expect(refused.stderr).toContain('initguard: --data ')
      expect(existsSync(out)).toBe(false)
    })
  }

  it('refuses an empty key, no file, and a key given twice', async () => {
    expectRefused(await run(['initdata', 'build', `--data==${file}`]), 2, 'ERR_OPTION_VALUE')
    expectRefused(await run(['initdata', 'build', '--data=k=']), 2, 'ERR_OPTION_VALUE')
    expectRefused(await run(['initdata', 'build', '--data=k']), 2, 'ERR_OPTION_VALUE')
    const twice = ['--data', `k=${file}`, '--data', `k=${file}`]
    expectRefused(await run(['initdata', 'build', ...twice]), 2, 'ERR_USAGE')
    const aaTwice = ['--aa', file, '--data', `aa.toml=${file}`]
    expectRefused(await run(['initdata', 'build', ...aaTwice]), 2, 'ERR_USAGE')
  })

  it('refuses a file that is not UTF-8 (a TOML string cannot hold it)', async () => {
    const binary = join(dir, 'binary')
    await writeFile(binary, Buffer.from([0x61, 0xff, 0xfe]))
    expectRefused(await run(['initdata', 'build', '--data', `k=${binary}`]), 3, 'ERR_UTF8_INVALID')
  })

  it('accepts exactly the keys the agent accepts, and the agent takes the document built', async () => {
    const out = join(dir, 'built.toml')
    await fc.assert(
      fc.asyncProperty(
        // KEY=FILE splits at the first "=", so a key with "=" in it cannot be written there (the
        // rest is the file's name: `--data 0==F` reads "=F" as key "0"'s file).
        fc
          .oneof(
            fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
            fc.string({ maxLength: 12 }),
            fc.constantFrom(...REFUSED_KEYS),
          )
          .filter((key) => !key.includes('=')),
        async (key) => {
          let agentRefuses = false
          try {
            assertSafeDataKeys([key])
          } catch {
            agentRefuses = true
          }
          const built = await run(['initdata', 'build', `--data=${key}=${file}`, '-o', out])
          expect(built.code, `${JSON.stringify(key)}: ${built.stderr}`).toBe(agentRefuses ? 2 : 0)
          if (!agentRefuses) {
            const document = parseInitdata(new Uint8Array(await readFile(out)))
            expect([...document.data.keys()]).toEqual([key])
            assertSafeDataKeys(document.data.keys())
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
