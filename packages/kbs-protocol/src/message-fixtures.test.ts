/**
 * Every RCAR message fixture (in the reference's shapes) parses and serialises back byte for byte,
 * and the fixtures are consistent with each other: the attestation's REPORT_DATA binds its nonce
 * and key, and the JWE opens with the fixture TEE key.
 */
import { createPrivateKey } from 'node:crypto'
import { bytesToHex, base64ToBytes } from '@initguard/core'
import { describe, expect, it } from 'vitest'
import { parseKbsAttestation, parseKbsChallenge, parseKbsResourceJwe } from './message-parse.ts'
import { FIXTURE_PARSERS, fixtureText as fixture } from './message-test-support.ts'
import { expectedReportData } from './report-data-binding.ts'
import { openResource } from './resource-jwe-open.ts'

describe('RCAR message fixtures', () => {
  it.each(FIXTURE_PARSERS)('%s parses and serialises back byte-identical', (name, parse) => {
    const text = fixture(name)
    expect(JSON.stringify(parse(JSON.parse(text)))).toBe(text)
  })

  it('are in the reference shapes', () => {
    expect(fixture('request.json')).toBe(
      '{"version":"0.4.0","tee":"snp","extra-params":{"supported-hash-algorithms":["sha256","sha384","sha512","sm3"]}}',
    )
    expect(fixture('challenge.json')).toMatch(
      /^\{"nonce":"[A-Za-z0-9+/]{43}=","extra-params":""\}$/,
    )
    const ec = parseKbsAttestation(JSON.parse(fixture('attestation-ec-initdata.json')))
    expect(Object.keys(ec)).toEqual(['init-data', 'runtime-data', 'tee-evidence'])
    expect(Object.keys(ec['runtime-data']['tee-pubkey'])).toEqual(['kty', 'crv', 'alg', 'x', 'y'])
    const rsa = parseKbsAttestation(JSON.parse(fixture('attestation-rsa.json')))
    expect(Object.keys(rsa['runtime-data']['tee-pubkey'])).toEqual(['kty', 'alg', 'n', 'e'])
    expect(Object.keys(parseKbsResourceJwe(JSON.parse(fixture('resource-jwe.json'))))).toEqual([
      'protected',
      'encrypted_key',
      'iv',
      'ciphertext',
      'tag',
    ])
  })

  it('bind the challenge nonce and the TEE key into the evidence REPORT_DATA', () => {
    const { nonce } = parseKbsChallenge(JSON.parse(fixture('challenge.json')))
    const ec = parseKbsAttestation(JSON.parse(fixture('attestation-ec-initdata.json')))
    expect(ec['runtime-data'].nonce).toBe(nonce)
    const snp = ec['tee-evidence'].primary_evidence as {
      attestation_report: { report_data: number[] }
    }
    expect(bytesToHex(Uint8Array.from(snp.attestation_report.report_data))).toBe(
      bytesToHex(
        expectedReportData({
          nonce,
          teePubkey: ec['runtime-data']['tee-pubkey'],
          additionalEvidence: '',
        }),
      ),
    )
    const rsa = parseKbsAttestation(JSON.parse(fixture('attestation-rsa.json')))
    const quote = base64ToBytes((rsa['tee-evidence'].primary_evidence as { quote: string }).quote)
    // TDX v4 quote: 48-byte header, then the TD report whose REPORTDATA is at offset 520.
    const reportData = quote.subarray(48 + 520, 48 + 584)
    expect(bytesToHex(reportData)).toBe(
      bytesToHex(
        expectedReportData({
          nonce,
          teePubkey: rsa['runtime-data']['tee-pubkey'],
          additionalEvidence: '',
        }),
      ),
    )
  })

  it('the resource JWE opens with the fixture TEE key', async () => {
    const key = createPrivateKey(fixture('tee-key-ec.pem'))
    const plaintext = await openResource(key, JSON.parse(fixture('resource-jwe.json')))
    expect(new TextDecoder().decode(plaintext)).toBe('fixture secret')
  })
})
