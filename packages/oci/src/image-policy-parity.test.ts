/**
 * Parity with the real thing: Debian's docker-registry on loopback, images pushed and signed
 * with skopeo and GnuPG (lookaside store), and for every (policy, reference) case our decision
 * must equal `skopeo copy --policy` (exit 0 = accept), case by case.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseImagePolicy } from '@initguard/image-policy'
import { createGpgHome, type TestGpgHome, type TestGpgKey } from './gpg-test-support.ts'
import { runSkopeo, type SkopeoResult } from './skopeo-test-support.ts'
import { pushTestImage, simpleTestImage, writeOciLayout } from './oci-image-test-support.ts'
import { OCI_INDEX_MEDIA_TYPE, computeDigest } from './oci-manifest.ts'
import { RegistryClient } from './registry-client.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'
import { loadRegistriesD } from './registries-d.ts'
import { checkDirImage } from './dir-image.ts'
import { checkOciLayoutImage } from './oci-layout-image.ts'
import { checkImage } from './image-check.ts'
import { parityCases, type ParityFixture } from './parity-cases-test-support.ts'

let work: string
let registry: TestRegistry
let gpg: TestGpgHome
let keyA: TestGpgKey
let keyB: TestGpgKey
let fixture: ParityFixture

const skopeo = (args: readonly string[]): Promise<SkopeoResult> => runSkopeo(gpg.env, args)

async function push(tag: string, text: string, signBy?: TestGpgKey): Promise<void> {
  const layout = join(work, 'layouts', text)
  await writeOciLayout(layout, 'latest', simpleTestImage(text))
  const result = await skopeo([
    '--insecure-policy',
    '--registries.d',
    fixture.registriesD,
    'copy',
    '--dest-tls-verify=false',
    ...(signBy === undefined ? [] : ['--sign-by', signBy.fingerprint]),
    `oci:${layout}:latest`,
    `docker://${registry.host}/${tag}`,
  ])
  if (!result.ok) throw new Error(`skopeo push of ${tag} failed: ${result.stderr}`)
}

/** Copy within the registry, adding a signature (existing lookaside signatures are kept). */
async function copy(from: string, to: string, signBy?: TestGpgKey): Promise<void> {
  const result = await skopeo([
    '--insecure-policy',
    '--registries.d',
    fixture.registriesD,
    'copy',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    ...(signBy === undefined ? [] : ['--sign-by', signBy.fingerprint]),
    `docker://${registry.host}/${from}`,
    `docker://${registry.host}/${to}`,
  ])
  if (!result.ok) throw new Error(`skopeo copy ${from} → ${to} failed: ${result.stderr}`)
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'initguard-parity-'))
  registry = await startRegistry()
  gpg = await createGpgHome()
  ;[keyA, keyB] = [
    await gpg.generateKey('Signer A', 'ed25519'),
    await gpg.generateKey('Signer B', 'rsa2048'),
  ]
  const registriesD = join(work, 'registries.d')
  await mkdir(registriesD)
  const lookaside = `file://${join(work, 'lookaside')}`
  await writeFile(
    join(registriesD, 'local.yaml'),
    `docker:\n  ${registry.host}:\n    lookaside: ${lookaside}\n    lookaside-staging: ${lookaside}\n`,
  )
  const keys = join(work, 'keys')
  await mkdir(keys)
  const keyPath = (name: string): string => join(keys, name)
  await writeFile(keyPath('a.gpg'), keyA.publicKeyring)
  await writeFile(keyPath('b.gpg'), keyB.publicKeyring)
  await writeFile(keyPath('ab.gpg'), Buffer.concat([keyA.publicKeyring, keyB.publicKeyring]))
  fixture = { host: registry.host, registriesD, keyPath, keyA, keyB, digests: new Map() }

  await push('test/hello:v1', 'hello v1', keyA)
  await push('test/hello:v2', 'hello v2')
  await push('test/hello:v3', 'hello v3', keyB)
  await push('test/hello:v4', 'hello v4', keyA)
  await copy('test/hello:v4', 'test/hello:v4', keyB)
  await copy('test/hello:v1', 'test/hello:v9')
  await copy('test/hello:v1', 'mirror/hello:v1')
  await push('test/sub/deep:v1', 'deep v1', keyA)
  fixture.digests.set('test/hello:v1', simpleTestImage('hello v1').manifestDigest)
  await pushMultiArch('multi/app:v1', 'platform')
  await pushMultiArch('multi/app:v2', 'list')
}, 120_000)

