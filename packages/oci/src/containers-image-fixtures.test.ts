/**
 * containers/image's own signature fixtures (testdata/vectors/image-signatures, the complete
 * `signature/fixtures` set with its symbolic links resolved into files) give the outcomes its
 * tests give (`signature/policy_eval_signedby_test.go`, `policy_eval_sigstore_test.go`), decided
 * end to end: `dir:` image read, policy requirement, signature verification, identity and digest
 * rules. Upstream's `isSignatureAccepted` cases that pass a single signature (a fixture file, or a
 * fixture signature with an annotation removed or changed) become a `dir:` image holding that one
 * signature beside a fixture manifest.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import {
  SIGSTORE_ANNOTATION,
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
const REKOR_PUB = fixture('rekor.pub')
const FULCIO_CA = fixture('fulcio_v1.crt.pem')
const PKI_ROOTS = fixture('pki_root_crts.pem')
const PKI_INTERMEDIATES = fixture('pki_intermediate_crts.pem')
const GPG_KEY = fixture('public-key.gpg')
const keyData = (path: string): string => readFileSync(path).toString('base64')
// Upstream signs these with a fixed clock far in the past; keys have no expiry, the PKI
// certificates are valid until 2052 (and are checked at this time, as upstream checks at now).
const NOW = new Date('2026-11-29T00:00:00Z')

type Requirement = Record<string, unknown>

/** The `dir:` images made here, some while the tests are collected: removed after them all. */
const madeImages: string[] = []
afterAll(() => {
  for (const dir of madeImages) rmSync(dir, { recursive: true, force: true })
})

