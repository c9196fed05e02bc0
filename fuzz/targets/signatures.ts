/**
 * Image signatures: GPG simple-signing blobs, GPG keyrings, cosign signatures with a key and a
 * Rekor SET, with Fulcio, with a PKI (each decided under the policy that accepts the real one),
 * sigstore public keys, Fulcio CA bundles and signature payloads.
 *
 * @module
 */
import {
  parseFulcioCaCertificates,
  parseGpgKeyring,
  parseImagePolicy,
  parseSigstorePublicKey,
  parseSignaturePayload,
  verifySimpleSigning,
} from '@initguard/image-policy'
import { madeSeed, vector, vectorSeeds } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'
import {
  FIXTURE_IMAGES,
  FIXTURE_TIME,
  decideFixture,
  fixtureContext,
  fixtureFiles,
  fixturePolicy,
  signatureOf,
} from './image-fixtures.ts'

const GPG_SIGNATURES = [
  'image.signature',
  'subkey.signature',
  'expired.signature',
  'corrupt.signature',
  'no-optional-fields.signature',
  'unknown-key.signature-v3',
  'unsigned-literal.signature',
  'unsigned-encrypted.signature',
].map((name) => `image-signatures/${name}`)

export const signaturesTarget: FuzzTarget = {
  name: 'signatures',
  description:
    'GPG simple signing, keyrings, cosign (key + Rekor, Fulcio, PKI), public keys, payloads',
  prepare: async () => {
    const context = await fixtureContext()
    const policy = parseImagePolicy(fixturePolicy())
    const keyring = await parseGpgKeyring(
      await vector('image-signatures/public-key.gpg'),
      'public-key.gpg',
    )
    const seeds: FuzzSeed[] = [
      ...(await vectorSeeds('gpg-blob', 'binary', GPG_SIGNATURES)),
      ...(await vectorSeeds('gpg-keyring', 'binary', [
        'image-signatures/public-key.gpg',
        'image-signatures/public-key-with-subkey.gpg',
        'image-signatures/public-key-with-revoked-subkey.gpg',
      ])),
      ...(await vectorSeeds('public-key', 'text', [
        'image-signatures/cosign.pub',
        'image-signatures/some-rsa-key.pub',
      ])),
      ...(await vectorSeeds('fulcio-ca', 'text', [
        'image-signatures/fulcio_v1.crt.pem',
        'image-signatures/fulcio-chain',
      ])),
    ]
    const entries: Record<string, (input: Uint8Array) => unknown> = {
      'gpg-blob': async (input) => {
        const { payloadBytes } = await verifySimpleSigning(input, keyring, FIXTURE_TIME)
        return parseSignaturePayload(payloadBytes, 'atomic container signature')
      },
      'gpg-keyring': (input) => parseGpgKeyring(input, 'fuzzed keyring'),
      'public-key': (input) => parseSigstorePublicKey(input),
      'fulcio-ca': (input) => parseFulcioCaCertificates(input),
      payload: (input) => parseSignaturePayload(input, 'atomic container signature'),
    }
    const { payloadBytes } = await verifySimpleSigning(
      await vector('image-signatures/image.signature'),
      keyring,
      FIXTURE_TIME,
    )
    seeds.push(
      madeSeed('payload', 'json', payloadBytes, 'payload of image-signatures/image.signature'),
    )
    for (const image of FIXTURE_IMAGES) {
      const { manifest, signature } = await fixtureFiles(image)
      seeds.push(
        madeSeed(image.kind, 'binary', signature, `image-signatures/${image.dir}/signature-1`),
      )
      entries[image.kind] = (input) =>
        decideFixture(policy, image, manifest, [signatureOf(input)], context)
    }
    return { seeds, entries }
  },
}
