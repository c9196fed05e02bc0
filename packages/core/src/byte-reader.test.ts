import { Buffer } from 'node:buffer'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { ByteReader } from './byte-reader.ts'
import { isInitguardError, MalformedInputError } from './errors.ts'
import type { InitguardError } from './errors.ts'

/** Run `fn`, which must throw an InitguardError, and return the error. */
function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

const sample = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)

describe('ByteReader sequential reads', () => {
  it('reads every integer width in both byte orders', () => {
    const bytes = Uint8Array.of(
      0xab, // u8
      0x34, 0x12, // u16le 0x1234
      0x12, 0x34, // u16be 0x1234
      0x78, 0x56, 0x34, 0x12, // u32le
      0x12, 0x34, 0x56, 0x78, // u32be
      0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // u64le
      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // u64be
    ) // prettier-ignore
    const r = new ByteReader(bytes)
    expect(r.u8('a')).toBe(0xab)
    expect(r.u16le('b')).toBe(0x1234)
    expect(r.u16be('c')).toBe(0x1234)
    expect(r.u32le('d')).toBe(0x12345678)
    expect(r.u32be('e')).toBe(0x12345678)
    expect(r.u64le('f')).toBe(0x0123456789abcdefn)
    expect(r.u64be('g')).toBe(0x0123456789abcdefn)
    expect(r.offset).toBe(bytes.length)
    expect(r.remaining).toBe(0)
    expect(r.end('reject-trailing')).toBe(0)
  })

  it('reads unsigned values at the top of each range', () => {
    const r = new ByteReader(new Uint8Array(30).fill(0xff))
    expect(r.u8('a')).toBe(0xff)
    expect(r.u16be('b')).toBe(0xffff)
    expect(r.u32le('c')).toBe(0xffffffff)
    expect(r.u64be('d')).toBe(2n ** 64n - 1n)
    expect(r.u64le('e')).toBe(2n ** 64n - 1n)
  })

  it('returns fixed-size byte strings and tracks offset and remaining', () => {
    const r = new ByteReader(sample, { name: 'test blob' })
    expect(r.name).toBe('test blob')
    expect(r.length).toBe(32)
    r.skip(3, 'reserved')
    expect(r.offset).toBe(3)
    expect(r.remaining).toBe(29)
    expect([...r.bytes(4, 'four')]).toEqual([...sample.subarray(3, 7)])
    expect(r.bytes(0, 'empty').length).toBe(0)
    expect(r.offset).toBe(7)
    r.skip(0, 'nothing')
    expect(r.offset).toBe(7)
  })

  it('is not affected by the caller changing the input afterwards', () => {
    const input = Uint8Array.of(1, 2, 3, 4)
    const r = new ByteReader(input)
    input[0] = 9
    input[3] = 9
    expect(r.u8('first')).toBe(1)
    const rest = r.bytes(3, 'rest')
    input[2] = 9
    expect([...rest]).toEqual([2, 3, 4])
  })

  it('copies a Node Buffer too, whose own slice() is a view of the caller memory', () => {
    const input = Buffer.from([1, 2, 3, 4])
    const r = new ByteReader(input)
    const all = r.bytesAt(0, 4, 'all')
    input.fill(9)
    expect([...all]).toEqual([1, 2, 3, 4])
    expect(r.u32leAt(0, 'word')).toBe(0x04030201)
  })

  it('handles an input that is a view into a larger buffer', () => {
    const backing = Uint8Array.of(0xee, 0xee, 0x01, 0x00, 0x00, 0x00, 0xee)
    const r = new ByteReader(backing.subarray(2, 6))
    expect(r.length).toBe(4)
    expect(r.u32le('value')).toBe(1)
    expect(r.end('reject-trailing')).toBe(0)
  })
})

