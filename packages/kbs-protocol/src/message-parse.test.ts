/**
 * The message parsers' refusals, each with its stable code and the JSON path, and the TEE key
 * checks (curves, point validity, RSA size, exponent, RSA1_5, unknown members).
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { codeOf, thrown } from '@initguard/testkit'
import { describe, expect, it } from 'vitest'
import {
  parseKbsAttestation,
  parseKbsAttestationToken,
  parseKbsChallenge,
  parseKbsErrorBody,
  parseKbsRequest,
  parseKbsResourceJwe,
} from './message-parse.ts'
import { generateEcKeyPair, type EcKeyCurve } from './ec-key-pair.ts'
import { fixtureJson as fixture } from './message-test-support.ts'
import { checkTeePublicJwk, parseTeePublicJwk } from './tee-public-jwk.ts'

type Json = Record<string, unknown>

const request = fixture('request.json')
const attestation = fixture('attestation-ec-initdata.json')
const runtime = attestation['runtime-data'] as Json
const ecKey = runtime['tee-pubkey'] as Json
const rsaKey = (fixture('attestation-rsa.json')['runtime-data'] as Json)['tee-pubkey'] as Json
const jwe = fixture('resource-jwe.json')

/** The attestation with `runtime-data` changed. */
function withRuntime(change: Json): Json {
  return { ...attestation, 'runtime-data': { ...runtime, ...change } }
}

/** The point of P-256 with x = 5, and x + p (the field prime) written as its 32 bytes. */
const P256_POINT_X5_WITH = (() => {
  const p = (1n << 256n) - (1n << 224n) + (1n << 192n) + (1n << 96n) - 1n
  const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn
  const power = (base: bigint, exponent: bigint): bigint => {
    let result = 1n
    for (let e = exponent, a = base % p; e > 0n; e >>= 1n, a = (a * a) % p)
      if ((e & 1n) === 1n) result = (result * a) % p
    return result
  }
  // p ≡ 3 (mod 4): the square root of y² = x³ − 3x + b is (y²)^((p + 1) / 4).
  const y = power(5n ** 3n - 15n + b, (p + 1n) / 4n)
  const text = (n: bigint): string =>
    Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url')
  return { x: text(5n), y: text(y), xPlusP: text(5n + p) }
})()
const { xPlusP: P256_POINT_X5_PLUS_P, ...P256_POINT_X5 } = P256_POINT_X5_WITH

function field(run: () => unknown): unknown {
  return thrown(run).details['field']
}

describe('parseKbsRequest', () => {
  it('refuses another protocol version, saying which one it speaks', () => {
    for (const version of ['0.1.1', '0.4.1', ' 0.4.0', 4, null]) {
      const error = thrown(() => parseKbsRequest({ ...request, version }))
      expect(error.code).toBe('ERR_KBS_PROTOCOL_VERSION')
      expect(error.message).toContain('speaks RCAR protocol version 0.4.0 only')
    }
  })

  it('refuses a kbs_types TEE it does not verify, naming the ones it does', () => {
    for (const tee of ['sample', 'az-snp-vtpm', 'az-tdx-vtpm', 'se', 'cca']) {
      const error = thrown(() => parseKbsRequest({ ...request, tee }))
      expect(error.code).toBe('ERR_KBS_TEE_UNSUPPORTED')
      expect(error.message).toContain('snp, tdx, sgx')
    }
    expect(codeOf(() => parseKbsRequest({ ...request, tee: 'SNP' }))).toBe(
      'ERR_KBS_MESSAGE_INVALID',
    )
    for (const tee of ['snp', 'tdx', 'sgx'])
      expect(parseKbsRequest({ ...request, tee }).tee).toBe(tee)
  })

  it('needs extra-params, ignores unknown top-level members (and drops them)', () => {
    const { 'extra-params': _, ...without } = request
    expect(field(() => parseKbsRequest(without))).toBe('$.extra-params')
    expect(parseKbsRequest({ ...request, future: 1 })).toEqual(request)
    expect(codeOf(() => parseKbsRequest([request]))).toBe('ERR_KBS_MESSAGE_INVALID')
  })
})

