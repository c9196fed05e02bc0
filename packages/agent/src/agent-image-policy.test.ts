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
import { rejected } from '@initguard/testkit'
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
  ]
  const workload = simulatorWorkload(accepted)
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/image-policy', JSON.stringify(policy))).toBe(200)
  expect(await uploadResource(kbs, 'default/app/cosign-key', releasePem)).toBe(200)
})

afterAll(async () => {
  await kbs.stop()
})

async function guestPolicy(image: string) {
  const document = documentWith(image)
  const tee = await launchGuest(kbs.simulator.dir, document)
  const initdata = await verifyInitdata(tee, document)
  const { access } = openAgentKbs({ initdata, tee })
  return loadGuestImagePolicy({ initdata, resolve: kbsResourceResolver(access) })
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

  it('no policy in cdh.toml: refused, never allow-all', async () => {
    const error = await rejected(guestPolicy('work_dir = "/run/image"'))
    expect(error.code).toBe('ERR_IMAGE_POLICY_NONE')
  })
})
