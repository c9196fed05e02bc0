/**
 * Simple signing against the real containers/image fixtures (`signature/fixtures`, copied into
 * testdata/vectors/image-signatures with their symbolic links resolved) and adversarial inputs:
 * random bytes, truncations and single-bit flips of valid blobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { parseGpgKeyring, type GpgKeyring } from './gpg-keyring.ts'
import { verifySimpleSigning } from './simple-signing.ts'
import { NOW, PAYLOAD, TestGpg, thrown } from './simple-signing-test-support.ts'

const FIXTURES = new URL('../../../testdata/vectors/image-signatures/', import.meta.url)
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)))

/** containers/image's TestKeyFingerprint: the key that made its fixtures (public-key.gpg). */
const UPSTREAM_FINGERPRINT = '08CD26E446E2E95249B7A405E932F44B23E8DD43'
/** After the fixtures were signed (2025); their key has no expiry. */
const FIXTURE_NOW = new Date('2026-11-29T00:00:00Z')

let gpg: TestGpg
let signer: string
let subSigner: string
let keyring: GpgKeyring

beforeAll(async () => {
  gpg = new TestGpg()
  signer = gpg.genKey('Signer <signer@example.com>', 'ed25519', 'sign')
  subSigner = gpg.genKey('Rsa <rsa@example.com>', 'rsa2048', 'cert')
  gpg.addSubkey(subSigner, 'rsa2048', 'sign')
  keyring = await parseGpgKeyring(gpg.exportKeys([signer, subSigner]), 'keyPath')
})
afterAll(() => {
  gpg.dispose()
})

describe('containers/image fixtures', () => {
  // Upstream, corrupt.signature(-v3) are messages by the test key whose signature does not verify
  // (mechanism_test.go: Verify fails, UntrustedSignatureContents returns the payload and the key
  // ID). With a keyring that lacks public-key.gpg, the refusal names the upstream key: v4 with its
  // issuer fingerprint, v3 with its key ID only.
  it.each([
    ['corrupt.signature', { keyId: 'E932F44B23E8DD43', issuerFingerprint: UPSTREAM_FINGERPRINT }],
    ['corrupt.signature-v3', { keyId: 'E932F44B23E8DD43' }],
  ])('refuses %s as signed by a key not in the keyring', async (name, details) => {
    const blob = fixture(name)
    expect(blob.subarray(0, 2)).toEqual(new Uint8Array([0xa3, 0x01]))
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_UNKNOWN_KEY')
    expect(e.details).toEqual(details)
    expect(e.message).toContain('E932F44B23E8DD43')
  })

  it('refuses corrupt.signature by public-key.gpg as not verifying, at any time', async () => {
    const upstream = await parseGpgKeyring(fixture('public-key.gpg'), 'keyPath')
    for (const now of [FIXTURE_NOW, new Date('2040-01-01T00:00:00Z')]) {
      const e = await thrown(() => verifySimpleSigning(fixture('corrupt.signature'), upstream, now))
      expect(e.code).toBe('ERR_SIMPLE_SIGNING_BAD_SIGNATURE')
    }
  })

  it('refuses a version 3 signature by a trusted key as unsupported, naming the key', async () => {
    // gpg 2.2 cannot make v3 signatures any more; this one is built by hand with a dummy MPI,
    // which is enough because the version is refused before any cryptography.
    const keyId = Buffer.from(signer.slice(-16), 'hex')
    const ops = Buffer.concat([Buffer.from([0x90, 0x0d, 3, 0, 8, 22]), keyId, Buffer.from([1])])
    const data = Buffer.concat([Buffer.from([0x62, 0, 0, 0, 0, 0]), Buffer.from(PAYLOAD)])
    const literal = Buffer.concat([Buffer.from([0xad, data.length >> 8, data.length & 255]), data])
    const v3 = Buffer.concat([
      Buffer.from([3, 5, 0, 0x5e, 0x0c, 0x8a, 0xc0]),
      keyId,
      Buffer.from([22, 8, 0, 0, 0, 8, 0xff]),
    ])
    const sig = Buffer.concat([Buffer.from([0x88, v3.length]), v3])
    const blob = new Uint8Array(Buffer.concat([ops, literal, sig]))
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_UNSUPPORTED_SIGNATURE')
    expect(e.details).toEqual({ keyId: signer.slice(-16), signatureVersion: 3 })
    const short = new Uint8Array(Buffer.concat([ops, literal, Buffer.from([0x88, 3, 3, 5, 0])]))
    expect((await thrown(() => verifySimpleSigning(short, keyring, NOW))).code).toBe(
      'ERR_SIMPLE_SIGNING_MALFORMED',
    )
  })

  // Upstream keeps most of these as links to dir-img-valid/signature-1; each is a real file here.
  it.each([
    ['image.signature', 'testing/manifest'],
    ...[
      'dir-img-valid/signature-1',
      'dir-img-valid-2/signature-1',
      'dir-img-valid-2/signature-2',
      'dir-img-mixed/signature-2',
      'dir-img-manifest-digest-error/signature-1',
      'dir-img-modified-manifest/signature-1',
      'dir-img-no-manifest/signature-1',
    ].map((name) => [name, 'testing/manifest:latest']),
  ])('%s verifies with public-key.gpg and signs %s', async (name = '', identity) => {
    const upstream = await parseGpgKeyring(fixture('public-key.gpg'), 'keyPath')
    const verified = await verifySimpleSigning(fixture(name), upstream, FIXTURE_NOW)
    expect(verified.signerFingerprint).toBe(UPSTREAM_FINGERPRINT)
    const payload = JSON.parse(new TextDecoder().decode(verified.payloadBytes)) as {
      critical: { identity: { 'docker-reference': string }; image: Record<string, string> }
    }
    expect(payload.critical.identity['docker-reference']).toBe(identity)
    expect(payload.critical.image['docker-manifest-digest']).toBe(
      'sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55',
    )
  })

  it('refuses a sigstore signature from a dir: image as malformed', async () => {
    const blob = fixture('dir-img-cosign-valid/signature-1')
    expect(blob[0]).toBe(0x00)
    const e = await thrown(() => verifySimpleSigning(blob, keyring, NOW))
    expect(e.code).toBe('ERR_SIMPLE_SIGNING_MALFORMED')
  })
})