describe('parseKbsChallenge', () => {
  it('refuses non-empty extra-params (SE hash selection), unknown members, a missing nonce', () => {
    const challenge = fixture('challenge.json')
    const se = { 'selected-hash-algorithm': 'sha512' }
    expect(field(() => parseKbsChallenge({ ...challenge, 'extra-params': se }))).toBe(
      '$.extra-params',
    )
    expect(field(() => parseKbsChallenge({ ...challenge, x: 1 }))).toBe('$.x')
    expect(field(() => parseKbsChallenge({ 'extra-params': '' }))).toBe('$.nonce')
    expect(field(() => parseKbsChallenge({ ...challenge, nonce: '' }))).toBe('$.nonce')
  })
})

describe('parseKbsAttestation', () => {
  it('reads init-data null as absent, and refuses a format other than toml', () => {
    const { 'init-data': _, ...without } = attestation
    expect(parseKbsAttestation({ ...attestation, 'init-data': null })).toEqual(without)
    const json = { ...attestation, 'init-data': { format: 'json', body: '{}' } }
    const error = thrown(() => parseKbsAttestation(json))
    expect(error.code).toBe('ERR_KBS_MESSAGE_INVALID')
    expect(error.details['field']).toBe('$.init-data.format')
  })

  it('is strict inside runtime-data, tee-pubkey, init-data and tee-evidence', () => {
    expect(field(() => parseKbsAttestation(withRuntime({ extra: 1 })))).toBe('$.runtime-data.extra')
    const kid = withRuntime({ 'tee-pubkey': { ...ecKey, kid: 'k' } })
    expect(field(() => parseKbsAttestation(kid))).toBe('$.runtime-data.tee-pubkey.kid')
    const d = withRuntime({ 'tee-pubkey': { ...ecKey, d: 'secret' } })
    expect(field(() => parseKbsAttestation(d))).toBe('$.runtime-data.tee-pubkey.d')
    const evidence = {
      ...attestation,
      'tee-evidence': { primary_evidence: {}, additional_evidence: '', x: 1 },
    }
    expect(field(() => parseKbsAttestation(evidence))).toBe('$.tee-evidence.x')
    const noEvidence = {
      ...attestation,
      'tee-evidence': { primary_evidence: null, additional_evidence: '' },
    }
    expect(field(() => parseKbsAttestation(noEvidence))).toBe('$.tee-evidence.primary_evidence')
    expect(parseKbsAttestation({ ...attestation, newer: true })).toEqual(attestation)
  })
})

