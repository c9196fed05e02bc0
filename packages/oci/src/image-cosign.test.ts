/**
 * Cosign signatures in a real registry (Debian's docker-registry): attachments built by the test
 * with keys it generates, read because registries.d sets `use-sigstore-attachments`, accepted and
 * refused as the policy says. (Debian's skopeo has sigstore disabled, so it cannot be the oracle
 * here; the containers/image fixtures pin the same rules in image-policy's tests.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseImagePolicy, type PolicyDialect } from '@initguard/image-policy'
import {
  buildCosignSignature,
  cosignPayload,
  createFulcioTestPki,
  createRekorTestLog,
  generateSigstoreKeyPair,
  publicKeyPem,
  type CosignTestSignature,
  type SigstoreKeyAlgorithm,
} from '@initguard/tee-simulator'
import { pushCosignAttachment } from './cosign-test-support.ts'
import { checkImage } from './image-check.ts'
import { simpleTestImage, pushTestImage } from './oci-image-test-support.ts'
import { parseRegistriesD, type RegistriesDConfig } from './registries-d.ts'
import { RegistryClient } from './registry-client.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'

type KeyPair = ReturnType<typeof generateSigstoreKeyPair>
interface Keys {
  readonly keyPair: KeyPair
  readonly pem: string
}

function keys(type: SigstoreKeyAlgorithm): Keys {
  const keyPair = generateSigstoreKeyPair(type)
  return { keyPair, pem: new TextDecoder().decode(publicKeyPem(keyPair.publicKey)) }
}

let registry: TestRegistry
let client: RegistryClient
let attachments: RegistriesDConfig
let noAttachments: RegistriesDConfig
const k1 = keys('ecdsa-p256')
const k2 = keys('ecdsa-p256')
const rsa = keys('rsa')
const ed = keys('ed25519')
const rekor = createRekorTestLog()
const fulcio = createFulcioTestPki({
  notBefore: new Date('2025-01-01T00:00:00Z'),
  notAfter: new Date('2035-01-01T00:00:00Z'),
})
const SIGNED_AT = new Date('2026-06-01T12:00:00Z')
const ISSUER = 'https://issuer.example'
const EMAIL = 'release@example.com'

async function pushSigned(
  name: string,
  sign: (identity: string, digest: string) => CosignTestSignature[],
): Promise<void> {
  const image = simpleTestImage(`cosign ${name}`)
  const repository = `${registry.host}/cosign/${name}`
  await pushTestImage(client, repository, 'v1', image)
  const layers = sign(repository, image.manifestDigest)
  if (layers.length > 0)
    await pushCosignAttachment(client, repository, image.manifestDigest, layers)
}

const sign = (key: Keys, identity: string, digest: string): CosignTestSignature =>
  buildCosignSignature({ manifestDigest: digest, dockerReference: identity, keyPair: key.keyPair })

const flip = (text: string): string =>
  Buffer.from(Buffer.from(text, 'base64').map((b, i) => (i === 10 ? b ^ 1 : b))).toString('base64')

beforeAll(async () => {
  registry = await startRegistry()
  client = new RegistryClient({ insecureRegistries: [registry.host] })
  const section = (value: boolean): RegistriesDConfig =>
    parseRegistriesD([
      {
        name: 'test.yaml',
        text: `docker:\n  ${registry.host}:\n    use-sigstore-attachments: ${String(value)}\n`,
      },
    ])
  attachments = section(true)
  noAttachments = section(false)
  const signWith = (key: Keys) => (identity: string, digest: string) => [
    sign(key, identity, digest),
  ]
  await pushSigned('app', signWith(k1))
  await pushSigned('rsa', signWith(rsa))
  await pushSigned('ed', signWith(ed))
  await pushSigned('none', () => [])
  await pushSigned('tampered-payload', (identity, digest) => [
    { ...sign(k1, identity, digest), payload: cosignPayload(digest, `${identity}-evil`) },
  ])
  await pushSigned('tampered-signature', (identity, digest) => {
    const signature = sign(k1, identity, digest)
    const value = signature.annotations.get('dev.cosignproject.cosign/signature') ?? ''
    return [
      { ...signature, annotations: new Map([['dev.cosignproject.cosign/signature', flip(value)]]) },
    ]
  })
  await pushSigned('wrong-digest', (identity) => [sign(k1, identity, `sha256:${'0'.repeat(64)}`)])
  await pushSigned('bad-then-good', (identity, digest) => [
    sign(k2, identity, digest),
    sign(k1, identity, digest),
  ])
  await pushSigned('key-rekor', (identity, digest) => [
    buildCosignSignature({
      manifestDigest: digest,
      dockerReference: identity,
      keyPair: k1.keyPair,
      rekor: { log: rekor, integratedTime: SIGNED_AT },
    }),
  ])
  await pushSigned('fulcio', (identity, digest) => {
    const leaf = fulcio.issueLeaf({
      notBefore: new Date(SIGNED_AT.getTime() - 60_000),
      notAfter: new Date(SIGNED_AT.getTime() + 540_000),
      emails: [EMAIL],
      oidcIssuerV1: ISSUER,
    })
    return [
      buildCosignSignature({
        manifestDigest: digest,
        dockerReference: identity,
        keyPair: leaf.keyPair,
        certificate: { pem: leaf.pem, chainPem: fulcio.chainPem },
        rekor: { log: rekor, integratedTime: SIGNED_AT },
      }),
    ]
  })
}, 60_000)

afterAll(async () => {
  await registry.stop()
})

type Rule = Record<string, unknown>
const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString('base64')

async function decide(
  name: string,
  requirement: Rule,
  options: { dialect?: PolicyDialect; registriesD?: RegistriesDConfig } = {},
): Promise<{ accepted: boolean; reason: string }> {
  const policy = parseImagePolicy(
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { [`${registry.host}/cosign`]: [requirement] } },
    }),
    { dialect: options.dialect ?? 'containers-image' },
  )
  const checked = await checkImage(`${registry.host}/cosign/${name}:v1`, {
    policy,
    registriesD: options.registriesD ?? attachments,
    insecureRegistries: [registry.host],
    client,
  })
  return { accepted: checked.decision.accepted, reason: checked.decision.reason }
}

const byKey = (key: Keys, identity: Rule = { type: 'matchRepository' }): Rule => ({
  type: 'sigstoreSigned',
  keyData: b64(key.pem),
  signedIdentity: identity,
})

describe('cosign attachments in a registry', () => {
  it.each([
    ['ECDSA P-256', 'app', k1],
    ['RSA', 'rsa', rsa],
    ['Ed25519', 'ed', ed],
  ] as const)('accepts a %s signature by the policy key', async (_type, name, key) => {
    expect(await decide(name, byKey(key))).toEqual({
      accepted: true,
      reason: expect.stringMatching(/accepted by/) as string,
    })
  })

  it('accepts with any of several keys (keyDatas) and one good signature among bad ones', async () => {
    const rule = {
      type: 'sigstoreSigned',
      keyDatas: [b64(k2.pem), b64(k1.pem)],
      signedIdentity: { type: 'matchRepository' },
    }
    expect((await decide('app', rule)).accepted).toBe(true)
    expect((await decide('bad-then-good', byKey(k1))).accepted).toBe(true)
  })

  it.each([
    ['another key', 'app', byKey(k2), /verif|signature/i],
    [
      'the default identity (cosign signs repository-only identities)',
      'app',
      { type: 'sigstoreSigned', keyData: b64(k1.pem) },
      /Signature for identity .* is not accepted/,
    ],
    [
      'an exactRepository naming another repository',
      'app',
      byKey(k1, { type: 'exactRepository', dockerRepository: 'quay.io/other/app' }),
      /not accepted/,
    ],
    ['a payload changed after signing', 'tampered-payload', byKey(k1), /signature/i],
    ['a signature with a flipped bit', 'tampered-signature', byKey(k1), /signature/i],
    ['a signature for another manifest', 'wrong-digest', byKey(k1), /does not match/],
    ['an image without signatures', 'none', byKey(k1), /no signature exists/],
  ])('refuses %s', async (_what, name, rule, reason) => {
    const decision = await decide(name, rule)
    expect(decision.accepted).toBe(false)
    expect(decision.reason).toMatch(reason)
  })

  it('reads no attachments unless registries.d enables them', async () => {
    const decision = await decide('app', byKey(k1), { registriesD: noAttachments })
    expect(decision).toEqual({
      accepted: false,
      reason: 'A signature was required, but no signature exists',
    })
  })

  describe('Rekor and Fulcio, checked offline against the roots the policy gives', () => {
    const fulcioRule = (email = EMAIL, rekorKey: Uint8Array = rekor.publicKeyPem): Rule => ({
      type: 'sigstoreSigned',
      fulcio: { caData: b64(fulcio.caPem), oidcIssuer: ISSUER, subjectEmail: email },
      rekorPublicKeyData: b64(rekorKey),
      signedIdentity: { type: 'matchRepository' },
    })
    it('accepts a key signature logged in Rekor, and refuses it without a SET when one is required', async () => {
      const rule = { ...byKey(k1), rekorPublicKeyData: b64(rekor.publicKeyPem) }
      expect((await decide('key-rekor', rule)).accepted).toBe(true)
      const unlogged = await decide('app', rule)
      expect(unlogged.accepted).toBe(false)
      expect(unlogged.reason).toMatch(/bundle|SET|Rekor/i)
    })
    it('accepts a Fulcio certificate valid when Rekor logged it, though long expired now', async () => {
      expect(await decide('fulcio', fulcioRule())).toEqual({
        accepted: true,
        reason: expect.stringMatching(/accepted by/) as string,
      })
    })
    it.each([
      ['another email', fulcioRule('someone@example.com'), /does not name someone@example.com/],
      [
        'another Rekor key',
        fulcioRule(EMAIL, publicKeyPem(generateSigstoreKeyPair('ecdsa-p256').publicKey)),
        /rekor|SET/i,
      ],
    ])('refuses a Fulcio signature under %s', async (_what, rule, reason) => {
      const decision = await decide('fulcio', rule)
      expect(decision.accepted).toBe(false)
      expect(decision.reason).toMatch(reason)
    })
  })

  describe('multi-platform images', () => {
    it('reads the platform manifest attachment (containers/image) or the list attachment (image-rs)', async () => {
      const repository = `${registry.host}/cosign/multi`
      const images = (['amd64', 'arm64'] as const).map((architecture) =>
        simpleTestImage(`cosign multi ${architecture}`, {
          platform: { os: 'linux', architecture },
        }),
      )
      for (const image of images) await pushTestImage(client, repository, undefined, image)
      const index = new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: images.map((image, i) => ({
            mediaType: image.mediaType,
            digest: image.manifestDigest,
            size: image.manifest.length,
            platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
          })),
        }),
      )
      const indexDigest = await client.pushManifest(
        repository,
        'v1',
        index,
        'application/vnd.oci.image.index.v1+json',
      )
      // Signed the way `cosign sign repo:v1` signs a multi-platform tag: the index.
      await pushCosignAttachment(client, repository, indexDigest, [
        sign(k1, repository, indexDigest),
      ])
      expect((await decide('multi', byKey(k1))).reason).toBe(
        'A signature was required, but no signature exists',
      )
      const pem = {
        type: 'sigstoreSigned',
        keyData: k1.pem,
        signedIdentity: { type: 'matchRepository' },
      }
      expect((await decide('multi', pem, { dialect: 'image-rs' })).accepted).toBe(true)
    })
  })

  describe('image-rs dialect', () => {
    const pemRule = (key: Keys, identity?: Rule): Rule => ({
      type: 'sigstoreSigned',
      keyData: key.pem,
      ...(identity === undefined ? {} : { signedIdentity: identity }),
    })
    it('takes keyData as PEM text and skips the identity check when none is given', async () => {
      expect((await decide('app', pemRule(k1), { dialect: 'image-rs' })).accepted).toBe(true)
      expect((await decide('app', pemRule(k2), { dialect: 'image-rs' })).accepted).toBe(false)
    })
    it('denies identity rules other than matchRepository and exactRepository', async () => {
      const decision = await decide('app', pemRule(k1, { type: 'matchExact' }), {
        dialect: 'image-rs',
      })
      expect(decision.accepted).toBe(false)
      expect(decision.reason).toMatch(/image-rs allows only matchRepository/)
      expect(
        (await decide('app', pemRule(k1, { type: 'matchRepository' }), { dialect: 'image-rs' }))
          .accepted,
      ).toBe(true)
    })
  })
})
