/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8, found on PATH) on a free loopback
 * port, with its own configuration (no auth, storage in a temporary directory, deletes enabled).
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commandOnPath, spawnServer } from '@initguard/testkit'

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  readonly host: string
  /** The temporary directory holding the configuration and the storage. */
  readonly root: string
  stop(): Promise<void>
}

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

/**
 * Start a registry and wait until `GET /v2/` answers.
 *
 * @throws Error naming `scripts/setup-system.sh` at once when docker-registry is not on PATH or not
 *   executable; with its output (or the spawn error) when it does not start.
 */
export async function startRegistry(): Promise<TestRegistry> {
  const binary = commandOnPath('docker-registry', 'docker-registry')
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
  const server = spawnServer(binary, ['serve', config])
  const stop = async (): Promise<void> => {
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
  for (let i = 0; i < 200 && server.alive(); i++) {
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
  throw new Error(`docker-registry did not start on ${host}: ${server.why()}`)
}
