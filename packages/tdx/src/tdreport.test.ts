import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { parseDcapQuote } from './quote.ts'
import { VECTORS, patched, thrown } from './quote-test-support.ts'
import { parseTdReport, TDREPORT_SIZE } from './tdreport.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const hex = bytesToHex
const quote = vector('tdx/v4-claims/quote.dat')

/**
 * A TDREPORT with the contents the v4-claims quote was made from: the TD quote body is
 * TEE_TCB_INFO[0x08..0x80) ‖ TDINFO[0x000..0x190) ‖ REPORTDATA, so the pieces go back in place.
 */
function tdReportFromQuote(bytes: Uint8Array): Uint8Array {
  const body = bytes.subarray(48, 48 + 584)
  const report = new Uint8Array(TDREPORT_SIZE)
  report.set([0x81, 0, 0, 0], 0)
  report.set(body.subarray(0x208, 0x248), 0x080) // REPORTDATA
  report.set([0xff, 0x03], 0x100) // VALID
  report.set(body.subarray(0x000, 0x078), 0x108) // TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, ATTRIBUTES
  report.set(body.subarray(0x078, 0x208), 0x200) // ATTRIBUTES, XFAM, MRTD … RTMR3
  report.fill(0xcd, 0x0e0, 0x100) // MAC
  return report
}

