/**
 * The TPM 2.0 command bytes and the response checks, without a TPM: the commands against their
 * layout in the TPM 2.0 Library (Part 3 §22), and responses that are truncated, oversized, carry
 * a wrong tag or size field, another PCR, bank or digest length, or a response code. The
 * properties: no byte string makes the parser throw anything but a coded error, and it returns a
 * value only for a response that is exactly the structure (re-encoding it gives the same bytes).
 * `tpm2-client.test.ts` sends the same commands to a real TPM (swtpm).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes, isInitguardError } from '@initguard/core'
import { codeOf, outcome, thrown } from '@initguard/testkit'
import {
  TPM2_MAX_RESPONSE_SIZE,
  declaredResponseSize,
  parsePcrExtendResponse,
  parsePcrReadResponse,
  pcrExtendCommand,
  pcrReadCommand,
} from './tpm2-commands.ts'
import { TpmCommandError } from './tpm2-response-codes.ts'

const WHERE = '/dev/tpmrm0'
const VALUE = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i)

/** A TPM2_PCR_Read response, field by field (defaults: the one a TPM gives for SHA-256 PCR 8). */
function readResponse(
  fields: {
    tag?: number
    size?: number
    rc?: number
    counter?: number
    selections?: number
    hash?: number
    select?: readonly number[]
    digests?: number
    digestSize?: number
    value?: Uint8Array
    trailing?: readonly number[]
  } = {},
): Uint8Array {
  const value = fields.value ?? VALUE
  const select = fields.select ?? [0x00, 0x01, 0x00]
  const body = [
    ...u32(fields.counter ?? 7),
    ...u32(fields.selections ?? 1),
    ...u16(fields.hash ?? 0x000b),
    select.length,
    ...select,
    ...u32(fields.digests ?? 1),
    ...u16(fields.digestSize ?? value.length),
    ...value,
    ...(fields.trailing ?? []),
  ]
  return Uint8Array.from([
    ...u16(fields.tag ?? 0x8001),
    ...u32(fields.size ?? 10 + body.length),
    ...u32(fields.rc ?? 0),
    ...body,
  ])
}

/** A TPM2_PCR_Extend success response: header, parameterSize, the password session's response. */
function extendResponse(fields: { tag?: number; parameterSize?: number; nonce?: number } = {}) {
  const nonce = fields.nonce ?? 0
  const body = [
    ...u32(fields.parameterSize ?? 0),
    ...u16(nonce),
    ...new Array<number>(nonce).fill(0x11),
    0x01,
    ...u16(0),
  ]
  return Uint8Array.from([
    ...u16(fields.tag ?? 0x8002),
    ...u32(10 + body.length),
    ...u32(0),
    ...body,
  ])
}

/** A header-only error response. */
const errorResponse = (rc: number, tag = 0x8001): Uint8Array =>
  Uint8Array.from([...u16(tag), ...u32(10), ...u32(rc)])

function u16(n: number): number[] {
  return [(n >>> 8) & 0xff, n & 0xff]
}
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

const read8 = pcrReadCommand(8)
const parseRead = (bytes: Uint8Array): Uint8Array => parsePcrReadResponse(bytes, read8, 8, WHERE)
const extend8 = pcrExtendCommand(8, VALUE)
const parseExtend = (bytes: Uint8Array): void => {
  parsePcrExtendResponse(bytes, extend8, WHERE)
}

