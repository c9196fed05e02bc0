/**
 * The claims' byte fields are the report's fields in lower-case hex, however the report's fields
 * are held: views into the parser's copy (hex sliced from one conversion), or arrays of their own.
 */
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { buildSnpReport } from '@initguard/tee-simulator'
import { snpClaims } from './claims.ts'
import { parseSnpReport, type SnpReport } from './report.ts'

const BYTE_CLAIMS = {
  measurement: 'measurement',
  host_data: 'hostData',
  init_data: 'hostData',
  report_data: 'reportData',
  chip_id: 'chipId',
  family_id: 'familyId',
  image_id: 'imageId',
  id_key_digest: 'idKeyDigest',
  author_key_digest: 'authorKeyDigest',
  report_id: 'reportId',
  report_id_ma: 'reportIdMa',
} as const

const fill = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) & 0xff)

const report = parseSnpReport(
  buildSnpReport(
    {
      product: 'Milan',
      measurement: fill(48, 1),
      hostData: fill(32, 2),
      reportData: fill(64, 3),
      familyId: fill(16, 4),
      imageId: fill(16, 5),
    },
    null,
  ),
)

function expectHexOfFields(of: SnpReport): void {
  const claims = snpClaims(of, 'Milan', 'vcek')
  for (const [claim, field] of Object.entries(BYTE_CLAIMS)) {
    expect(claims[claim as keyof typeof BYTE_CLAIMS], claim).toBe(bytesToHex(of[field]))
  }
}

describe('snpClaims byte fields', () => {
  it('are the hex of each field of a parsed report', () => {
    expectHexOfFields(report)
    expect(snpClaims(report, 'Milan', 'vcek').measurement).toBe(bytesToHex(fill(48, 1)))
  })

  it('follow a field changed after parsing, and fields held in arrays of their own', () => {
    const changed = parseSnpReport(report.raw)
    changed.chipId[63] = (changed.chipId[63] ?? 0) ^ 0xff
    changed.familyId[0] = (changed.familyId[0] ?? 0) ^ 0xff
    expectHexOfFields(changed)
    const own: SnpReport = {
      ...report,
      measurement: report.measurement.slice(),
      hostData: new Uint8Array(32).fill(0xab),
    }
    expectHexOfFields(own)
    // A field that is a view at another offset of a report-sized buffer is its own bytes too.
    const elsewhere = new Uint8Array(0x4a0).map((_, i) => i & 0xff)
    expectHexOfFields({ ...report, reportData: elsewhere.subarray(0x300, 0x340) })
    expectHexOfFields({ ...report, measurement: elsewhere.subarray(0x20, 0x50) })
  })
})
