/**
 * containers/image's own signature fixtures (testdata/vectors/image-signatures, the complete
 * `signature/fixtures` set with its symbolic links resolved into files) give the outcomes its
 * tests give (`signature/policy_eval_signedby_test.go`, `policy_eval_sigstore_test.go`), decided
 * end to end: `dir:` image read, policy requirement, signature verification, identity and digest
 * rules. Upstream's `isSignatureAccepted` cases that pass a single signature (a fixture file, or a
 * fixture signature with an annotation removed or changed) become a `dir:` image holding that one
 * signature beside a fixture manifest.
 *
 * Here: sigstoreSigned with public keys, Rekor SETs and Fulcio certificates. The PKI, the other
 * upstream sigstore cases and signedBy are in containers-image-fixtures-pki-gpg.test.ts.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SIGSTORE_ANNOTATION } from '@initguard/image-policy'
import {
  COSIGN2_PUB,
  COSIGN_PUB,
  FULCIO_CA,
  REKOR_PUB,
  SIGNED_SAMPLE,
  accepted,
  codeOf,
  decide,
  fixture,
  keyData,
  reasonOf,
  repository,
  sigstore,
  withAnnotations,
  type Requirement,
  removeMadeImages,
} from './containers-image-fixtures-test-support.ts'
import { readDirImage } from './dir-image.ts'

removeMadeImages()

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
