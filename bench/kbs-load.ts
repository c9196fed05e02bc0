/**
 * What the RCAR benchmarks share: `initguard kbs serve` processes on loopback (HTTPS, simulator
 * trust, rate limits lifted), provisioning them through the admin API, whole handshakes by
 * simulated SNP guests (`/auth`, `/attest` with fresh evidence bound to the nonce and a fresh TEE
 * key, `GET /resource`, the JWE opened), closed and open loops of them, the crypto one handshake
 * costs the KBS (the baseline), and the CPU time and memory of other processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createSign, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { HttpClient, httpErrors } from '@initguard/http'
import { parseInitdata } from '@initguard/initdata'
import { generateTeeKeyPair, sealResource } from '@initguard/kbs-protocol'
import { SIMULATOR_SNP_MEASUREMENT_HEX, type SimulatorSnpMaterial } from '@initguard/tee-simulator'
import { median } from './harness.ts'
import { RcarGuest } from './rcar-guest.ts'

const BIN = fileURLToPath(new URL('../packages/cli/bin/initguard.js', import.meta.url))
/** The init-data document the simulated guests launch with and the workload accepts. */
export const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "https://127.0.0.1"\n\'\'\'\n'
/** The resource the workload may have, and what it holds (the body as stored: a JSON string). */
export const BENCH_RESOURCE = 'default/bench/key'
const BENCH_SECRET = '"a secret"'
/** The longest one request may go unanswered before the benchmark fails. */
const REQUEST_TIMEOUT_MS = 30_000

/**
 * The KBS's settings for load: rate limits lifted, quiet logs, and connections kept alive for two
 * minutes instead of 5 s. The benchmarks' guests reuse their connections (a real guest attests
 * once and goes), and a guest that waits out a measurement of another setup must not pay a new
 * TLS connection in the middle of its own.
 */
export const LOAD_CONFIG = `[rate-limit]
max = 1000000
window = "1s"

[limits]
keep-alive-timeout = "120s"

[log]
level = "warn"
`

/** CPU seconds (user + system, every thread) this process has used. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/**
 * CPU seconds per operation of `run` (awaited), over about `millis` of wall time. CPU time, not
 * wall time: the other processes on the machine slow the wall clock, not the work, and the KBS
 * side of the ratio is CPU time too.
 */
async function cpuSecondsPerOperation(run: () => unknown, millis: number): Promise<number> {
  let operations = 0
  const cpuStart = ownCpuSeconds()
  const start = performance.now()
  while (performance.now() - start < millis) {
    await run()
    operations++
  }
  return (ownCpuSeconds() - cpuStart) / operations
}

/** The KBS's unavoidable crypto per handshake, in seconds (median of rounds). */
export async function cryptoSecondsPerHandshake(): Promise<number> {
  const report = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  const token = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signed = randomBytes(0x2a0)
  const signature = sign('sha384', signed, report.privateKey)
  const teeKey = (await generateTeeKeyPair('P-256')).publicJwk
  const secret = randomBytes(32)
  const header = Buffer.from('{"alg":"ES256","typ":"JWT","kid":"k"}').toString('base64url')
  const claims = Buffer.from(JSON.stringify({ submods: { cpu0: {} }, exp: 1 })).toString(
    'base64url',
  )
  const rounds: number[] = []
  for (let round = 0; round < 5; round++) {
    const verifySeconds = await cpuSecondsPerOperation(
      () => verify('sha384', signed, report.publicKey, signature),
      150,
    )
    const signSeconds = await cpuSecondsPerOperation(
      () =>
        createSign('sha256')
          .update(`${header}.${claims}`)
          .sign({ key: token.privateKey, dsaEncoding: 'ieee-p1363' }),
      150,
    )
    const sealSeconds = await cpuSecondsPerOperation(() => sealResource(teeKey, secret), 150)
    rounds.push(verifySeconds + signSeconds + sealSeconds)
  }
  return median(rounds)
}

/** A running `kbs serve` process. */
export interface KbsProcess {
  readonly child: ChildProcess
  readonly url: string
}

/**
 * Start `initguard kbs serve` on a free loopback port with `args` (the data directory, keys,
 * trust, database…) after the listen address; its URL once it says where it listens.
 */
export function startKbsProcess(args: readonly string[]): Promise<KbsProcess> {
  return startListeningProcess('kbs serve', [
    ...(process.env['BENCH_KBS_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    BIN,
    ...['kbs', 'serve', '--listen', '127.0.0.1:0', ...args],
  ])
}

/** Start `node` with `args`; its URL once it prints `listening on https://…` to stderr. */
export async function startListeningProcess(
  what: string,
  args: readonly string[],
): Promise<KbsProcess> {
  const child = spawn(process.execPath, args)
  let log = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      const match = /listening on (https:\/\/[^\s]+)/.exec(log)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.stdout.resume()
    child.on('exit', (code) => {
      reject(new Error(`${what} exited (${String(code)}): ${log}`))
    })
  })
  return { child, url }
}

/** Stop a KBS with SIGTERM; one that does not stop within 5 s is killed, never left behind. */
export async function stopKbsProcess({ child }: KbsProcess): Promise<void> {
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(killer)
}

/** An Ed25519 admin key pair; the public half written to `file` for `--admin-public-key`. */
export async function writeAdminKey(
  file: string,
): Promise<ReturnType<typeof generateKeyPairSync>['privateKey']> {
  const admin = generateKeyPairSync('ed25519')
  await writeFile(file, admin.publicKey.export({ type: 'spki', format: 'pem' }))
  return admin.privateKey
}