/** A `dir:` image: the manifest of fixture `manifestFrom` and the given signature files. */
function dirImageWith(manifestFrom: string, signatures: readonly Uint8Array[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-fixture-'))
  madeImages.push(dir)
  const manifest = fixture(`${manifestFrom}/manifest.json`)
  if (existsSync(manifest)) cpSync(manifest, join(dir, 'manifest.json'))
  signatures.forEach((bytes, i) => {
    writeFileSync(join(dir, `signature-${i + 1}`), bytes)
  })
  return dir
}

/** A fixture's first sigstore signature with its annotations changed (undefined removes one). */
function changedSigstoreSignature(
  dir: string,
  annotations: Readonly<Record<string, string | undefined>>,
): Uint8Array {
  const bytes = readFileSync(fixture(`${dir}/signature-1`))
  const start = bytes.indexOf(0x0a) + 1
  const json = JSON.parse(bytes.subarray(start).toString()) as {
    annotations: Record<string, string>
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (value === undefined) Reflect.deleteProperty(json.annotations, key)
    else json.annotations[key] = value
  }
  return Buffer.concat([bytes.subarray(0, start), Buffer.from(JSON.stringify(json))])
}

/** `dir` with its first sigstore signature's annotations changed. */
const withAnnotations = (
  dir: string,
  annotations: Readonly<Record<string, string | undefined>>,
): string => dirImageWith(dir, [changedSigstoreSignature(dir, annotations)])

/**
 * What containers/image decides for `requirement` over the `dir:` image at `path` (a fixture name
 * or a directory) claiming `reference`. An image that cannot be read (no manifest) is refused, as
 * `isRunningImageAllowed` refuses it with the read error.
 */
async function decide(
  path: string,
  reference: string,
  requirement: Requirement,
  now: Date = NOW,
): Promise<PolicyDecision | string> {
  const policy = parseImagePolicy(JSON.stringify({ default: [requirement] }))
  let image
  try {
    image = await readDirImage(path.startsWith('/') ? path : fixture(path))
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
    { now, readKeyFile: (file) => new Uint8Array(readFileSync(file)) },
  )
}

const accepted = (outcome: PolicyDecision | string): boolean =>
  typeof outcome !== 'string' && outcome.accepted
const reasonOf = (outcome: PolicyDecision | string): string =>
  typeof outcome === 'string' ? outcome : outcome.reason
/** The code of the first refused signature, or of the decision's failure. */
const codeOf = (outcome: PolicyDecision | string): string | undefined =>
  typeof outcome === 'string'
    ? outcome
    : (outcome.requirements[0]?.signatures[0]?.code ?? outcome.requirements[0]?.code)

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

const KEY_REKOR = 'dir-img-cosign-key-rekor-valid'
const KEY_REKOR_REF = '192.168.64.2:5000/cosign-signed/key-1'
const KEY_ORDERS = [[COSIGN2_PUB], [COSIGN2_PUB, COSIGN_PUB], [COSIGN_PUB, COSIGN2_PUB]]
const REKOR_ORDERS = [[REKOR_PUB], [REKOR_PUB, COSIGN_PUB], [COSIGN_PUB, REKOR_PUB]]

describe('sigstoreSigned: public key and Rekor SET (rekor.pub)', () => {
  it.each(KEY_ORDERS.flatMap((keyPaths) => REKOR_ORDERS.map((rekor) => [keyPaths, rekor])))(
    'accepts dir-img-cosign-key-rekor-valid with keyPaths %j and rekorPublicKeyPaths %j',
    async (keyPaths, rekorPublicKeyPaths) => {
      const outcome = await decide(
        KEY_REKOR,
        KEY_REKOR_REF,
        sigstore({ keyPaths, rekorPublicKeyPaths }),
      )
      expect(accepted(outcome), reasonOf(outcome)).toBe(true)
    },
  )

  it.each([
    ['without its SET', { [SIGSTORE_ANNOTATION.bundle]: undefined }, 'ERR_SIGSTORE_BUNDLE_MISSING'],
    [
      'with an invalid SET',
      { [SIGSTORE_ANNOTATION.bundle]: 'this is not a valid SET' },
      /^ERR_REKOR_/,
    ],
  ])('refuses the signature %s', async (_what, annotations, code) => {
    const outcome = await decide(
      withAnnotations(KEY_REKOR, annotations),
      KEY_REKOR_REF,
      sigstore({ keyPath: COSIGN2_PUB, rekorPublicKeyPath: REKOR_PUB }),
    )
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toMatch(code)
  })

  it('refuses a SET that logged another key’s signature (cosign2’s SET on a cosign signature)', async () => {
    const otherSet = readFileSync(fixture(`${KEY_REKOR}/signature-1`))
      .subarray(readFileSync(fixture(`${KEY_REKOR}/signature-1`)).indexOf(0x0a) + 1)
      .toString()
    const set = (JSON.parse(otherSet) as { annotations: Record<string, string> }).annotations[
      SIGSTORE_ANNOTATION.bundle
    ]
    const outcome = await decide(
      withAnnotations('dir-img-cosign-valid', { [SIGSTORE_ANNOTATION.bundle]: set }),
      SIGNED_SAMPLE,
      sigstore({ keyPaths: [COSIGN_PUB, COSIGN2_PUB], rekorPublicKeyPath: REKOR_PUB }),
    )
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toMatch(/^ERR_REKOR_/)
  })
})

const FULCIO_IMAGE = 'dir-img-cosign-fulcio-rekor-valid'
const FULCIO_REF = '192.168.64.2:5000/cosign-signed/fulcio-rekor-1'
const fulcioRule = (fulcio: Requirement = {}, rekor: Requirement = {}): Requirement =>
  sigstore({
    fulcio: {
      caPath: FULCIO_CA,
      oidcIssuer: 'https://github.com/login/oauth',
      subjectEmail: 'mitr@redhat.com',
      ...fulcio,
    },
    rekorPublicKeyPath: REKOR_PUB,
    ...rekor,
  })

describe('sigstoreSigned: Fulcio certificate and Rekor SET (fulcio_v1.crt.pem, rekor.pub)', () => {
  it.each(REKOR_ORDERS)(
    'accepts dir-img-cosign-fulcio-rekor-valid with Rekor keys %j',
    async (...keys) => {
      const rule = fulcioRule({}, { rekorPublicKeyPath: undefined, rekorPublicKeyPaths: keys })
      const outcome = await decide(
        FULCIO_IMAGE,
        FULCIO_REF,
        JSON.parse(JSON.stringify(rule)) as Requirement,
      )
      expect(accepted(outcome), reasonOf(outcome)).toBe(true)
    },
  )

  it('accepts the signature without its chain annotation when the chain itself is the trusted CA', async () => {
    const signature = readFileSync(fixture(`${FULCIO_IMAGE}/signature-1`))
    const json = JSON.parse(signature.subarray(signature.indexOf(0x0a) + 1).toString()) as {
      annotations: Record<string, string>
    }
    const chain = json.annotations[SIGSTORE_ANNOTATION.chain] ?? ''
    const outcome = await decide(
      withAnnotations(FULCIO_IMAGE, { [SIGSTORE_ANNOTATION.chain]: undefined }),
      FULCIO_REF,
      fulcioRule({ caPath: undefined, caData: Buffer.from(chain).toString('base64') }),
    )
    expect(accepted(outcome), reasonOf(outcome)).toBe(true)
  })

  it.each([
    ['without its SET', { [SIGSTORE_ANNOTATION.bundle]: undefined }, 'ERR_SIGSTORE_BUNDLE_MISSING'],
    [
      'without its certificate',
      { [SIGSTORE_ANNOTATION.certificate]: undefined },
      'ERR_SIGSTORE_CERTIFICATE_MISSING',
    ],
    [
      'without its chain (no path to the trusted CA)',
      { [SIGSTORE_ANNOTATION.chain]: undefined },
      'ERR_FULCIO_CHAIN_UNTRUSTED',
    ],
    [
      'with an invalid certificate',
      { [SIGSTORE_ANNOTATION.certificate]: 'this is not a valid certificate' },
      'ERR_FULCIO_CERTIFICATE_MALFORMED',
    ],
    [
      'with an invalid SET',
      { [SIGSTORE_ANNOTATION.bundle]: 'this is not a valid SET' },
      /^ERR_REKOR_/,
    ],
  ])('refuses the signature %s', async (_what, annotations, code) => {
    const outcome = await decide(
      withAnnotations(FULCIO_IMAGE, annotations),
      FULCIO_REF,
      fulcioRule(),
    )
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toMatch(code)
  })

  it.each([
    [
      'another email',
      fulcioRule({ subjectEmail: 'this-does-not-match@example.com' }),
      'ERR_FULCIO_EMAIL_MISMATCH',
    ],
    [
      'cosign.pub as the Rekor key',
      fulcioRule({}, { rekorPublicKeyPath: COSIGN_PUB }),
      /^ERR_REKOR_/,
    ],
  ])('refuses the signature for %s', async (_what, rule, code) => {
    const outcome = await decide(FULCIO_IMAGE, FULCIO_REF, rule)
    expect(accepted(outcome)).toBe(false)
    expect(codeOf(outcome)).toMatch(code)
  })
})

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