describe('ByteReader truncation', () => {
  const layout = (r: ByteReader): void => {
    r.u8('version')
    r.u16le('flags')
    r.u32be('size')
    r.u64le('policy')
    r.bytes(5, 'nonce')
  }
  const fields = [
    ...Array<string>(1).fill('version'),
    ...Array<string>(2).fill('flags'),
    ...Array<string>(4).fill('size'),
    ...Array<string>(8).fill('policy'),
    ...Array<string>(5).fill('nonce'),
  ]
  const starts: Record<string, number> = { version: 0, flags: 1, size: 3, policy: 7, nonce: 15 }
  const widths: Record<string, number> = { version: 1, flags: 2, size: 4, policy: 8, nonce: 5 }

  it('accepts the full layout', () => {
    const r = new ByteReader(new Uint8Array(20))
    layout(r)
    expect(r.end('reject-trailing')).toBe(0)
  })

  it('fails with ERR_TRUNCATED naming the field at every cut-off point', () => {
    for (let cut = 0; cut < 20; cut += 1) {
      const err = thrown(() => {
        layout(new ByteReader(new Uint8Array(cut), { name: 'SNP report' }))
      })
      const field = fields[cut] ?? ''
      const offset = starts[field] ?? -1
      expect(err).toBeInstanceOf(MalformedInputError)
      expect(err.code).toBe('ERR_TRUNCATED')
      expect(err.category).toBe('malformed')
      expect(err.details).toEqual({
        name: 'SNP report',
        field,
        offset,
        needed: widths[field],
        available: cut - offset,
      })
      expect(err.message).toContain('SNP report')
      expect(err.message).toContain(field)
    }
  })

  it('does not move the cursor when a read fails', () => {
    const r = new ByteReader(Uint8Array.of(1, 2, 3))
    r.u8('a')
    expect(() => r.u32le('b')).toThrow(MalformedInputError)
    expect(r.offset).toBe(1)
    expect(r.u16le('c')).toBe(0x0302)
  })

  it('rejects skip and bytes past the end, including huge lengths', () => {
    const r = new ByteReader(new Uint8Array(8))
    expect(
      thrown(() => {
        r.skip(9, 'padding')
      }).details,
    ).toMatchObject({
      field: 'padding',
      needed: 9,
      available: 8,
    })
    expect(thrown(() => r.bytes(2 ** 32, 'blob')).code).toBe('ERR_TRUNCATED')
    expect(thrown(() => r.bytes(Number.MAX_SAFE_INTEGER, 'blob')).code).toBe('ERR_TRUNCATED')
    expect(r.offset).toBe(0)
  })

  it('rejects negative, fractional and non-finite lengths with ERR_LENGTH_INVALID', () => {
    const r = new ByteReader(new Uint8Array(8))
    for (const n of [-1, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(thrown(() => r.bytes(n, 'len')).code).toBe('ERR_LENGTH_INVALID')
      expect(
        thrown(() => {
          r.skip(n, 'len')
        }).code,
      ).toBe('ERR_LENGTH_INVALID')
      expect(thrown(() => r.bytesAt(0, n, 'len')).code).toBe('ERR_LENGTH_INVALID')
    }
    expect(r.offset).toBe(0)
  })
})

describe('ByteReader positional reads', () => {
  it('reads at absolute offsets without moving the cursor', () => {
    const buf = Buffer.from(sample)
    const r = new ByteReader(sample)
    r.skip(5, 'head')
    expect(r.u8At(31, 'last')).toBe(buf.readUInt8(31))
    expect(r.u16leAt(1, 'x')).toBe(buf.readUInt16LE(1))
    expect(r.u16beAt(1, 'x')).toBe(buf.readUInt16BE(1))
    expect(r.u32leAt(28, 'x')).toBe(buf.readUInt32LE(28))
    expect(r.u32beAt(3, 'x')).toBe(buf.readUInt32BE(3))
    expect(r.u64leAt(24, 'x')).toBe(buf.readBigUInt64LE(24))
    expect(r.u64beAt(9, 'x')).toBe(buf.readBigUInt64BE(9))
    expect([...r.bytesAt(30, 2, 'x')]).toEqual([...sample.subarray(30, 32)])
    expect(r.bytesAt(32, 0, 'x').length).toBe(0)
    const copy = r.copyAt(30, 2, 'x')
    expect([...copy]).toEqual([...sample.subarray(30, 32)])
    copy[0] = (copy[0] ?? 0) ^ 0xff
    expect(r.u8At(30, 'x')).toBe(buf.readUInt8(30))
    expect(thrown(() => r.copyAt(31, 2, 'x')).code).toBe('ERR_TRUNCATED')
    expect(r.offset).toBe(5)
  })

  it('fails with ERR_TRUNCATED past the end, even far past it', () => {
    const r = new ByteReader(new Uint8Array(16), { name: 'quote' })
    expect(thrown(() => r.u64leAt(9, 'tail')).details).toEqual({
      name: 'quote',
      field: 'tail',
      offset: 9,
      needed: 8,
      available: 7,
    })
    expect(thrown(() => r.u8At(16, 'x')).details).toMatchObject({ available: 0 })
    expect(thrown(() => r.u32beAt(1000, 'x')).details).toMatchObject({ available: 0 })
    expect(thrown(() => r.bytesAt(8, 9, 'x')).code).toBe('ERR_TRUNCATED')
    // A zero-length field may end exactly at the end, but not start past it.
    expect(r.bytesAt(16, 0, 'x').length).toBe(0)
    const past = thrown(() => r.bytesAt(17, 0, 'x'))
    expect(past.details).toMatchObject({ offset: 17, needed: 0, available: 0 })
    expect(past.message).toContain('starts past the end (16 bytes)')
  })

  it('rejects invalid offsets with ERR_OFFSET_INVALID', () => {
    const r = new ByteReader(new Uint8Array(16))
    for (const offset of [-1, 0.5, Number.NaN, Infinity]) {
      expect(thrown(() => r.u16leAt(offset, 'x')).code).toBe('ERR_OFFSET_INVALID')
      expect(thrown(() => r.bytesAt(offset, 1, 'x')).code).toBe('ERR_OFFSET_INVALID')
    }
  })
})

describe('ByteReader.end', () => {
  it('rejects trailing bytes with ERR_TRAILING_BYTES and the count', () => {
    const r = new ByteReader(new Uint8Array(10), { name: 'TDX quote' })
    r.skip(7, 'body')
    const err = thrown(() => r.end('reject-trailing'))
    expect(err.code).toBe('ERR_TRAILING_BYTES')
    expect(err.details).toEqual({ name: 'TDX quote', offset: 7, trailing: 3, length: 10 })
    expect(err.message).toContain('3 unexpected trailing bytes')
  })

  it('names a single trailing byte in the singular', () => {
    const r = new ByteReader(new Uint8Array(1))
    expect(thrown(() => r.end('reject-trailing')).message).toContain('1 unexpected trailing byte ')
  })

  it('returns the trailing count when trailing bytes are allowed', () => {
    const r = new ByteReader(new Uint8Array(10))
    r.skip(4, 'body')
    expect(r.end('allow-trailing')).toBe(6)
    r.skip(6, 'slack')
    expect(r.end('allow-trailing')).toBe(0)
  })

  it('uses a default name', () => {
    expect(thrown(() => new ByteReader(new Uint8Array(0)).u8('x')).message).toMatch(/^input /)
  })
})

describe('ByteReader properties', () => {
  type Op =
    | { kind: 'int'; width: 1 | 2 | 4 | 8; le: boolean; at: number | undefined }
    | { kind: 'bytes'; length: number; at: number | undefined }
    | { kind: 'skip'; length: number }

  const anyNumber = fc.oneof(
    fc.integer({ min: -4, max: 80 }),
    fc.double(),
    fc.constantFrom(2 ** 32, Number.MAX_SAFE_INTEGER, 2 ** 60),
  )
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant('int' as const),
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      le: fc.boolean(),
      at: fc.option(anyNumber, { nil: undefined }),
    }),
    fc.record({
      kind: fc.constant('bytes' as const),
      length: anyNumber,
      at: fc.option(anyNumber, { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('skip' as const), length: anyNumber }),
  )

  function run(r: ByteReader, o: Op): unknown {
    switch (o.kind) {
      case 'int': {
        const f = 'field'
        if (o.at === undefined) {
          if (o.width === 1) return r.u8(f)
          if (o.width === 2) return o.le ? r.u16le(f) : r.u16be(f)
          if (o.width === 4) return o.le ? r.u32le(f) : r.u32be(f)
          return o.le ? r.u64le(f) : r.u64be(f)
        }
        if (o.width === 1) return r.u8At(o.at, f)
        if (o.width === 2) return o.le ? r.u16leAt(o.at, f) : r.u16beAt(o.at, f)
        if (o.width === 4) return o.le ? r.u32leAt(o.at, f) : r.u32beAt(o.at, f)
        return o.le ? r.u64leAt(o.at, f) : r.u64beAt(o.at, f)
      }
      case 'bytes':
        return o.at === undefined ? r.bytes(o.length, 'field') : r.bytesAt(o.at, o.length, 'field')
      case 'skip':
        r.skip(o.length, 'field')
        return undefined
    }
  }

  /** What a read should return, computed independently with Buffer; undefined when it must fail. */
  function expected(buf: Buffer, cursor: number, o: Op): { value: unknown; next: number } | null {
    const at = o.kind === 'skip' ? cursor : (o.at ?? cursor)
    const width = o.kind === 'int' ? o.width : o.length
    if (!Number.isSafeInteger(at) || at < 0 || !Number.isSafeInteger(width) || width < 0) {
      return null
    }
    if (at + width > buf.length) return null
    const next = o.kind === 'skip' || o.at === undefined ? cursor + width : cursor
    if (o.kind === 'skip') return { value: undefined, next }
    if (o.kind === 'bytes') return { value: [...buf.subarray(at, at + width)], next }
    const value =
      o.width === 1
        ? buf.readUInt8(at)
        : o.width === 2
          ? o.le
            ? buf.readUInt16LE(at)
            : buf.readUInt16BE(at)
          : o.width === 4
            ? o.le
              ? buf.readUInt32LE(at)
              : buf.readUInt32BE(at)
            : o.le
              ? buf.readBigUInt64LE(at)
              : buf.readBigUInt64BE(at)
    return { value, next }
  }

  it('agrees with Buffer on every read, and fails only with coded errors', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(op, { maxLength: 20 }),
        (bytes, ops) => {
          const buf = Buffer.from(bytes)
          const r = new ByteReader(bytes)
          let cursor = 0
          for (const o of ops) {
            const want = expected(buf, cursor, o)
            let got: unknown
            try {
              got = run(r, o)
            } catch (e) {
              expect(isInitguardError(e)).toBe(true)
              expect(want).toBeNull()
              expect(r.offset).toBe(cursor)
              continue
            }
            expect(want).not.toBeNull()
            expect(got instanceof Uint8Array ? [...got] : got).toEqual(want?.value)
            cursor = want?.next ?? cursor
            expect(r.offset).toBe(cursor)
            expect(r.remaining).toBe(bytes.length - cursor)
          }
          expect(r.end('allow-trailing')).toBe(bytes.length - cursor)
        },
      ),
      { numRuns: 3000 },
    )
  })
})
