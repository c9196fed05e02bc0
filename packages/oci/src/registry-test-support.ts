/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
 * port, with its own configuration (no auth, storage in a temporary directory, deletes enabled).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  readonly host: string
  /** The temporary directory holding the configuration and the storage. */
  readonly root: string
  stop(): Promise<void>
}

const REGISTRY_BINARY = '/usr/bin/docker-registry'
const running = new Set<ChildProcess>()
let exitHookInstalled = false

/** A port nothing listens on right now (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Start a registry and wait until `GET /v2/` answers. */
export async function startRegistry(): Promise<TestRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'initguard-registry-'))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const config = join(root, 'config.yml')
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error}',
      'storage:',
      `  filesystem: {rootdirectory: ${JSON.stringify(join(root, 'storage'))}}`,
      '  delete: {enabled: true}',
      `http: {addr: ${JSON.stringify(host)}}`,
      '',
    ].join('\n'),
  )
  const child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  running.add(child)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // A test run that dies early must not leave registries behind.
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL')
    })
  }
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve()
    }),
  )
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    running.delete(child)
    await rm(root, { recursive: true, force: true })
  }
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break
    try {
      const response = await fetch(`http://${host}/v2/`)
      await response.body?.cancel()
      if (response.status === 200) return { host, root, stop }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error(`docker-registry did not start on ${host}: ${stderr}`)
}
