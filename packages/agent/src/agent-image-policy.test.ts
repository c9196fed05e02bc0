/**
 * The guest's image policy from the verified cdh.toml, with the policy and its cosign key stored
 * in a real KBS as `kbs:///…` resources and fetched through the agent's attested session; then a
 * real decision over a cosign signature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decideImagePolicy,
  manifestDigest,
  parseDockerImageReference,
} from '@initguard/image-policy'
import {
  buildCosignSignature,
  generateSigstoreKeyPair,
  publicKeyPem,
} from '@initguard/tee-simulator'
import { rejected, thrown } from '@initguard/testkit'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../kbs/src/service/kbs-test-support.ts'
import { kbsResourceResolver, loadGuestImagePolicy } from './agent-image-policy.ts'
import { launchGuest, verifyInitdata } from './agent-test-support.ts'
import { kbsInitdataToml } from './guest-api-test-support.ts'
import { openAgentKbs } from './kbs-access.ts'

const REPOSITORY = 'registry.example/team/app'
const KEY_URI = 'kbs:///default/app/cosign-key'
const releaseKey = generateSigstoreKeyPair('ecdsa-p256')
const releasePem = new TextDecoder().decode(publicKeyPem(releaseKey.publicKey))
let kbs: TestKbs
const DOCKER_CONFIG = JSON.stringify({
  auths: {
    'registry.example': { auth: Buffer.from('robot:s3cret').toString('base64') },
    // Namespace-scoped (containers-auth.json(5)): only for repositories under team/.
    'registry.example/team': { auth: Buffer.from('team-robot:t3am').toString('base64') },
  },
})
const WITH_REGISTRY = [
  'image_security_policy_uri = "kbs:///default/app/image-policy"',
  'authenticated_registry_credentials_uri = "kbs:///default/app/registry-auth"',
  'max_concurrent_layer_downloads_per_image = 7',
  '[[image.registry_config.registry]]',
  'location = "127.0.0.1:5000"',
  'insecure = true',
  '[[image.registry_config.registry]]',
  'prefix = "registry.example/blocked"',
  'blocked = true',
].join('\n')

const documentWith = (image: string): string =>
  kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'image policy', `\n[image]\n${image}\n`)

beforeAll(async () => {
  kbs = await startTestKbs()
  const policy = {
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'registry.example/team': [
          {
            type: 'sigstoreSigned',
            keyPath: KEY_URI,
            signedIdentity: { type: 'matchRepository' },
          },
        ],
      },
    },
  }
  const accepted = [
    documentWith('image_security_policy_uri = "kbs:///default/app/image-policy"'),
    documentWith('image_security_policy_uri = "kbs:///default/app/missing"'),
    documentWith(WITH_REGISTRY),
  ]
  const workload = simulatorWorkload(accepted)
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/image-policy', JSON.stringify(policy))).toBe(200)
  expect(await uploadResource(kbs, 'default/app/cosign-key', releasePem)).toBe(200)
  expect(await uploadResource(kbs, 'default/app/registry-auth', DOCKER_CONFIG)).toBe(200)
})

afterAll(async () => {
  await kbs.stop()
})

async function guestPolicy(image: string, fetched: string[] = []) {
  const document = documentWith(image)
  const tee = await launchGuest(kbs.simulator.dir, document)
  const initdata = await verifyInitdata(tee, document)
  const { access } = openAgentKbs({ initdata, tee })
  const resolve = kbsResourceResolver(access)
  return loadGuestImagePolicy({
    initdata,
    resolve: (uri) => {
      fetched.push(uri)
      return resolve(uri)
    },
  })
}

describe('the image policy inside the guest', () => {
  it('policy and key come from the KBS; a release signature is accepted, another key is not', async () => {
    const loaded = await guestPolicy(
      'image_security_policy_uri = "kbs:///default/app/image-policy"',
    )
    expect(loaded.source).toBe('cdh.toml image.image_security_policy_uri')
    expect(new TextDecoder().decode(loaded.kbsKeys.get(KEY_URI))).toBe(releasePem)
    const manifest = new TextEncoder().encode('{"schemaVersion":2,"annotations":{"v":"1"}}')
    const decide = (key: typeof releaseKey) =>
      decideImagePolicy(
        loaded.policy,
        {
          reference: parseDockerImageReference(`${REPOSITORY}:v1`),
          manifest,
          signatures: [
            {
              format: 'sigstore',
              source: 'test',
              mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
              signature: buildCosignSignature({
                manifestDigest: manifestDigest(manifest),
                dockerReference: REPOSITORY,
                keyPair: key,
              }),
            },
          ],
        },
        { now: new Date(), readKeyFile: loaded.readKeyFile },
      )
    expect((await decide(releaseKey)).accepted).toBe(true)
    expect((await decide(generateSigstoreKeyPair('ecdsa-p256'))).accepted).toBe(false)
  })

  it('a policy URI the KBS does not have: its 404, no policy', async () => {
    const error = await rejected(
      guestPolicy('image_security_policy_uri = "kbs:///default/app/missing"'),
    )
    expect(error.code).toBe('ERR_KBS_NOT_FOUND')
  })

  it('registry access comes from the same [image]: KBS credentials, downloads at once, blocked and insecure registries', async () => {
    const loaded = await guestPolicy(WITH_REGISTRY)
    const credentials = loaded.registry.credentials
    expect(credentials?.('registry.example', 'team/app')).toEqual({
      username: 'team-robot',
      password: 't3am',
    })
    expect(credentials?.('registry.example', 'other/app')).toEqual({
      username: 'robot',
      password: 's3cret',
    })
    expect(credentials?.('other.example', 'team/app')).toBeUndefined()
    // @ts-expect-error -- the repository is required: without it the team/ entry cannot be found
    expect(credentials?.('registry.example')).toEqual({ username: 'robot', password: 's3cret' })
    expect(loaded.registry.concurrency).toBe(7)
    expect(loaded.registry.insecureRegistries).toEqual(['127.0.0.1:5000'])
    expect(() => {
      loaded.registry.checkAllowed(`${REPOSITORY}:v1`)
    }).not.toThrow()
    const blocked = thrown(() => {
      loaded.registry.checkAllowed('registry.example/blocked/x:v1')
    })
    expect(blocked.code).toBe('ERR_AGENT_REGISTRY_BLOCKED')
  })

  it('without registry settings: anonymous, plain HTTP nowhere, 3 downloads at once', async () => {
    const loaded = await guestPolicy(
      'image_security_policy_uri = "kbs:///default/app/image-policy"',
    )
    expect(loaded.registry).toMatchObject({ credentials: undefined, concurrency: 3 })
    expect(loaded.registry.insecureRegistries).toEqual([])
  })

  it.each([
    ['extra_root_certificates = ["-----BEGIN CERTIFICATE-----"]', 'extra_root_certificates'],
    ['[image.image_pull_proxy]\nhttps_proxy = "http://proxy:3128"', 'image_pull_proxy'],
    ['registry_configuration_uri = "kbs:///default/app/registries"', 'registry_configuration_uri'],
    ['image_security_polcy = "{}"', 'image_security_polcy'],
  ])('an [image] key the agent does not implement is refused by name: %s', async (line, key) => {
    const error = await rejected(
      guestPolicy(`image_security_policy_uri = "kbs:///default/app/image-policy"\n${line}`),
    )
    expect(error.code).toBe('ERR_AGENT_IMAGE_KEY_UNSUPPORTED')
    expect(error.message).toContain(key)
    expect(error.details['field']).toBe(`image.${key}`)
  })

  it.each([
    ['prefix = "a.example"\nlocation = "b.example"', 'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED'],
    [
      'prefix = "registry.example/team/app:v1"\nblocked = true',
      'ERR_CDH_REGISTRY_CONFIG_UNSUPPORTED',
    ],
    ['prefix = "registry.example/team/"\nblocked = true', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix = "*.example/team"\nblocked = true', 'ERR_CDH_CONFIG_VALUE'],
    ['prefix = "https://registry.example/team"\nblocked = true', 'ERR_CDH_CONFIG_VALUE'],
  ])(
    'a registry_config rule that would redirect a pull, or block nothing, is refused: %s',
    async (entry, code) => {
      const error = await rejected(
        guestPolicy(`image_security_policy = "{}"\n[[image.registry_config.registry]]\n${entry}`),
      )
      expect(error.code).toBe(code)
      expect(String(error.details['field'])).toMatch(/^image\.registry_config\.registry\[0\]\./u)
    },
  )

  it.each([
    [
      `image_security_policy = '{"default":[{"type":"reject"}],"transports":{}}'\nimage_security_policy_uri = "kbs:///default/app/image-policy"`,
      'ERR_CDH_POLICY_AMBIGUOUS',
    ],
    [
      `image_security_policy_uri = "kbs:///default/app/image-policy"\nsigstore_config = "default-docker:\\n  sigstore: file:///var/lib/sigs\\n"\nsigstore_config_uri = "kbs:///default/app/sigstore"`,
      'ERR_CDH_SIGSTORE_CONFIG_AMBIGUOUS',
    ],
  ])(
    'an inline value and its URI both set is refused as ambiguous, nothing fetched: %s',
    async (image, code) => {
      const fetched: string[] = []
      const error = await rejected(guestPolicy(image, fetched))
      expect(error.code).toBe(code)
      expect(error.category).toBe('expectation')
      expect(error.hint).toContain('keep one')
      expect(fetched).toEqual([])
    },
  )

  it('a guest file the document names but the guest lacks: ERR_AGENT_POLICY_READ (exit 7)', async () => {
    const error = await rejected(
      guestPolicy('image_security_policy_uri = "file:///nonexistent/initguard/policy.json"'),
    )
    expect(error.code).toBe('ERR_AGENT_POLICY_READ')
    expect(error.category).toBe('io')
    expect(error.hint).toContain('kbs:///')
  })

  it('a KBS key the policy did not name: ERR_AGENT_POLICY_KEY_READ with a hint', async () => {
    const loaded = await guestPolicy(
      'image_security_policy_uri = "kbs:///default/app/image-policy"',
    )
    const error = thrown(() => loaded.readKeyFile('kbs:///default/app/other-key'))
    expect(error.code).toBe('ERR_AGENT_POLICY_KEY_READ')
    expect(error.hint).toBeTruthy()
  })

  it('no policy in cdh.toml: refused, never allow-all', async () => {
    const error = await rejected(guestPolicy('work_dir = "/run/image"'))
    expect(error.code).toBe('ERR_IMAGE_POLICY_NONE')
  })
})
