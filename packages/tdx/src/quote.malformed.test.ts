/**
 * Adversarial inputs for parseDcapQuote: every truncation of every real quote, size fields that
 * lie in either direction, bad header values, bad v5 body descriptors, and the input type.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseDcapQuote } from './quote.ts'
import {
  SGX_QUOTES,
  TDX_QUOTES,
  VECTORS,
  asV5,
  concat,
  defaultSignatureDataV4,
  filled,
  le16,
  le32,
  patched,
  quoteHeader,
  splitQuote,
  thrown,
} from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const REAL = [
  ...TDX_QUOTES.map((name) => ({ name, bytes: vector(`tdx/${name}/quote.dat`) })),
  ...SGX_QUOTES.map((name) => ({ name, bytes: vector(`sgx/${name}/quote.dat`) })),
]
const spr = vector('tdx/spr-v4/quote.dat')
const claims = vector('tdx/v4-claims/quote.dat')
const sgxA = vector('sgx/v3-a/quote.dat')

const codeOf = (bytes: Uint8Array): string => thrown(() => parseDcapQuote(bytes)).code

// Offsets in a v4 TDX quote (body 0x30..0x278) and in a v3 SGX quote (body 0x30..0x1B0).
const V4 = {
  sigSize: 632,
  certType: 764,
  certSize: 766,
  authSize: 1218,
  nestedType: 1252,
  nestedSize: 1254,
} as const
const V3 = { sigSize: 432, authSize: 1012, certType: 1046, certSize: 1048 } as const

describe('parseDcapQuote truncation', () => {
  it('refuses every truncation of every real quote with ERR_TDX_QUOTE_TRUNCATED, and accepts every cut inside the trailing bytes', () => {
    for (const { name, bytes } of REAL) {
      const full = parseDcapQuote(bytes)
      const end = full.raw.length
      for (let length = 0; length < bytes.length; length++) {
        const cut = bytes.subarray(0, length)
        if (length < end) {
          const error = thrown(() => parseDcapQuote(cut))
          expect(error.code, `${name} cut to ${length}`).toBe('ERR_TDX_QUOTE_TRUNCATED')
          expect(error.category).toBe('malformed')
        } else {
          expect(parseDcapQuote(cut).trailingBytes, `${name} cut to ${length}`).toBe(length - end)
        }
      }
    }
  })

  it('names the part that is missing, with offset, need and availability', () => {
    const header = thrown(() => parseDcapQuote(spr.subarray(0, 47)))
    expect(header.details).toMatchObject({
      field: 'quote header',
      offset: 0,
      needed: 48,
      available: 47,
    })
    const body = thrown(() => parseDcapQuote(spr.subarray(0, 600)))
    expect(body.details).toMatchObject({
      field: 'quote body',
      offset: 48,
      needed: 584,
      available: 552,
    })
    const sizeField = thrown(() => parseDcapQuote(spr.subarray(0, 634)))
    expect(sizeField.details).toMatchObject({ field: 'signature data size', offset: 632 })
    const signature = thrown(() => parseDcapQuote(spr.subarray(0, 4000)))
    expect(signature.details).toMatchObject({
      field: 'signature data',
      offset: 636,
      needed: 4299,
      available: 4000 - 636,
    })
    expect(signature.message).toContain('signature data size')
    expect(signature.hint).toBeDefined()
  })

  it('refuses an empty input and a lone header', () => {
    expect(codeOf(new Uint8Array(0))).toBe('ERR_TDX_QUOTE_TRUNCATED')
    expect(codeOf(quoteHeader())).toBe('ERR_TDX_QUOTE_TRUNCATED')
  })
})

describe('parseDcapQuote size fields', () => {
  const setU32 = (base: Uint8Array, at: number, value: number): Uint8Array =>
    patched(base, (v) => {
      v.setUint32(at, value, true)
    })
  const setU16 = (base: Uint8Array, at: number, value: number): Uint8Array =>
    patched(base, (v) => {
      v.setUint16(at, value, true)
    })
  const u32 = (base: Uint8Array, at: number): number =>
    new DataView(base.buffer, base.byteOffset).getUint32(at, true)
  const u16 = (base: Uint8Array, at: number): number =>
    new DataView(base.buffer, base.byteOffset).getUint16(at, true)

  it('signature data size: larger than the input is truncation; too large into trailing bytes or too small is a size error', () => {
    expect(codeOf(setU32(claims, V4.sigSize, 0xffffffff))).toBe('ERR_TDX_QUOTE_TRUNCATED')
    expect(codeOf(setU32(claims, V4.sigSize, u32(claims, V4.sigSize) + 1))).toBe(
      'ERR_TDX_QUOTE_TRUNCATED',
    )
    // spr-v4 has 39 trailing bytes: a size reaching into them leaves bytes unaccounted for.
    const into = thrown(() => parseDcapQuote(setU32(spr, V4.sigSize, u32(spr, V4.sigSize) + 1)))
    expect(into.code).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    expect(into.details).toMatchObject({ field: 'signature data', declared: 4300, used: 4299 })
    expect(codeOf(setU32(spr, V4.sigSize, u32(spr, V4.sigSize) - 1))).toBe(
      'ERR_TDX_QUOTE_SIZE_INVALID',
    )
    expect(codeOf(setU32(spr, V4.sigSize, 0))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
  })

  it('QE report certification data size (type 6): too large, too small, huge', () => {
    const size = u32(spr, V4.certSize)
    for (const value of [size + 1, size - 1, 0, 0xffffffff]) {
      expect(codeOf(setU32(spr, V4.certSize, value)), `size ${value}`).toBe(
        'ERR_TDX_QUOTE_SIZE_INVALID',
      )
    }
  })

  it('QE auth data size: too large overruns type 6; off by one misaligns the nested type', () => {
    const size = u16(spr, V4.authSize)
    expect(codeOf(setU16(spr, V4.authSize, 0xffff))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    // The nested type is then read from the wrong bytes, and checked before its size is trusted.
    for (const value of [size + 1, size - 1]) {
      expect(codeOf(setU16(spr, V4.authSize, value)), `size ${value}`).toBe(
        'ERR_TDX_QUOTE_CERT_DATA_TYPE',
      )
    }
  })

  it('nested certification data size: too large runs past type 6, too small leaves bytes over', () => {
    const size = u32(spr, V4.nestedSize)
    const over = thrown(() => parseDcapQuote(setU32(spr, V4.nestedSize, size + 1)))
    expect(over.code).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    expect(over.details).toMatchObject({ enclosing: 'certification data' })
    const under = thrown(() => parseDcapQuote(setU32(spr, V4.nestedSize, size - 1)))
    expect(under.code).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    expect(under.details).toMatchObject({ field: 'certification data', used: 4164 })
    expect(codeOf(setU32(spr, V4.nestedSize, 0xffffffff))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
  })

  it('v3: signature data, QE auth data and certification data sizes', () => {
    const sig = u32(sgxA, V3.sigSize)
    expect(codeOf(setU32(sgxA, V3.sigSize, sig + 1))).toBe('ERR_TDX_QUOTE_TRUNCATED')
    expect(codeOf(setU32(sgxA, V3.sigSize, sig - 1))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    expect(codeOf(setU16(sgxA, V3.authSize, 33))).toBe('ERR_TDX_QUOTE_CERT_DATA_TYPE')
    expect(codeOf(setU16(sgxA, V3.authSize, 0xffff))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    const cert = u32(sgxA, V3.certSize)
    expect(codeOf(setU32(sgxA, V3.certSize, cert + 1))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
    expect(codeOf(setU32(sgxA, V3.certSize, cert - 1))).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
  })

  it('reads nothing past a declared size: bytes after it are unaccounted for, not parsed', () => {
    // Extra bytes inside the signature data after a complete structure are refused, even when
    // they look like more certification data.
    const parts = splitQuote(claims)
    const sig = parts.signatureData.subarray(4)
    const padded = concat(parts.header, parts.body, le32(sig.length + 6), sig, le16(5), le32(0))
    expect(codeOf(padded)).toBe('ERR_TDX_QUOTE_SIZE_INVALID')
  })
})

describe('parseDcapQuote header values', () => {
  const withHeader = (edit: (v: DataView) => void): Uint8Array => patched(spr, edit)

  it('refuses versions other than 3, 4 and 5', () => {
    for (const version of [0, 1, 2, 6, 7, 0x100, 0xffff]) {
      const error = thrown(() =>
        parseDcapQuote(
          withHeader((v) => {
            v.setUint16(0, version, true)
          }),
        ),
      )
      expect(error.code, `version ${version}`).toBe('ERR_TDX_QUOTE_VERSION')
      expect(error.details).toMatchObject({ version, offset: 0 })
    }
  })

  it('refuses attestation key types other than 2', () => {
    for (const keyType of [0, 1, 3, 4, 0xffff]) {
      expect(
        codeOf(
          withHeader((v) => {
            v.setUint16(2, keyType, true)
          }),
        ),
        `key type ${keyType}`,
      ).toBe('ERR_TDX_QUOTE_KEY_TYPE')
    }
  })

  it('refuses TEE types other than 0x00 and 0x81, and TDX in a v3 quote', () => {
    for (const teeType of [1, 0x80, 0x82, 0x8100, 0x81000000, 0xffffffff]) {
      expect(
        codeOf(
          withHeader((v) => {
            v.setUint32(4, teeType, true)
          }),
        ),
        `TEE type ${teeType}`,
      ).toBe('ERR_TDX_QUOTE_TEE_TYPE')
    }
    const v3Tdx = patched(sgxA, (v) => {
      v.setUint32(4, 0x81, true)
    })
    expect(codeOf(v3Tdx)).toBe('ERR_TDX_QUOTE_TEE_TYPE')
  })

  it('reads a v4 TDX quote relabelled SGX with the SGX body, which then no longer fits', () => {
    // TEE type decides the body: 384 bytes instead of 584 shift everything after it.
    const relabelled = patched(spr, (v) => {
      v.setUint32(4, 0, true)
    })
    const error = thrown(() => parseDcapQuote(relabelled))
    expect(error.code).toBe('ERR_TDX_QUOTE_TRUNCATED')
    expect(error.message).toMatch(/^DCAP quote is truncated: signature data at offset 436 /)
  })
})

describe('parseDcapQuote v5 body descriptor', () => {
  it('refuses unknown body types', () => {
    for (const type of [0, 4, 5, 0xffff]) {
      const error = thrown(() => parseDcapQuote(asV5(spr, type)))
      expect(error.code, `type ${type}`).toBe('ERR_TDX_QUOTE_BODY_TYPE')
      expect(error.details).toMatchObject({ bodyType: type, offset: 48 })
    }
  })

  it('refuses a body type that does not match the TEE type', () => {
    expect(codeOf(asV5(spr, 1))).toBe('ERR_TDX_QUOTE_BODY_TYPE')
    const sgxBody = splitQuote(sgxA).body
    for (const type of [2, 3]) {
      const quote = concat(
        quoteHeader({ version: 5, teeType: 0 }),
        le16(type),
        le32(sgxBody.length),
        sgxBody,
        defaultSignatureDataV4(),
      )
      expect(codeOf(quote), `SGX header, body type ${type}`).toBe('ERR_TDX_QUOTE_BODY_TYPE')
    }
  })

  it('refuses a body size that does not match the body type', () => {
    const body = splitQuote(spr).body
    for (const [type, size] of [
      [2, 583],
      [2, 585],
      [2, 648],
      [3, 584],
      [2, 0],
      [2, 0xffffffff],
    ] as const) {
      const quote = concat(quoteHeader({ version: 5 }), le16(type), le32(size), body, filled(64, 0))
      const error = thrown(() => parseDcapQuote(quote))
      expect(error.code, `type ${type} size ${size}`).toBe('ERR_TDX_QUOTE_BODY_SIZE')
      expect(error.details).toMatchObject({ offset: 50, size })
    }
  })

  it('refuses a v5 quote cut inside the descriptor', () => {
    const v5 = asV5(spr, 2)
    for (const length of [48, 49, 50, 53]) {
      expect(codeOf(v5.subarray(0, length))).toBe('ERR_TDX_QUOTE_TRUNCATED')
    }
  })
})

describe('parseDcapQuote input type', () => {
  it('refuses what is not a Uint8Array with a usage error', () => {
    for (const input of [
      null,
      undefined,
      'quote',
      [1, 2, 3],
      new ArrayBuffer(8),
      {},
    ] as unknown[]) {
      const error = thrown(() => parseDcapQuote(input as Uint8Array))
      expect(error.code).toBe('ERR_TDX_INPUT_TYPE')
      expect(error.category).toBe('usage')
    }
  })

  it('never puts input bytes into a message', () => {
    const error = thrown(() =>
      parseDcapQuote(
        patched(spr, (v) => {
          v.setUint16(0, 0x4141, true)
        }),
      ),
    )
    expect(error.message).not.toMatch(/[0-9a-f]{16}/)
  })
})