describe('parseTdReport', () => {
  it('reads a TDREPORT carrying the v4-claims values back as the quote body has them', () => {
    const bytes = tdReportFromQuote(quote)
    const r = parseTdReport(bytes)
    const q = parseDcapQuote(quote)
    if (q.body.kind === 'sgx') throw new Error('expected a TD body')
    expect(r.reportType).toEqual({ type: 0x81, subtype: 0, version: 0 })
    expect(r.reportData).toEqual(q.body.reportData)
    expect(r.teeTcbInfo.valid).toBe(0x3ffn)
    expect(r.teeTcbInfo.teeTcbSvn).toEqual(q.body.teeTcbSvn)
    expect(r.teeTcbInfo.mrSeam).toEqual(q.body.mrSeam)
    expect(r.teeTcbInfo.mrSignerSeam).toEqual(q.body.mrSignerSeam)
    expect(r.teeTcbInfo.attributes).toBe(q.body.seamAttributes)
    expect(r.tdInfo.attributes).toEqual(q.body.tdAttributes)
    expect(r.tdInfo.xfam).toEqual(q.body.xfam)
    expect(r.tdInfo.mrTd).toEqual(q.body.mrTd)
    expect(r.tdInfo.mrConfigId).toEqual(q.body.mrConfigId)
    expect(r.tdInfo.mrOwner).toEqual(q.body.mrOwner)
    expect(r.tdInfo.mrOwnerConfig).toEqual(q.body.mrOwnerConfig)
    expect(r.tdInfo.rtmrs).toEqual(q.body.rtmrs)
    expect(hex(r.mac)).toBe('cd'.repeat(32))
    expect(r.reservedNonZero).toEqual([])
  })

  it('reads MRCONFIGID at 0x240 (guest-side.md §1.4) and each field at its offset', () => {
    const marked = patched(
      Uint8Array.from({ length: TDREPORT_SIZE }, (_, i) => (i * 3) & 0xff),
      (_, b) => {
        b.set([0x81, 0, 2], 0)
      },
    )
    const at = (offset: number): number => (offset * 3) & 0xff
    const r = parseTdReport(marked)
    expect(r.reportType.version).toBe(2)
    const fields: [Uint8Array, number, number][] = [
      [r.cpuSvn, 0x010, 16],
      [r.teeTcbInfoHash, 0x020, 48],
      [r.teeInfoHash, 0x050, 48],
      [r.reportData, 0x080, 64],
      [r.mac, 0x0e0, 32],
      [r.teeTcbInfo.teeTcbSvn, 0x108, 16],
      [r.teeTcbInfo.mrSeam, 0x118, 48],
      [r.teeTcbInfo.mrSignerSeam, 0x148, 48],
      [r.teeTcbInfo.teeTcbSvn2, 0x180, 16],
      [r.tdInfo.mrTd, 0x210, 48],
      [r.tdInfo.mrConfigId, 0x240, 48],
      [r.tdInfo.mrOwner, 0x270, 48],
      [r.tdInfo.mrOwnerConfig, 0x2a0, 48],
      [r.tdInfo.rtmrs[0], 0x2d0, 48],
      [r.tdInfo.rtmrs[1], 0x300, 48],
      [r.tdInfo.rtmrs[2], 0x330, 48],
      [r.tdInfo.rtmrs[3], 0x360, 48],
      [r.tdInfo.servTdHash, 0x390, 48],
    ]
    for (const [field, offset, length] of fields) {
      expect(field.length).toBe(length)
      expect(field[0], `offset 0x${offset.toString(16)}`).toBe(at(offset))
      expect(field[length - 1]).toBe(at(offset + length - 1))
    }
    const view = new DataView(marked.buffer)
    expect(r.teeTcbInfo.valid).toBe(view.getBigUint64(0x100, true))
    expect(r.teeTcbInfo.attributes).toBe(view.getBigUint64(0x178, true))
    expect(r.tdInfo.attributes.raw).toBe(view.getBigUint64(0x200, true))
    expect(r.tdInfo.xfam.raw).toBe(view.getBigUint64(0x208, true))
    expect(r.reservedNonZero).toEqual([
      'REPORTTYPE.reserved',
      'reserved@0x004',
      'reserved@0x0C0',
      'reserved@0x190',
      'reserved@0x1EF',
      'reserved@0x3C0',
    ])
  })

  it('gives the MACed struct and the hashed parts as views of the private copy', () => {
    const bytes = tdReportFromQuote(quote)
    const r = parseTdReport(bytes)
    expect(r.reportMacStruct).toEqual(bytes.subarray(0, 256))
    expect(r.teeTcbInfo.raw).toEqual(bytes.subarray(0x100, 0x1ef))
    expect(r.tdInfo.raw).toEqual(bytes.subarray(0x200, 0x400))
    expect(r.reportMacStruct.buffer).toBe(r.raw.buffer)
    expect(r.raw.buffer).not.toBe(bytes.buffer)
    // What TEE_TCB_INFO_HASH and TEE_INFO_HASH are computed over: callers can hash these views.
    expect(createHash('sha384').update(r.tdInfo.raw).digest().length).toBe(48)
    bytes.fill(0)
    expect(r.raw[0]).toBe(0x81)
    r.tdInfo.mrTd.fill(0)
    expect(r.tdInfo.raw[0x10]).toBe(0x70)
  })

  it('names each non-zero reserved area, including the REPORTTYPE reserved byte', () => {
    for (const [offset, name] of [
      [0x003, 'REPORTTYPE.reserved'],
      [0x00f, 'reserved@0x004'],
      [0x0c0, 'reserved@0x0C0'],
      [0x1ee, 'reserved@0x190'],
      [0x1ef, 'reserved@0x1EF'],
      [0x1ff, 'reserved@0x1EF'],
      [0x3ff, 'reserved@0x3C0'],
    ] as const) {
      const r = parseTdReport(
        patched(tdReportFromQuote(quote), (_, b) => {
          b[offset] = 1
        }),
      )
      expect(r.reservedNonZero).toEqual([name])
    }
  })

  it('refuses another REPORTTYPE.TYPE or SUBTYPE, and accepts any VERSION', () => {
    for (const [type, subtype] of [
      [0x00, 0],
      [0x80, 0],
      [0x81, 1],
      [0xff, 0xff],
    ] as const) {
      const error = thrown(() =>
        parseTdReport(
          patched(tdReportFromQuote(quote), (_, b) => {
            b[0] = type
            b[1] = subtype
          }),
        ),
      )
      expect(error.code).toBe('ERR_TDX_TDREPORT_TYPE')
      expect(error.details).toMatchObject({ type, subtype })
    }
    const v = parseTdReport(
      patched(tdReportFromQuote(quote), (_, b) => {
        b[2] = 0xff
      }),
    )
    expect(v.reportType.version).toBe(0xff)
  })

  it('refuses other lengths, pointing the ioctl buffer (1088 bytes) to the report inside it', () => {
    for (const length of [0, 1, 1023]) {
      expect(thrown(() => parseTdReport(new Uint8Array(length))).code).toBe(
        'ERR_TDX_TDREPORT_TRUNCATED',
      )
    }
    for (const length of [1025, 1088, 4096]) {
      const error = thrown(() => parseTdReport(new Uint8Array(length)))
      expect(error.code).toBe('ERR_TDX_TDREPORT_TOO_LONG')
      expect(error.details).toMatchObject({ length, expected: 1024 })
    }
    expect(thrown(() => parseTdReport(new Uint8Array(1088))).hint).toContain('REPORTDATA')
    expect(thrown(() => parseTdReport({} as Uint8Array)).code).toBe('ERR_TDX_INPUT_TYPE')
  })

  it('throws nothing but InitguardError for any bytes, and reads any 1024 bytes of type 0x81/0', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
        try {
          parseTdReport(bytes)
        } catch (e) {
          if (!isInitguardError(e)) throw e
        }
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1024, maxLength: 1024 }), (bytes) => {
        bytes[0] = 0x81
        bytes[1] = 0
        const r = parseTdReport(bytes)
        expect(r.raw).toEqual(bytes)
        expect(r.tdInfo.mrConfigId).toEqual(bytes.subarray(0x240, 0x270))
        expect(r.reportData).toEqual(bytes.subarray(0x80, 0xc0))
      }),
      { numRuns: 300 },
    )
  })
})
