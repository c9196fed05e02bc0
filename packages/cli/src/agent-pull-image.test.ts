/**
 * `initguard agent pull-image` with real parts: Debian's docker-registry behind a counting
 * loopback proxy, a real KBS holding the image policy and the cosign key as `kbs:///…` resources,
 * and simulated guests launched with `sim launch`. A signed image is pulled; an unsigned or wrongly
 * signed one is refused with DEST untouched; a document changed after launch is refused before any
 * registry request; a KBS that is down exits 6.
 */
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '@initguard/oci'
import {
  buildCosignSignature,
  generateSigstoreKeyPair,
  publicKeyPem,
} from '@initguard/tee-simulator'
import { kbsInitdataToml } from '../../agent/src/guest-api-test-support.ts'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../kbs/src/service/kbs-test-support.ts'
import { pushCosignAttachment } from '../../oci/src/cosign-test-support.ts'
import { pushTestImage, simpleTestImage } from '../../oci/src/oci-image-test-support.ts'
import { freePort, startRegistry, type TestRegistry } from '../../oci/src/registry-test-support.ts'
import { jsonError, runInProcess } from './cli-test-support.ts'

const POLICY_URI = 'kbs:///default/security-policy/test'
const KEY_URI = 'kbs:///default/cosign-key/release'
const releaseKey = generateSigstoreKeyPair('ecdsa-p256')
const otherKey = generateSigstoreKeyPair('ecdsa-p256')

/** Forwards to the registry and counts every request: "nothing fetched" is a number. */
interface CountingProxy {
  readonly host: string
  readonly requests: () => number
  readonly server: Server
}

async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [hostname, port] = target.split(':')
  let requests = 0
  const server = createServer((incoming, outgoing) => {
    requests++
    const upstream = request(
      { hostname, port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      },
    )
    upstream.on('error', () => outgoing.writeHead(502).end())
    incoming.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as AddressInfo
  return { host: `127.0.0.1:${String(own)}`, requests: () => requests, server }
}

let kbs: TestKbs
let registry: TestRegistry
let proxy: CountingProxy
let dir: string
/** A registry host nothing listens on, in the policy's scope. */
let downRegistry: string
/** Guest name → the document it was launched with, written to `<name>.toml`. */
const documents = new Map<string, string>()

const imageSection = (host: string, policy = `image_security_policy_uri = "${POLICY_URI}"`) =>
  `\n[image]\n${policy}\nsigstore_config = """\ndocker:\n  ${host}:\n    use-sigstore-attachments: true\n"""\n`

async function launch(name: string, document: string): Promise<string> {
  const path = join(dir, `${name}.toml`)
  await writeFile(path, document)
  const launched = await runInProcess([
    'sim',
    'launch',
    '--sim-dir',
    kbs.simulator.dir,
    '--tee',
    'snp',
    '--initdata',
    path,
    '--name',
    name,
  ])
  expect(launched.code, launched.stderr).toBe(0)
  documents.set(name, document)
  return path
}

async function push(name: string, sign: typeof releaseKey | undefined): Promise<string> {
  const client = new RegistryClient({ insecureRegistries: [proxy.host] })
  const repository = `${proxy.host}/apps/${name}`
  const image = simpleTestImage(`agent pull ${name}`)
  await pushTestImage(client, repository, 'v1', image)
  if (sign !== undefined) {
    const signature = buildCosignSignature({
      manifestDigest: image.manifestDigest,
      dockerReference: repository,
      keyPair: sign,
    })
    await pushCosignAttachment(client, repository, image.manifestDigest, [signature])
  }
  return `${repository}:v1`
}

beforeAll(async () => {
  ;[kbs, registry] = await Promise.all([startTestKbs(), startRegistry()])
  proxy = await startCountingProxy(registry.host)
  dir = await mkdtemp(join(tmpdir(), 'initguard-agent-pull-'))
  downRegistry = `127.0.0.1:${String(await freePort())}`
  const signedByRelease = [
    { type: 'sigstoreSigned', keyPath: KEY_URI, signedIdentity: { type: 'matchRepository' } },
  ]
  const policy = {
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        [`${proxy.host}/apps`]: signedByRelease,
        [`${downRegistry}/apps`]: signedByRelease,
      },
    },
  }
  const pem = new TextDecoder().decode(publicKeyPem(releaseKey.publicKey))
  const cert = kbs.kbs.tls?.certPem
  const honest = kbsInitdataToml(kbs.kbs.url, cert, 'honest', imageSection(proxy.host))
  const noPolicy = kbsInitdataToml(kbs.kbs.url, cert, 'none', '\n[image]\nwork_dir = "/run/i"\n')
  const down = `https://127.0.0.1:${String(await freePort())}`
  await launch('web', honest)
  await launch('no-policy', noPolicy)
  await launch('kbs-down', kbsInitdataToml(down, cert, 'down', imageSection(proxy.host)))
  const resources = ['default/security-policy/*', 'default/cosign-key/*']
  const workload = simulatorWorkload([honest, noPolicy], { resources })
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/security-policy/test', JSON.stringify(policy))).toBe(
    200,
  )
  expect(await uploadResource(kbs, 'default/cosign-key/release', pem)).toBe(200)
  await Promise.all([
    push('signed', releaseKey),
    push('unsigned', undefined),
    push('wrong', otherKey),
  ])
}, 120_000)

afterAll(async () => {
  proxy.server.closeAllConnections()
  await new Promise((resolve) => proxy.server.close(resolve))
  await Promise.all([kbs.stop(), registry.stop()])
  await rm(dir, { recursive: true, force: true })
})

/** `agent pull-image` in guest `name` with the document at `initdata`, into a fresh parent. */
async function pull(name: string, initdata: string, reference: string) {
  const parent = await mkdtemp(join(dir, `${name}-`))
  const dest = join(parent, 'rootfs')
  const before = proxy.requests()
  const run = await runInProcess([
    'agent',
    'pull-image',
    '--initdata',
    initdata,
    '--tee',
    'sim',
    '--sim-dir',
    kbs.simulator.dir,
    '--sim-guest',
    name,
    '--insecure-registry',
    proxy.host,
    '--json',
    reference,
    dest,
  ])
  return { ...run, parent, dest, registryRequests: proxy.requests() - before }
}

const guestDocument = (name: string): string => join(dir, `${name}.toml`)

describe('initguard agent pull-image', () => {
  it('a cosign-signed image, policy and key from the KBS: pulled and unpacked', async () => {
    const run = await pull('web', guestDocument('web'), `${proxy.host}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const report = JSON.parse(run.stdout) as Record<string, unknown>
    expect(report).toMatchObject({
      ok: true,
      policy: 'cdh.toml image.image_security_policy_uri',
      initdata: { verified: true, tee: 'snp', simulated: true },
      kbs: kbs.kbs.url,
      layers: 1,
    })
    expect(await readFile(join(run.dest, 'hello.txt'), 'utf8')).toBe('agent pull signed\n')
  }, 60_000)

  it.each([
    ['unsigned', 'A signature was required, but no signature exists'],
    ['wrong', 'the signature does not verify with the trusted key'],
  ])(
    'a %s image: exit 5, DEST untouched',
    async (name, reason) => {
      const run = await pull('web', guestDocument('web'), `${proxy.host}/apps/${name}:v1`)
      expect(run.code, run.stdout + run.stderr).toBe(5)
      const report = JSON.parse(run.stdout) as { ok: boolean; decision: { reason: string } }
      expect(report.ok).toBe(false)
      expect(report.decision.reason.toLowerCase()).toContain(reason.toLowerCase())
      expect(jsonError(run).code).toBe('ERR_IMAGE_POLICY_REJECTED')
      expect(await readdir(run.parent)).toEqual([])
    },
    60_000,
  )

  it('a document changed after launch: exit 5 before any registry request', async () => {
    const changed = join(dir, 'changed.toml')
    await writeFile(changed, `${documents.get('web') ?? ''}# changed after launch\n`)
    const run = await pull('web', changed, `${proxy.host}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(5)
    expect(jsonError(run).code).toBe('ERR_AGENT_INITDATA_MISMATCH')
    expect(run.registryRequests).toBe(0)
    expect(await readdir(run.parent)).toEqual([])
  }, 60_000)

  it('the KBS the document names is down: exit 6, nothing pulled', async () => {
    const run = await pull('kbs-down', guestDocument('kbs-down'), `${proxy.host}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(6)
    expect(jsonError(run).code).toBe('ERR_KBS_UNREACHABLE')
    expect(run.registryRequests).toBe(0)
    expect(await readdir(run.parent)).toEqual([])
  }, 60_000)

  it('the registry is unreachable: exit 6, nothing pulled', async () => {
    const run = await pull('web', guestDocument('web'), `${downRegistry}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(6)
    expect(jsonError(run).code).toMatch(/^ERR_REGISTRY_/)
    expect(await readdir(run.parent)).toEqual([])
  }, 60_000)

  it('no image policy in the verified cdh.toml: refused, never allow-all', async () => {
    const run = await pull('no-policy', guestDocument('no-policy'), `${proxy.host}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(5)
    expect(jsonError(run).code).toBe('ERR_IMAGE_POLICY_NONE')
    expect(run.registryRequests).toBe(0)
  }, 60_000)

  it.each([['--policy'], ['--registries-d'], ['--image-rs'], ['--at'], ['--expected']])(
    'the host cannot replace the verified policy: %s does not exist',
    async (option) => {
      const run = await runInProcess(['agent', 'pull-image', option, 'x', 'a/b:v1', 'dest'])
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`Unknown option '${option}'`)
    },
  )
})