/** A workload for the simulator and one secret (`default/bench/key`), through the admin API. */
export async function provision(
  url: string,
  certPem: string,
  key: ReturnType<typeof generateKeyPairSync>['privateKey'],
): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ role: 'admin', aud: ['KBS'], exp: now + 300 })}`
  const jwt = `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`
  const http = new HttpClient({
    attempts: 1,
    errors: httpErrors({ area: 'KBS' }),
    tls: { pinnedCertificatePem: certPem },
  })
  const call = (method: 'PUT' | 'POST', path: string, body: string): Promise<number> =>
    http.request(
      {
        method,
        url: `${url}${path}`,
        what: path,
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body: new TextEncoder().encode(body),
      },
      async (response) => {
        await response.discard()
        return response.status
      },
    )
  const workload = {
    tees: ['snp'],
    initdata: [DOCUMENT],
    resources: ['default/bench/*'],
    snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX] },
  }
  const statuses = [
    await call('PUT', '/kbs/v0/admin/workloads/bench', JSON.stringify(workload)),
    await call('POST', `/kbs/v0/resource/${BENCH_RESOURCE}`, BENCH_SECRET),
  ]
  if (statuses.some((status) => status !== 200))
    throw new Error(`provisioning the KBS failed: ${statuses.join(', ')}`)
}

/**
 * `count` simulated SNP guests (`rcar-guest.ts`: the whole handshake, none of a general client's
 * overhead), each with its own connection, spread round-robin over the KBSs at `urls`.
 */
export function benchGuests(options: {
  readonly urls: readonly string[]
  readonly certPem: string
  readonly snp: SimulatorSnpMaterial
  readonly count: number
}): RcarGuest[] {
  const initData = { text: DOCUMENT, document: parseInitdata(new TextEncoder().encode(DOCUMENT)) }
  return Array.from(
    { length: options.count },
    (_, n) =>
      new RcarGuest({
        url: options.urls[n % options.urls.length] ?? '',
        certPem: options.certPem,
        snp: options.snp,
        initData,
        resource: BENCH_RESOURCE,
        timeoutMs: REQUEST_TIMEOUT_MS,
      }),
  )
}

/** One whole handshake by `guest`, the secret checked; its latency in ms. */
async function handshake(guest: RcarGuest): Promise<number> {
  const start = performance.now()
  const { plaintext } = await guest.handshake()
  if (Buffer.from(plaintext).toString('utf8') !== BENCH_SECRET)
    throw new Error(
      `the KBS released ${JSON.stringify(Buffer.from(plaintext).toString('utf8'))}, not the secret`,
    )
  return performance.now() - start
}

/** One handshake per guest, all at once: connections open and code warm before timing. */
export async function warmUp(guests: readonly RcarGuest[]): Promise<void> {
  await Promise.all(guests.map((guest) => handshake(guest)))
}

/** Closed loop: each guest does handshakes back to back for `seconds`; handshakes per second. */
export async function closedLoop(guests: readonly RcarGuest[], seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000
  let done = 0
  const start = performance.now()
  await Promise.all(
    guests.map(async (guest) => {
      while (performance.now() < end) {
        await handshake(guest)
        done++
      }
    }),
  )
  return done / ((performance.now() - start) / 1000)
}

/**
 * Open loop: start handshakes at `rate` per second for `seconds`; latencies in ms, sorted. Each is
 * timed from when it was due, not from when a guest got to it: a handshake that waited for a free
 * guest, or behind a late timer, waited in the system as a real client would, and timing it from
 * its own start would leave that wait out of the tail (coordinated omission).
 */
export async function openLoop(
  clients: readonly RcarGuest[],
  rate: number,
  seconds: number,
): Promise<number[]> {
  const latencies: number[] = []
  const idle = [...clients]
  const running: Promise<void>[] = []
  const start = performance.now()
  for (let n = 0; n < rate * seconds; n++) {
    const due = start + (n * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    while (idle.length === 0) await Promise.race(running)
    const client = idle.pop()
    if (client === undefined) continue
    const run: Promise<void> = handshake(client).then(() => {
      latencies.push(performance.now() - due)
      idle.push(client)
      void running.splice(running.indexOf(run), 1)
    })
    running.push(run)
  }
  await Promise.all(running)
  return latencies.sort((a, b) => a - b)
}

const CLOCK_TICKS = ((): number => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim())
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100
})()

/** The fields of `/proc/PID/stat` after the command name (which may hold spaces). */
async function statFields(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** CPU seconds (user + system) the process `pid` has used, from `/proc/PID/stat`. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = await statFields(pid)
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

/**
 * CPU seconds used by `pid` and its children (PostgreSQL's postmaster and the backends serving
 * the KBS's connections): those alive now, and those that have exited, which the kernel adds to
 * the parent's own count of its children's time once it has reaped them. Without the exited
 * ones, a pooled connection closed while idle took its backend's CPU out of the sum, and the
 * database's CPU over a slice came out too low (0.29 ms a handshake against 0.8–1.1 in other runs).
 */
export async function treeCpuSecondsOf(pid: number): Promise<number> {
  const own = await statFields(pid)
  // utime, stime, cutime, cstime: fields 14–17 of stat (indices 11–14 after the command name).
  let total = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / CLOCK_TICKS
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue
    const fields = await statFields(Number(entry)).catch(() => undefined)
    // Field 4 of stat is the parent's id (index 1 after the command name).
    if (fields !== undefined && Number(fields[1]) === pid)
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  }
  return total
}

/** The resident set of `pid` now, in MB (`VmRSS`). */
export async function rssMegabytesOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kilobytes = Number(/^VmRSS:\s+([0-9]+) kB$/m.exec(status)?.[1])
  return Math.round(kilobytes / 1024)
}

/** The `p`th percentile of sorted values. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN
