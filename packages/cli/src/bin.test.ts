import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

// The real `initguard` process, as `npx initguard` starts it: these tests spawn it rather than
// calling runCli, because what they check (the bin link, the version file, pipes) only exists there.
const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
).version

let doc: string

beforeAll(() => {
  const dir = scratch.make('initguard-bin-')
  doc = join(dir, 'initdata.toml')
  writeFileSync(doc, 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"k" = \'v\'\n')
})

function initguard(args: readonly string[]): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  return { status: result.status, stdout: result.stdout }
}

/**
 * Run the bin with standard output connected to a pipe whose reader has already exited, so its
 * first write fails with EPIPE. The sleep lets `true` exit before node starts writing.
 */
function withClosedStdout(args: readonly string[]): { status: number | null; stderr: string } {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
  const result = spawnSync(
    'bash',
    ['-c', `(sleep 0.3; exec ${quoted.join(' ')}) | true; exit "\${PIPESTATUS[0]}"`],
    { encoding: 'utf8' },
  )
  return { status: result.status, stderr: result.stderr }
}

describe('the initguard bin', () => {
  it('is linked into node_modules/.bin by npm ci, so npx initguard finds it', () => {
    const link = join(ROOT, 'node_modules', '.bin', 'initguard')
    expect(existsSync(link)).toBe(true)
    expect(realpathSync(link)).toBe(realpathSync(BIN))
    const npx = spawnSync('npx', ['--no-install', 'initguard', '--version'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
    expect(npx.status, npx.stderr).toBe(0)
    expect(npx.stdout).toBe(`initguard ${PACKAGE_VERSION}\n`)
  })

  it('prints the version from package.json with --version and -V', () => {
    expect(PACKAGE_VERSION).toMatch(/^\d+\.\d+\.\d+/)
    for (const flag of ['--version', '-V']) {
      expect(initguard([flag])).toEqual({ status: 0, stdout: `initguard ${PACKAGE_VERSION}\n` })
    }
    expect(initguard(['--version', 'extra']).status).toBe(2)
    expect(initguard(['--help']).stdout).toContain('--version')
  })

  describe('a closed output pipe keeps the exit code the command decided', () => {
    const cases: [string, () => string[], number][] = [
      ['digest', () => ['initdata', 'digest', doc], 0],
      ['--help', () => ['--help'], 0],
      ['a group help', () => ['initdata', '--help'], 0],
      ['--version', () => ['--version'], 0],
      [
        'a mismatch reported as JSON',
        () => ['initdata', 'verify', doc, '--tee', 'snp', '--expected', '00'.repeat(32), '--json'],
        5,
      ],
      ['a usage error reported as JSON', () => ['initdata', 'digest', '--json'], 2],
    ]
    for (const [label, args, code] of cases) {
      it(`${label}: exit ${code}`, () => {
        const result = withClosedStdout(args())
        expect(result.stderr).not.toMatch(/EPIPE|\n\s+at /)
        expect(result.status).toBe(code)
      })
    }
  })
})
