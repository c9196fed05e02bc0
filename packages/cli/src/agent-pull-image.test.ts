/**
 * `initguard agent pull-image` with real parts: Debian's docker-registry behind a counting
 * loopback proxy, a real KBS holding the image policy and the cosign key as `kbs:///…` resources,
 * and simulated guests launched with `sim launch`. A signed image is pulled; an unsigned or wrongly
 * signed one is refused with DEST untouched; a document changed after launch is refused before any
 * registry request; a KBS that is down exits 6.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
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
import {
  interruptWhenHeld,
  stagingLeftIn,
  startHoldingProxy,
  type HoldingProxy,
} from './interrupted-pull-test-support.ts'

const POLICY_URI = 'kbs:///default/security-policy/test'
const KEY_URI = 'kbs:///default/cosign-key/release'
const releaseKey = generateSigstoreKeyPair('ecdsa-p256')
const otherKey = generateSigstoreKeyPair('ecdsa-p256')

const REGISTRY_USER = 'robot:s3cret'
const CREDENTIALS_URI = 'kbs:///default/credential/registry'

/**
 * Forwards to the registry and counts every request: "nothing fetched" is a number. The
 * repository `apps/private` needs Basic credentials ({@link REGISTRY_USER}). A blob download can
 * be held half-way (`hold`), to interrupt a pull mid-download.
 */
interface CountingProxy extends HoldingProxy {
  readonly requests: () => number
}

async function startCountingProxy(target: string): Promise<CountingProxy> {
  let requests = 0
  const expected = `Basic ${Buffer.from(REGISTRY_USER).toString('base64')}`
  const proxy = await startHoldingProxy(target, (incoming, outgoing) => {
    requests++
    if (
      incoming.url?.startsWith('/v2/apps/private/') !== true ||
      incoming.headers.authorization === expected
    )
      return false
    outgoing.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end()
    return true
  })
  return Object.assign(proxy, { requests: () => requests })
}

let kbs: TestKbs
let registry: TestRegistry
let proxy: CountingProxy
let dir: string
/** A registry host nothing listens on, in the policy's scope. */
let downRegistry: string
/** Guest name → the document it was launched with, written to `<name>.toml`. */
const documents = new Map<string, string>()

/** The policy from the KBS, attachments on `host`, and `host` reached over plain HTTP. */
const imageSection = (host: string, extra = '', registries = '') =>
  `\n[image]\nimage_security_policy_uri = "${POLICY_URI}"\n${extra}sigstore_config = """\ndocker:\n  ${host}:\n    use-sigstore-attachments: true\n"""\n[[image.registry_config.registry]]\nlocation = "${host}"\ninsecure = true\n${registries}`

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
  const [username = '', password = ''] = REGISTRY_USER.split(':')
  const client = new RegistryClient({
    insecureRegistries: [proxy.host],
    credentials: () => ({ username, password }),
  })
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
  const credentialsLine = `authenticated_registry_credentials_uri = "${CREDENTIALS_URI}"\n`
  const withCredentials = kbsInitdataToml(
    kbs.kbs.url,
    cert,
    'credentials',
    imageSection(proxy.host, credentialsLine),
  )
  const blockedEntry = `[[image.registry_config.registry]]\nprefix = "${proxy.host}/apps/signed"\nblocked = true\n`
  const blocking = kbsInitdataToml(
    kbs.kbs.url,
    cert,
    'blocking',
    imageSection(proxy.host, '', blockedEntry),
  )
  const proxyLine = 'image_pull_proxy = { https_proxy = "http://127.0.0.1:3128" }\n'
  const unsupported = kbsInitdataToml(
    kbs.kbs.url,
    cert,
    'unsupported',
    imageSection(proxy.host, proxyLine),
  )
  await launch('with-credentials', withCredentials)
  await launch('blocking', blocking)
  await launch('unsupported', unsupported)
  const resources = ['default/security-policy/*', 'default/cosign-key/*', 'default/credential/*']
  const accepted = [honest, noPolicy, withCredentials, blocking, unsupported]
  const workload = simulatorWorkload(accepted, { resources })
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/security-policy/test', JSON.stringify(policy))).toBe(
    200,
  )
  expect(await uploadResource(kbs, 'default/cosign-key/release', pem)).toBe(200)
  expect(await uploadResource(kbs, 'default/credential/registry', dockerConfig())).toBe(200)
  await Promise.all([
    push('private', releaseKey),
    push('signed', releaseKey),
    push('unsigned', undefined),
    push('wrong', otherKey),
  ])
}, 120_000)

afterAll(async () => {
  await proxy.stop()
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
    '--json',
    reference,
    dest,
  ])
  return { ...run, parent, dest, registryRequests: proxy.requests() - before }
}

const guestDocument = (name: string): string => join(dir, `${name}.toml`)

/**
 * A docker config.json with the private repository's credentials in a namespace-scoped entry
 * (`host/apps`), beside a registry-wide entry the registry does not accept: a pull that dropped the
 * repository from the credentials lookup would send the registry-wide one and be refused (401).
 */
