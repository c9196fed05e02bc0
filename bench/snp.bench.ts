/**
 * SEV-SNP: warm verification of a real Milan report (chain cached, as a KBS sees repeat clients)
 * against the raw `node:crypto` ECDSA P-384 verify of the same report, the floor of any verifier.
 */
import { readFileSync } from 'node:fs'
import { verify, X509Certificate } from 'node:crypto'
import { parseSnpReport, SnpVerifierCache, verifySnpEvidence } from '@initguard/snp'
import type { Benchmark } from './harness.ts'

const folder = new URL('../testdata/vectors/snp/milan-v3-hostdata/', import.meta.url)
const reportBytes = new Uint8Array(readFileSync(new URL('report.bin', folder)))
const vcekPem = readFileSync(new URL('vcek.pem', folder), 'utf8')
const now = new Date('2026-06-01T00:00:00Z')
const cache = new SnpVerifierCache()
const hostData = reportBytes.slice(0xc0, 0xe0)

const key = new X509Certificate(vcekPem).publicKey
const signed = reportBytes.subarray(0, 0x2a0)
const signature = Buffer.concat([
  Buffer.from(reportBytes.subarray(0x2a0, 0x2a0 + 48)).reverse(),
  Buffer.from(reportBytes.subarray(0x2e8, 0x2e8 + 48)).reverse(),
])
if (!verify('sha384', signed, { key, dsaEncoding: 'ieee-p1363' }, signature))
  throw new Error('baseline does not verify')

export const benchmarks: readonly Benchmark[] = [
  {
    name: 'SNP report verification (warm chain cache)',
    unit: 'ops/s',
    goal: 0.9,
    run: () =>
      verifySnpEvidence(
        { report: parseSnpReport(reportBytes), certificates: [] },
        { now, cache, certificates: [vcekPem], policy: { hostData, vmpl: 0 } },
      ).claims,
    baseline: {
      name: 'node:crypto ECDSA P-384 verify',
      run: () => verify('sha384', signed, { key, dsaEncoding: 'ieee-p1363' }, signature),
    },
  },
]
