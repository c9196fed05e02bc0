/**
 * containers/image's own signature fixtures decided end to end, as containers-image-fixtures.test.ts
 * describes: sigstoreSigned with PKI certificates, the other upstream sigstore cases, and signedBy
 * (GPG simple signing, public-key.gpg).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SIGSTORE_ANNOTATION } from '@initguard/image-policy'
import {
  COSIGN_PUB,
  FULCIO_CA,
  GPG_KEY,
  PKI_INTERMEDIATES,
  PKI_ROOTS,
  SIGNED_SAMPLE,
  accepted,
  codeOf,
  decide,
  dirImageWith,
  fixture,
  keyData,
  reasonOf,
  sigstore,
  withAnnotations,
  type Requirement,
  removeMadeImages,
} from './containers-image-fixtures-test-support.ts'

removeMadeImages()

const PKI_IMAGE = 'dir-img-cosign-pki-valid'
const PKI_REF = 'localhost:5000/test'
/** Upstream's policy for the PKI fixture: roots, intermediates, email and host name. */
const pkiRule = (pki: Requirement = {}): Requirement =>
  sigstore({
    pki: JSON.parse(
      JSON.stringify({
        caRootsPath: PKI_ROOTS,
        caIntermediatesPath: PKI_INTERMEDIATES,
        subjectEmail: 'qiwan@redhat.com',
        subjectHostname: 'myhost.example.com',
        ...pki,
      }),
    ) as Requirement,
  })

describe('sigstoreSigned: PKI certificate (pki_root_crts.pem, pki_intermediate_crts.pem)', () => {
  it.each([
    ['upstream’s policy', pkiRule()],
    [
      'the roots and intermediates as data',
      pkiRule({
        caRootsPath: undefined,
        caRootsData: keyData(PKI_ROOTS),
        caIntermediatesPath: undefined,
        caIntermediatesData: keyData(PKI_INTERMEDIATES),
      }),
    ],
    ['only the email', pkiRule({ subjectHostname: undefined })],
    [
      'only the host name, in other case',
      pkiRule({ subjectEmail: undefined, subjectHostname: 'MyHost.Example.COM.' }),
    ],
    [
      // Go trusts whatever the roots file holds as an anchor, self-signed or not.
      'the intermediate given as the root',
      pkiRule({ caRootsPath: PKI_INTERMEDIATES, caIntermediatesPath: undefined }),
    ],
    [
      'the roots only (the chain annotation supplies the intermediate)',
      pkiRule({ caIntermediatesPath: undefined }),
    ],
  ])('accepts dir-img-cosign-pki-valid with %s', async (_what, rule) => {
    const outcome = await decide(PKI_IMAGE, PKI_REF, rule)
    expect(accepted(outcome), reasonOf(outcome)).toBe(true)
    expect(reasonOf(outcome)).toMatch(/PKI certificate for .*RSA-4096/)
  })

  it('accepts the signature without its chain annotation when the policy gives the intermediate', async () => {
    const outcome = await decide(
      withAnnotations(PKI_IMAGE, { [SIGSTORE_ANNOTATION.chain]: undefined }),
      PKI_REF,
      pkiRule(),
    )
    expect(accepted(outcome), reasonOf(outcome)).toBe(true)
  })

  it.each([
    [
      'without its certificate',
      PKI_IMAGE,
      { [SIGSTORE_ANNOTATION.certificate]: undefined },
      pkiRule(),
      'ERR_SIGSTORE_CERTIFICATE_MISSING',
    ],
    [
      'without its chain and without the intermediate in the policy',
      PKI_IMAGE,
      { [SIGSTORE_ANNOTATION.chain]: undefined },
      pkiRule({ caIntermediatesPath: undefined }),
      'ERR_PKI_CHAIN_UNTRUSTED',
    ],
    [
      'made with a key, not a certificate',
      'dir-img-cosign-valid',
      {},
      pkiRule(),
      'ERR_SIGSTORE_CERTIFICATE_MISSING',
    ],
  ])('refuses the signature %s', async (_what, dir, annotations, rule, code) => {
    const outcome = await decide(withAnnotations(dir, annotations), PKI_REF, rule)
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toBe(code)
  })

  it.each([
    [
      'another email',
      pkiRule({ subjectEmail: 'this-does-not-match@example.com' }),
      'ERR_PKI_EMAIL_MISMATCH',
    ],
    [
      'another host name',
      pkiRule({ subjectHostname: 'otherhost.example.com' }),
      'ERR_PKI_HOSTNAME_MISMATCH',
    ],
    [
      'the right email but another host name',
      pkiRule({ subjectHostname: 'example.com' }),
      'ERR_PKI_HOSTNAME_MISMATCH',
    ],
    [
      'another root (the Fulcio CA)',
      pkiRule({ caRootsPath: FULCIO_CA }),
      'ERR_PKI_CHAIN_UNTRUSTED',
    ],
  ])('refuses the signature for %s', async (_what, rule, code) => {
    const outcome = await decide(PKI_IMAGE, PKI_REF, rule)
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toBe(code)
  })

  it('checks the certificates at the time of the decision: refused once they expired (2052), and before they were issued', async () => {
    for (const [now, code] of [
      [new Date('2052-03-01T00:00:00Z'), 'ERR_PKI_CERTIFICATE_EXPIRED'],
      [new Date('2024-09-30T00:00:00Z'), 'ERR_PKI_CERTIFICATE_NOT_YET_VALID'],
    ] as const) {
      const outcome = await decide(PKI_IMAGE, PKI_REF, pkiRule(), now)
      expect(accepted(outcome)).toBe(false)
      expect(codeOf(outcome)).toBe(code)
    }
  })

  it('refuses the requirement as a whole when the roots file is not a certificate', async () => {
    const outcome = await decide(PKI_IMAGE, PKI_REF, pkiRule({ caRootsPath: COSIGN_PUB }))
    expect(accepted(outcome)).toBe(false)
    if (typeof outcome === 'string') throw new Error(outcome)
    expect(outcome.requirements[0]).toMatchObject({
      code: 'ERR_PKI_CA_ROOTS_INVALID',
      keyError: 'malformed',
    })
  })
})

