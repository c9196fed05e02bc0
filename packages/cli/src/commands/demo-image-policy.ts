/**
 * The image-policy part of `initguard demo`: the policy and its public key travel inline in the
 * initdata document's `cdh.toml`; once the document matches the TEE field, the guest decides
 * which images may run. Images are simulated in memory (no registry needed), signed by cosign
 * the way a release pipeline would.
 *
 * @module
 */
import { bytesToHex, isInitguardError } from '@initguard/core'
import {
  bindingFor,
  checkBinding,
  parseInitdata,
  renderInitdata,
  type InitdataDocument,
} from '@initguard/initdata'
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
} from '@initguard/tee-simulator'

const REPOSITORY = 'registry.example.internal/team/payments'

function cdhToml(publicKeyPemText: string): string {
  const policy = {
    default: [{ type: 'reject' }],
    transports: {
      docker: {
        'registry.example.internal/team': [
          {
            type: 'sigstoreSigned',
            keyData: Buffer.from(publicKeyPemText).toString('base64'),
            signedIdentity: { type: 'matchRepository' },
          },
        ],
      },
    },
  }
  return [
    '[kbc]',
    'name = "cc_kbc"',
    'url = "https://kbs.example.internal:8080"',
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

/** Run the image-policy steps; `say` prints a line. Returns false if anything unexpected happened. */
export async function demoImagePolicy(say: (text?: string) => void): Promise<boolean> {
  const releaseKey = generateSigstoreKeyPair('ecdsa-p256')
  const pem = new TextDecoder().decode(publicKeyPem(releaseKey.publicKey))
  const bytes = renderInitdata({ algorithm: 'sha384', data: { 'cdh.toml': cdhToml(pem) } })
  const document: InitdataDocument = parseInitdata(bytes)
  const mrconfigid = bindingFor('tdx', document.algorithm, document.digest).value
  checkBinding(document, 'tdx', mrconfigid)
  say(
    `a document whose cdh.toml carries the policy and the release key inline matches MRCONFIGID ${bytesToHex(mrconfigid).slice(0, 32)}…`,
  )
  const sources = cdhImageSources(document.data.get('cdh.toml') ?? '')
  if (sources.policy.kind !== 'inline') return false
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
      say(`${decision.accepted ? 'runs   ' : 'refused'}  ${image.name}`)
      if (!decision.accepted) say(`         ${decision.scope.field}: ${decision.reason}`)
      asExpected &&= decision.accepted === (index === 0)
    } catch (error) {
      if (!isInitguardError(error)) throw error
      say(`error: ${error.message}`)
      asExpected = false
    }
  }
  return asExpected
}
