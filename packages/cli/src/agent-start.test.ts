/**
 * `initguard agent start` as the real process: a real KBS on loopback HTTPS trusting the
 * simulator, guests launched with `sim launch`, and the agent in each. The honest guest serves the
 * secret over loopback and its 0600 socket, stops cleanly on SIGTERM (socket removed) and starts
 * again over the runtime directory it wrote; a
 * document changed after launch exits 5 with nothing written or served. The KBS unreachable: the
 * documents are served at once. A plain-http KBS named by the document: served, with the warning.
 * A KBS whose certificate a CA the process trusts (NODE_EXTRA_CA_CERTS) issued, but not the pinned
 * one: refused, also with NODE_TLS_REJECT_UNAUTHORIZED=0. `--listen none`: the socket alone.
 */
import { spawn } from 'node:child_process'
import { createServer as createHttpsServer } from 'node:https'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { get, kbsInitdataToml } from '../../agent/src/guest-api-test-support.ts'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../kbs/src/service/kbs-test-support.ts'
import { closedPort, loopbackCertificate } from '../../http/src/http-test-support.ts'
import { runInProcess } from './cli-test-support.ts'

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))
const SECRET = 'correct horse battery staple'
let kbs: TestKbs
let dir: string
let honest: string

beforeAll(async () => {
  kbs = await startTestKbs()
  dir = await mkdtemp(join(tmpdir(), 'initguard-agent-start-'))
  honest = join(dir, 'initdata.toml')
  const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'honest')
  await writeFile(honest, document)
  const workload = simulatorWorkload([document])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/password', SECRET)).toBe(200)
  const launch = ['sim', 'launch', '--sim-dir', kbs.simulator.dir, '--tee', 'snp']
  expect((await runInProcess([...launch, '--initdata', honest, '--name', 'web'])).code).toBe(0)
}, 120_000)

afterAll(async () => {
  await kbs.stop()
  await rm(dir, { recursive: true, force: true })
})

/** Launch the simulated guest `name` with `document` (in `simDir`); the document's path. */
async function launched(
  name: string,
  document: string,
  simDir = kbs.simulator.dir,
): Promise<string> {
  const path = join(dir, `${name}.toml`)
  await writeFile(path, document)
  const launch = ['sim', 'launch', '--sim-dir', simDir, '--tee', 'snp', '--name', name]
  expect((await runInProcess([...launch, '--initdata', path])).code).toBe(0)
  return path
}

interface AgentOptions {
  readonly guest?: string
  readonly simDir?: string
  readonly env?: Readonly<Record<string, string>>
  /** `--listen`; default `127.0.0.1:0`. */
  readonly listen?: string
}

/** Start the agent; resolves with its ready line, or with its exit code if it ends first. */
function startAgent(initdata: string, extra: string[], options: AgentOptions = {}) {
  const args = ['agent', 'start', '--initdata', initdata, '--tee', 'sim']
  const child = spawn(
    process.execPath,
    [
      BIN,
      ...args,
      '--sim-dir',
      options.simDir ?? kbs.simulator.dir,
      '--sim-guest',
      options.guest ?? 'web',
      '--listen',
      options.listen ?? '127.0.0.1:0',
      ...extra,
    ],
    { env: { ...process.env, ...options.env } },
  )
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const ready = new Promise<{ ready: string } | { code: number | null }>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('\n')) resolve({ ready: stdout })
    })
    void exited.then((code) => {
      resolve({ code })
    })
  })
  return { child, ready, exited, stderr: () => stderr }
}

describe('initguard agent start', () => {
  it('the honest guest: ready line, the secret over loopback and the socket, clean stop', async () => {
    const socket = join(dir, 'agent.sock')
    const runtime = join(dir, 'run')
    const agent = startAgent(honest, ['--socket', socket, '--runtime-dir', runtime])
    const started = await agent.ready
    if (!('ready' in started))
      throw new Error(`agent exited ${String(started.code)}: ${agent.stderr()}`)
    const match = /^initguard agent ready: (http:\/\/127\.0\.0\.1:\d+) socket (.+)\n$/.exec(
      started.ready,
    )
    expect(match?.[2]).toBe(socket)
    const base = match?.[1] ?? ''
    expect((await stat(socket)).mode & 0o777).toBe(0o600)
    const secret = await get({ base }, '/cdh/resource/default/app/password')
    expect([secret.status, secret.body.toString('utf8')]).toEqual([200, SECRET])
    const viaSocket = await get({ socket }, '/initdata/aa.toml')
    expect(viaSocket.status).toBe(200)
    expect(agent.stderr()).toMatch(/simulator/)
    agent.child.kill('SIGTERM')
    expect(await agent.exited).toBe(0)
    await expect(stat(socket)).rejects.toThrow(/ENOENT/)
    // Restarted (a supervisor's restart): it takes the runtime directory it wrote and serves again.
    const again = startAgent(honest, ['--socket', socket, '--runtime-dir', runtime])
    const restarted = await again.ready
    if (!('ready' in restarted))
      throw new Error(`the restarted agent exited ${String(restarted.code)}: ${again.stderr()}`)
    expect((await get({ socket }, '/initdata/aa.toml')).status).toBe(200)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  }, 60_000)

  it('--listen none: the socket alone, for its owner; without --socket, exit 2 before anything', async () => {
    const socket = join(dir, 'only.sock')
    const agent = startAgent(honest, ['--socket', socket], { listen: 'none' })
    const started = await agent.ready
    if (!('ready' in started))
      throw new Error(`agent exited ${String(started.code)}: ${agent.stderr()}`)
    expect(started.ready).toBe(`initguard agent ready: socket ${socket}\n`)
    const secret = await get({ socket }, '/cdh/resource/default/app/password')
    expect([secret.status, secret.body.toString('utf8')]).toEqual([200, SECRET])
    agent.child.kill('SIGTERM')
    expect(await agent.exited).toBe(0)
    const runtime = join(dir, 'nowhere-run')
    const nowhere = startAgent(honest, ['--runtime-dir', runtime], { listen: 'none' })
    expect(await nowhere.ready).toEqual({ code: 2 })
    expect(nowhere.stderr()).toMatch(/code: ERR_AGENT_LISTEN_NONE/)
    await expect(readdir(runtime)).rejects.toThrow(/ENOENT/)
  }, 60_000)

  it('a document changed after launch: exit 5, nothing written, nothing served', async () => {
    const tampered = join(dir, 'tampered.toml')
    const document = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'tampered')
    await writeFile(tampered, document)
    const socket = join(dir, 'tampered.sock')
    const runtime = join(dir, 'tampered-run')
    const agent = startAgent(tampered, ['--socket', socket, '--runtime-dir', runtime])
    expect(await agent.ready).toEqual({ code: 5 })
    expect(agent.stderr()).toMatch(/code: ERR_AGENT_INITDATA_MISMATCH/)
    await expect(stat(socket)).rejects.toThrow(/ENOENT/)
    await expect(readdir(runtime)).rejects.toThrow(/ENOENT/)
  }, 60_000)
})