describe('sigstoreSigned: the other upstream cases', () => {
  it('accepts dir-img-cosign-mixed: one signature by an unknown key, then a valid one', async () => {
    const outcome = await decide(
      'dir-img-cosign-mixed',
      SIGNED_SAMPLE,
      sigstore({ keyPath: COSIGN_PUB }),
    )
    expect(accepted(outcome), reasonOf(outcome)).toBe(true)
    if (typeof outcome === 'string') throw new Error(outcome)
    expect(outcome.requirements[0]?.signatures.map((s) => s.code)).toEqual([
      'ERR_SIGSTORE_SIGNATURE_INVALID',
      undefined,
    ])
  })

  it.each([
    [
      'unknown-cosign-key.signature (a valid signature by an unknown key)',
      dirImageWith('dir-img-cosign-valid', [readFileSync(fixture('unknown-cosign-key.signature'))]),
      /ERR_SIGSTORE_SIGNATURE_INVALID/,
    ],
    [
      'a manifest whose digest cannot be computed (v2s1-invalid-signatures.manifest.json)',
      'dir-img-cosign-manifest-digest-error',
      /does not match ERR_SIGNATURE_MANIFEST_DIGEST$/,
    ],
    [
      'an unsigned image',
      'dir-img-unsigned',
      /^A signature was required, but no signature exists ERR_IMAGE_SIGNATURE_MISSING$/,
    ],
    [
      'an image with only a simple signing signature',
      'dir-img-valid',
      /no signature exists \(1 non-sigstore signatures, 0 sigstore non-signature attachments\)/,
    ],
  ])('refuses %s', async (_what, dir, reason) => {
    const outcome = await decide(dir, SIGNED_SAMPLE, sigstore({ keyPath: COSIGN_PUB }))
    expect(accepted(outcome)).toBe(false)
    expect(`${reasonOf(outcome)} ${codeOf(outcome) ?? ''}`).toMatch(reason)
  })
})

const signedBy = (keys: Requirement, signedIdentity: Requirement = { type: 'matchExact' }) => ({
  type: 'signedBy',
  keyType: 'GPGKeys',
  ...keys,
  signedIdentity,
})
const LATEST = 'testing/manifest:latest'

