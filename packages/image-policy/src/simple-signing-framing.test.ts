/** The framing of simple-signing blobs: compression, packet order, trailing data, size bounds. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deflateRawSync } from 'node:zlib'
import { parseGpgKeyring, type GpgKeyring } from './gpg-keyring.ts'
import { verifySimpleSigning } from './simple-signing.ts'
import { NOW, PAYLOAD, TestGpg, thrown } from './simple-signing-test-support.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

let gpg: TestGpg
const fp = { ed: '' }
let keyring: GpgKeyring

beforeAll(async () => {
  gpg = new TestGpg()
  fp.ed = gpg.genKey('Ed <ed@example.com>', 'ed25519', 'sign')
  keyring = await parseGpgKeyring(gpg.exportKeys([fp.ed]), 'keyPath')
})
afterAll(() => {
  gpg.dispose()
})

describe('verifySimpleSigning: framing', () => {
  let plain: Uint8Array
  let zipped: Uint8Array
  beforeAll(() => {
    plain = gpg.sign(PAYLOAD, [fp.ed], ['--compress-algo', 'none'])
    zipped = gpg.sign(PAYLOAD, [fp.ed])
  })
  const code = async (blob: Uint8Array): Promise<string> =>
    (await thrown(() => verifySimpleSigning(blob, keyring, NOW))).code
  /** A new-format compressed data packet (definite length) around `inner`, deflated. */
  const compressed = (inner: Uint8Array, algorithm = 1): Uint8Array => {
    const body = concat(new Uint8Array([algorithm]), new Uint8Array(deflateRawSync(inner)))
    return concat(new Uint8Array([0xc8, 0xff]), u32(body.length), body)
  }
  const u32 = (n: number): Uint8Array =>
    new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])

  it('accepts a definite-length compressed packet and partial body lengths', async () => {
    expect((await verifySimpleSigning(compressed(plain), keyring, NOW)).signerFingerprint).toBe(
      fp.ed,
    )
    // The same compressed body in partial-length chunks: 1-byte chunk (0xE0), then the rest.
    const whole = compressed(plain)
    const body = whole.subarray(6)
    const chunked = concat(
      new Uint8Array([0xc8, 0xe0]),
      body.subarray(0, 1),
      new Uint8Array([0xff]),
      u32(body.length - 1),
      body.subarray(1),
    )
    expect((await verifySimpleSigning(chunked, keyring, NOW)).signerFingerprint).toBe(fp.ed)
  })

  it('ignores bytes after the deflate stream of an indeterminate packet, as gpg does', async () => {
    // They are inside the compressed packet but not signed content; upstream fixtures carry one.
    const blob = concat(zipped, text('\ngarbage'))
    expect(gpg.verdict(blob, '20200102T000000')).toBe('GOODSIG')
    const result = await verifySimpleSigning(blob, keyring, NOW)
    expect(new TextDecoder().decode(result.payloadBytes)).toBe(PAYLOAD)
  })

  it('accepts the signature-first form of RFC 4880 §11.3 and counts its signatures', async () => {
    const sig = plain.subarray(gpg.offsetOf(plain, 2))
    const literal = plain.subarray(15, gpg.offsetOf(plain, 2))
    const prefixed = concat(sig, literal)
    expect(gpg.verdict(prefixed, '20200102T000000')).toBe('GOODSIG')
    expect((await verifySimpleSigning(prefixed, keyring, NOW)).signerFingerprint).toBe(fp.ed)
    expect(await code(concat(sig, sig, literal))).toBe('ERR_SIMPLE_SIGNING_MULTIPLE_SIGNATURES')
    expect(await code(concat(sig, plain.subarray(0, 15), literal))).toBe(
      'ERR_SIMPLE_SIGNING_MALFORMED',
    )
  })

  it.each([
    ['garbage after an uncompressed message', () => concat(plain, text('garbage'))],
    ['a second message after the first', () => concat(plain, plain)],
    ['a second signature packet', () => concat(plain, plain.subarray(gpg.offsetOf(plain, 2)))],
    ['a packet after a definite-length compressed packet', () => concat(compressed(plain), plain)],
    ['bytes after a definite-length compressed packet', () => concat(compressed(plain), text('x'))],
    [
      'a packet after the signature inside the compression',
      () => compressed(concat(plain, plain.subarray(0, 15))),
    ],
  ])('refuses %s', async (_, make) => {
    expect(await code(make())).toBe('ERR_SIMPLE_SIGNING_TRAILING_DATA')
  })

  it.each([
    ['no bytes', () => new Uint8Array()],
    ['a text file', () => text('../dir-img-valid/signature-1')],
    [
      'an unknown compression algorithm',
      () => concat(new Uint8Array([0xa3, 0x07]), zipped.subarray(2)),
    ],
    ['a damaged deflate stream', () => new Uint8Array([0xa3, 0x01, 0xff, 0xff, 0xff])],
    ['an empty compressed packet', () => new Uint8Array([0xa3])],
    ['a marker packet first', () => concat(new Uint8Array([0xa8, 0x03, 0x50, 0x47, 0x50]), plain)],
    ['a one-pass signature without its signature', () => plain.subarray(0, gpg.offsetOf(plain, 2))],
    ['a cut packet header', () => plain.subarray(0, 16)],
    [
      'two literal packets after one one-pass signature',
      () =>
        concat(
          plain.subarray(0, gpg.offsetOf(plain, 2)),
          plain.subarray(15, gpg.offsetOf(plain, 2)),
        ),
    ],
    [
      'a literal packet where the data should be signed',
      () => concat(plain.subarray(0, 15), plain.subarray(0, 15)),
    ],
  ])('refuses %s as malformed', async (_, make) => {
    const blob = make()
    expect(await code(blob)).toMatch(/^ERR_SIMPLE_SIGNING_(MALFORMED|NOT_SIGNED_MESSAGE)$/)
  })

  it('refuses oversized blobs and decompression bombs', async () => {
    expect(await code(new Uint8Array(4 * 1024 * 1024 + 1))).toBe('ERR_SIMPLE_SIGNING_TOO_LARGE')
    expect(await code(compressed(new Uint8Array(5 * 1024 * 1024)))).toBe(
      'ERR_SIMPLE_SIGNING_TOO_LARGE',
    )
  })
})
