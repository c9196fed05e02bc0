/**
 * containers/image's own signature fixtures (testdata/vectors/image-signatures)
 * give the outcomes its tests give (`signature/policy_eval_sigstore_test.go`,
 * `policy_eval_signedby_test.go`), decided end to end: `dir:` image read, policy requirement,
 * signature verification, identity and digest rules.
 *
 * Upstream keeps many fixture files as symbolic links; the copy in ../shared has them as small
 * files holding the link target (`../dir-img-valid/signature-1`), which {@link materialise}
 * resolves. That copy lacks the GPG public keys, `rekor.pub`, the Fulcio/PKI roots and some link
 * targets; the cases that need them are listed in {@link NEEDS_MISSING_MATERIAL}, and a test
 * checks the material really is missing (so they are enabled once it arrives).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  decideScope,
  parseDockerImageReference,
  parseImagePolicy,
  type PolicyDecision,
} from '@initguard/image-policy'
import { readDirImage } from './dir-image.ts'

const FIXTURES = fileURLToPath(
  new URL('../../../testdata/vectors/image-signatures/', import.meta.url),
)
const fixture = (name: string): string => `${FIXTURES}${name}`
const COSIGN_PUB = fixture('cosign.pub')
const COSIGN2_PUB = fixture('cosign2.pub')
const keyData = (path: string): string => readFileSync(path).toString('base64')
// Upstream signs these with a fixed clock far in the past; keys have no expiry.
const NOW = new Date('2026-11-29T00:00:00Z')

type Requirement = Record<string, unknown>

/** A git symbolic link stored as a file: its content is the relative target path. */
function linkTarget(path: string): string | undefined {
  const text = readFileSync(path).subarray(0, 300).toString('latin1')
  return /^\.\.\/[\w./-]+$/.test(text) ? normalize(join(dirname(path), text)) : undefined
}

/** Copy a fixture directory with its links resolved; the targets that are missing, if any. */
function materialise(dir: string): { path: string; missing: string[] } {
  const source = fixture(dir)
  const copy = mkdtempSync(join(tmpdir(), 'initguard-fixture-'))
  const missing: string[] = []
  for (const name of existsSync(source) ? readdirSync(source) : []) {
    const target = linkTarget(join(source, name)) ?? join(source, name)
    if (existsSync(target)) writeFileSync(join(copy, name), readFileSync(target))
    else missing.push(target.slice(FIXTURES.length))
  }
  return { path: copy, missing }
}

/**
 * What containers/image decides for `requirement` over the `dir:` image `dir` claiming
 * `reference`. An image that cannot be read (no manifest) is refused, as `isRunningImageAllowed`
 * refuses it with the read error.
 */