describe('signedBy over the containers/image fixtures (public-key.gpg)', () => {
  it.each([
    ['keyPath', 'dir-img-valid', { keyPath: GPG_KEY }],
    [
      'keyPaths (public-key-1, public-key-1)',
      'dir-img-valid',
      { keyPaths: [fixture('public-key-1.gpg'), fixture('public-key-1.gpg')] },
    ],
    [
      'keyPaths (public-key-2, public-key-1)',
      'dir-img-valid',
      { keyPaths: [fixture('public-key-2.gpg'), fixture('public-key-1.gpg')] },
    ],
    ['keyData', 'dir-img-valid', { keyData: keyData(GPG_KEY) }],
    ['the keyring pubring.gpg', 'dir-img-valid', { keyPath: fixture('pubring.gpg') }],
    ['two valid signatures', 'dir-img-valid-2', { keyPath: GPG_KEY }],
    ['one invalid, then one valid signature', 'dir-img-mixed', { keyPath: GPG_KEY }],
    [
      'a signature by a subkey',
      'dir-img-valid-subkey',
      { keyPath: fixture('public-key-with-subkey.gpg') },
    ],
  ])('accepts with %s (%s)', async (_what, dir, keys) => {
    const outcome = await decide(dir, LATEST, signedBy(keys))
    expect(accepted(outcome), reasonOf(outcome)).toBe(true)
  })

  const single = (name: string): string =>
    dirImageWith('dir-img-valid', [readFileSync(fixture(name))])
  it.each([
    ['an unsigned image', 'dir-img-unsigned', LATEST, GPG_KEY, /no signature exists/],
    [
      'a signature for another tag',
      'dir-img-valid',
      'testing/manifest:notlatest',
      GPG_KEY,
      /is not accepted/,
    ],
    [
      'two signatures for another tag',
      'dir-img-valid-2',
      'testing/manifest:notlatest',
      GPG_KEY,
      /None of the signatures were accepted/,
    ],
    ['a missing manifest', 'dir-img-no-manifest', LATEST, GPG_KEY, /ERR_DIR_IMAGE_MANIFEST/],
    [
      'a manifest whose digest cannot be computed',
      'dir-img-manifest-digest-error',
      LATEST,
      GPG_KEY,
      /does not match ERR_SIGNATURE_MANIFEST_DIGEST$/,
    ],
    ['a modified manifest', 'dir-img-modified-manifest', LATEST, GPG_KEY, /does not match/],
    [
      'a signature by an unknown key',
      single('unknown-key.signature'),
      LATEST,
      GPG_KEY,
      /ERR_SIMPLE_SIGNING_UNKNOWN_KEY/,
    ],
    [
      'a valid signature of an invalid JSON blob',
      single('invalid-blob.signature'),
      LATEST,
      GPG_KEY,
      /ERR_SIGNATURE_PAYLOAD_INVALID$/,
    ],
    [
      'a signature that does not verify',
      single('corrupt.signature'),
      LATEST,
      GPG_KEY,
      /ERR_SIMPLE_SIGNING_BAD_SIGNATURE$/,
    ],
    [
      'an expired signature',
      single('expired.signature'),
      LATEST,
      GPG_KEY,
      /ERR_SIMPLE_SIGNING_SIGNATURE_EXPIRED$/,
    ],
    [
      'a signature by a revoked subkey',
      single('subkey-revoked.signature'),
      LATEST,
      fixture('public-key-with-revoked-subkey.gpg'),
      /ERR_SIMPLE_SIGNING_KEY_REVOKED$/,
    ],
  ])('refuses %s', async (_what, dir, reference, keyPath, reason) => {
    const outcome = await decide(dir, reference, signedBy({ keyPath }))
    expect(accepted(outcome)).toBe(false)
    expect(`${reasonOf(outcome)} ${codeOf(outcome) ?? ''}`).toMatch(reason)
  })

  it('refuses a valid signature whose identity the rule does not accept', async () => {
    const rule = signedBy(
      { keyPath: GPG_KEY },
      { type: 'exactReference', dockerReference: 'this/does-not:match' },
    )
    const outcome = await decide('dir-img-valid', LATEST, rule)
    expect(accepted(outcome)).toBe(false)
    expect(reasonOf(outcome)).toMatch(
      /Signature for identity testing\/manifest:latest is not accepted/,
    )
  })
})
