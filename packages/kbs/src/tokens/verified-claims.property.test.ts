/**
 * Property tests of `readVerifiedClaims`: any JSON value is either read or refused with
 * `ERR_KBS_TOKEN_CLAIMS` / `ERR_KBS_TOKEN_STATUS` (never another error); the claims `earClaims`
 * writes with one member replaced, retyped or removed are read exactly as written, or refused.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { jsonMemberAt, jsonMemberPaths, withJsonMember } from '@initguard/testkit'
import type { VerifiedToken } from '../ports.ts'
import { earClaims } from './ear-claims.ts'
import { DEFAULT_VERIFIER_ID } from './token-service.ts'
import { SESSION, acceptedFor, teeKey } from './token-test-support.ts'
import { readVerifiedClaims } from './verified-claims.ts'

const CODES = new Set(['ERR_KBS_TOKEN_CLAIMS', 'ERR_KBS_TOKEN_STATUS'])

function readOrRefused(value: unknown): VerifiedToken | undefined {
  try {
    return readVerifiedClaims(value)
  } catch (error) {
    expect(isInitguardError(error) && CODES.has(error.code), String(error)).toBe(true)
    return undefined
  }
}

const at = jsonMemberAt

const key = await teeKey()
const claims = JSON.parse(
  JSON.stringify(
    earClaims({
      accepted: acceptedFor(key),
      teePubkey: key,
      issuer: 'kbs',
      verifierId: DEFAULT_VERIFIER_ID,
      issuedAt: new Date('2026-12-01T10:00:00.000Z'),
      lifetimeSeconds: 300,
      session: SESSION,
    }),
  ),
) as unknown

const CPU0 = ['submods', 'cpu0']
const JWK = [...CPU0, 'ear.veraison.annotated-evidence', 'runtime_data_claims', 'tee-pubkey']

/** What `doc` says, read by path, for the token it was accepted as. */
function says(doc: unknown): VerifiedToken {
  const jwk = at(doc, JWK) as Record<string, unknown>
  const pick = (names: readonly string[]): Record<string, unknown> =>
    Object.fromEntries(names.map((n) => [n, jwk[n]]))
  return {
    workload: at(doc, ['initguard', 'workload', 'name']) as string,
    workloadVersion: at(doc, ['initguard', 'workload', 'version']) as number,
    tee: at(doc, ['initguard', 'tee']) as VerifiedToken['tee'],
    teePubkey: (jwk['kty'] === 'EC'
      ? pick(['kty', 'crv', 'alg', 'x', 'y'])
      : pick(['kty', 'alg', 'n', 'e'])) as unknown as VerifiedToken['teePubkey'],
    simulated: at(doc, ['initguard', 'simulated']) as boolean,
    expiresAt: new Date((at(doc, ['exp']) as number) * 1000),
    session: at(doc, ['jti']) as string,
  }
}

describe('readVerifiedClaims', () => {
  it('reads the claims earClaims writes', () => {
    expect(readVerifiedClaims(claims)).toEqual(says(claims))
  })

  it('any JSON value: read or refused with a stable code', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        readOrRefused(value)
      }),
      { numRuns: 200 },
    )
  })

  it('one member replaced, retyped or removed: read exactly as written, or refused', () => {
    const places = jsonMemberPaths(claims, { maxItems: 2 })
    const replacement = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(1, 0, -1, 2 ** 53, 1.5, 'snp', 'tdx', 'affirming', 'web@3', 'RSA', 'EC'),
      fc.constantFrom('P-384', 'RSA-OAEP-256', 'AQAB', SESSION.toUpperCase(), true, false),
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...places),
        fc.option(replacement, { nil: undefined }),
        (path, value) => {
          const doc = withJsonMember(claims, path, value)
          const read = readOrRefused(doc)
          if (read === undefined) return
          // Accepted: the rules hold of the claims as written, and the token is what they say.
          expect(at(doc, [...CPU0, 'ear.status'])).toBe('affirming')
          expect(at(doc, ['eat_profile'])).toBe(at(claims, ['eat_profile']))
          expect(at(doc, [...CPU0, 'ear.appraisal-policy-id'])).toBe(
            `${read.workload}@${String(read.workloadVersion)}`,
          )
          const iat = at(doc, ['iat'])
          expect(Number.isSafeInteger(iat) && (iat as number) <= (at(doc, ['exp']) as number)).toBe(
            true,
          )
          expect(read).toEqual(says(doc))
          expect(Number.isSafeInteger(read.workloadVersion)).toBe(true)
          expect(typeof read.workload).toBe('string')
          expect(read.session).toMatch(/^[0-9a-f]{32}$/)
          for (const member of Object.values(read.teePubkey)) expect(typeof member).toBe('string')
        },
      ),
      { numRuns: 400 },
    )
  })
})
