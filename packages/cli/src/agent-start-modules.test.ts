/**
 * What `initguard agent start` loads (its cold start is measured: `npm run bench`, "agent cold
 * start"), counted in the real process on the built `dist`, as the benchmark runs it: a module
 * loader hook (`node --import`) lists every ES module as it loads.
 *
 * - A hardware start (`--tee snp`, `--tee auto`) loads no part of the TEE simulator beyond the
 *   REPORT_DATA padding it shares (`@initguard/tee-simulator/report-data`). Without SEV-SNP
 *   hardware here, the start ends at the detection (`ERR_TEE_NOT_FOUND`), after the hardware entry
 *   and everything it imports have loaded: what loads later on real hardware is not seen.
 * - A simulated SEV-SNP start, up to its ready line, loads neither the SEV-SNP verifier
 *   (`@initguard/snp`'s root entry: AMD chains, CRLs) nor the TDX one (`@initguard/tdx`'s:
 *   collateral, PCK chains), only their parsers.
 * - Neither loads the outbound HTTP client (`@initguard/http`'s root: node:https, TLS): the KBS
 *   client loads it at the first KBS request; parsing `--listen` takes its host-port module alone.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initSimulator, launchSimulatedGuest } from '@initguard/tee-simulator'

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))
const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"k" = "v"\n'

let dir: string
let register: string
let initdata: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-agent-modules-'))
  const hooks = join(dir, 'hooks.mjs')
  await writeFile(
    hooks,
    [
      "import { appendFileSync } from 'node:fs'",
      'export async function load(url, context, next) {',
      '  appendFileSync(process.env.MODULE_LOG, `${url}\\n`)',
      '  return next(url, context)',
      '}',
    ].join('\n'),
  )
  register = join(dir, 'register.mjs')
  await writeFile(
    register,
    `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`,
  )
  initdata = join(dir, 'initdata.toml')
  await writeFile(initdata, DOCUMENT)
  await initSimulator(join(dir, 'sim'))
  const bytes = new TextEncoder().encode(DOCUMENT)
  await launchSimulatedGuest({ simDir: join(dir, 'sim'), name: 'g', tee: 'snp', initdata: bytes })
}, 60_000)
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

let runs = 0
/**
 * Run `initguard ARGS` until it exits or writes `until` (then stop it); the modules it loaded by
 * then, as paths below `packages/`, and what it wrote.
 */
async function loaded(args: readonly string[], until?: RegExp) {
  const log = join(dir, `modules-${String(++runs)}.txt`)
  await writeFile(log, '')
  const child = spawn(process.execPath, ['--import', register, BIN, ...args], {
    env: { ...process.env, MODULE_LOG: log },
  })
  let output = ''
  const onData = (chunk: Buffer): void => {
    output += chunk.toString()
    if (until?.test(output) === true) child.kill('SIGKILL')
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  await new Promise((resolve) => child.on('exit', resolve))
  const modules = (await readFile(log, 'utf8'))
    .split('\n')
    .flatMap((url) => /\/packages\/(.+)$/.exec(url)?.[1] ?? [])
  return { modules, output }
}

describe('agent start: the modules of its cold start', () => {
  it.each(['snp', 'auto'])(
    '--tee %s loads none of the simulator beyond REPORT_DATA padding',
    async (tee) => {
      const { modules, output } = await loaded(
        ['agent', 'start', '--initdata', initdata, '--tee', tee, '--listen', '127.0.0.1:0'],
        /initguard agent: init-data verified/,
      )
      // The hardware path was taken (here it ends at the detection, there being no hardware).
      expect(modules).toContain('tee/dist/hardware-entry.js')
      if (!output.includes('init-data verified')) expect(output).toContain('ERR_TEE_NOT_FOUND')
      expect(modules.filter((module) => module.startsWith('tee-simulator/')).sort()).toEqual([
        'tee-simulator/dist/report-data.js',
        'tee-simulator/dist/simulator-files.js',
      ])
      expect(modules.filter((module) => module.startsWith('http/'))).toEqual([
        'http/dist/host-port.js',
      ])
    },
    30_000,
  )

  it('--tee sim (SEV-SNP) loads the parsers, not the SEV-SNP or TDX verifiers', async () => {
    const simulated = ['--tee', 'sim', '--sim-dir', join(dir, 'sim'), '--sim-guest', 'g']
    const { modules, output } = await loaded(
      ['agent', 'start', '--initdata', initdata, ...simulated, '--listen', '127.0.0.1:0'],
      /initguard agent ready: /,
    )
    expect(output).toContain('initguard agent: init-data verified (snp, simulated)')
    expect(output).toContain('initguard agent ready: http://127.0.0.1:')
    expect(modules.filter((module) => module.startsWith('http/'))).toEqual([
      'http/dist/host-port.js',
    ])
    expect(modules).toContain('tee-simulator/dist/guest-entry.js')
    expect(modules).toContain('snp/dist/parsers.js')
    expect(modules).toContain('tdx/dist/parsers.js')
    expect(modules).not.toContain('snp/dist/index.js')
    expect(modules).not.toContain('tdx/dist/index.js')
  }, 30_000)
})
