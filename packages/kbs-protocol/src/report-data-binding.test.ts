import { createHash } from 'node:crypto'
import { bytesToHex, canonicalizeJsonToBytes } from '@initguard/core'
import { describe, expect, it } from 'vitest'
import { expectedReportData, runtimeDataDigest } from './report-data-binding.ts'
import type { TeePublicJwk } from './messages.ts'

const key: TeePublicJwk = {
  kty: 'EC',
  crv: 'P-256',
  alg: 'ECDH-ES+A256KW',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
}

describe('REPORT_DATA binding', () => {
  it('hashes JCS with SHA-384 as Trustee does (its unit-test vector)', () => {
    // attestation-service/src/lib.rs: JCS({"b":1,"a":"test","c":{"d":"e"}}) under SHA-384.
    const digest = createHash('sha384')
      .update(canonicalizeJsonToBytes({ b: 1, a: 'test', c: { d: 'e' } }))
      .digest('hex')
    expect(digest).toBe(
      'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3',
    )
  })

  it('binds the sorted runtime data and pads to 64 bytes', () => {
    const runtime = { nonce: 'bm9uY2U=', teePubkey: key, additionalEvidence: '' }
    const canonical = `{"additional-evidence":"","nonce":"bm9uY2U=","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"${key.x}","y":"${key.y}"}}`
    const digest = createHash('sha384').update(canonical).digest('hex')
    expect(bytesToHex(runtimeDataDigest(runtime))).toBe(digest)
    const padded = expectedReportData(runtime)
    expect(padded).toHaveLength(64)
    expect(bytesToHex(padded)).toBe(digest + '00'.repeat(16))
  })

  it('changes with the nonce, the key and the additional evidence', () => {
    const base = bytesToHex(
      runtimeDataDigest({ nonce: 'a', teePubkey: key, additionalEvidence: '' }),
    )
    expect(
      bytesToHex(runtimeDataDigest({ nonce: 'b', teePubkey: key, additionalEvidence: '' })),
    ).not.toBe(base)
    expect(
      bytesToHex(
        runtimeDataDigest({ nonce: 'a', teePubkey: { ...key, x: key.y }, additionalEvidence: '' }),
      ),
    ).not.toBe(base)
    expect(
      bytesToHex(runtimeDataDigest({ nonce: 'a', teePubkey: key, additionalEvidence: '{}' })),
    ).not.toBe(base)
  })
})
