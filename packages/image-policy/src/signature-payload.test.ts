import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { parseSignaturePayload, type SignaturePayloadType } from './signature-payload.ts'
import { manifestDigest, manifestMatchesDigest } from './manifest-digest.ts'

const SIMPLE: SignaturePayloadType = 'atomic container signature'
const COSIGN: SignaturePayloadType = 'cosign container image signature'
const DIGEST = `sha256:${'ab'.repeat(32)}`
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

function payload(
  overrides: { critical?: unknown; optional?: unknown; extra?: object } = {},
): Uint8Array {
  return bytes(
    JSON.stringify({
      critical: overrides.critical ?? {
        identity: { 'docker-reference': 'quay.io/org/app:v1' },
        image: { 'docker-manifest-digest': DIGEST },
        type: SIMPLE,
      },
      optional:
        overrides.optional === undefined
          ? { creator: 'atomic 5.23.1', timestamp: 1795941436 }
          : overrides.optional,
      ...overrides.extra,
    }),
  )
}

describe('parseSignaturePayload', () => {
  it('reads the identity, digest and optional members skopeo writes', () => {
    expect(parseSignaturePayload(payload(), SIMPLE)).toEqual({
      type: SIMPLE,
      dockerReference: 'quay.io/org/app:v1',
      manifestDigest: DIGEST,
      creator: 'atomic 5.23.1',
      timestamp: 1795941436,
    })
  })

  it('ignores unknown optional members and accepts an empty optional object', () => {
    expect(
      parseSignaturePayload(payload({ optional: { future: [1, 2] } }), SIMPLE).creator,
    ).toBeUndefined()
  })

  it('accepts "optional": null for cosign payloads only', () => {
    const critical = {
      identity: { 'docker-reference': 'r/x' },
      image: { 'docker-manifest-digest': DIGEST },
      type: COSIGN,
    }
    const cosign = bytes(JSON.stringify({ critical, optional: null }))
    expect(parseSignaturePayload(cosign, COSIGN).timestamp).toBeUndefined()
    const simple = bytes(
      JSON.stringify({ critical: { ...critical, type: SIMPLE }, optional: null }),
    )
    expect(codeOf(() => parseSignaturePayload(simple, SIMPLE))).toBe(
      'ERR_SIGNATURE_PAYLOAD_INVALID',
    )
  })

  it('refuses the other format type', () => {
    expect(codeOf(() => parseSignaturePayload(payload(), COSIGN))).toBe(
      'ERR_SIGNATURE_PAYLOAD_TYPE',
    )
  })

  it.each([
    ['an unknown top-level member', payload({ extra: { bogus: 1 } })],
    [
      'an unknown critical member',
      payload({
        critical: {
          identity: { 'docker-reference': 'a/b' },
          image: { 'docker-manifest-digest': DIGEST },
          type: SIMPLE,
          extra: 1,
        },
      }),
    ],
    [
      'an unknown image member',
      payload({
        critical: {
          identity: { 'docker-reference': 'a/b' },
          image: { 'docker-manifest-digest': DIGEST, size: 1 },
          type: SIMPLE,
        },
      }),
    ],
    [
      'an unknown identity member',
      payload({
        critical: {
          identity: { 'docker-reference': 'a/b', x: '' },
          image: { 'docker-manifest-digest': DIGEST },
          type: SIMPLE,
        },
      }),
    ],
    [
      'a missing identity',
      payload({ critical: { image: { 'docker-manifest-digest': DIGEST }, type: SIMPLE } }),
    ],
    [
      'a non-string reference',
      payload({
        critical: {
          identity: { 'docker-reference': 5 },
          image: { 'docker-manifest-digest': DIGEST },
          type: SIMPLE,
        },
      }),
    ],
    [
      'a missing optional',
      bytes(
        JSON.stringify({
          critical: {
            identity: { 'docker-reference': 'a/b' },
            image: { 'docker-manifest-digest': DIGEST },
            type: SIMPLE,
          },
        }),
      ),
    ],
    ['a fractional timestamp', payload({ optional: { timestamp: 1.5 } })],
    ['a string creator', payload({ optional: { creator: 7 } })],
    [
      'duplicate keys',
      bytes(
        new TextDecoder().decode(payload()).replace('{"critical"', '{"optional":{},"critical"'),
      ),
    ],
    ['a JSON array', bytes('[]')],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
  ])('refuses %s', (_name, input) => {
    expect(codeOf(() => parseSignaturePayload(input, SIMPLE))).toBe('ERR_SIGNATURE_PAYLOAD_INVALID')
  })

  // skopeo 1.9.3 standalone-verify, on payloads signed with gpg: 1e3 and 1000.0 verify (Go reads
  // the timestamp as a float64 and keeps it when it is a whole int64), 1.5 is "not an integer".
  it.each([
    ['1e3', 1000],
    ['1000.0', 1000],
    ['-9223372036854775808', -(2 ** 63)],
  ])('reads the timestamp %s as containers/image does', (text, expected) => {
    const json = new TextDecoder()
      .decode(payload({ optional: { timestamp: 1000 } }))
      .replace('1000', text)
    expect(parseSignaturePayload(bytes(json), SIMPLE).timestamp).toBe(expected)
  })

  it('only ever throws coded errors on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
        try {
          parseSignaturePayload(input, SIMPLE)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })

  it('refuses every truncation of a valid payload', () => {
    const full = payload()
    for (let length = 0; length < full.length; length++) {
      expect(codeOf(() => parseSignaturePayload(full.subarray(0, length), SIMPLE))).toBe(
        'ERR_SIGNATURE_PAYLOAD_INVALID',
      )
    }
  })
})

describe('manifestMatchesDigest', () => {
  const manifest = bytes('{"schemaVersion":2}')
  it('matches sha256 and sha512 digests of the exact bytes', () => {
    expect(manifestMatchesDigest(manifest, manifestDigest(manifest))).toBe(true)
    expect(manifestMatchesDigest(manifest, manifestDigest(manifest, 'sha512'))).toBe(true)
    expect(manifestMatchesDigest(bytes('{"schemaVersion":2} '), manifestDigest(manifest))).toBe(
      false,
    )
  })
  it('never matches a digest in another form', () => {
    const digest = manifestDigest(manifest)
    expect(manifestMatchesDigest(manifest, digest.toUpperCase())).toBe(false)
    expect(manifestMatchesDigest(manifest, digest.replace('sha256', 'sha384'))).toBe(false)
    expect(manifestMatchesDigest(manifest, `${digest}0`)).toBe(false)
  })
})

describe('timestamp range', () => {
  // 2^63 - 1 is refused by skopeo 1.9.3 too: as a float64 it is 2^63, which no int64 holds.
  it.each(['9223372036854775808', '9223372036854775807', '1e19', '1e400'])(
    'refuses the timestamp %s, beyond int64',
    (text) => {
      const json = new TextDecoder()
        .decode(payload({ optional: { timestamp: 1 } }))
        .replace('"timestamp":1', `"timestamp":${text}`)
      expect(codeOf(() => parseSignaturePayload(bytes(json), SIMPLE))).toBe(
        'ERR_SIGNATURE_PAYLOAD_INVALID',
      )
    },
  )
})