describe('commands', () => {
  it('TPM2_PCR_Read of SHA-256 PCR 8: header, one selection of bank 0x000b, PCR 8 = byte 1 bit 0', () => {
    expect(bytesToHex(read8.bytes)).toBe(
      '8001' + '00000014' + '0000017e' + '00000001' + '000b' + '03' + '000100',
    )
    expect(bytesToHex(pcrReadCommand(0).bytes).slice(-6)).toBe('010000')
    expect(bytesToHex(pcrReadCommand(23).bytes).slice(-6)).toBe('000080')
  })

  it('TPM2_PCR_Extend of SHA-256 PCR 8: sessions tag, handle 8, the empty password session, one SHA-256 digest', () => {
    expect(bytesToHex(extend8.bytes)).toBe(
      '8002' +
        '00000041' +
        '00000182' +
        '00000008' +
        '00000009' +
        '40000009' +
        '0000' +
        '00' +
        '0000' +
        '00000001' +
        '000b' +
        bytesToHex(VALUE),
    )
    expect(extend8.bytes.length).toBe(65)
  })

  it.each([-1, 24, 1.5, Number.NaN])('refuses PCR %s', (pcr) => {
    expect(codeOf(() => pcrReadCommand(pcr))).toBe('ERR_TPM_PCR_INDEX')
    expect(codeOf(() => pcrExtendCommand(pcr, VALUE))).toBe('ERR_TPM_PCR_INDEX')
  })

  it.each([0, 20, 31, 33, 48])('refuses a %i-byte digest for the SHA-256 bank', (length) => {
    expect(codeOf(() => pcrExtendCommand(8, new Uint8Array(length)))).toBe('ERR_TPM_DIGEST_LENGTH')
  })
})

describe('TPM2_PCR_Read response', () => {
  it('a well-formed response gives the PCR value, as a copy', () => {
    const bytes = readResponse()
    const value = parseRead(bytes)
    expect(value).toEqual(VALUE)
    bytes.fill(0)
    expect(value).toEqual(VALUE)
  })

  it('a larger sizeofSelect, still selecting PCR 8 alone, is accepted', () => {
    expect(parseRead(readResponse({ select: [0, 1, 0, 0] }))).toEqual(VALUE)
  })

  it('every truncation is refused with a coded error', () => {
    const bytes = readResponse()
    for (let length = 0; length < bytes.length; length++) {
      const error = thrown(() => parseRead(bytes.subarray(0, length)))
      expect(error.category, `length ${length}`).toBe('malformed')
      expect(['ERR_TRUNCATED', 'ERR_TPM_RESPONSE_SIZE']).toContain(error.code)
    }
  })

  it('bytes past the declared size, and a size field that is not the length, are refused', () => {
    const good = readResponse()
    expect(outcome(() => parseRead(readResponse({ trailing: [0], size: good.length })))).toBe(
      'malformed ERR_TPM_RESPONSE_SIZE',
    )
    for (const size of [0, 9, 10, good.length - 1, good.length + 1, 4096, 0xffffffff]) {
      expect(
        codeOf(() => parseRead(readResponse({ size }))),
        `size ${size}`,
      ).toMatch(/^ERR_TPM_RESPONSE_(SIZE|TOO_LARGE)$/)
    }
  })

  it('trailing bytes inside the declared size are refused', () => {
    // readResponse's size field counts the trailing bytes.
    expect(outcome(() => parseRead(readResponse({ trailing: [0, 0] })))).toBe(
      'malformed ERR_TRAILING_BYTES',
    )
  })

  it('oversized: a declared size or a length above 4096 bytes', () => {
    expect(codeOf(() => parseRead(readResponse({ size: TPM2_MAX_RESPONSE_SIZE + 1 })))).toBe(
      'ERR_TPM_RESPONSE_TOO_LARGE',
    )
    const huge = new Uint8Array(TPM2_MAX_RESPONSE_SIZE + 1)
    huge.set(readResponse())
    expect(codeOf(() => parseRead(huge))).toBe('ERR_TPM_RESPONSE_TOO_LARGE')
  })

  it('a wrong tag: not a TPM 2.0 tag, or the sessions tag on a command without sessions', () => {
    for (const tag of [0x00c4, 0x0000, 0x8003, 0xffff]) {
      expect(codeOf(() => parseRead(readResponse({ tag })))).toBe('ERR_TPM_RESPONSE_TAG')
    }
    expect(codeOf(() => parseRead(readResponse({ tag: 0x8002 })))).toBe('ERR_TPM_RESPONSE_TAG')
  })

  it('another PCR, more PCRs, another bank, another digest length, another count: refused', () => {
    const invalid = 'malformed ERR_TPM_RESPONSE_INVALID'
    expect(outcome(() => parseRead(readResponse({ select: [0, 2, 0] })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ select: [0, 3, 0] })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ select: [1, 1, 0] })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ select: [0] })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ hash: 0x0004 })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ hash: 0x000c })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ selections: 0 })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ selections: 2 })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ digests: 2 })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ digests: 0 })))).toBe(invalid)
    const sha1 = new Uint8Array(20)
    expect(outcome(() => parseRead(readResponse({ value: sha1 })))).toBe(invalid)
    const sha384 = new Uint8Array(48)
    expect(outcome(() => parseRead(readResponse({ value: sha384 })))).toBe(invalid)
    expect(outcome(() => parseRead(readResponse({ select: new Array<number>(33).fill(0) })))).toBe(
      invalid,
    )
  })

  it('a digest size field that runs past the end is refused, not read past the buffer', () => {
    expect(outcome(() => parseRead(readResponse({ digestSize: 0xffff })))).toBe(
      'malformed ERR_TPM_RESPONSE_INVALID',
    )
  })

  it('no PCR selected and no value: the SHA-256 bank is not allocated', () => {
    const bytes = readResponse({ select: [0, 0, 0], digests: 0, value: new Uint8Array(0) })
    // Without the digest's size field: digests count 0 ends the response.
    const trimmed = Uint8Array.from([...bytes.subarray(0, bytes.length - 2)])
    new DataView(trimmed.buffer).setUint32(2, trimmed.length)
    expect(outcome(() => parseRead(trimmed))).toBe('unavailable ERR_TPM_PCR_UNAVAILABLE')
  })

  it('a response code becomes a TpmCommandError; an error response must be the bare header with tag 0x8001', () => {
    const error = thrown(() => parseRead(errorResponse(0x100)))
    expect(error).toBeInstanceOf(TpmCommandError)
    expect(error.code).toBe('ERR_TPM_NOT_STARTED')
    expect(error).toMatchObject({ responseCode: 0x100, command: 'TPM2_PCR_Read' })
    expect(error.message).toBe(
      'the TPM at /dev/tpmrm0 refused TPM2_PCR_Read: TPM_RC_INITIALIZE (0x00000100)',
    )
    expect(codeOf(() => parseRead(errorResponse(0x100, 0x8002)))).toBe('ERR_TPM_RESPONSE_SIZE')
    expect(codeOf(() => parseRead(readResponse({ rc: 0x922 })))).toBe('ERR_TPM_RESPONSE_SIZE')
    expect(codeOf(() => parseRead(errorResponse(0x922)))).toBe('ERR_TPM_BUSY')
  })
})

