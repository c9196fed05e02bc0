import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { splitCompactJws, verifyEs256Jwt } from './es256-jwt.ts'

const issuer = 'initguard-kbs'
const now = new Date('2026-12-01T10:00:00.400Z')
const nowSeconds = Math.floor(now.getTime() / 1000)
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })

const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

function signed(header: unknown, claims: unknown, key: KeyObject = privateKey): string {
  const input = `${b64url(header)}.${b64url(claims)}`
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

/**
 * What the token service did with jose before: the header's algorithm checked first (before the
 * key lookup), then `jwtVerify`, its error mapped to our codes.
 */
async function joseOutcome(token: string): Promise<string> {
  try {
    if (decodeProtectedHeader(token).alg !== 'ES256') return 'ERR_KBS_TOKEN_ALGORITHM'
  } catch {
    return 'ERR_KBS_TOKEN_MALFORMED'
  }
  try {
    const { payload } = await jwtVerify(token, publicKey, {
      algorithms: ['ES256'],
      issuer,
      typ: 'JWT',
      currentDate: now,
      requiredClaims: ['iat', 'exp', 'iss'],
    })
    return `ok ${JSON.stringify(payload)}`
  } catch (error) {
    const { code, claim } = error as { code?: string; claim?: string }
    if (claim === 'iss') return 'ERR_KBS_TOKEN_ISSUER'
    const codes: Record<string, string> = {
      ERR_JWT_EXPIRED: 'ERR_KBS_TOKEN_EXPIRED',
      ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'ERR_KBS_TOKEN_SIGNATURE',
      ERR_JOSE_ALG_NOT_ALLOWED: 'ERR_KBS_TOKEN_ALGORITHM',
      ERR_JWT_CLAIM_VALIDATION_FAILED: 'ERR_KBS_TOKEN_CLAIMS',
      ERR_JWS_INVALID: 'ERR_KBS_TOKEN_MALFORMED',
      ERR_JWT_INVALID: 'ERR_KBS_TOKEN_MALFORMED',
    }
    return codes[code ?? ''] ?? 'ERR_KBS_TOKEN_INVALID'
  }
}

function ourOutcome(token: string): string {
  try {
    return `ok ${JSON.stringify(verifyEs256Jwt(splitCompactJws(token), publicKey, { issuer, now }))}`
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
}

const canonical = (part: string): boolean =>
  /^[A-Za-z0-9_-]*$/.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part

const time = fc.oneof(
  fc.integer({ min: -3, max: 3 }).map((d) => nowSeconds + d),
  fc.constantFrom(nowSeconds + 0.5, nowSeconds - 0.5, '1', null, true),
)
const claimsArbitrary = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        iss: fc.constantFrom(issuer, 'someone-else', 7, null),
        iat: time,
        exp: time,
        nbf: time,
        eat_profile: fc.string({ maxLength: 4 }),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom([], 'claims', 5, null) },
)
const headerArbitrary = fc.record(
  {
    alg: fc.constantFrom('ES256', 'ES256', 'ES384', 'none', 'HS256'),
    typ: fc.constantFrom('JWT', 'jwt', 'application/jwt', 'Application/JWT', 'JOSE', 5),
    kid: fc.constantFrom('k', 'other'),
  },
  { requiredKeys: ['alg'] },
)

describe('verifyEs256Jwt', () => {
  it('accepts a good token and returns its claims', () => {
    const claims = { iss: issuer, iat: nowSeconds, exp: nowSeconds + 300, x: 1 }
    const token = signed({ alg: 'ES256', typ: 'JWT', kid: 'k' }, claims)
    expect(verifyEs256Jwt(splitCompactJws(token), publicKey, { issuer, now })).toEqual(claims)
  })

  it('agrees with jose on signed tokens of every shape (headers, claims, times)', async () => {
    await fc.assert(
      fc.asyncProperty(headerArbitrary, claimsArbitrary, fc.boolean(), async (h, c, ours) => {
        const token = signed(h, c, ours ? privateKey : other.privateKey)
        expect(ourOutcome(token)).toBe(await joseOutcome(token))
      }),
      { numRuns: 400 },
    )
  })

  it('agrees with jose on tampered tokens; never accepts what jose refuses', async () => {
    const token = signed(
      { alg: 'ES256', typ: 'JWT', kid: 'k' },
      { iss: issuer, iat: nowSeconds, exp: nowSeconds + 60 },
    )
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=é '
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: token.length }),
        fc.nat({ max: 2 }),
        fc.constantFrom(...Array.from(alphabet)),
        async (at, removed, inserted) => {
          const mutated = token.slice(0, at) + inserted + token.slice(at + removed)
          const ours = ourOutcome(mutated)
          const theirs = await joseOutcome(mutated)
          if (ours.startsWith('ok')) expect(theirs).toBe(ours)
          if (!theirs.startsWith('ok')) expect(ours).not.toMatch(/^ok/)
          // Where jose is more lenient (padding, non-canonical bits, whitespace) we refuse as
          // malformed; everywhere else the outcome is the same.
          if (mutated.split('.').every(canonical)) expect(ours).toBe(theirs)
          else if (ours !== theirs) expect(ours).toBe('ERR_KBS_TOKEN_MALFORMED')
        },
      ),
      { numRuns: 600 },
    )
  })

  it('refuses crit and b64 headers, which this KBS never issues', () => {
    for (const extra of [{ crit: ['b64'], b64: true }, { b64: true }, { crit: ['exp'] }]) {
      const token = signed(
        { alg: 'ES256', typ: 'JWT', kid: 'k', ...extra },
        { iss: issuer, iat: nowSeconds, exp: nowSeconds + 60 },
      )
      expect(ourOutcome(token)).toBe('ERR_KBS_TOKEN_MALFORMED')
    }
  })

  it('refuses what is not a compact JWS', () => {
    for (const text of ['', 'a.b', 'a.b.c.d', `${b64url([1])}.e30.`, `${b64url('x')}.e30.`])
      expect(ourOutcome(text)).toBe('ERR_KBS_TOKEN_MALFORMED')
  })
})
