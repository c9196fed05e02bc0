/**
 * The README's KBS walk-through, command for command: `sim init`, `kbs keygen`, `kbs serve` (the
 * real process, HTTPS with a generated certificate), `kbs admin … workload put` and
 * `resource put`, then `kbs get-resource` with the pinned certificate. A guest launched with
 * another init-data is refused (exit 5), and SIGTERM stops the server cleanly.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
} from '@initguard/tee-simulator'
import {
  KBS_WALKTHROUGH_INITDATA,
  jsonError,
  kbsKeygen,
  runInProcess,
  simInit,
  spawnKbsServe,
} from './cli-test-support.ts'

const DOCUMENT = KBS_WALKTHROUGH_INITDATA
const OTHER = DOCUMENT.replace('8443', '9443')
let dir: string
let server: ChildProcess
let url: string
let serverLog: () => string

const at = (name: string): string => join(dir, name)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-kbs-walk-'))
  await writeFile(at('initdata.toml'), DOCUMENT)
  await writeFile(at('other.toml'), OTHER)
  await writeFile(at('secret.txt'), 'hunter2 is not a password')
  await simInit(at('sim'))
  await kbsKeygen(at('admin'))
  const spawned = await spawnKbsServe([
    ...['--data-dir', at('kbs-data'), '--listen', '127.0.0.1:0'],
    ...['--admin-public-key', at('admin.pub'), '--trust-sim', at('sim')],
  ])
  server = spawned.server
  url = spawned.url
  serverLog = spawned.log
})

afterAll(async () => {
  if (server.exitCode === null) server.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

const admin = (...args: string[]): Promise<Awaited<ReturnType<typeof runInProcess>>> =>
  runInProcess([
    'kbs',
    'admin',
    '--url',
    url,
    '--ca',
    at('kbs-data/tls/kbs-cert.pem'),
    '--admin-key',
    at('admin.key'),
    ...args,
  ])

const getResource = (initdata: string): Promise<Awaited<ReturnType<typeof runInProcess>>> =>
  runInProcess([
    'kbs',
    'get-resource',
    '--url',
    url,
    '--pin',
    at('kbs-data/tls/kbs-cert.pem'),
    '--sim-dir',
    at('sim'),
    '--tee',
    'snp',
    '--initdata',
    initdata,
    '--path',
    'default/app/password',
  ])

describe('the KBS in five commands', () => {
  it('serves HTTPS with a generated certificate, prints its pin and warns about simulated trust', () => {
    expect(serverLog()).toMatch(/TLS SPKI pin \(SHA-256, base64\): [A-Za-z0-9+/]{43}=/)
    expect(serverLog()).toMatch(/SIMULATED TRUST/)
    // The first start made and migrated the database, and says so.
    expect(serverLog()).toMatch(
      /^database \S+kbs\.sqlite: migrated now \(001-initial, 002-workload-mac, .*, 006-signing-key-mac, 007-audit-prune-mark, 008-audit-commit-order\)$/m,
    )
  })

  it('puts a workload and a secret, and a guest launched with the document gets the secret', async () => {
    const put = await admin(
      'workload',
      'put',
      '--name',
      'app',
      '--tee',
      'snp',
      '--tee',
      'tdx',
      '--initdata',
      at('initdata.toml'),
      '--resource',
      'default/app/*',
      '--snp-measurement',
      SIMULATOR_SNP_MEASUREMENT_HEX,
      '--tdx-mrtd',
      SIMULATOR_TDX_MRTD_HEX,
      ...['--tdx-rtmr', `1=${SIMULATOR_TDX_RTMR_HEX}`, '--tdx-rtmr', `2=${SIMULATOR_TDX_RTMR_HEX}`],
    )
    expect(put.code, put.stdout + put.stderr).toBe(0)
    const secret = await admin(
      'resource',
      'put',
      '--path',
      'default/app/password',
      '--file',
      at('secret.txt'),
    )
    expect(secret.code, secret.stdout + secret.stderr).toBe(0)
    const fetched = await getResource(at('initdata.toml'))
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(fetched.stdoutBytes.toString()).toBe(await readFile(at('secret.txt'), 'utf8'))
  })

  it('a guest launched with another init-data is refused: exit 5, and the audit says why', async () => {
    const refused = await runInProcess([
      ...['kbs', 'get-resource', '--json', '--url', url, '--pin', at('kbs-data/tls/kbs-cert.pem')],
      ...['--sim-dir', at('sim'), '--tee', 'snp', '--initdata', at('other.toml')],
      ...['--path', 'default/app/password'],
    ])
    expect(refused.code).toBe(5)
    expect(jsonError(refused).code).toBe('ERR_KBS_FORBIDDEN')
    const audit = await admin('audit', '--json')
    expect(audit.code).toBe(0)
    expect(audit.stdout).toMatch(/ERR_KBS_NO_WORKLOAD/)
  })

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve))
    server.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