describe('TPM2_PCR_Extend response', () => {
  it('the password session response is accepted', () => {
    expect(() => {
      parseExtend(extendResponse())
    }).not.toThrow()
  })

  it('refuses the no-sessions tag on success, parameters, a nonce, trailing bytes and truncations', () => {
    expect(
      codeOf(() => {
        parseExtend(extendResponse({ tag: 0x8001 }))
      }),
    ).toBe('ERR_TPM_RESPONSE_TAG')
    expect(
      codeOf(() => {
        parseExtend(extendResponse({ parameterSize: 4 }))
      }),
    ).toBe('ERR_TPM_RESPONSE_INVALID')
    expect(
      codeOf(() => {
        parseExtend(extendResponse({ nonce: 2 }))
      }),
    ).toBe('ERR_TPM_RESPONSE_INVALID')
    const good = extendResponse()
    const longer = Uint8Array.from([...good, 0])
    new DataView(longer.buffer).setUint32(2, longer.length)
    expect(
      codeOf(() => {
        parseExtend(longer)
      }),
    ).toBe('ERR_TRAILING_BYTES')
    for (let length = 0; length < good.length; length++) {
      expect(
        thrown(() => {
          parseExtend(good.subarray(0, length))
        }).category,
      ).toBe('malformed')
    }
  })

  it.each([
    ['0x907', 'ERR_TPM_LOCALITY'],
    ['0x98e', 'ERR_TPM_AUTH'],
    ['0x9a2', 'ERR_TPM_AUTH'],
    ['0x101', 'ERR_TPM_FAILURE_MODE'],
    ['0x1c4', 'ERR_TPM_COMMAND_REFUSED'],
  ])('response code %s is %s', (rc, code) => {
    expect(
      codeOf(() => {
        parseExtend(errorResponse(Number(rc)))
      }),
    ).toBe(code)
  })
})

