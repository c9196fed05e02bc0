/**
 * TDX: warm verification of a real quote with its real collateral (PCK chain, collateral and
 * attestation key cached, as a KBS sees repeat clients) against (a) the two raw `node:crypto` ECDSA
 * P-256 verifies every quote needs (QE report, quote), and (b) the pure-JS `@phala/dcap-qvl` on the
 * same quote and collateral.
 */
import { X509Certificate, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import {
  QuoteVerifierCache,
  parseCollateralJson,
  parseDcapQuote,
  verifyDcapQuote,
} from '@initguard/tdx'
import type { Benchmark } from './harness.ts'

const folder = new URL('../testdata/vectors/tdx/v4-b/', import.meta.url)
const quoteBytes = new Uint8Array(readFileSync(new URL('quote.dat', folder)))
const collateralText = readFileSync(new URL('collateral.json', folder), 'utf8')
const collateral = parseCollateralJson(collateralText)
const now = new Date('2025-07-01T00:00:00Z')
const cache = new QuoteVerifierCache()
verifyDcapQuote(parseDcapQuote(quoteBytes), { now, collateral, cache })

// The baseline: the two P-256 signatures of this quote, checked with keys already imported.
const quote = parseDcapQuote(quoteBytes)
const certification = quote.signatureData.pckCertification
if (certification.kind !== 'pck-cert-chain') throw new Error('expected an embedded PCK chain')
const pckKey: KeyObject = new X509Certificate(
  certification.certificates[0]?.der ?? new Uint8Array(0),
).publicKey
const attestation = quote.signatureData.attestationKey
const attestationKey = createPublicKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(attestation.subarray(0, 32)).toString('base64url'),
    y: Buffer.from(attestation.subarray(32)).toString('base64url'),
  },
  format: 'jwk',
})
const rawVerifies = (): boolean =>
  verify(
    'sha256',
    quote.signatureData.qeReport.raw,
    { key: pckKey, dsaEncoding: 'ieee-p1363' },
    quote.signatureData.qeReportSignature,
  ) &&
  verify(
    'sha256',
    quote.signedBytes,
    { key: attestationKey, dsaEncoding: 'ieee-p1363' },
    quote.signatureData.quoteSignature,
  )
if (!rawVerifies()) throw new Error('baseline does not verify')

// @phala/dcap-qvl takes the collateral document in the same shape, and the time in seconds.
const phala = createRequire(import.meta.url)('@phala/dcap-qvl') as {
  verify: (q: Uint8Array, c: unknown, t: number) => { status: string }
}
const phalaCollateral = JSON.parse(collateralText) as unknown
const phalaNow = Math.floor(now.getTime() / 1000)
if (phala.verify(quoteBytes, phalaCollateral, phalaNow).status !== 'UpToDate')
  throw new Error('@phala/dcap-qvl disagrees')

const ours = (): unknown =>
  verifyDcapQuote(parseDcapQuote(quoteBytes), { now, collateral, cache }).tcb.status

export const benchmarks: readonly Benchmark[] = [
  {
    name: 'TDX quote verification (warm caches)',
    unit: 'ops/s',
    goal: 0.7,
    run: ours,
    baseline: { name: 'two node:crypto ECDSA P-256 verifies', run: rawVerifies },
  },
  {
    name: 'TDX quote verification vs @phala/dcap-qvl',
    unit: 'ops/s',
    goal: 10,
    run: ours,
    baseline: {
      name: '@phala/dcap-qvl 0.3.9 verify (same quote and collateral)',
      run: () => phala.verify(quoteBytes, phalaCollateral, phalaNow).status,
    },
  },
]
