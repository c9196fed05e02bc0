/**
 * Test support: several `initguard kbs serve` processes (real children, the built CLI) on one
 * database, as replicas behind a load balancer: one TLS identity, one master key file, one admin
 * key and one TEE simulator for all; each replica its own data directory on PostgreSQL, or one
 * shared SQLite data directory without `database`.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { stringToUtf8 } from '@initguard/core'
import { HttpClient, httpErrors, tlsFetch } from '@initguard/http'
import { initSimulator, type TeeSimulator } from '@initguard/tee-simulator'
import { testAdminKey, testAdminToken } from '../server/admin-auth-test-support.ts'
import { ensureGeneratedTlsIdentity } from '../server/tls-identity.ts'

/** The `initguard` command as built (`npm ci` builds it; `npx tsc -b` after changes). */
const BIN = fileURLToPath(new URL('../../../cli/bin/initguard.js', import.meta.url))
/** How long a replica may take to start listening. */
const START_TIMEOUT_MS = 20_000
/** Output kept per replica, for failure messages. */
const MAX_LOG_CHARS = 64 * 1024

/** One `kbs serve` child. */
export interface Replica {
  readonly url: string
  readonly pid: number
  /** Whether the child is still running (has not exited or been killed). */
  running(): boolean
  /** The child's output (the last {@link MAX_LOG_CHARS} characters). */
  log(): string
  /** Sends `signal` (default SIGKILL) and waits until the child has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** The replicas and what talks to them. */
export interface ReplicaSet {
  readonly replicas: readonly Replica[]
  readonly simulator: TeeSimulator
  /** An HTTPS client pinned to the replicas' certificate, one attempt per request, 10 s timeout. */
  readonly http: HttpClient
  /** A `fetch` pinned to the replicas' certificate (for headers the client does not show). */
  readonly fetch: typeof fetch
  /**
   * An admin call to `replica`; its status and JSON body (`undefined` when empty). A byte body
   * is sent as it is (a resource upload), anything else as JSON.
   */
  admin(
    replica: Replica,
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ readonly status: number; readonly json: unknown }>
  /** Stops every replica (SIGKILL) and removes the directory. */
  stop(): Promise<void>
}

function startReplica(args: readonly string[]): Promise<Replica> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'kbs', 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-MAX_LOG_CHARS)
  }
  child.stdout?.on('data', append)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve()
    }),
  )
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill().then(() => {
        reject(new Error(`kbs serve did not start in time: ${log}`))
      })
    }, START_TIMEOUT_MS)
    child.stderr?.on('data', (chunk: Buffer) => {
      append(chunk)
      const url = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1]
      if (url === undefined) return
      clearTimeout(timer)
      resolve({
        url,
        pid: child.pid ?? 0,
        running: () => child.exitCode === null && child.signalCode === null,
        log: () => log,
        kill,
      })
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`kbs serve exited before listening: ${log}`))
    })
  })
}

/**
 * Start `count` replicas. With `database` (a `postgres://` URL) each has its own data directory
 * and they share the database; without, they share one SQLite data directory.
 */
export async function startReplicaSet(options: {
  readonly count: number
  readonly database?: string
}): Promise<ReplicaSet> {
  const root = await mkdtemp(join(tmpdir(), 'kbs-replicas-'))
  const { simulator } = await initSimulator(join(root, 'sim'))
  const admin = testAdminKey('EdDSA')
  const at = (name: string): string => join(root, name)
  await writeFile(at('admin.pub'), admin.publicPem)
  // One key for every replica, as a Kubernetes Secret would give it.
  await writeFile(at('master.key'), randomBytes(32).toString('hex'), { mode: 0o600 })
  await chmod(at('master.key'), 0o600)
  const tls = await ensureGeneratedTlsIdentity(at('tls'), '127.0.0.1', new Date())
  // Every client here comes from 127.0.0.1: the per-address limit would throttle the test itself.
  await writeFile(at('kbs.toml'), '[rate-limit]\nmax = 100000\n\n[log]\nlevel = "warn"\n')
  const common = [
    ...['--listen', '127.0.0.1:0', '--admin-public-key', at('admin.pub')],
    ...['--trust-sim', simulator.dir, '--master-key-file', at('master.key')],
    ...['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--config', at('kbs.toml')],
    ...(options.database === undefined ? [] : ['--database', options.database]),
  ]
  const replicas: Replica[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(replicas.map((replica) => replica.kill()))
    await rm(root, { recursive: true, force: true })
  }
  try {
    const dataDir = (index: number): string =>
      at(options.database === undefined ? 'data' : `data-${String(index)}`)
    // The first alone (it creates the database and its signing key), then the others at once.
    replicas.push(await startReplica(['--data-dir', dataDir(0), ...common]))
    const others = Array.from({ length: options.count - 1 }, (_, index) =>
      startReplica(['--data-dir', dataDir(index + 1), ...common]),
    )
    const started = await Promise.allSettled(others)
    for (const result of started) if (result.status === 'fulfilled') replicas.push(result.value)
    const failure = started.find((result) => result.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  } catch (error) {
    await stop()
    throw error
  }
  const http = new HttpClient({
    attempts: 1,
    timeoutMs: 10_000,
    errors: httpErrors({ area: 'KBS' }),
    tls: { pinnedCertificatePem: tls.certPem },
  })
  return {
    replicas,
    simulator,
    http,
    fetch: tlsFetch({ pinnedCertificatePem: tls.certPem }),
    admin: async (replica, method, path, body) => {
      const token = await testAdminToken(admin, new Date())
      return http.request(
        {
          method,
          url: `${replica.url}${path}`,
          what: `admin ${path}`,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined || body instanceof Uint8Array
              ? {}
              : { 'content-type': 'application/json' }),
          },
          ...(body === undefined
            ? {}
            : { body: body instanceof Uint8Array ? body : stringToUtf8(JSON.stringify(body)) }),
        },
        async (response) => {
          const text = await response.text({ maxBytes: 4 << 20 })
          return {
            status: response.status,
            json: text === '' ? undefined : (JSON.parse(text) as unknown),
          }
        },
      )
    },
    stop,
  }
}