describe('declaredResponseSize (a stream transport refuses an oversized response before reading it)', () => {
  it('reads the size from the first 6 bytes', () => {
    expect(declaredResponseSize(hexToBytes('80010000002a'), read8)).toBe(42)
  })

  it('refuses a bad tag, a size below the header or above 4096, and fewer than 6 bytes', () => {
    expect(codeOf(() => declaredResponseSize(hexToBytes('00c40000002a'), read8))).toBe(
      'ERR_TPM_RESPONSE_TAG',
    )
    expect(codeOf(() => declaredResponseSize(hexToBytes('800100000009'), read8))).toBe(
      'ERR_TPM_RESPONSE_SIZE',
    )
    expect(codeOf(() => declaredResponseSize(hexToBytes('800100001001'), read8))).toBe(
      'ERR_TPM_RESPONSE_TOO_LARGE',
    )
    expect(codeOf(() => declaredResponseSize(hexToBytes('8001000000'), read8))).toBe(
      'ERR_TRUNCATED',
    )
  })
})

describe('properties', () => {
  /** The parser's outcome: the value, or the coded error; a foreign error fails the property. */
  function parsed(bytes: Uint8Array): Uint8Array | undefined {
    try {
      return parseRead(bytes)
    } catch (error) {
      if (!isInitguardError(error)) throw error
      return undefined
    }
  }

  it('random bytes: only coded errors, never a value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        expect(parsed(bytes)).toBeUndefined()
      }),
      { numRuns: 2000 },
    )
  })

  it('a valid response with bytes changed, cut or added: a value only when it is again exactly a response, re-encoded the same', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        at: fc.nat({ max: 70 }),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: 70 }) }),
      fc.record({
        kind: fc.constant('append' as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
    )
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (value, mutations) => {
          let bytes = readResponse({ value })
          for (const m of mutations) {
            if (m.kind === 'set') {
              bytes = bytes.slice()
              if (m.at < bytes.length) bytes[m.at] = m.byte
            } else if (m.kind === 'cut') bytes = bytes.slice(0, m.at)
            else bytes = Uint8Array.from([...bytes, ...m.bytes])
          }
          const result = parsed(bytes)
          if (result === undefined) return
          // Accepted: then it is the structure exactly, with this value and PCR 8 alone.
          const view = new DataView(bytes.buffer, bytes.byteOffset)
          // header 10, pcrUpdateCounter 4, count 4, hash 2: sizeofSelect at 20.
          const sizeofSelect = bytes[20] ?? 0
          const select = [...bytes.subarray(21, 21 + sizeofSelect)]
          const again = readResponse({ counter: view.getUint32(10), select, value: result })
          expect(bytesToHex(again)).toBe(bytesToHex(bytes))
          expect(select.reduce((n, b) => n + b.toString(2).replaceAll('0', '').length, 0)).toBe(1)
          expect(select[1]).toBe(1)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('any response code on a bare header: a TpmCommandError, never a value or a foreign error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), (rc) => {
        const error = thrown(() => parseRead(errorResponse(rc)))
        expect(error).toBeInstanceOf(TpmCommandError)
        expect(error.code).toMatch(/^ERR_TPM_[A-Z_]+$/)
        expect(error.category).toBe('unavailable')
      }),
      { numRuns: 2000 },
    )
  })
})