/**
 * A two-platform image (an OCI index over linux/amd64 and linux/arm64) whose lookaside store has
 * one signature by A, written with `skopeo standalone-sign`: over the amd64 manifest, or over
 * the index itself.
 */
async function pushMultiArch(reference: string, signed: 'platform' | 'list'): Promise<void> {
  const client = new RegistryClient({ insecureRegistries: [registry.host] })
  const [path = '', tag = ''] = reference.split(':')
  const repository = `${registry.host}/${path}`
  const images = (['amd64', 'arm64'] as const).map((architecture) =>
    simpleTestImage(`${reference} ${architecture}`, { platform: { os: 'linux', architecture } }),
  )
  for (const image of images) await pushTestImage(client, repository, undefined, image)
  const index = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: images.map((image, i) => ({
        mediaType: image.mediaType,
        digest: image.manifestDigest,
        size: image.manifest.length,
        platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
      })),
    }),
  )
  await client.pushManifest(repository, tag, index, OCI_INDEX_MEDIA_TYPE)
  const manifest = signed === 'platform' ? (images[0]?.manifest ?? index) : index
  const digest = computeDigest(manifest)
  const file = join(work, `${signed}.manifest.json`)
  await writeFile(file, manifest)
  const store = join(work, 'lookaside', `${path}@${digest.replace(':', '=')}`)
  await mkdir(store, { recursive: true })
  const signedBy = await skopeo([
    'standalone-sign',
    file,
    `${registry.host}/${reference}`,
    keyA.fingerprint,
    '-o',
    join(store, 'signature-1'),
  ])
  if (!signedBy.ok) throw new Error(`skopeo standalone-sign failed: ${signedBy.stderr}`)
}

afterAll(async () => {
  await registry.stop()
  await gpg.remove()
  await rm(work, { recursive: true, force: true })
})

describe('policy decisions equal skopeo copy --policy', () => {
  const cases = parityCases()

  it('covers at least 30 cases with both outcomes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30)
  })

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const policyText = JSON.stringify(testCase.policy(fixture))
    const reference = `${fixture.host}/${testCase.reference(fixture)}`
    const policyFile = join(work, `policy-${cases.indexOf(testCase)}.json`)
    await writeFile(policyFile, policyText)
    const out = await mkdtemp(join(work, 'out-'))
    const oracle = await skopeo([
      '--policy',
      policyFile,
      '--registries.d',
      fixture.registriesD,
      'copy',
      '--src-tls-verify=false',
      `docker://${reference}`,
      `dir:${out}`,
    ])
    if (!oracle.ok)
      expect(oracle.stderr).toMatch(
        /rejected|not accepted|no signature|Unimplemented|does not match/i,
      )
    const ours = await checkImage(reference, {
      policy: parseImagePolicy(policyText),
      registriesD: await loadRegistriesD(fixture.registriesD),
      insecureRegistries: [fixture.host],
      now: new Date(),
    })
    expect({ accepted: ours.decision.accepted, reason: ours.decision.reason }).toMatchObject({
      accepted: oracle.ok,
    })
    expect(oracle.ok).toBe(testCase.expected === 'accept')
  })
})

/** Our decision for a local image equals `skopeo copy --policy` from it, and skopeo says `expected`. */
async function compareLocal(
  transport: 'dir' | 'oci',
  source: string,
  scopes: Record<string, unknown>,
  expected: boolean,
  decide: (policy: string) => Promise<{ readonly accepted: boolean }>,
): Promise<void> {
  const policyText = JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { [transport]: scopes },
  })
  const policyFile = join(await mkdtemp(join(work, `${transport}-policy-`)), 'policy.json')
  await writeFile(policyFile, policyText)
  const out = await mkdtemp(join(work, `${transport}-out-`))
  const oracle = await skopeo(['--policy', policyFile, 'copy', source, `dir:${out}`])
  expect((await decide(policyText)).accepted).toBe(oracle.ok)
  expect(oracle.ok).toBe(expected)
}

