/**
 * Inputs and outputs every initdata command shares: standard input is read once (a second `-` is
 * refused, never read as empty), and `-o FILE` replaces a file atomically without widening its
 * permissions or turning a symbolic link into a plain file.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  EXAMPLES,
  REAL_SNP_VERIFY,
  exampleBuildArgs,
  expectRefused,
  runInProcess,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

let dir = ''
let doc = ''
beforeAll(async () => {
  dir = scratch.make('initguard-outputs-')
  doc = join(dir, 'initdata.toml')
  const built = await runInProcess(exampleBuildArgs('-o', doc))
  expect(built.code, built.stderr).toBe(0)
})

describe('standard input given for two inputs', () => {
  it('initdata build --aa - --cdh - is refused (exit 2), not built with an empty cdh.toml', async () => {
    const out = join(dir, 'two-stdin.toml')
    const run = await runInProcess(
      ['initdata', 'build', '--aa', '-', '--cdh', '-', '-o', out],
      readFileSync(join(EXAMPLES, 'aa.toml'), 'utf8'),
    )
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('code: ERR_STDIN_ALREADY_READ')
    expect(run.stderr).toMatch(/already read as the data\."aa\.toml"/)
    expect(() => lstatSync(out)).toThrow()
  })

  it('evidence verify - --expect-initdata - is refused, not read as "the document is empty"', async () => {
    const [evidence = '', ...options] = REAL_SNP_VERIFY.slice(2)
    const run = await runInProcess(
      ['evidence', 'verify', '-', ...options, '--expect-initdata', '-'],
      readFileSync(evidence),
    )
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('code: ERR_STDIN_ALREADY_READ')
    expect(run.stderr).toContain('already read as the evidence')
  })

  it('one - among files is read as before', async () => {
    const run = await runInProcess(
      ['initdata', 'digest', '-', '--tee', 'snp'],
      readFileSync(doc, 'utf8'),
    )
    expect(run.code, run.stderr).toBe(0)
  })
})

describe('-o FILE over an existing file', () => {
  const outputs: readonly (readonly [string, (out: string) => readonly string[]])[] = [
    ['initdata build', (out) => exampleBuildArgs('-o', out)],
    ['initdata image', (out) => ['initdata', 'image', doc, '-o', out]],
    ['initdata read-image', (out) => ['initdata', 'read-image', join(dir, 'doc.img'), '-o', out]],
    [
      'initdata decode',
      (out) => ['initdata', 'decode', '--from-file', join(dir, 'doc.b64'), '-o', out],
    ],
  ]

  beforeAll(async () => {
    expect((await runInProcess(['initdata', 'image', doc, '-o', join(dir, 'doc.img')])).code).toBe(
      0,
    )
    const encoded = await runInProcess(['initdata', 'encode', doc])
    writeFileSync(join(dir, 'doc.b64'), encoded.stdout)
  })

  for (const [name, args] of outputs) {
    it(`${name} keeps a private file private (0600 stays 0600)`, async () => {
      const out = join(dir, `${name.replace(/ /g, '-')}-private`)
      writeFileSync(out, 'old')
      chmodSync(out, 0o600)
      const run = await runInProcess(args(out))
      expect(run.code, run.stderr).toBe(0)
      expect(readFileSync(out, 'utf8')).not.toBe('old')
      expect(lstatSync(out).mode & 0o777).toBe(0o600)
    })

    it(`${name} writes the file a symbolic link names, and keeps the link`, async () => {
      const target = join(dir, `${name.replace(/ /g, '-')}-target`)
      const link = join(dir, `${name.replace(/ /g, '-')}-link`)
      writeFileSync(target, 'old')
      symlinkSync(target, link)
      const run = await runInProcess(args(link))
      expect(run.code, run.stderr).toBe(0)
      expect(lstatSync(link).isSymbolicLink()).toBe(true)
      expect(readlinkSync(link)).toBe(target)
      expect(readFileSync(target, 'utf8')).not.toBe('old')
    })
  }
})

describe('-o FILE that is not a regular file', () => {
  it('refuses a FIFO (exit 7) and leaves it a FIFO: never a plain file in its place', async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const run = await runInProcess(exampleBuildArgs('-o', fifo))
    expectRefused(run, 7, 'ERR_FILE_NOT_REGULAR')
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('refuses a path under a file (exit 7), not an internal error with a stack trace', async () => {
    const run = await runInProcess(exampleBuildArgs('-o', join(doc, 'x')))
    expectRefused(run, 7, 'ERR_FILE_WRITE')
    expect(run.stderr).toContain('a part of the path is not a directory')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('initdata build --json', () => {
  it('prints one JSON object with the document when there is no -o, as the README promises', async () => {
    const run = await runInProcess(exampleBuildArgs('--json'))
    expect(run.code, run.stderr).toBe(0)
    const json = JSON.parse(run.stdout) as Record<string, unknown>
    expect(json['document']).toBe(readFileSync(doc, 'utf8'))
    expect(json['algorithm']).toBeTypeOf('string')
    expect(json['digest']).toMatch(/^[0-9a-f]+$/)
    expect(json['output']).toBeUndefined()
    expect(json['warnings']).toEqual([])
  })

  it('without --json and -o prints the document itself, byte for byte', async () => {
    const run = await runInProcess(exampleBuildArgs())
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toBe(readFileSync(doc, 'utf8'))
  })
})
