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
import { gzipSync } from 'node:zlib'
import { computeDigest, type Descriptor, type Platform } from './oci-manifest.ts'
import type { RegistryClient } from './registry-client.ts'
import { tarArchive } from './tar-test-support.ts'

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

/** A deterministic one-layer test image, not yet pushed. */
export interface TestImage {
  readonly layer: Uint8Array
  readonly config: Uint8Array
  readonly manifest: Uint8Array
  readonly manifestDigest: string
  readonly layerDescriptor: Descriptor
  readonly configDescriptor: Descriptor
  readonly mediaType: string
}

/** Build a test image whose one layer holds `hello.txt` with `content`. */
export function buildTestImage(
  content: string,
  platform: Platform = { os: 'linux', architecture: 'amd64' },
  flavour: 'oci' | 'docker' = 'oci',
): TestImage {
  const tar = tarArchive({ name: 'hello.txt', data: content })
  // gzip with mtime 0 and no name, so the same content always gives the same digest.
  const layer = new Uint8Array(gzipSync(tar))
  const config = new TextEncoder().encode(
    JSON.stringify({
      ...platform,
      config: {},
      rootfs: { type: 'layers', diff_ids: [computeDigest(tar)] },
    }),
  )
  const oci = flavour === 'oci'
  const layerDescriptor: Descriptor = {
    mediaType: oci
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    digest: computeDigest(layer),
    size: layer.length,
  }
  const configDescriptor: Descriptor = {
    mediaType: oci
      ? 'application/vnd.oci.image.config.v1+json'
      : 'application/vnd.docker.container.image.v1+json',
    digest: computeDigest(config),
    size: config.length,
  }
  const mediaType = oci
    ? 'application/vnd.oci.image.manifest.v1+json'
    : 'application/vnd.docker.distribution.manifest.v2+json'
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: configDescriptor,
      layers: [layerDescriptor],
    }),
  )
  return {
    layer,
    config,
    manifest,
    manifestDigest: computeDigest(manifest),
    layerDescriptor,
    configDescriptor,
    mediaType,
  }
}

/** Push a test image's blobs and manifest under `tag` (or its digest when `tag` is undefined). */
export async function pushTestImage(
  client: RegistryClient,
  repository: string,
  image: TestImage,
  tag?: string,
): Promise<string> {
  await client.pushBlob(repository, image.layer, image.layerDescriptor.mediaType)
  await client.pushBlob(repository, image.config, image.configDescriptor.mediaType)
  return client.pushManifest(
    repository,
    tag ?? image.manifestDigest,
    image.manifest,
    image.mediaType,
  )
}
