import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { runCli } from '../main.ts'

// The demo's temporary directory is removed however the demo ends. Each test gives it a TMPDIR of
// its own and checks that nothing is left in it.

const BIN = fileURLToPath(new URL('../../bin/initguard.js', import.meta.url))
// The built helper (npm test builds first), so a plain node child can import it.
const HELPER = new URL('../../dist/commands/demo-temporary-directory.js', import.meta.url).href
const made: string[] = []
const freshTmpdir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-demo-tmpdir-'))
  made.push(dir)
  return dir
}

afterEach(() => {
  vi.unstubAllEnvs()
})

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

describe('initguard demo: its temporary directory', () => {
  it('is removed when the demo succeeds, and the hints say how to keep the files', () => {
    const tmp = freshTmpdir()
    const result = spawnSync(process.execPath, [BIN, 'demo'], {
      env: { ...process.env, TMPDIR: tmp },
      encoding: 'utf8',
    })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(join(tmp, 'initguard-demo-'))
    expect(result.stdout).toContain('npx initguard demo --out DIR')
    expect(result.stdout).toContain('npx initguard initdata digest DIR/initdata.toml')
    expect(readdirSync(tmp)).toEqual([])
  })

  it('is removed when the demo fails', async () => {
    const tmp = freshTmpdir()
    vi.stubEnv('TMPDIR', tmp)
    let stderr = ''
    // Standard output fails in step 4, after the demo has written files to its directory.
    const code = await runCli(['demo'], {
      stdout: {
        write: (chunk: string | Uint8Array) => {
          if (String(chunk).includes('── 4.')) throw new Error('disk full')
          return true
        },
      },
      stderr: { write: (c: string | Uint8Array) => (stderr += String(c)) },
      stdin: Readable.from([]),
    })
    expect(code).toBe(1)
    expect(stderr).toContain('disk full')
    expect(readdirSync(tmp)).toEqual([])
  })

  // The signal path is tested on the helper the demo runs in, held open until the signal comes:
  // the whole demo may finish before a signal sent mid-run arrives, which would make a flaky test.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`is removed when the run is interrupted (${signal}: exit ${code})`, async () => {
      const tmp = freshTmpdir()
      const script = [
        `import { writeFileSync } from 'node:fs'`,
        `import { withTemporaryDirectory } from ${JSON.stringify(HELPER)}`,
        `setInterval(() => {}, 1000)`,
        `await withTemporaryDirectory(async (dir) => {`,
        `  writeFileSync(dir + '/initdata.toml', 'version = "0.1.0"')`,
        `  process.stdout.write('ready\\n')`,
        `  return new Promise(() => {})`,
        `})`,
      ].join('\n')
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve()
        })
      })
      expect(readdirSync(tmp)).toHaveLength(1)
      child.kill(signal)
      expect(await exited).toBe(code)
      expect(readdirSync(tmp)).toEqual([])
    })
  }

  it('--out DIR keeps the files and names them in the hints', async () => {
    const out = freshTmpdir()
    let stdout = ''
    const code = await runCli(['demo', '--out', out], {
      stdout: { write: (c: string | Uint8Array) => (stdout += String(c)) },
      stderr: { write: () => true },
      stdin: Readable.from([]),
    })
    expect(code).toBe(0)
    expect(readdirSync(out)).toContain('initdata.toml')
    expect(stdout).toContain(`npx initguard initdata digest ${join(out, 'initdata.toml')}`)
  })
})
