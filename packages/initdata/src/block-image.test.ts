import { execSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { buildInitdataImage, readInitdataImage } from './block-image.ts'

const DOC = new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n')

describe('initdata block image', () => {
  it('has the magic, a little-endian length, the gzip payload and zero padding to 512 bytes', () => {
    const image = buildInitdataImage(DOC)
    expect(image.length % 512).toBe(0)
    expect(Buffer.from(image.subarray(0, 8)).toString('latin1')).toBe('initdata')
    const length = Number(Buffer.from(image).readBigUInt64LE(8))
    // An independent reader: the payload gunzips with the gzip tool.
    const out = execSync('gunzip -c', { input: image.subarray(16, 16 + length) })
    expect(out.equals(Buffer.from(DOC))).toBe(true)
    expect(image.subarray(16 + length).every((b) => b === 0)).toBe(true)
    expect(readInitdataImage(image)).toEqual(DOC)
  })

  it('reads an image built by hand the way the Kata runtime does', () => {
    const gz = execSync('gzip -c', { input: DOC })
    const header = Buffer.alloc(16)
    header.write('initdata', 0, 'latin1')
    header.writeBigUInt64LE(BigInt(gz.length), 8)
    const raw = Buffer.concat([header, gz])
    const image = Buffer.concat([raw, Buffer.alloc(512 - (raw.length % 512))])
    expect(readInitdataImage(image)).toEqual(DOC)
  })

  it('refuses a payload of several gzip members, of which the Kata agent reads only the first', () => {
    const half = DOC.length >> 1
    const members = Buffer.concat([
      execSync('gzip -c', { input: DOC.subarray(0, half) }),
      execSync('gzip -c', { input: DOC.subarray(half) }),
    ])
    const header = Buffer.alloc(16)
    header.write('initdata', 0, 'latin1')
    header.writeBigUInt64LE(BigInt(members.length), 8)
    const image = Buffer.concat([header, members, Buffer.alloc(512 - 16 - members.length)])
    expect(codeOf(() => readInitdataImage(image))).toBe('ERR_GZIP_MEMBERS')
  })

  it('refuses a wrong magic, a bad length, non-zero padding and truncation', () => {
    const image = buildInitdataImage(DOC)
    const wrongMagic = Uint8Array.from(image)
    wrongMagic[0] = 0x49
    expect(codeOf(() => readInitdataImage(wrongMagic))).toBe('ERR_INITDATA_IMAGE_MAGIC')
    expect(codeOf(() => readInitdataImage(new Uint8Array(0)))).toBe('ERR_INITDATA_IMAGE_MAGIC')
    const oversize = Uint8Array.from(image)
    new DataView(oversize.buffer).setBigUint64(8, 0xffffffffffffffffn, true)
    expect(codeOf(() => readInitdataImage(oversize))).toBe('ERR_INITDATA_IMAGE_LENGTH')
    const zero = Uint8Array.from(image)
    new DataView(zero.buffer).setBigUint64(8, 0n, true)
    expect(codeOf(() => readInitdataImage(zero))).toBe('ERR_INITDATA_IMAGE_LENGTH')
    const dirty = Uint8Array.from(image)
    dirty[dirty.length - 1] = 1
    expect(codeOf(() => readInitdataImage(dirty))).toBe('ERR_INITDATA_IMAGE_PADDING')
    const length = Number(Buffer.from(image).readBigUInt64LE(8))
    expect(codeOf(() => readInitdataImage(image.subarray(0, 16 + length - 1)))).toBe(
      'ERR_INITDATA_IMAGE_LENGTH',
    )
    const shorter = Uint8Array.from(image)
    new DataView(shorter.buffer).setBigUint64(8, BigInt(length - 5), true)
    expect(codeOf(() => readInitdataImage(shorter))).toMatch(
      /ERR_GZIP_INVALID|ERR_INITDATA_IMAGE_PADDING/,
    )
  })

  it('never throws anything but an Initguard error (property)', () => {
    const header = fc
      .tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 600 }))
      .map(([len, rest]) => {
        const b = new Uint8Array(16 + rest.length)
        b.set(new TextEncoder().encode('initdata'))
        new DataView(b.buffer).setBigUint64(8, len, true)
        b.set(rest, 16)
        return b
      })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), header), (bytes) => {
        try {
          readInitdataImage(bytes)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