describe('adversarial inputs', () => {
  let blobs: Record<'zip' | 'plain' | 'subkey', Uint8Array>
  beforeAll(() => {
    blobs = {
      zip: gpg.sign(PAYLOAD, [signer]),
      plain: gpg.sign(PAYLOAD, [signer], ['--compress-algo', 'none']),
      subkey: gpg.sign(PAYLOAD, [subSigner], ['--compress-algo', 'zlib']),
    }
  })

  /** Verify, and hold the outcome to: refused with our error, or the original payload and signer. */
  const verifiesAsOriginalOrRefuses = async (
    blob: Uint8Array,
    signedBy: string,
  ): Promise<boolean> => {
    try {
      const result = await verifySimpleSigning(blob, keyring, NOW)
      expect(new TextDecoder().decode(result.payloadBytes)).toBe(PAYLOAD)
      expect(result.signerFingerprint).toBe(signedBy)
      return true
    } catch (e) {
      if (!isInitguardError(e)) throw new Error(`not an InitguardError: ${String(e)}`, { cause: e })
      expect(e.code).toMatch(/^ERR_SIMPLE_SIGNING_[A-Z_]+$/)
      expect(e.category).toBe('verification')
      expect(e.hint).toBeDefined()
      return false
    }
  }

  it('the valid blobs verify', async () => {
    for (const [name, blob] of Object.entries(blobs)) {
      expect(await verifiesAsOriginalOrRefuses(blob, name === 'subkey' ? subSigner : signer)).toBe(
        true,
      )
    }
  })

  it('random bytes never verify and only throw our errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          // Random content behind a plausible skopeo header reaches the inflater and openpgp.
          fc.uint8Array({ maxLength: 600 }).map((b) => new Uint8Array([0xa3, 0x01, ...b])),
          fc.uint8Array({ maxLength: 600 }).map((b) => new Uint8Array([0x90, 0x0d, ...b])),
        ),
        async (bytes) => {
          expect(await verifiesAsOriginalOrRefuses(bytes, signer)).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('no proper prefix of a valid blob verifies', async () => {
    for (const [name, blob] of Object.entries(blobs)) {
      const signedBy = name === 'subkey' ? subSigner : signer
      for (let cut = 0; cut < blob.length; cut++) {
        const ok = await verifiesAsOriginalOrRefuses(blob.subarray(0, cut), signedBy)
        expect(ok, `${name} cut at ${cut}`).toBe(false)
      }
    }
  })

  it('a single-bit flip never changes what verifies', async () => {
    // OpenPGP signatures do not cover the literal packet's file name and date, nor the unhashed
    // subpackets, so a flip there may still verify: the property is that the verified payload and
    // signer never change, and that everything else is refused with our error.
    for (const [name, blob] of Object.entries(blobs)) {
      const signedBy = name === 'subkey' ? subSigner : signer
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: blob.length * 8 - 1 }), async (bit) => {
          const flipped = blob.slice()
          flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
          await verifiesAsOriginalOrRefuses(flipped, signedBy)
        }),
        { numRuns: 250 },
      )
    }
  })

  it('a flip inside the signed payload is always refused', async () => {
    const blob = blobs.plain
    const start = Buffer.from(blob).indexOf(PAYLOAD)
    for (let i = 0; i < PAYLOAD.length; i += 3) {
      const flipped = blob.slice()
      flipped[start + i] = (flipped[start + i] ?? 0) ^ 0x01
      expect(await verifiesAsOriginalOrRefuses(flipped, signer)).toBe(false)
    }
  })
})
