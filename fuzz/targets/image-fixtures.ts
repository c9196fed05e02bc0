/**
 * containers/image's signature fixtures as images under a policy: four signed `dir:` images (GPG
 * simple signing, cosign with a key and a Rekor SET, cosign with Fulcio, cosign with a PKI) and a
 * policy that accepts each, as upstream's own tests state. Used by the policy and signature targets.
 *
 * @module
 */
import { LocalIoError } from '@initguard/core'
import {
  decideImagePolicy,
  decodeSignatureBlob,
  parseDockerImageReference,
  type DecisionContext,
  type ImagePolicy,
  type ImageSignature,
} from '@initguard/image-policy'
import { vector } from '../corpus.ts'

/** Upstream signs with a fixed clock; its PKI certificates are valid until 2052. */
export const FIXTURE_TIME = new Date('2026-11-29T00:00:00Z')

/** One signed fixture image: the directory, the reference it was signed for, the rule for it. */
export interface FixtureImage {
  readonly kind: 'gpg' | 'cosign-key' | 'cosign-fulcio' | 'cosign-pki'
  readonly dir: string
  readonly reference: string
  readonly rule: Record<string, unknown>
}

const repository = { type: 'matchRepository' }

export const FIXTURE_IMAGES: readonly FixtureImage[] = [
  {
    kind: 'gpg',
    dir: 'dir-img-valid',
    reference: 'testing/manifest:latest',
    rule: { type: 'signedBy', keyType: 'GPGKeys', keyPath: '/keys/public-key.gpg' },
  },
  {
    kind: 'cosign-key',
    dir: 'dir-img-cosign-key-rekor-valid',
    reference: '192.168.64.2:5000/cosign-signed/key-1',
    rule: {
      type: 'sigstoreSigned',
      keyPaths: ['/keys/cosign2.pub', '/keys/cosign.pub'],
      rekorPublicKeyPath: '/keys/rekor.pub',
      signedIdentity: repository,
    },
  },
  {
    kind: 'cosign-fulcio',
    dir: 'dir-img-cosign-fulcio-rekor-valid',
    reference: '192.168.64.2:5000/cosign-signed/fulcio-rekor-1',
    rule: {
      type: 'sigstoreSigned',
      fulcio: {
        caPath: '/keys/fulcio_v1.crt.pem',
        oidcIssuer: 'https://github.com/login/oauth',
        subjectEmail: 'mitr@redhat.com',
      },
      rekorPublicKeyPath: '/keys/rekor.pub',
      signedIdentity: repository,
    },
  },
  {
    kind: 'cosign-pki',
    dir: 'dir-img-cosign-pki-valid',
    reference: 'localhost:5000/test',
    rule: {
      type: 'sigstoreSigned',
      pki: {
        caRootsPath: '/keys/pki_root_crts.pem',
        caIntermediatesPath: '/keys/pki_intermediate_crts.pem',
        subjectEmail: 'qiwan@redhat.com',
        subjectHostname: 'myhost.example.com',
      },
      signedIdentity: repository,
    },
  },
]

/** A policy accepting each fixture image in its own scope, rejecting everything else. */
export function fixturePolicy(): string {
  const docker: Record<string, unknown[]> = {}
  // Scopes are fully expanded repository names: `testing/manifest` would match no image (the
  // image is docker.io/testing/manifest), and the policy would refuse it as a scope.
  for (const image of FIXTURE_IMAGES)
    docker[parseDockerImageReference(image.reference).name] = [image.rule]
  return JSON.stringify({ default: [{ type: 'reject' }], transports: { docker } })
}

const KEY_FILES = [
  'public-key.gpg',
  'cosign.pub',
  'cosign2.pub',
  'rekor.pub',
  'fulcio_v1.crt.pem',
  'pki_root_crts.pem',
  'pki_intermediate_crts.pem',
]

/** The decision context: `/keys/NAME` reads fixture NAME; anything else is a missing file. */
export async function fixtureContext(): Promise<DecisionContext> {
  const files = new Map<string, Uint8Array>()
  for (const name of KEY_FILES) files.set(`/keys/${name}`, await vector(`image-signatures/${name}`))
  return {
    now: FIXTURE_TIME,
    readKeyFile: (path) => {
      const bytes = files.get(path)
      if (bytes === undefined) throw new LocalIoError('ERR_FUZZ_NO_KEY_FILE', `no key file ${path}`)
      return bytes
    },
  }
}

/** A fixture image's manifest and first signature blob, as read from its directory. */
export async function fixtureFiles(
  image: FixtureImage,
): Promise<{ manifest: Uint8Array; signature: Uint8Array }> {
  return {
    manifest: await vector(`image-signatures/${image.dir}/manifest.json`),
    signature: await vector(`image-signatures/${image.dir}/signature-1`),
  }
}

/** Decide `image` (with `signatures`) under `policy`. */
export function decideFixture(
  policy: ImagePolicy,
  image: FixtureImage,
  manifest: Uint8Array,
  signatures: readonly ImageSignature[],
  context: DecisionContext,
): Promise<unknown> {
  return decideImagePolicy(
    policy,
    { reference: parseDockerImageReference(image.reference), manifest, signatures },
    context,
  )
}

/** The signature blob as `dir:` images hold it. */
export function signatureOf(blob: Uint8Array): ImageSignature {
  return decodeSignatureBlob(blob, 'fuzzed signature-1')
}