/** The base URL of a started agent's ready line (text or `--json`). */
async function baseOf(agent: ReturnType<typeof startAgent>): Promise<string> {
  const started = await agent.ready
  if (!('ready' in started))
    throw new Error(`agent exited ${String(started.code)}: ${agent.stderr()}`)
  const line = started.ready.trim()
  if (line.startsWith('{')) return (JSON.parse(line) as { url: string }).url
  return /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? ''
}

describe('initguard agent start and its KBS', () => {
  it('the KBS unreachable: the documents are served at once, KBS paths answer 503', async () => {
    const url = `https://127.0.0.1:${await closedPort()}`
    const path = await launched('down', kbsInitdataToml(url, kbs.kbs.tls?.certPem, 'down'))
    const agent = startAgent(path, [], { guest: 'down' })
    const base = await baseOf(agent)
    const document = await get({ base }, '/initdata/aa.toml')
    expect([document.status, document.body.toString('utf8')]).toEqual([
      200,
      expect.stringContaining(url),
    ])
    const secret = await get({ base }, '/cdh/resource/default/app/password')
    expect([secret.status, secret.json()['code']]).toEqual([503, 'ERR_KBS_UNREACHABLE'])
    agent.child.kill('SIGTERM')
    expect(await agent.exited).toBe(0)
  }, 60_000)

  it('a plain-http KBS the document names: served, with a warning on stderr and in --json', async () => {
    const plain = await startTestKbs({ insecureHttp: true })
    try {
      const document = kbsInitdataToml(plain.kbs.url, undefined, 'plain http')
      expect(plain.kbs.url).toMatch(/^http:\/\//)
      const workload = simulatorWorkload([document])
      expect((await plain.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(
        200,
      )
      expect(await uploadResource(plain, 'default/app/password', SECRET)).toBe(200)
      const path = await launched('plain', document, plain.simulator.dir)
      const agent = startAgent(path, ['--json'], { guest: 'plain', simDir: plain.simulator.dir })
      const base = await baseOf(agent)
      const started = (await agent.ready) as { ready: string }
      const ready = JSON.parse(started.ready) as { warnings: string[] }
      expect(ready.warnings).toContainEqual(expect.stringMatching(/plain http.*forge/))
      expect(agent.stderr()).toMatch(/warning: the KBS http:\/\/.* is plain http/)
      const secret = await get({ base }, '/cdh/resource/default/app/password')
      expect([secret.status, secret.body.toString('utf8')]).toEqual([200, SECRET])
      agent.child.kill('SIGTERM')
      expect(await agent.exited).toBe(0)
    } finally {
      await plain.stop()
    }
  }, 60_000)

  it('a KBS with a certificate from a CA the process trusts, but not the pinned one: refused', async () => {
    const ca = loopbackCertificate({ ca: true, commonName: 'a CA the guest trusts' })
    const caFile = join(dir, 'trusted-ca.pem')
    await writeFile(caFile, ca.cert)
    const issued = loopbackCertificate({ issuer: ca })
    let asked = 0
    const impostor = createHttpsServer({ cert: issued.cert, key: issued.key }, (_req, res) => {
      asked++
      res.writeHead(500).end()
    })
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = impostor.address() as { port: number }
      const url = `https://127.0.0.1:${port}`
      const path = await launched(
        'impostor',
        kbsInitdataToml(url, kbs.kbs.tls?.certPem, 'impostor'),
      )
      // Nor does NODE_TLS_REJECT_UNAUTHORIZED=0, which Node reads when nothing sets the option.
      for (const env of [
        { NODE_EXTRA_CA_CERTS: caFile },
        { NODE_EXTRA_CA_CERTS: caFile, NODE_TLS_REJECT_UNAUTHORIZED: '0' },
      ]) {
        const agent = startAgent(path, [], { guest: 'impostor', env })
        const base = await baseOf(agent)
        const secret = await get({ base }, '/cdh/resource/default/app/password')
        expect([secret.status, secret.json()['code']]).toEqual([502, 'ERR_KBS_TLS'])
        expect(secret.json()['message']).toMatch(/did not present the certificate pinned/)
        expect(asked).toBe(0)
        agent.child.kill('SIGTERM')
        expect(await agent.exited).toBe(0)
      }
    } finally {
      impostor.close()
    }
  }, 60_000)
})
