/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, the server on
 * 127.0.0.1 on a free port with its own unix socket directory, a test role that logs in over TCP
 * with a password (SCRAM), and everything removed on `stop()`.
 *
 * `initdb` and `postgres` refuse to run as root; when this process is root they run as the
 * `postgres` OS user (Debian's package creates it) through `runuser`, with the directory theirs.
 * Without PostgreSQL installed this throws (tests fail, never skip): run `scripts/setup-system.sh`.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chown, mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './free-port.ts'

const run = promisify(execFile)

/** The role tests log in as (a superuser of the throwaway cluster). */
export const POSTGRES_TEST_ROLE = 'initguard'

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** A running throwaway cluster. */
export interface PostgresCluster {
  /** The TCP port on 127.0.0.1. */
  readonly port: number
  /** The role's password (also inside every {@link PostgresCluster.url}). */
  readonly password: string
  /** The directory of the server's Unix socket (`.s.PGSQL.PORT`); local connections are trusted. */
  readonly socketDir: string
  /** `postgres://initguard:PASSWORD@127.0.0.1:PORT/DATABASE` (default database `postgres`). */
  url(database?: string): string
  /** Create an empty database (`[a-z_][a-z0-9_]*`) and return its URL. */
  createDatabase(name: string): Promise<string>
  /** Stop the server, keeping the data (fast shutdown: open connections are ended). */
  stopServer(): Promise<void>
  /** Start the stopped server again on the same port with the same data. */
  startServer(): Promise<void>
  /** Stop the server and remove the cluster's directory. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Options of {@link startPostgresCluster}. */
export interface PostgresClusterOptions {
  /**
   * `throwaway` (default, for tests): no fsync at all, so an OS crash may corrupt the cluster.
   * `crash-safe` (for benchmarks): fsync and full-page writes on, commits not waited for
   * (`synchronous_commit = off`): a crash may lose the last fraction of a second of commits but
   * never corrupts or reorders them, the same promise as the KBS's SQLite (WAL, `synchronous =
   * NORMAL`), so the two are compared on equal terms.
   */
  readonly durability?: 'throwaway' | 'crash-safe'
  /**
   * Serve TLS (`ssl = on`) with this certificate chain and its private key (PEM), written into
   * the cluster's directory (the key mode 0600, both owned by the server's OS user, as PostgreSQL
   * demands). Clients may still connect without TLS unless they ask for it (`sslmode`). Default:
   * no TLS, the server refuses a client's TLS request.
   */
  readonly tls?: { readonly certPem: string; readonly keyPem: string }
}

/**
 * Create and start a cluster. Call `stop()` when done (for example in `afterAll`).
 *
 * @throws Error naming `scripts/setup-system.sh` when PostgreSQL is not installed, or with the
 *   server's log when it does not start.
 */
export async function startPostgresCluster(
  clusterOptions: PostgresClusterOptions = {},
): Promise<PostgresCluster> {
  const bin = await postgresBinDir()
  const asPostgres = process.geteuid?.() === 0
  const base = await mkdtemp(join(tmpdir(), 'initguard-pg-'))
  const data = join(base, 'data')
  const sockets = join(base, 'sockets')
  const log = join(base, 'server.log')
  const password = randomBytes(16).toString('hex')
  const exec = (tool: string, args: readonly string[]) => {
    const file = join(bin, tool)
    return asPostgres
      ? run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: base, timeout: 60_000 })
      : run(file, [...args], { cwd: base, timeout: 60_000 })
  }
  let port = 0
  let running = false
  const startServer = async (): Promise<void> => {
    if (running) return
    const options = [
      `-p ${String(port)}`,
      `-k ${sockets}`,
      ...(clusterOptions.tls === undefined ? [] : [tlsSettings(base)]),
      "-c listen_addresses='127.0.0.1'",
      // Durability is not what the tests measure, speed is welcome; a benchmark asks for more.
      // A benchmark's cluster keeps PostgreSQL's default buffer pool (128 MB), as a deployment
      // would; 16 MB keeps the tests' many throwaway clusters light.
      clusterOptions.durability === 'crash-safe'
        ? '-c fsync=on -c synchronous_commit=off -c full_page_writes=on -c shared_buffers=128MB'
        : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB',
      '-c max_connections=200',
    ].join(' ')
    try {
      await exec('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '60', 'start'])
    } catch (error) {
      throw new Error(`the test PostgreSQL did not start: ${await serverLog(log)}`, {
        cause: error,
      })
    }
    running = true
  }
  const stopServer = async (): Promise<void> => {
    if (!running) return
    await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'])
    running = false
  }
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    try {
      await stopServer()
    } finally {
      await rm(base, { recursive: true, force: true })
    }
  }
  try {
    await mkdir(sockets, { mode: 0o700 })
    await writeFile(join(base, 'pwfile'), `${password}\n`, { mode: 0o600 })
    if (clusterOptions.tls !== undefined) await writeTlsFiles(base, clusterOptions.tls)
    if (asPostgres) await chownTree(base, 'postgres')
    await exec('initdb', [
      '-D',
      data,
      '-U',
      POSTGRES_TEST_ROLE,
      `--pwfile=${join(base, 'pwfile')}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ])
    // A free port can be taken between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      try {
        await startServer()
        break
      } catch (error) {
        if (attempt >= 3) throw error
      }
    }
  } catch (error) {
    await stop().catch(() => undefined)
    throw error
  }
  const url = (database = 'postgres'): string =>
    `postgres://${POSTGRES_TEST_ROLE}:${password}@127.0.0.1:${String(port)}/${database}`
  return {
    port,
    password,
    socketDir: sockets,
    url,
    async createDatabase(name: string): Promise<string> {
      if (!DATABASE_NAME.test(name)) throw new Error(`"${name}" is not a test database name`)
      // Over the unix socket (trust for local connections), as any OS user.
      await run(
        join(bin, 'psql'),
        ['-h', sockets, '-p', String(port), '-U', POSTGRES_TEST_ROLE, '-d', 'postgres'].concat([
          '-v',
          'ON_ERROR_STOP=1',
          '-c',
          `CREATE DATABASE ${name}`,
        ]),
        { timeout: 60_000 },
      )
      return url(name)
    },
    stopServer,
    startServer,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/**
 * The directory of PostgreSQL's server binaries: where `initdb` on PATH really lives, else the
 * highest `/usr/lib/postgresql/N/bin` (Debian does not put them on PATH).
 */
export async function postgresBinDir(): Promise<string> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, 'initdb')
    if (dir !== '' && existsSync(candidate)) return join(await realpath(candidate), '..')
  }
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? (await readdir(root))
        .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const newest = versions[0]
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL is not installed (no initdb on PATH nor in /usr/lib/postgresql/*/bin): run scripts/setup-system.sh (it installs Debian’s postgresql package)',
    )
  }
  return join(root, newest, 'bin')
}

const TLS_CERT_FILE = 'server.crt'
const TLS_KEY_FILE = 'server.key'

/** Before the ownership pass over the cluster's directory, which makes them the server's. */
async function writeTlsFiles(
  base: string,
  tls: NonNullable<PostgresClusterOptions['tls']>,
): Promise<void> {
  await writeFile(join(base, TLS_CERT_FILE), tls.certPem, { mode: 0o644 })
  // The server refuses a key that group or others may read.
  await writeFile(join(base, TLS_KEY_FILE), tls.keyPem, { mode: 0o600 })
}

/** `postgres` options serving TLS with the files {@link writeTlsFiles} wrote. */
function tlsSettings(base: string): string {
  return [
    '-c ssl=on',
    `-c ssl_cert_file='${join(base, TLS_CERT_FILE)}'`,
    `-c ssl_key_file='${join(base, TLS_KEY_FILE)}'`,
  ].join(' ')
}

async function chownTree(path: string, user: string): Promise<void> {
  const { stdout } = await run('id', ['-u', user])
  const { stdout: group } = await run('id', ['-g', user])
  const uid = Number(stdout.trim())
  const gid = Number(group.trim())
  const walk = async (at: string): Promise<void> => {
    await chown(at, uid, gid)
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(at, entry.name))
      else await chown(join(at, entry.name), uid, gid)
    }
  }
  await walk(path)
}

async function serverLog(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  return readFile(path, 'utf8').then(
    (text) => text.slice(-2000),
    () => '(no server log)',
  )
}