async function decide(
  dir: string,
  reference: string,
  requirement: Requirement,
): Promise<PolicyDecision | string> {
  const policy = parseImagePolicy(JSON.stringify({ default: [requirement] }))
  const { path, missing } = materialise(dir)
  if (missing.length > 0)
    throw new Error(`${dir} needs ${missing.join(', ')}, which ../shared lacks`)
  let image
  try {
    image = await readDirImage(path)
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
  const scope = {
    transport: 'docker',
    kind: 'default' as const,
    scope: undefined,
    field: 'default',
    requirements: policy.default,
    tried: [],
  }
  return decideScope(
    scope,
    {
      reference: parseDockerImageReference(reference),
      manifest: image.manifest,
      signatures: image.signatures,
    },
    'containers-image',
    { now: NOW, readKeyFile: (path) => new Uint8Array(readFileSync(path)) },
  )
}

const accepted = (outcome: PolicyDecision | string): boolean =>
  typeof outcome !== 'string' && outcome.accepted

const SIGNED_SAMPLE = '192.168.64.2:5000/cosign-signed-single-sample'
const repository = { type: 'matchRepository' }
const sigstore = (keys: Requirement, signedIdentity: Requirement = repository): Requirement => ({
  type: 'sigstoreSigned',
  ...keys,
  signedIdentity,
})

describe('sigstoreSigned over the containers/image fixtures', () => {
  it.each([
    ['keyPath', { keyPath: COSIGN_PUB }],
    ['keyPaths (cosign, cosign2)', { keyPaths: [COSIGN_PUB, COSIGN2_PUB] }],
    ['keyPaths (cosign2, cosign)', { keyPaths: [COSIGN2_PUB, COSIGN_PUB] }],
    ['keyData', { keyData: keyData(COSIGN_PUB) }],
    ['keyDatas (cosign, cosign2)', { keyDatas: [keyData(COSIGN_PUB), keyData(COSIGN2_PUB)] }],
    ['keyDatas (cosign2, cosign)', { keyDatas: [keyData(COSIGN2_PUB), keyData(COSIGN_PUB)] }],
  ])('accepts dir-img-cosign-valid with %s', async (_how, keys) => {
    expect(accepted(await decide('dir-img-cosign-valid', SIGNED_SAMPLE, sigstore(keys)))).toBe(true)
  })

  it.each([
    [
      'two valid signatures',
      'dir-img-cosign-valid-2',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN_PUB }),
    ],
    [
      'a skopeo signature with a matching tag under matchExact',
      'dir-img-cosign-valid-with-tag',
      '192.168.64.2:5000/skopeo-signed:tag',
      sigstore({ keyPath: COSIGN_PUB }, { type: 'matchExact' }),
    ],
    [
      'a key-signed signature without the Rekor requirement',
      'dir-img-cosign-key-rekor-valid',
      '192.168.64.2:5000/cosign-signed/key-1',
      sigstore({ keyPath: COSIGN2_PUB }),
    ],
  ])('accepts %s', async (_what, dir, reference, requirement) => {
    const outcome = await decide(dir, reference, requirement)
    expect(accepted(outcome), JSON.stringify(outcome)).toBe(true)
  })

  it.each([
    [
      'a key that did not sign',
      'dir-img-cosign-valid',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN2_PUB }),
      /signature/i,
    ],
    [
      'an identity the rule does not accept',
      'dir-img-cosign-valid',
      SIGNED_SAMPLE,
      sigstore(
        { keyPath: COSIGN_PUB },
        { type: 'exactReference', dockerReference: 'this/does-not:match' },
      ),
      /is not accepted/,
    ],
    [
      'a missing manifest',
      'dir-img-cosign-no-manifest',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN_PUB }),
      /ERR_DIR_IMAGE_MANIFEST/,
    ],
    [
      'a modified manifest',
      'dir-img-cosign-modified-manifest',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN_PUB }),
      /does not match/,
    ],
    [
      'a non-matching tag under matchExact',
      'dir-img-cosign-valid-with-tag',
      '192.168.64.2:5000/skopeo-signed:othertag',
      sigstore({ keyPath: COSIGN_PUB }, { type: 'matchExact' }),
      /is not accepted/,
    ],
    [
      'a cosign (repository-only) signature under matchExact',
      'dir-img-cosign-valid',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN_PUB }, { type: 'matchExact' }),
      /is not accepted/,
    ],
    [
      'an image with only a non-signature attachment',
      'dir-img-cosign-other-attachment',
      'testing/manifest:latest',
      sigstore({ keyPath: COSIGN_PUB }),
      /no signature exists \(0 non-sigstore signatures, 1 sigstore non-signature attachments\)/,
    ],
    [
      'a signature for another repository',
      'dir-img-cosign-valid',
      'testing/manifest:notlatest',
      sigstore({ keyPath: COSIGN_PUB }),
      /is not accepted/,
    ],
    [
      'two signatures for another repository',
      'dir-img-cosign-valid-2',
      'this/does-not:match',
      sigstore({ keyPath: COSIGN_PUB }),
      /None of the signatures were accepted/,
    ],
    [
      'a Rekor SET checked with the wrong key',
      'dir-img-cosign-key-rekor-valid',
      '192.168.64.2:5000/cosign-signed/key-1',
      sigstore({ keyPath: COSIGN2_PUB, rekorPublicKeyPath: COSIGN_PUB }),
      /rekor|SET/i,
    ],
  ])('refuses %s', async (_what, dir, reference, requirement, reason) => {
    const outcome = await decide(dir, reference, requirement)
    expect(accepted(outcome)).toBe(false)
    expect(typeof outcome === 'string' ? outcome : outcome.reason).toMatch(reason)
  })

  it('refuses a Fulcio signature whose SET is checked with the wrong key, even with its own chain trusted', async () => {
    const image = await readDirImage(fixture('dir-img-cosign-fulcio-rekor-valid'))
    const [signature] = image.signatures
    if (signature?.format !== 'sigstore') throw new Error('expected a sigstore signature')
    const chain = signature.signature.annotations.get('dev.sigstore.cosign/chain') ?? ''
    const requirement = {
      type: 'sigstoreSigned',
      fulcio: {
        caData: Buffer.from(chain).toString('base64'),
        oidcIssuer: 'https://github.com/login/oauth',
        subjectEmail: 'mitr@redhat.com',
      },
      rekorPublicKeyPath: COSIGN_PUB,
      signedIdentity: repository,
    }
    const outcome = await decide(
      'dir-img-cosign-fulcio-rekor-valid',
      '192.168.64.2:5000/cosign-signed/fulcio-rekor-1',
      requirement,
    )
    expect(accepted(outcome)).toBe(false)
  })
})

