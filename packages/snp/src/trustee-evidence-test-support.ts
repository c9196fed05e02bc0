/**
 * What the Trustee evidence tests share: the real reports in testdata/vectors, a Turin v5 report
 * made from one, and helpers to turn a report into Trustee's JSON, edit it and read a refusal.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import { thrown } from '@initguard/testkit'
import type { CertTableEntry } from './cert-table.ts'
import { parseSnpReport } from './report.ts'
import { parseTrusteeSnpEvidence } from './trustee-evidence.ts'
import { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'

export const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
export const REPORTS = [
  'milan-v2-a',
  'milan-v2-b',
  'milan-v2-c',
  'milan-v3-hostdata',
  'milan-v3-vlek',
] as const
export const read = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(path, VECTORS)))
export const vector = (name: (typeof REPORTS)[number]): Uint8Array => read(`${name}/report.bin`)

/** The InitguardError a call throws: the testkit's, shared by every package's tests. */
export { thrown }

export function patched(
  base: Uint8Array,
  edit: (view: DataView, bytes: Uint8Array) => void,
): Uint8Array {
  const bytes = base.slice()
  edit(new DataView(bytes.buffer), bytes)
  return bytes
}

/** The evidence as text and back, as it travels: plain JSON values only. */
export function overTheWire(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>
}

export function evidenceJson(
  bytes: Uint8Array,
  certificates?: CertTableEntry[],
): Record<string, unknown> {
  const report = parseSnpReport(bytes)
  return overTheWire(
    snpReportToTrusteeJson(report, certificates === undefined ? {} : { certificates }),
  )
}

/** The attestation_report object of `json`, to edit in place. */
export function ar(json: Record<string, unknown>): Record<string, unknown> {
  return json['attestation_report'] as Record<string, unknown>
}

export function invalidPaths(json: unknown): readonly string[] {
  const e = thrown(() => parseTrusteeSnpEvidence(json))
  expect(e.code).toBe('ERR_SNP_EVIDENCE_JSON_INVALID')
  expect(e.category).toBe('malformed')
  return e.details['paths'] as readonly string[]
}

/** A Turin v5 report made from a real v3 one: Turin CPUID, Turin TCBs, mitigation vectors. */
export const turinV5 = patched(vector('milan-v3-hostdata'), (v, b) => {
  v.setUint32(0, 5, true)
  for (const at of [0x038, 0x180, 0x1e0, 0x1f0]) v.setBigUint64(at, 0x5100000004010101n, true)
  v.setBigUint64(0x040, 0x65n, true)
  b.set([0x1a, 0x02, 0x00], 0x188)
  b.fill(0, 0x1a8, 0x1e0) // Turin CHIP_ID: 8 bytes and zeros
  v.setBigUint64(0x1f8, 0x3n, true)
  v.setBigUint64(0x200, 0x7n, true)
})