describe('dir: images, scoped by path, equal skopeo copy --policy', () => {
  let image: string
  beforeAll(async () => {
    image = join(work, 'dir-images', 'team', 'hello')
    await mkdir(dirname(image), { recursive: true })
    const copied = await skopeo([
      '--insecure-policy',
      '--registries.d',
      fixture.registriesD,
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/test/hello:v1`,
      `dir:${image}`,
    ])
    if (!copied.ok) throw new Error(`skopeo copy to dir: failed: ${copied.stderr}`)
  }, 60_000)

  const signedBy = (identity?: Record<string, unknown>): Record<string, unknown> => ({
    type: 'signedBy',
    keyType: 'GPGKeys',
    keyPath: fixture.keyPath('a.gpg'),
    ...(identity === undefined ? {} : { signedIdentity: identity }),
  })
  const cases: readonly (readonly [string, () => Record<string, unknown>, boolean])[] = [
    [
      'the image path scope with an exactReference identity',
      () => ({
        [image]: [
          signedBy({ type: 'exactReference', dockerReference: `${registry.host}/test/hello:v1` }),
        ],
      }),
      true,
    ],
    [
      'the default identity, which a dir: image cannot match',
      () => ({ [image]: [signedBy()] }),
      false,
    ],
    [
      'an exactRepository identity',
      () => ({
        [image]: [
          signedBy({ type: 'exactRepository', dockerRepository: `${registry.host}/test/hello` }),
        ],
      }),
      true,
    ],
    [
      'a parent directory scope',
      () => ({ [dirname(image)]: [{ type: 'insecureAcceptAnything' }] }),
      true,
    ],
    [
      'the nearest parent wins',
      () => ({
        [dirname(image)]: [{ type: 'reject' }],
        [dirname(dirname(image))]: [{ type: 'insecureAcceptAnything' }],
      }),
      false,
    ],
    ['the transport default', () => ({ '': [{ type: 'insecureAcceptAnything' }] }), true],
  ]

  it.each(cases)('%s', async (_name, scopes, expected) => {
    const decide = async (policy: string) =>
      (await checkDirImage(image, parseImagePolicy(policy))).decision
    await compareLocal('dir', `dir:${image}`, scopes(), expected, decide)
  })
})

describe('oci: layouts, scoped by their directory, equal skopeo copy --policy', () => {
  let layout: string
  beforeAll(async () => {
    layout = join(work, 'oci-images', 'team', 'hello')
    await mkdir(dirname(layout), { recursive: true })
    const copied = await skopeo([
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/test/hello:v1`,
      `oci:${layout}:v1`,
    ])
    if (!copied.ok) throw new Error(`skopeo copy to oci: failed: ${copied.stderr}`)
  }, 60_000)

  const cases: readonly (readonly [string, () => Record<string, unknown>, boolean])[] = [
    [
      'the layout directory scope',
      () => ({ [layout]: [{ type: 'insecureAcceptAnything' }] }),
      true,
    ],
    [
      'a parent directory scope',
      () => ({ [dirname(layout)]: [{ type: 'reject' }], '': [{ type: 'insecureAcceptAnything' }] }),
      false,
    ],
    [
      'a signature requirement (a layout has no signatures)',
      () => ({
        [layout]: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: fixture.keyPath('a.gpg') }],
      }),
      false,
    ],
  ]

  it.each(cases)('%s', async (_name, scopes, expected) => {
    const decide = async (policy: string) =>
      (await checkOciLayoutImage(`${layout}:v1`, parseImagePolicy(policy))).decision
    await compareLocal('oci', `oci:${layout}:v1`, scopes(), expected, decide)
  })
})