/**
 * Upstream cases that need files the copy in ../shared lacks. Each entry names the files; the
 * test below fails as soon as they appear, so the cases get enabled rather than forgotten.
 * (Simple signing is covered end to end by the skopeo parity suite instead.)
 */
const NEEDS_MISSING_MATERIAL: readonly (readonly [string, readonly string[]])[] = [
  [
    'signedBy: every dir-img-* case (valid, valid-2, mixed, modified-manifest, no-manifest, manifest-digest-error, unsigned)',
    ['public-key.gpg', 'dir-img-valid/manifest.json', 'dir-img-valid/signature-1'],
  ],
  [
    'signedBy: a valid signature by a subkey',
    ['public-key-with-subkey.gpg', 'dir-img-valid-subkey/signature-1'],
  ],
  [
    'signedBy: unknown key, invalid JSON blob, expired and revoked subkey signatures',
    [
      'unknown-key.signature',
      'invalid-blob.signature',
      'expired.signature',
      'subkey-revoked.signature',
    ],
  ],
  [
    'sigstoreSigned: one invalid (unknown key), then one valid signature',
    ['unknown-cosign-key.signature'],
  ],
  [
    'sigstoreSigned: a manifest whose digest cannot be computed',
    ['v2s1-invalid-signatures.manifest.json'],
  ],
  [
    'sigstoreSigned: unsigned image and image with only simple signing signatures',
    ['dir-img-valid/manifest.json'],
  ],
  ['sigstoreSigned: key + Rekor SET accepted', ['rekor.pub']],
  ['sigstoreSigned: Fulcio certificate + Rekor SET accepted', ['fulcio_v1.crt.pem', 'rekor.pub']],
  [
    'sigstoreSigned: PKI certificate accepted (c/image 5.35, not supported here)',
    ['pki_root_crts.pem', 'pki_intermediate_crts.pem'],
  ],
]

describe('upstream cases whose material ../shared lacks', () => {
  it.each(NEEDS_MISSING_MATERIAL.map(([what, files]) => [what, files] as const))(
    '%s: still missing',
    (_what, files) => {
      expect(files.filter((file) => !existsSync(fixture(file)))).not.toEqual([])
    },
  )
})
