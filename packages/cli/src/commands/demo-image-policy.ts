/**
 * The image-policy part of `initguard demo`: the policy and the release key travel inline in the
 * initdata document's `cdh.toml`, beside the KBS the guest talks to; inside the guest, the
 * verified `cdh.toml` decides which images may run. Images are simulated in memory (no registry
 * needed), signed by cosign the way a release pipeline would.
 *
 * @module
 */
import { isInitguardError } from '@initguard/core'
import {
  cdhImageSources,
  decideImagePolicy,
  manifestDigest,
  parseDockerImageReference,
  parseImagePolicy,
  type ImageSignature,
} from '@initguard/image-policy'
import {
  buildCosignSignature,
  generateSigstoreKeyPair,
  publicKeyPem,
  type TestKeyPair,
} from '@initguard/tee-simulator'
import type { Narrative } from './demo-narrative.ts'

const REPOSITORY = 'registry.example.internal/team/payments'

/** A new release signing key (what the team's pipeline signs images with). */
export function newReleaseKey(): TestKeyPair {
  return generateSigstoreKeyPair('ecdsa-p256')
}

/**
 * A `cdh.toml` naming the KBS (its URL and the certificate pinned for it) and carrying the image
 * policy inline: images under the team's registry scope must be signed by `releaseKey`.
 */
export function demoCdhToml(
  kbs: { readonly url: string; readonly certificatePem: string },
  releaseKey: TestKeyPair,
): string {
  const pem = new TextDecoder().decode(publicKeyPem(releaseKey.publicKey))
  const policy = {
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'registry.example.internal/team': [
          {
            type: 'sigstoreSigned',
            keyData: Buffer.from(pem).toString('base64'),
            signedIdentity: { type: 'matchRepository' },
          },
        ],
      },
    },
  }
  return [
    '[kbc]',
    'name = "cc_kbc"',
    `url = "${kbs.url}"`,
    `kbs_cert = '''\n${kbs.certificatePem.trim()}\n'''`,
    '',
    '[image]',
    `image_security_policy = '${JSON.stringify(policy)}'`,
    '',
  ].join('\n')
}

function manifest(label: string): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      annotations: { label },
    }),
  )
}

/**
 * Decide four images with the policy in `cdhToml` (the guest's verified `cdh.toml`): the release
 * runs; an image signed by another key, a manifest swapped after signing and an image outside the
 * team's scope are refused. One result line each; false if a decision went the wrong way.
 */
export async function demoImagePolicy(
  story: Narrative,
  cdhToml: string,
  releaseKey: TestKeyPair,
): Promise<boolean> {
  const sources = cdhImageSources(cdhToml)
  if (sources.policy.kind !== 'inline') {
    story.fail(`cdh.toml carries no inline image policy (${sources.policy.kind})`)
    return false
  }
  const policy = parseImagePolicy(sources.policy.bytes)
  const release = manifest('v1.4.2')
  const signature = (digest: string, key = releaseKey): ImageSignature => ({
    format: 'sigstore',
    source: 'sha256-….sig attachment',
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    signature: buildCosignSignature({
      manifestDigest: digest,
      dockerReference: REPOSITORY,
      keyPair: key,
    }),
  })
  const cases = [
    {
      name: `${REPOSITORY}:v1.4.2, signed by the release key`,
      ref: `${REPOSITORY}:v1.4.2`,
      manifest: release,
      signatures: [signature(manifestDigest(release))],
    },
    {
      name: `${REPOSITORY}:v1.4.3, signed by someone else's key`,
      ref: `${REPOSITORY}:v1.4.3`,
      manifest: manifest('v1.4.3'),
      signatures: [
        signature(manifestDigest(manifest('v1.4.3')), generateSigstoreKeyPair('ecdsa-p256')),
      ],
    },
    {
      name: `${REPOSITORY}:v1.4.2 with its manifest swapped after signing`,
      ref: `${REPOSITORY}:v1.4.2`,
      manifest: manifest('swapped'),
      signatures: [signature(manifestDigest(release))],
    },
    {
      name: 'docker.io/library/busybox:latest (outside the team scope)',
      ref: 'busybox',
      manifest: manifest('busybox'),
      signatures: [],
    },
  ]
  let asExpected = true
  for (const [index, image] of cases.entries()) {
    try {
      const decision = await decideImagePolicy(
        policy,
        {
          reference: parseDockerImageReference(image.ref),
          manifest: image.manifest,
          signatures: image.signatures,
        },
        { now: new Date(), readKeyFile: () => new Uint8Array() },
      )
      const expected = decision.accepted === (index === 0)
      story.check(expected, `${decision.accepted ? 'runs:   ' : 'refused:'} ${image.name}`)
      if (!decision.accepted) story.detail(`${decision.scope.field}: ${decision.reason}`)
      asExpected &&= expected
    } catch (error) {
      if (!isInitguardError(error)) throw error
      story.fail(`${image.name}: ${error.message} (${error.code})`)
      asExpected = false
    }
  }
  return asExpected
}
