import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { UsageError } from '@initguard/core'
import { parseDockerImageReference } from './docker-reference.ts'
import { manifestDigest } from './manifest-digest.ts'
import { parseImagePolicy, type PolicyDialect } from './policy.ts'
import { decideImagePolicy, pathScopeCandidates, type ImageUnderPolicy } from './policy-decision.ts'
import type { ImageSignature } from './signature-requirements.ts'

const encoder = new TextEncoder()
const MANIFEST = encoder.encode(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}',
)
const LIST = encoder.encode('{"schemaVersion":2,"manifests":[]}')
const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const PEM = KEY.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const NOW = new Date('2026-11-29T00:00:00Z')

function cosign(
  identity: string,
  digest: string,
  mediaType = 'application/vnd.dev.cosign.simplesigning.v1+json',
): ImageSignature {
  const payload = encoder.encode(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': identity },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  )
  return {
    format: 'sigstore',
    source: 'test',
    mediaType,
    signature: {
      payload,
      annotations: new Map([
        [
          'dev.cosignproject.cosign/signature',
          sign('sha256', payload, KEY.privateKey).toString('base64'),
        ],
      ]),
    },
  }
}

function image(
  reference: string,
  signatures: readonly ImageSignature[] = [],
): ImageUnderPolicy & {
  reference: ReturnType<typeof parseDockerImageReference>
} {
  return {
    reference: parseDockerImageReference(reference),
    manifest: MANIFEST,
    listManifest: LIST,
    signatures,
  }
}

const noFiles = (path: string): Uint8Array => {
  throw new UsageError('ERR_TEST_NO_FILE', `no file ${path}`)
}

async function decide(
  policy: unknown,
  target: ReturnType<typeof image>,
  dialect: PolicyDialect = 'containers-image',
) {
  return decideImagePolicy(parseImagePolicy(JSON.stringify(policy), { dialect }), target, {
    now: NOW,
    readKeyFile: noFiles,
  })
}

const sigstore = (
  extra: Record<string, unknown> = {},
  dialect: PolicyDialect = 'containers-image',
) => ({
  type: 'sigstoreSigned',
  keyData: dialect === 'image-rs' ? PEM : Buffer.from(PEM).toString('base64'),
  ...extra,
})

describe('decideImagePolicy', () => {
  it('accepts only when every requirement accepts, and reports each', async () => {
    const decision = await decide(
      {
        default: [
          { type: 'insecureAcceptAnything' },
          { type: 'reject' },
          { type: 'insecureAcceptAnything' },
        ],
      },
      image('quay.io/org/app:v1'),
    )
    expect(decision.accepted).toBe(false)
    expect(decision.reason).toBe('Running image docker://quay.io/org/app:v1 is rejected by policy.')
    expect(decision.requirements.map((r) => [r.field, r.accepted])).toEqual([
      ['default[0]', true],
      ['default[1]', false],
      ['default[2]', true],
    ])
  })

  it('names the scope and what was tried before it', async () => {
    const decision = await decide(
      {
        default: [{ type: 'reject' }],
        transports: { docker: { 'quay.io': [{ type: 'insecureAcceptAnything' }] } },
      },
      image('quay.io/org/app:v1'),
    )
    expect(decision.accepted).toBe(true)
    expect(decision.scope.field).toBe('transports.docker["quay.io"]')
    expect(decision.scope.tried).toEqual(['quay.io/org/app:v1', 'quay.io/org/app', 'quay.io/org'])
  })

  it('refuses an unimplemented signedBy keyType with containers/image words', async () => {
    const decision = await decide(
      { default: [{ type: 'signedBy', keyType: 'X509Certificates', keyData: 'AA==' }] },
      image('quay.io/org/app:v1'),
    )
    expect(decision.reason).toMatch(/^Unimplemented "keyType" value "X509Certificates"/)
  })

  it('refuses a requirement whose key file cannot be read, with the reading error', async () => {
    const decision = await decide(
      { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/no/such' }] },
      image('a/b:c'),
    )
    expect(decision.accepted).toBe(false)
    expect(decision.requirements[0]?.code).toBe('ERR_TEST_NO_FILE')
  })

  it('counts other formats and non-signature attachments when no signature applies', async () => {
    const target = image('quay.io/org/app:v1', [
      { format: 'simpleSigning', source: 'x', blob: new Uint8Array([0xa3]) },
      cosign('quay.io/org/app', manifestDigest(MANIFEST), 'application/vnd.example+json'),
    ])
    const decision = await decide(
      { default: [sigstore({ signedIdentity: { type: 'matchRepository' } })] },
      target,
    )
    expect(decision.reason).toBe(
      'A signature was required, but no signature exists (1 non-sigstore signatures, 1 sigstore non-signature attachments)',
    )
  })

  it('checks the digest before the identity, as containers/image does', async () => {
    const decision = await decide(
      { default: [sigstore({ signedIdentity: { type: 'matchRepository' } })] },
      image('quay.io/org/app:v1', [cosign('quay.io/other/app', `sha256:${'0'.repeat(64)}`)]),
    )
    expect(decision.reason).toBe(`Signature for digest sha256:${'0'.repeat(64)} does not match`)
  })

  it('lists every reason when several signatures are refused', async () => {
    const decision = await decide(
      { default: [sigstore({ signedIdentity: { type: 'matchRepository' } })] },
      image('quay.io/org/app:v1', [
        cosign('quay.io/other/app', manifestDigest(MANIFEST)),
        cosign('quay.io/org/app', manifestDigest(LIST)),
      ]),
    )
    expect(decision.reason).toMatch(
      /^None of the signatures were accepted, reasons: Signature for identity .*; Signature for digest sha256:[0-9a-f]{64} does not match$/,
    )
    expect(decision.requirements[0]?.signatures.map((s) => s.code)).toEqual([
      'ERR_SIGNATURE_IDENTITY',
      'ERR_SIGNATURE_MANIFEST_DIGEST',
    ])
  })

  describe('the image-rs dialect', () => {
    const signed = image('quay.io/org/app:v1', [cosign('quay.io/org/app', manifestDigest(LIST))])
    it('accepts a cosign signature over the manifest list, which containers/image refuses', async () => {
      const rule = (dialect: PolicyDialect) => ({
        default: [sigstore({ signedIdentity: { type: 'matchRepository' } }, dialect)],
        transports: {},
      })
      expect((await decide(rule('image-rs'), signed, 'image-rs')).accepted).toBe(true)
      expect((await decide(rule('containers-image'), signed)).accepted).toBe(false)
    })
    it('skips the identity check when the policy gives none; containers/image applies its default', async () => {
      const other = image('quay.io/org/app:v1', [
        cosign('quay.io/elsewhere/x', manifestDigest(MANIFEST)),
      ])
      expect(
        (await decide({ default: [sigstore({}, 'image-rs')], transports: {} }, other, 'image-rs'))
          .accepted,
      ).toBe(true)
      expect((await decide({ default: [sigstore()] }, other)).accepted).toBe(false)
    })
    it('refuses when any signature names another image, though one verifies (containers/image accepts)', async () => {
      const mixed = image('quay.io/org/app:v1', [
        cosign('quay.io/org/app', manifestDigest(MANIFEST)),
        cosign('quay.io/org/app', `sha256:${'1'.repeat(64)}`),
      ])
      const rule = (dialect: PolicyDialect) => ({
        default: [sigstore({ signedIdentity: { type: 'matchRepository' } }, dialect)],
        transports: {},
      })
      const imageRs = await decide(rule('image-rs'), mixed, 'image-rs')
      expect(imageRs.accepted).toBe(false)
      expect(imageRs.reason).toMatch(/^image-rs requires every signature to name the image/)
      expect((await decide(rule('containers-image'), mixed)).accepted).toBe(true)
    })
    it('reads an empty requirement list as no requirement', async () => {
      const decision = await decide(
        { default: [{ type: 'reject' }], transports: { docker: { 'quay.io': [] } } },
        signed,
        'image-rs',
      )
      expect(decision.accepted).toBe(true)
      expect(decision.reason).toMatch(/empty list/)
    })
  })
})

describe('pathScopeCandidates', () => {
  it('lists the path and its parents, never "/"', () => {
    expect(pathScopeCandidates('/var/lib/images/app').map((c) => c.scope)).toEqual([
      '/var/lib/images/app',
      '/var/lib/images',
      '/var/lib',
      '/var',
    ])
  })
})

describe('the image name in refusals', () => {
  it.each([
    ['busybox', 'docker://busybox:latest'],
    [
      'docker.io/library/busybox@sha256:' + 'a'.repeat(64),
      `docker://busybox@sha256:${'a'.repeat(64)}`,
    ],
    ['library/a/b:1', 'docker://library/a/b:1'],
    ['org/app:v1', 'docker://org/app:v1'],
    ['localhost:5000/app:v1', 'docker://localhost:5000/app:v1'],
  ])('names %s as containers/image does (%s)', async (reference, name) => {
    const decision = await decide({ default: [{ type: 'reject' }] }, image(reference))
    expect(decision.reason).toBe(`Running image ${name} is rejected by policy.`)
  })
})
