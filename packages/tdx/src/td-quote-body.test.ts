import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import {
  parseTdQuoteBody,
  TD_REPORT_BODY_10_SIZE,
  TD_REPORT_BODY_15_SIZE,
} from './td-quote-body.ts'
import type { TdQuoteBodyKind } from './td-quote-body.ts'
import { VECTORS, concat, filled, splitQuote, thrown } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const body = splitQuote(vector('tdx/v4-claims/quote.dat')).body
const hex = bytesToHex

describe('parseTdQuoteBody', () => {
  it('reads each field from its offset in the layout table (distinct marker bytes)', () => {
    const marked = Uint8Array.from({ length: TD_REPORT_BODY_15_SIZE }, (_, i) => (i * 7) & 0xff)
    const at = (offset: number): number => (offset * 7) & 0xff
    const b = parseTdQuoteBody(marked, 'td15')
    expect(b.kind).toBe('td15')
    if (b.kind !== 'td15') return
    const starts: [Uint8Array, number, number][] = [
      [b.teeTcbSvn, 0x000, 16],
      [b.mrSeam, 0x010, 48],
      [b.mrSignerSeam, 0x040, 48],
      [b.mrTd, 0x088, 48],
      [b.mrConfigId, 0x0b8, 48],
      [b.mrOwner, 0x0e8, 48],
      [b.mrOwnerConfig, 0x118, 48],
      [b.rtmrs[0], 0x148, 48],
      [b.rtmrs[1], 0x178, 48],
      [b.rtmrs[2], 0x1a8, 48],
      [b.rtmrs[3], 0x1d8, 48],
      [b.reportData, 0x208, 64],
      [b.teeTcbSvn2, 0x248, 16],
      [b.mrServiceTd, 0x258, 48],
    ]
    for (const [field, offset, length] of starts) {
      expect(field.length).toBe(length)
      expect(field[0], `offset 0x${offset.toString(16)}`).toBe(at(offset))
      expect(field[length - 1]).toBe(at(offset + length - 1))
    }
    const u64 = (offset: number): bigint => new DataView(marked.buffer).getBigUint64(offset, true)
    expect(b.seamAttributes).toBe(u64(0x070))
    expect(b.tdAttributes.raw).toBe(u64(0x078))
    expect(b.xfam.raw).toBe(u64(0x080))
  })

  it('reads the v4-claims body as TDX 1.0 and, extended, as TDX 1.5', () => {
    const b10 = parseTdQuoteBody(body, 'td10')
    expect(b10.kind).toBe('td10')
    expect('teeTcbSvn2' in b10).toBe(false)
    expect(hex(b10.mrTd)).toMatch(/^705ee938/)
    const b15 = parseTdQuoteBody(concat(body, filled(16, 1), filled(48, 2)), 'td15')
    expect(b15.kind === 'td15' && hex(b15.mrServiceTd)).toBe('02'.repeat(48))
    expect({ ...b15, kind: 'td10', teeTcbSvn2: undefined, mrServiceTd: undefined }).toEqual({
      ...b10,
      teeTcbSvn2: undefined,
      mrServiceTd: undefined,
    })
  })

  it('refuses a length that does not fit the kind, an unknown kind and non-Uint8Array input', () => {
    for (const [length, kind] of [
      [TD_REPORT_BODY_15_SIZE, 'td10'],
      [TD_REPORT_BODY_10_SIZE, 'td15'],
      [0, 'td10'],
      [583, 'td10'],
    ] as const) {
      const error = thrown(() => parseTdQuoteBody(new Uint8Array(length), kind))
      expect(error.code).toBe('ERR_TDX_QUOTE_BODY_SIZE')
      expect(error.details).toMatchObject({ kind, length })
    }
    const kind = thrown(() => parseTdQuoteBody(body, 'sgx' as TdQuoteBodyKind))
    expect(kind.code).toBe('ERR_TDX_BODY_KIND')
    expect(kind.category).toBe('usage')
    expect(thrown(() => parseTdQuoteBody(null as unknown as Uint8Array, 'td10')).code).toBe(
      'ERR_TDX_INPUT_TYPE',
    )
  })
})
