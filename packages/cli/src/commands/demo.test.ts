import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { runCli } from '../main.ts'
import { allowExec } from './demo-guests.ts'
import { runDemo } from './demo.ts'

// The demo's steps are tests: one run checks every outcome, runs with a refused guest made to pass
// check that the demo then fails, and the demo's temporary directory and child processes are gone
// however it ends. Each test gives it a TMPDIR of its own and checks that nothing is left in it.

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

/** Every pid the demo printed for a child process (the KBS, the agents). */
const childPids = (stdout: string): number[] =>
  [...stdout.matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1]))

/** Whether process `pid` still exists (polled for up to 3 s: a killed child takes a moment). */
async function alive(pid: number): Promise<boolean> {
  for (let tries = 0; tries < 30; tries++) {
    try {
      process.kill(pid, 0)
    } catch {
      return false
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return true
}

async function demoIn(out: string, edits?: Parameters<typeof runDemo>[3]) {
  let stdout = ''
  const io = {
    stdout: { write: (c: string | Uint8Array) => (stdout += String(c)) },
    stderr: { write: (c: string | Uint8Array) => (stdout += String(c)) },
    stdin: Readable.from([]),
  }
  const code = await runDemo(out, out, io, edits)
  return { code, stdout }
}

/** The result lines the demo must print, in order, each with ✓. */
const EXPECTED_OUTCOMES = [
  /✓ initdata\.toml from aa\.toml, cdh\.toml, policy\.rego: \d+ bytes, sha384/,
  /✓ the launch fixes it: SEV-SNP HOST_DATA [0-9a-f]{24}…, TDX MRCONFIGID/,
  /✓ delivered as the pod annotation .* both read back to the same bytes/,
  /✓ report\.bin verifies .* HOST_DATA binds initdata\.toml/,
  /✓ a copy saved with Windows line ends is refused as it is read \(ERR_INITDATA_TOML_CRLF, exit 3\)/,
  /✓ sim init: /,
  /✓ kbs keygen: /,
  /✓ kbs serve: a child process \(pid \d+\) serving HTTPS at https:\/\/127\.0\.0\.1:\d+/,
  /✓ initdata-kbs\.toml: aa\.toml and cdh\.toml name that KBS and pin its certificate/,
  /✓ kbs admin workload put demo/,
  /✓ kbs admin resource put default\/demo\/db-password/,
  /✓ sim launch honest: SEV-SNP, HOST_DATA/,
  /✓ agent start \(pid \d+\): init-data verified, guest API at http:\/\/127\.0\.0\.1:\d+/,
  /✓ GET \/cdh\/resource\/default\/demo\/db-password: .* the secret was released, byte for byte/,
  /✓ GET \/initdata\/cdh\.toml: the verified cdh\.toml/,
  /✓ runs: +registry\.example\.internal\/team\/payments:v1\.4\.2, signed by the release key/,
  /✓ refused: registry\.example\.internal\/team\/payments:v1\.4\.3, signed by someone else's key/,
  /✓ refused: .*manifest swapped after signing/,
  /✓ refused: docker\.io\/library\/busybox:latest/,
  /✓ agent stopped cleanly on SIGTERM/,
  /✓ sim launch tampered: /,
  /✓ agent start refused to start: exit 5, ERR_AGENT_INITDATA_MISMATCH/,
  /HOST_DATA expected [0-9a-f]{24}… \(the edited copy's digest\), found [0-9a-f]{24}… \(fixed at launch\)/,
  /✓ nothing written, nothing served/,
  /✓ sim launch other: /,
  /✓ agent start \(pid \d+\): its document matches its launch, serving/,
  /✓ GET \/cdh\/resource\/default\/demo\/db-password: HTTP 403, the KBS refused it/,
  /ERR_KBS_FORBIDDEN: /,
  /✓ kbs admin audit: attestation denied, ERR_KBS_NO_WORKLOAD/,
  /workload 'demo': init-data digest [0-9a-f]+… .* is not one of its 1 accepted document/,
  /✓ the KBS stopped cleanly on SIGTERM/,
  /Result: all \d+ outcomes as expected/,
]

describe('initguard demo: the whole system, every outcome', () => {
  it('each step gives its expected outcome, in order, and the demo exits 0 with every child stopped', async () => {
    const out = freshTmpdir()
    let stdout = ''
    const code = await runCli(['demo', '--out', out], {
      stdout: { write: (c: string | Uint8Array) => (stdout += String(c)) },
      stderr: { write: (c: string | Uint8Array) => (stdout += String(c)) },
      stdin: Readable.from([]),
    })
    let rest = stdout
    for (const outcome of EXPECTED_OUTCOMES) {
      const match = outcome.exec(rest)
      expect(match, `${String(outcome)} in\n${rest}`).not.toBeNull()
      rest = rest.slice((match?.index ?? 0) + (match?.[0].length ?? 0))
    }
    expect(stdout).not.toContain('✗')
    const passed = stdout.split('\n').filter((line) => line.startsWith('  ✓ ')).length
    expect(stdout).toContain(`Result: all ${passed} outcomes as expected`)
    expect(code).toBe(0)
    expect(childPids(stdout)).toHaveLength(3)
    for (const pid of childPids(stdout)) expect(await alive(pid)).toBe(false)
    // --out keeps the files and the hints name them.
    expect(readdirSync(out)).toEqual(
      expect.arrayContaining(['initdata.toml', 'initdata-kbs.toml', 'kbs.log', 'agent-honest.log']),
    )
    expect(stdout).toContain(`npx initguard initdata digest ${join(out, 'initdata.toml')}`)
  }, 120_000)

  it('a refused guest that is not refused makes the demo fail (exit 5), with the outcome marked ✗', async () => {
    // The tampered guest's agent given the launch document itself, and the other guest launched
    // with the registered document: both succeed where the demo expects a refusal.
    const same = (document: string): string => document
    const { code, stdout } = await demoIn(freshTmpdir(), { tampered: same, other: same })
    expect(code).toBe(5)
    expect(stdout).toMatch(/✗ the agent started with the edited document/)
    expect(stdout).toMatch(/✗ GET \/cdh\/resource\/default\/demo\/db-password: HTTP 200/)
    expect(stdout).toMatch(/Result: \d+ of \d+ outcomes NOT as expected/)
    for (const pid of childPids(stdout)) expect(await alive(pid)).toBe(false)
  }, 120_000)

  it('the edit the refused guests make changes the document', () => {
    expect(allowExec('default ExecProcessRequest := false')).toBe(
      'default ExecProcessRequest := true',
    )
    expect(() => allowExec('package agent_policy')).toThrow(/no longer denies exec/)
  })
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

  it('is removed when the demo fails, and the KBS it started is stopped', async () => {
    const tmp = freshTmpdir()
    vi.stubEnv('TMPDIR', tmp)
    let stderr = ''
    let stdout = ''
    // Standard output fails in step 4, after the demo has written files and started the KBS.
    const code = await runCli(['demo'], {
      stdout: {
        write: (chunk: string | Uint8Array) => {
          if (String(chunk).includes('── 4.')) throw new Error('disk full')
          stdout += String(chunk)
          return true
        },
      },
      stderr: { write: (c: string | Uint8Array) => (stderr += String(c)) },
      stdin: Readable.from([]),
    })
    expect(code).toBe(1)
    expect(stderr).toContain('disk full')
    expect(readdirSync(tmp)).toEqual([])
    expect(childPids(stdout)).toHaveLength(1)
    for (const pid of childPids(stdout)) expect(await alive(pid)).toBe(false)
  }, 120_000)

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

  it('is removed, and every child stopped, when the demo itself is interrupted (SIGTERM: exit 143)', async () => {
    const tmp = freshTmpdir()
    const demo = spawn(process.execPath, [BIN, 'demo'], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve))
    let stdout = ''
    // Interrupted as soon as the KBS runs: the guests take seconds more.
    await new Promise<void>((resolve) => {
      demo.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (/kbs serve: a child process \(pid \d+\)/.test(stdout)) resolve()
      })
    })
    demo.kill('SIGTERM')
    expect(await exited).toBe(143)
    expect(childPids(stdout)).toHaveLength(1)
    for (const pid of childPids(stdout)) expect(await alive(pid)).toBe(false)
    expect(readdirSync(tmp)).toEqual([])
  }, 120_000)
})
