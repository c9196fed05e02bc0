import { describe, it, expect } from 'vitest'
import { parseDer } from './der-parse.ts'
import { codeOf, concat, hex, lengthOctets, thrown, walk } from './der-test-support.ts'
import { bytesToHex } from './encoding.ts'
import { UsageError } from './errors.ts'

describe('parseDer structure rules', () => {
  it('parses primitive and constructed elements with offsets and children', () => {
    const root = parseDer(hex('30 08 02 01 05 a0 03 04 01 ff'))
    expect(root).toMatchObject({
      tagClass: 'universal',
      constructed: true,
      tagNumber: 16,
      offset: 0,
    })
    expect(root.children.map((c) => [c.tagClass, c.tagNumber, c.constructed, c.offset])).toEqual([
      ['universal', 2, false, 2],
      ['context', 0, true, 5],
    ])
    const inner = root.children[1]?.children[0]
    expect(inner?.offset).toBe(7)
    expect(bytesToHex(inner?.value ?? new Uint8Array())).toBe('ff')
    expect(bytesToHex(inner?.encoded ?? new Uint8Array())).toBe('0401ff')
  })

  it('reads every tag class', () => {
    expect(parseDer(hex('45 00')).tagClass).toBe('application')
    expect(parseDer(hex('85 00')).tagClass).toBe('context')
    expect(parseDer(hex('c5 00')).tagClass).toBe('private')
  })

  it('reads high tag numbers in minimal form', () => {
    expect(parseDer(hex('9f 1f 00'))).toMatchObject({ tagClass: 'context', tagNumber: 31 })
    expect(parseDer(hex('bf 87 68 00'))).toMatchObject({ tagNumber: 1000, constructed: true })
    expect(parseDer(hex('5f ff ff ff 7f 00')).tagNumber).toBe(2 ** 28 - 1)
  })

  it('rejects non-minimal, oversized and cut-off tag numbers', () => {
    expect(codeOf(() => parseDer(hex('9f 1e 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 00 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 80 20 00')))).toBe('ERR_DER_TAG_NOT_MINIMAL')
    expect(codeOf(() => parseDer(hex('9f 81 80 80 80 00 00')))).toBe('ERR_DER_TAG_TOO_LARGE')
    expect(codeOf(() => parseDer(hex('9f')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('9f 81')))).toBe('ERR_DER_TRUNCATED')
  })

  it('rejects the end-of-contents tag', () => {
    expect(codeOf(() => parseDer(hex('00 00')))).toBe('ERR_DER_TAG_INVALID')
    expect(codeOf(() => parseDer(hex('30 02 00 00')))).toBe('ERR_DER_TAG_INVALID')
  })

  it('rejects empty input', () => {
    const err = thrown(() => parseDer(new Uint8Array(0)))
    expect(err.code).toBe('ERR_DER_TRUNCATED')
    expect(err.details).toMatchObject({ offset: 0, needed: 1, available: 0 })
  })

  it('rejects indefinite lengths', () => {
    expect(codeOf(() => parseDer(hex('30 80 02 01 00 00 00')))).toBe('ERR_DER_INDEFINITE_LENGTH')
    expect(codeOf(() => parseDer(hex('24 80 04 01 00 00 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('a0 80 02 01 00 00 00')))).toBe('ERR_DER_INDEFINITE_LENGTH')
  })

  it('accepts only minimal lengths', () => {
    expect(parseDer(concat([hex('04 7f'), new Uint8Array(127)])).value.length).toBe(127)
    expect(parseDer(concat([hex('04 81 80'), new Uint8Array(128)])).value.length).toBe(128)
    expect(parseDer(concat([hex('04 82 01 00'), new Uint8Array(256)])).value.length).toBe(256)
    const cases = [
      concat([hex('04 81 05'), new Uint8Array(5)]),
      concat([hex('04 81 7f'), new Uint8Array(127)]),
      concat([hex('04 82 00 80'), new Uint8Array(128)]),
      concat([hex('04 83 00 01 00'), new Uint8Array(256)]),
      hex('04 81 00'),
    ]
    for (const bytes of cases) {
      expect(codeOf(() => parseDer(bytes))).toBe('ERR_DER_LENGTH_NOT_MINIMAL')
    }
  })

  it('rejects huge and reserved length fields without allocating', () => {
    const huge = thrown(() => parseDer(hex('04 84 ff ff ff ff 00')))
    expect(huge.code).toBe('ERR_DER_TRUNCATED')
    expect(huge.details).toMatchObject({ offset: 6, needed: 0xffffffff, available: 1 })
    expect(codeOf(() => parseDer(hex('04 85 01 00 00 00 00')))).toBe('ERR_DER_LENGTH_TOO_LARGE')
    expect(codeOf(() => parseDer(hex('04 88 00 00 00 00 00 00 00 01 00')))).toBe(
      'ERR_DER_LENGTH_TOO_LARGE',
    )
    expect(codeOf(() => parseDer(hex('04 ff')))).toBe('ERR_DER_LENGTH_TOO_LARGE')
  })

  it('rejects cut-off length octets and contents', () => {
    expect(codeOf(() => parseDer(hex('04')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('04 82 01')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('04 03 00 00')))).toBe('ERR_DER_TRUNCATED')
  })

  it('requires children to fill their parent exactly', () => {
    // The child claims more than the parent holds.
    const overrun = thrown(() => parseDer(hex('30 03 04 02 00 00')))
    expect(overrun.code).toBe('ERR_DER_TRUNCATED')
    expect(overrun.message).toContain('enclosing SEQUENCE')
    expect(overrun.details).toMatchObject({ offset: 4, needed: 2, available: 1 })
    // Bytes left in the parent that are not a whole element.
    expect(codeOf(() => parseDer(hex('30 04 02 01 00 05')))).toBe('ERR_DER_TRUNCATED')
    expect(codeOf(() => parseDer(hex('a1 04 02 01 00 9f')))).toBe('ERR_DER_TRUNCATED')
    // An empty constructed element is fine.
    expect(parseDer(hex('30 00')).children).toEqual([])
  })

  it('enforces the DER form of universal types', () => {
    expect(codeOf(() => parseDer(hex('24 03 04 01 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('23 03 03 01 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('2c 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('22 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('10 00')))).toBe('ERR_DER_FORM_INVALID')
    expect(codeOf(() => parseDer(hex('11 00')))).toBe('ERR_DER_FORM_INVALID')
    // Context-specific tags may use either form.
    expect(parseDer(hex('a4 03 04 01 00')).children.length).toBe(1)
    expect(parseDer(hex('84 01 00')).children.length).toBe(0)
  })
})

describe('parseDer depth limit', () => {
  /** `depth` nested SEQUENCEs, built with all headers computed first (linear time). */
  function nested(depth: number): Uint8Array {
    const headers: number[][] = []
    let length = 0
    for (let i = 0; i < depth; i += 1) {
      const header = [0x30, ...lengthOctets(length)]
      headers.unshift(header)
      length += header.length
    }
    return concat(headers)
  }

  it('accepts 32 levels by default and rejects 33', () => {
    expect(walk(parseDer(nested(32))).length).toBe(32)
    const err = thrown(() => parseDer(nested(33)))
    expect(err.code).toBe('ERR_DER_DEPTH')
    expect(err.details).toMatchObject({ maxDepth: 32 })
  })

  it('honours maxDepth', () => {
    expect(codeOf(() => parseDer(nested(3), { maxDepth: 2 }))).toBe('ERR_DER_DEPTH')
    expect(walk(parseDer(nested(2), { maxDepth: 2 })).length).toBe(2)
    expect(walk(parseDer(nested(1000), { maxDepth: 1000 })).length).toBe(1000)
  })

  it('stops a deep bomb with a coded error, not a stack overflow', () => {
    const bomb = nested(100_000)
    expect(codeOf(() => parseDer(bomb))).toBe('ERR_DER_DEPTH')
    expect(codeOf(() => parseDer(bomb, { maxDepth: 1000 }))).toBe('ERR_DER_DEPTH')
  })

  it('rejects an invalid maxDepth with a UsageError', () => {
    for (const maxDepth of [0, -1, 1.5, 1001, Number.NaN, Infinity]) {
      const err = thrown(() => parseDer(hex('05 00'), { maxDepth }))
      expect(err).toBeInstanceOf(UsageError)
      expect(err.code).toBe('ERR_DER_MAX_DEPTH_INVALID')
    }
  })
})

describe('parseDer of a Node Buffer', () => {
  it('is not affected by the caller changing the Buffer (a Buffer slice is a view, not a copy)', () => {
    // SEQUENCE { OCTET STRING 01 02 }
    const input = Buffer.from([0x30, 0x04, 0x04, 0x02, 0x01, 0x02])
    const element = parseDer(input)
    input.fill(0)
    expect(bytesToHex(element.encoded)).toBe('300404020102')
  })
})