const dockerConfig = (): string =>
  JSON.stringify({
    auths: {
      [`${proxy.host}/apps`]: { auth: Buffer.from(REGISTRY_USER).toString('base64') },
      [proxy.host]: { auth: Buffer.from('robot:not-this-one').toString('base64') },
    },
  })

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

  it('two pulls racing for the same empty DEST: one pulls, the other exits 2 (ERR_PULL_DEST_NOT_EMPTY), nothing mixed', async () => {
    const parent = await mkdtemp(join(dir, 'race-'))
    const dest = join(parent, 'rootfs')
    await mkdir(dest)
    const args = [
      ...['agent', 'pull-image', '--initdata', guestDocument('web'), '--tee', 'sim'],
      ...['--sim-dir', kbs.simulator.dir, '--sim-guest', 'web', '--json'],
      ...[`${proxy.host}/apps/signed:v1`, dest],
    ]
    // Whichever order they check and finish in, the outcome is the same: the first rename wins
    // (the exact interleaving is pinned down in packages/oci's image-pull test).
    const runs = await Promise.all([runInProcess(args), runInProcess(args)])
    expect(runs.map((r) => r.code).sort(), runs.map((r) => r.stdout + r.stderr).join('\n')).toEqual(
      [0, 2],
    )
    const loser = runs.find((r) => r.code === 2)
    expect(loser === undefined ? undefined : jsonError(loser).code).toBe('ERR_PULL_DEST_NOT_EMPTY')
    expect(await readdir(dest)).toEqual(['hello.txt'])
    expect(await readFile(join(dest, 'hello.txt'), 'utf8')).toBe('agent pull signed\n')
    expect(await readdir(parent)).toEqual(['rootfs'])
  }, 60_000)

  it('Ctrl-C mid-download (a real child process): exit 130, nothing half-written left', async () => {
    const parent = await mkdtemp(join(dir, 'interrupted-'))
    const dest = join(parent, 'rootfs')
    const hold = proxy.hold(simpleTestImage('agent pull signed').layerDescriptor.digest)
    const args = [
      ...['agent', 'pull-image', '--initdata', guestDocument('web'), '--tee', 'sim'],
      ...['--sim-dir', kbs.simulator.dir, '--sim-guest', 'web'],
      ...[`${proxy.host}/apps/signed:v1`, dest],
    ]
    try {
      const run = await interruptWhenHeld(args, hold, 'SIGINT', dir)
      expect(run, run.stderr).toMatchObject({ code: 130, signal: null })
      expect(run.stderr).toContain('code: ERR_PULL_INTERRUPTED')
      expect(await readdir(parent)).toEqual([])
      expect(stagingLeftIn(parent)).toEqual([])
      expect(await readdir(run.tmp)).toEqual([])
    } finally {
      proxy.release()
    }
  }, 60_000)

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

  it('registry credentials from the KBS, as the verified cdh.toml names them: pulled with the namespace-scoped entry', async () => {
    const run = await pull(
      'with-credentials',
      guestDocument('with-credentials'),
      `${proxy.host}/apps/private:v1`,
    )
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(await readFile(join(run.dest, 'hello.txt'), 'utf8')).toBe('agent pull private\n')
  }, 60_000)

  it("the host's docker config is never used: without credentials in cdh.toml, refused", async () => {
    const config = await mkdtemp(join(dir, 'docker-config-'))
    await writeFile(join(config, 'config.json'), dockerConfig())
    const previous = process.env['DOCKER_CONFIG']
    process.env['DOCKER_CONFIG'] = config
    try {
      const run = await pull('web', guestDocument('web'), `${proxy.host}/apps/private:v1`)
      expect(run.code, run.stdout + run.stderr).toBe(5)
      expect(jsonError(run).code).toBe('ERR_REGISTRY_UNAUTHORIZED')
      expect(await readdir(run.parent)).toEqual([])
    } finally {
      if (previous === undefined) delete process.env['DOCKER_CONFIG']
      else process.env['DOCKER_CONFIG'] = previous
    }
  }, 60_000)

  it('a registry the verified registry_config blocks: exit 5 before any registry request', async () => {
    const run = await pull('blocking', guestDocument('blocking'), `${proxy.host}/apps/signed:v1`)
    expect(run.code, run.stdout + run.stderr).toBe(5)
    expect(jsonError(run).code).toBe('ERR_AGENT_REGISTRY_BLOCKED')
    expect(run.registryRequests).toBe(0)
    expect(await readdir(run.parent)).toEqual([])
  }, 60_000)

  it('an [image] key the agent does not implement: exit 5 naming it, nothing fetched', async () => {
    const run = await pull(
      'unsupported',
      guestDocument('unsupported'),
      `${proxy.host}/apps/signed:v1`,
    )
    expect(run.code, run.stdout + run.stderr).toBe(5)
    expect(jsonError(run).code).toBe('ERR_AGENT_IMAGE_KEY_UNSUPPORTED')
    expect(jsonError(run).message).toContain('image_pull_proxy')
    expect(run.registryRequests).toBe(0)
  }, 60_000)

  it.each([
    ['--policy'],
    ['--registries-d'],
    ['--image-rs'],
    ['--at'],
    ['--expected'],
    ['--insecure-registry'],
    ['--authfile'],
    ['--concurrency'],
  ])(
    'the host cannot replace or weaken the verified [image]: %s does not exist',
    async (option) => {
      const run = await runInProcess(['agent', 'pull-image', option, 'x', 'a/b:v1', 'dest'])
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`Unknown option '${option}'`)
    },
  )
})
