import { describe, it, expect } from 'vitest'
import { bytesToBase64, VerificationError } from '@initguard/core'
import { buildHashedRekordBody, publicKeyPem } from '@initguard/tee-simulator'
import { verifyRekorSet, type RekorSetInput } from './rekor-set.ts'
import {
  LOGGED,
  keySignature,
  rekorSetFixture as setup,
  signedRekorBundle as signedBundle,
  sigstoreWorld,
  thrown,
} from './sigstore-test-support.ts'

const codeWith = (input: RekorSetInput): string => thrown(() => verifyRekorSet(input)).code

describe('verifyRekorSet', () => {
  it('accepts a valid SET and reports time, index, log and matched key', () => {
    const { input } = setup()
    const result = verifyRekorSet(input)
    expect(result.integratedTime).toEqual(LOGGED)
    expect(result.logIndex).toBe(7)
    expect(result.logId).toBe(sigstoreWorld().rekor.logId)
    expect(result.matchedCandidate).toBe(0)
  })

  it('verifies over the canonical Payload: key order and whitespace do not matter', () => {
    const { input, payloadObject } = setup()
    const reordered = Object.fromEntries(Object.entries(payloadObject).reverse())
    const set = JSON.parse(input.bundle) as { SignedEntryTimestamp: string }
    const text = `{ "Payload" : ${JSON.stringify(reordered, null, 2)},\n "SignedEntryTimestamp": "${set.SignedEntryTimestamp}" }`
    expect(verifyRekorSet({ ...input, bundle: text }).logIndex).toBe(7)
  })

  it('refuses bundles that are not strict JSON with exactly the expected members', () => {
    const { input, payloadObject } = setup()
    const bad = [
      'not json',
      '[]',
      signedBundle(payloadObject, { Extra: 1 }),
      JSON.stringify({ Payload: payloadObject }),
      signedBundle({ ...payloadObject, extra: true }),
      signedBundle({ ...payloadObject, integratedTime: 1.5 }),
      signedBundle({ ...payloadObject, integratedTime: '1717243200' }),
      signedBundle({ ...payloadObject, logIndex: null }),
      signedBundle({ ...payloadObject, logID: 5 }),
      signedBundle({ ...payloadObject, body: 'not base64!' }),
      signedBundle(
        Object.fromEntries(Object.entries(payloadObject).filter(([k]) => k !== 'logIndex')),
      ),
      input.bundle.replace('{"SignedEntryTimestamp"', '{"Payload":{},"SignedEntryTimestamp"'),
      input.bundle.replace(/"SignedEntryTimestamp":"[^"]*"/, '"SignedEntryTimestamp":"%%%"'),
    ]
    for (const bundle of bad) {
      const e = thrown(() => verifyRekorSet({ ...input, bundle }))
      expect(e, bundle.slice(0, 80)).toBeInstanceOf(VerificationError)
      expect(e.code, bundle.slice(0, 80)).toMatch(
        /^ERR_REKOR_(SET_MALFORMED|SET_SIGNATURE_INVALID)$/,
      )
    }
  })

  it('refuses a SET whose signature does not cover the Payload', () => {
    const { input, payloadObject } = setup()
    const set = JSON.parse(input.bundle) as { SignedEntryTimestamp: string }
    const bundle = JSON.stringify({
      SignedEntryTimestamp: set.SignedEntryTimestamp,
      Payload: { ...payloadObject, logIndex: 8 },
    })
    expect(codeWith({ ...input, bundle })).toBe('ERR_REKOR_SET_SIGNATURE_INVALID')
    expect(codeWith({ ...input, rekorPublicKeys: [] })).toBe('ERR_REKOR_SET_SIGNATURE_INVALID')
  })

  it('accepts only hashedrekord 0.0.1 bodies with a sha256 hash', () => {
    const { input, payloadObject } = setup()
    const w = sigstoreWorld()
    const sig = keySignature('ecdsa-p256', false)
    const fields = {
      signature: sig.signature,
      payload: sig.payload,
      publicKeyOrCertificatePem: publicKeyPem(w.keys['ecdsa-p256'].publicKey),
    }
    const withBody = (body: Uint8Array | string): RekorSetInput => ({
      ...input,
      signature: sig.signature,
      payload: sig.payload,
      bundle: signedBundle({
        ...payloadObject,
        body: bytesToBase64(typeof body === 'string' ? new TextEncoder().encode(body) : body),
      }),
    })
    expect(codeWith(withBody(buildHashedRekordBody({ ...fields, kind: 'rekord' })))).toBe(
      'ERR_REKOR_BODY_UNSUPPORTED',
    )
    expect(codeWith(withBody(buildHashedRekordBody({ ...fields, apiVersion: '0.0.2' })))).toBe(
      'ERR_REKOR_BODY_UNSUPPORTED',
    )
    expect(codeWith(withBody(buildHashedRekordBody({ ...fields, hashAlgorithm: 'sha512' })))).toBe(
      'ERR_REKOR_BODY_UNSUPPORTED',
    )
    expect(codeWith(withBody(buildHashedRekordBody({ ...fields, hashValue: 'zz' })))).toBe(
      'ERR_REKOR_PAYLOAD_MISMATCH',
    )
    for (const broken of [
      'not json',
      '{"kind":"hashedrekord"}',
      '{"kind":"hashedrekord","apiVersion":"0.0.1"}',
      '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"data":{}}}',
      '{"kind":"hashedrekord","kind":"hashedrekord","apiVersion":"0.0.1","spec":{}}',
      new Uint8Array([0xff, 0xfe]),
    ]) {
      expect(codeWith(withBody(broken)), String(broken)).toBe('ERR_REKOR_BODY_MALFORMED')
    }
    // A body with its key as PEM followed by more data, or not PEM at all.
    const pem = new TextDecoder().decode(fields.publicKeyOrCertificatePem)
    expect(
      codeWith(
        withBody(buildHashedRekordBody({ ...fields, publicKeyOrCertificatePem: `${pem}\nextra` })),
      ),
    ).toBe('ERR_REKOR_BODY_MALFORMED')
    expect(
      codeWith(
        withBody(buildHashedRekordBody({ ...fields, publicKeyOrCertificatePem: 'no pem here' })),
      ),
    ).toBe('ERR_REKOR_BODY_MALFORMED')
    // Unknown members inside the body are ignored, as Go ignores them.
    const extended = JSON.parse(new TextDecoder().decode(buildHashedRekordBody(fields))) as Record<
      string,
      unknown
    >
    expect(() => verifyRekorSet(withBody(JSON.stringify({ ...extended, future: 1 })))).not.toThrow()
  })
})
