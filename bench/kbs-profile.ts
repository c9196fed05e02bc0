/**
 * Where one KBS process's CPU goes in RCAR handshakes, for investigation (not part of
 * `npm run bench`, which runs `*.bench.ts` only):
 *
 *   node --conditions=@initguard/source --import tsx bench/kbs-profile.ts
 *
 * One `kbs serve` on a throwaway crash-safe PostgreSQL (`PROFILE_STORE=sqlite`: SQLite), run with
 * `node --cpu-prof`, provisioned as the RCAR benchmarks are, warmed for `PROFILE_WARMUP_SECONDS`
 * (default 4) and then driven by 8 simulated SNP guests in a closed loop for
 * `PROFILE_ROUNDS` (default 3) rounds of `PROFILE_SECONDS` (default 4). Prints the KBS's CPU per
 * handshake in each round (user + system from `/proc`, profiler overhead included) and, from the
 * profile, the self time by package and the top functions, as shares of the time the main thread
 * was not idle. The profile is left in `PROFILE_DIR` (default a temporary directory) for a viewer.
 *
 * The profiler samples the main thread's stack on a timer: time the process spent descheduled
 * inside a system call (the write that wakes PostgreSQL's backend, on a loaded machine) is
 * counted to that call. Compare the CPU per handshake, not the profile, between setups.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureGeneratedTlsIdentity } from '@initguard/kbs'
import { initSimulator } from '@initguard/tee-simulator'
import { startPostgresCluster } from '@initguard/testkit'
import { benchNumber } from './bench-env.ts'
import {
  LOAD_CONFIG,
  benchGuests,
  closedLoop,
  cpuSecondsOf,
  provision,
  startKbsProcess,
  stopKbsProcess,
  writeAdminKey,
} from './kbs-load.ts'

const STORE = process.env['PROFILE_STORE'] ?? 'postgres'
if (STORE !== 'postgres' && STORE !== 'sqlite')
  throw new Error(`PROFILE_STORE=${JSON.stringify(STORE)}: expected postgres or sqlite`)
const WARMUP_SECONDS = benchNumber('PROFILE_WARMUP_SECONDS', 4, { min: 0 })
const ROUNDS = benchNumber('PROFILE_ROUNDS', 3, { integer: true, min: 1 })
const SECONDS = benchNumber('PROFILE_SECONDS', 4, { min: 1 })
const GUESTS = 8

/** The parts of a `.cpuprofile` read here. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number
    readonly callFrame: {
      readonly functionName: string
      readonly url: string
      readonly lineNumber: number
    }
  }[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** The package a script URL belongs to: an npm package, a workspace package, or Node's own. */
function packageOf(url: string): string {
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]
  if (npm !== undefined) return npm
  const workspace = /\/packages\/([^/]+)\//.exec(url)?.[1]
  if (workspace !== undefined) return `@initguard/${workspace}`
  if (url.startsWith('node:')) return url.includes('crypto') ? 'node (crypto)' : 'node'
  return url === '' ? '(native)' : url
}

/** Self time by package and by function, as shares of the non-idle samples. */
function summarize(profile: CpuProfile, top: number): string {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, micros: number): void => {
    map.set(key, (map.get(key) ?? 0) + micros)
  }
  let busy = 0
  profile.samples.forEach((id, index) => {
    const frame = frames.get(id)
    const micros = profile.timeDeltas[index] ?? 0
    if (frame === undefined || frame.functionName === '(idle)') return
    busy += micros
    const special = frame.functionName.startsWith('(')
    add(byPackage, special ? frame.functionName : packageOf(frame.url), micros)
    const where = frame.url === '' ? '' : ` ${packageOf(frame.url)}:${String(frame.lineNumber)}`
    add(byFunction, `${frame.functionName || '(anonymous)'}${where}`, micros)
  })
  const table = (map: Map<string, number>): string =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => `  ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n')
  return `self time by package (% of ${(busy / 1e6).toFixed(1)} s not idle):\n${table(byPackage)}\ntop functions:\n${table(byFunction)}`
}

const root = await mkdtemp(join(tmpdir(), 'kbs-profile-'))
const profileDir = process.env['PROFILE_DIR'] ?? (await mkdtemp(join(tmpdir(), 'kbs-cpuprofile-')))
const { simulator } = await initSimulator(join(root, 'sim'))
const admin = await writeAdminKey(join(root, 'admin.pub'))
await writeFile(join(root, 'kbs.toml'), LOAD_CONFIG)
await writeFile(join(root, 'master.key'), randomBytes(32).toString('hex'), { mode: 0o600 })
const tls = await ensureGeneratedTlsIdentity(join(root, 'identity'), '127.0.0.1', new Date())
const cluster =
  STORE === 'postgres' ? await startPostgresCluster({ durability: 'crash-safe' }) : undefined
try {
  const database = cluster === undefined ? [] : ['--database', await cluster.createDatabase('kbs')]
  process.env['BENCH_KBS_NODE_ARGS'] = `--cpu-prof --cpu-prof-dir=${profileDir}`
  const kbs = await startKbsProcess([
    ...['--admin-public-key', join(root, 'admin.pub'), '--trust-sim', simulator.dir],
    ...['--config', join(root, 'kbs.toml'), '--master-key-file', join(root, 'master.key')],
    ...['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--data-dir', join(root, 'data')],
    ...database,
  ])
  try {
    await provision(kbs.url, tls.certPem, admin)
    const guests = benchGuests({
      urls: [kbs.url],
      certPem: tls.certPem,
      snp: simulator.material.snp,
      count: GUESTS,
    })
    if (WARMUP_SECONDS > 0) await closedLoop(guests, WARMUP_SECONDS)
    for (let round = 1; round <= ROUNDS; round++) {
      const cpuBefore = await cpuSecondsOf(kbs.child.pid ?? 0)
      const started = performance.now()
      const rate = await closedLoop(guests, SECONDS)
      const handshakes = (rate * (performance.now() - started)) / 1000
      const cpuMs = ((await cpuSecondsOf(kbs.child.pid ?? 0)) - cpuBefore) * 1000
      console.log(
        `${STORE} round ${String(round)}: ${rate.toFixed(0)} handshakes/s, KBS CPU ${(cpuMs / handshakes).toFixed(2)} ms per handshake`,
      )
    }
  } finally {
    // SIGTERM: the KBS closes and exits, and node writes the profile on exit.
    await stopKbsProcess(kbs)
  }
  const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`the KBS wrote no profile into ${profileDir}`)
  const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile
  console.log(`${summarize(profile, 25)}\nprofile: ${join(profileDir, file)}`)
} finally {
  await cluster?.stop()
  await rm(root, { recursive: true, force: true })
}