describe('parseTeePublicJwk', () => {
  it('accepts every curve and RSA from 2048 bits', () => {
    for (const namedCurve of ['P-256', 'P-384', 'P-521']) {
      const jwk = generateEcKeyPair(namedCurve as EcKeyCurve).jwk
      const key = { kty: 'EC', crv: jwk.crv, alg: 'ECDH-ES+A256KW', x: jwk.x, y: jwk.y }
      expect(parseTeePublicJwk(key)).toEqual(key)
    }
    expect(parseTeePublicJwk(rsaKey)).toEqual(rsaKey)
  })

  it('refuses RSA1_5, small moduli, another exponent, other curves and key types', () => {
    const refused = [
      { ...rsaKey, alg: 'RSA1_5' },
      { ...rsaKey, alg: 'RSA-OAEP' },
      { ...rsaKey, e: 'Aw' },
      { ...rsaKey, e: 'AQ' }, // e = 1: the "ciphertext" is the padded key itself
      { ...rsaKey, e: 'AAEAAQ' }, // 65537 with a leading zero octet: another text, the same key
      { ...ecKey, crv: 'secp256k1' },
      { ...ecKey, alg: 'ECDH-ES' },
      { kty: 'OKP', crv: 'X25519', x: 'AA' },
      { kty: 'AKP', alg: 'ML-KEM-768+A192KW', pub: 'AA' },
    ]
    for (const key of refused)
      expect(codeOf(() => parseTeePublicJwk(key))).toBe('ERR_KBS_TEE_KEY_UNSUPPORTED')
    expect(thrown(() => parseTeePublicJwk({ ...rsaKey, alg: 'RSA1_5' })).message).toContain(
      'padding-oracle',
    )
    const smallDer = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    }).publicKey
    const smallKey = createPublicKey({ key: smallDer, format: 'der', type: 'spki' })
    // eslint-disable-next-line no-restricted-syntax -- an imported key, not a generated one
    const small = smallKey.export({ format: 'jwk' })
    const error = thrown(() =>
      parseTeePublicJwk({ kty: 'RSA', alg: 'RSA-OAEP-256', n: small.n, e: small.e }),
    )
    expect(error.code).toBe('ERR_KBS_TEE_KEY_UNSUPPORTED')
    expect(error.message).toContain('1024 bits')
  })

  it('refuses coordinates of the wrong length, points off the curve, malformed moduli', () => {
    const x = Buffer.from(ecKey['x'] as string, 'base64url')
    const cases: [Json, string][] = [
      [{ ...ecKey, x: Buffer.concat([Buffer.of(0), x]).toString('base64url') }, '$.x'],
      [{ ...ecKey, x: (ecKey['x'] as string) + '=' }, '$.x'],
      [{ ...ecKey, y: ecKey['x'] }, '$'],
      [{ ...rsaKey, n: 'AA' + (rsaKey['n'] as string).slice(2) }, '$.n'],
      [{ ...rsaKey, n: (rsaKey['n'] as string).slice(0, -2) + 'AA' }, '$.n'],
      [{ ...ecKey, kty: 1 }, '$.kty'],
      // (5, y) is on P-256; (5 + p, y) names the same point in another text, and is refused.
      [{ ...ecKey, ...P256_POINT_X5, x: P256_POINT_X5_PLUS_P }, '$'],
    ]
    expect(parseTeePublicJwk({ ...ecKey, ...P256_POINT_X5 }, '$')).toMatchObject(P256_POINT_X5)
    for (const [key, path] of cases) {
      const error = thrown(() => parseTeePublicJwk(key, '$'))
      expect(error.code).toBe('ERR_KBS_MESSAGE_INVALID')
      expect(error.details['field']).toBe(path)
    }
  })

  it('imports a key once for its exact members, and never keeps one that did not import', () => {
    const first = checkTeePublicJwk(ecKey).key
    expect(checkTeePublicJwk({ ...ecKey }).key).toBe(first)
    // eslint-disable-next-line no-restricted-syntax -- an imported key, not a generated one
    expect(first.export({ format: 'jwk' })).toMatchObject({ x: ecKey['x'], y: ecKey['y'] })
    expect(checkTeePublicJwk(rsaKey).key).toBe(checkTeePublicJwk({ ...rsaKey }).key)
    const other = generateEcKeyPair('P-256').jwk
    expect(checkTeePublicJwk({ ...ecKey, x: other.x, y: other.y }).key).not.toBe(first)
    // Off the curve: refused on every check, not only the first.
    const offCurve = { ...ecKey, y: ecKey['x'] }
    for (let round = 0; round < 2; round++)
      expect(thrown(() => checkTeePublicJwk(offCurve)).code).toBe('ERR_KBS_MESSAGE_INVALID')
  })
})

describe('token, JWE and error body', () => {
  it('refuse what is not theirs', () => {
    expect(field(() => parseKbsAttestationToken({ token: 'abc' }))).toBe('$.token')
    expect(field(() => parseKbsAttestationToken({ token: 'a.b.c', exp: 1 }))).toBe('$.exp')
    expect(field(() => parseKbsResourceJwe({ ...jwe, aad: 'AA' }))).toBe('$.aad')
    expect(field(() => parseKbsResourceJwe({ ...jwe, iv: 'AAAA' }))).toBe('$.iv')
    expect(field(() => parseKbsResourceJwe({ ...jwe, tag: (jwe['tag'] as string) + '=' }))).toBe(
      '$.tag',
    )
    expect(field(() => parseKbsErrorBody({ type: 't' }))).toBe('$.detail')
    expect(parseKbsErrorBody({ title: 'x', type: 't', detail: 'd', status: 401 })).toEqual({
      type: 't',
      detail: 'd',
    })
  })
})
