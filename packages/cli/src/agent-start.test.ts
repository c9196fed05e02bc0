/**
 * `initguard agent start` as the real process: a real KBS on loopback HTTPS trusting the
 * simulator, guests launched with `sim launch`, and the agent in each. The honest guest serves the
 * secret over loopback and its 0600 socket and stops cleanly on SIGTERM (socket removed); a
 * document changed after launch exits 5 with nothing written or served.
 */
import { spawn } from 'node:child_process'
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

/** Start the agent; resolves with its ready line, or with its exit code if it ends first. */
function startAgent(initdata: string, extra: string[]) {
  const child = spawn(process.execPath, [
    BIN,
    'agent',
    'start',
    '--initdata',
    initdata,
    '--tee',
    'sim',
    '--sim-dir',
    kbs.simulator.dir,
    '--sim-guest',
    'web',
    '--listen',
    '127.0.0.1:0',
    ...extra,
  ])
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
