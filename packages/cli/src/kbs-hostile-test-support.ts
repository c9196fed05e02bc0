/**
 * Test support for the hostile-input tests: a real `initguard kbs serve` process (HTTPS on
 * loopback with a generated certificate, SQLite in a temporary data directory, simulator trust,
 * a `--config` file with short limits), its resident memory from `/proc/PID/status`, raw TLS
 * sockets an attacker controls byte by byte, and an honest client: `/healthz` and a full RCAR
 * handshake through `kbs get-resource`.
 *
 * Attackers connect from 127.0.0.2 and above (Linux routes all of 127/8 to loopback), the honest
 * client from 127.0.0.1, so per-client limits tell them apart as they would on a network.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'node:net'
import { connect, type TLSSocket } from 'node:tls'
import { SIMULATOR_SNP_MEASUREMENT_HEX } from '@initguard/tee-simulator'
import { runInProcess, spawnKbsServe } from './cli-test-support.ts'

const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"cdh.toml" = \'\'\'\n[kbc]\nname = "cc_kbc"\nurl = "https://127.0.0.1:8443"\n\'\'\'\n'
const SECRET = 'the honest client still gets this'

/** A running `kbs serve` process under attack. */
export interface HostileKbs {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** The server's standard error so far (its start-up lines and JSON log). */
  log(): string
  /** The server's resident set size now, in KiB (VmRSS). */
  rssKiB(): number
  /** True while the process runs. */
  alive(): boolean
  /** `GET /healthz` from the honest address; the status (0: no answer). */
  healthz(): Promise<number>
  /** A full handshake (`kbs get-resource`: /auth, /attest, GET /resource) from 127.0.0.1. */
  handshake(): Promise<{ readonly code: number; readonly secret: string; readonly stderr: string }>
  stop(): Promise<void>
}

/** Start `kbs serve` with `config` as its `--config` file (JSON), set up for one honest guest. */
export async function startHostileKbs(config: Record<string, unknown>): Promise<HostileKbs> {
  const dir = await mkdtemp(join(tmpdir(), 'initguard-kbs-hostile-'))
  const at = (name: string): string => join(dir, name)
  await writeFile(at('initdata.toml'), DOCUMENT)
  await writeFile(at('secret.txt'), SECRET)
  await writeFile(at('kbs.json'), JSON.stringify(config))
  for (const args of [
    ['sim', 'init', '--sim-dir', at('sim')],
    ['kbs', 'keygen', '--out-private', at('admin.key'), '--out-public', at('admin.pub')],
  ]) {
    const run = await runInProcess(args)
    if (run.code !== 0) throw new Error(`${args.join(' ')}: ${run.stderr}`)
  }
  const { server, url, log } = await spawnKbsServe([
    ...['--config', at('kbs.json'), '--data-dir', at('kbs-data'), '--listen', '127.0.0.1:0'],
    ...['--admin-public-key', at('admin.pub'), '--trust-sim', at('sim')],
  ])
  const pid = server.pid ?? 0
  const cert = at('kbs-data/tls/kbs-cert.pem')
  const admin = ['kbs', 'admin', '--url', url, '--ca', cert, '--admin-key', at('admin.key')]
  const workload = await runInProcess([
    ...[...admin, 'workload', 'put', '--name', 'app', '--tee', 'snp'],
    ...['--initdata', at('initdata.toml'), '--resource', 'default/app/*'],
    ...['--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX],
  ])
  if (workload.code !== 0) throw new Error(`workload put: ${workload.stderr}`)
  const put = await runInProcess([
    ...[...admin, 'resource', 'put', '--path', 'default/app/password'],
    ...['--file', at('secret.txt')],
  ])
  if (put.code !== 0) throw new Error(`resource put: ${put.stderr}`)
  const certPem = await readFile(cert, 'utf8')
  const port = Number(new URL(url).port)
  return {
    url,
    port,
    pid,
    log,
    rssKiB: () => rssKiB(pid),
    alive: () => server.exitCode === null && server.signalCode === null,
    healthz: async () => {
      const answer = await exchange(
        port,
        'GET /healthz HTTP/1.1\r\nHost: kbs\r\nConnection: close\r\n\r\n',
        {
          ca: certPem,
          from: '127.0.0.1',
        },
      )
      return answer.status
    },
    handshake: async () => {
      const run = await runInProcess([
        ...['kbs', 'get-resource', '--url', url, '--pin', cert, '--sim-dir', at('sim')],
        ...['--tee', 'snp', '--initdata', at('initdata.toml'), '--path', 'default/app/password'],
      ])
      return { code: run.code, secret: run.stdout, stderr: run.stderr }
    },
    stop: async () => {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server.on('exit', resolve))
        server.kill('SIGTERM')
        const timer = setTimeout(() => server.kill('SIGKILL'), 8000)
        await exited
        clearTimeout(timer)
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * What is wrong after an attack ([] when nothing): the process must run, answer `/healthz`, give
 * an honest client its secret through a full handshake, and have logged no error.
 */
export async function problemsAfterAttack(kbs: HostileKbs): Promise<string[]> {
  const problems: string[] = []
  if (!kbs.alive()) return ['the server is not running']
  const health = await kbs.healthz()
  if (health !== 200) problems.push(`/healthz answered ${String(health)}`)
  const honest = await kbs.handshake()
  if (honest.code !== 0 || honest.secret !== SECRET)
    problems.push(`the honest handshake failed (exit ${String(honest.code)}): ${honest.stderr}`)
  if (kbs.log().includes('"level":50')) problems.push('the server logged an error')
  return problems
}

/** VmRSS of process `pid`, in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match?.[1] === undefined) throw new Error(`no VmRSS for ${String(pid)}`)
  return Number(match[1])
}

/** What a raw exchange saw. */
export interface RawAnswer {
  /** The status of the first response (0: none before the connection ended). */
  readonly status: number
  /** The first response's head and body as received (latin1). */
  readonly text: string
  /** Milliseconds from connect until the server ended the connection (or the wait ended). */
  readonly closedAfterMs: number
  /** True when the server (not the wait) ended the connection. */
  readonly closedByServer: boolean
}

/** Options of a raw exchange. */
export interface RawOptions {
  /** Pin: trust exactly this certificate; default accept any (an attacker does not care). */
  readonly ca?: string
  /** The local address to connect from; default 127.0.0.2. */
  readonly from?: string
  /** Give up waiting for the server after this long; default 15 s. */
  readonly waitMs?: number
}

/** A TLS connection to the KBS on loopback, connected. */
export function openTls(port: number, options: RawOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tcp = createConnection({
      host: '127.0.0.1',
      port,
      localAddress: options.from ?? '127.0.0.2',
    })
    tcp.once('error', reject)
    const socket = connect({
      socket: tcp,
      ...(options.ca === undefined
        ? { rejectUnauthorized: false }
        : { ca: options.ca, checkServerIdentity: () => undefined }),
    })
    socket.once('secureConnect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** Collect what the server sends on `socket` until it ends the connection or `waitMs` passes. */
export function answerOf(
  socket: TLSSocket,
  startedAt: number,
  waitMs = 15_000,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => undefined)
    const done = (byServer: boolean): void => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('latin1')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, text, closedAfterMs: Date.now() - startedAt, closedByServer: byServer })
      socket.destroy()
    }
    const timer = setTimeout(() => {
      done(false)
    }, waitMs)
    socket.once('close', () => {
      done(true)
    })
  })
}

/**
 * Send `request` (the parts one after another, `gapMs` apart; a part may be a Buffer) on a new
 * TLS connection and collect the answer.
 */
export async function exchange(
  port: number,
  request: string | Buffer | readonly (string | Buffer)[],
  options: RawOptions & { readonly gapMs?: number } = {},
): Promise<RawAnswer> {
  const startedAt = Date.now()
  const socket = await openTls(port, options)
  const answer = answerOf(socket, startedAt, options.waitMs)
  const parts = typeof request === 'string' || Buffer.isBuffer(request) ? [request] : request
  for (const part of parts) {
    if (socket.destroyed) break
    await new Promise<void>((resolve) => {
      socket.write(part, () => {
        resolve()
      })
    })
    if (options.gapMs !== undefined) await sleep(options.gapMs)
  }
  return answer
}

/** The JSON body of a raw answer (after the head; not chunked). */
export function bodyOf(answer: RawAnswer): unknown {
  const body = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)
  return JSON.parse(body) as unknown
}

/** The value of header `name` in a raw answer, or undefined. */
export function headerOf(answer: RawAnswer, name: string): string | undefined {
  const head = answer.text.slice(0, answer.text.indexOf('\r\n\r\n'))
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
  return line?.slice(name.length + 1).trim()
}

/** Wait `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
