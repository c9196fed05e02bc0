/**
 * Property tests of the admin JWT check: any Authorization header is either an admin identity or
 * refused with `ERR_KBS_ADMIN_AUTH` (never another error); no token the configured keys did not
 * sign is accepted, whatever its header says (alg, kid, jwk, crit); a signed token with one claim
 * changed, retyped or removed is accepted only when it still meets every rule, and then read
 * exactly as written.
 */
import { createHmac, createPublicKey, sign, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { jsonMemberPaths, withJsonMember } from '@initguard/testkit'
import { verifyAdminAuthorization, type AdminIdentity } from './admin-auth.ts'
import { testAdminKey, type TestAdminKey } from './admin-auth-test-support.ts'

const now = new Date('2026-06-01T12:00:00Z')
const nowSeconds = Math.floor(now.getTime() / 1000)
const ed = testAdminKey('EdDSA')
const es = testAdminKey('ES256')
const keys = [ed.admin, es.admin]
const strangers = [testAdminKey('EdDSA'), testAdminKey('ES256')]

const strangerJwks = strangers.map((s) =>
  // eslint-disable-next-line no-restricted-syntax -- an imported key, not a generated one
  createPublicKey(s.publicPem).export({ format: 'jwk' }),
)

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url')

/** `header.payload.signature` over the JSON texts, signed as `alg` says with `key`. */
function token(header: unknown, claims: unknown, key: KeyObject | Uint8Array): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
  let signature: Uint8Array
  if (key instanceof Uint8Array) signature = createHmac('sha256', key).update(input).digest()
  else if (key.asymmetricKeyType === 'ed25519') signature = sign(null, Buffer.from(input), key)
  else signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${b64url(signature)}`
}

const validClaims = {
  role: 'admin',
  aud: ['KBS'],
  sub: 'test-admin',
  iat: nowSeconds,
  exp: nowSeconds + 300,
}

/** The identity, or undefined after a refusal with `ERR_KBS_ADMIN_AUTH` (anything else fails). */
async function outcome(authorization: string | undefined): Promise<AdminIdentity | undefined> {
  try {
    return await verifyAdminAuthorization(authorization, keys, now)
  } catch (error) {
    expect(isInitguardError(error) && error.code, String(error)).toBe('ERR_KBS_ADMIN_AUTH')
    return undefined
  }
}

const segment = fc.oneof(
  fc.base64String().map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, '')),
  fc.json().map((s) => b64url(s)),
  fc.string(),
)
/** Header members an attacker might try: other algorithms, key hints, critical extensions. */
const hostileHeader = fc.record(
  {
    alg: fc.oneof(
      fc.constantFrom('EdDSA', 'ES256', 'none', 'HS256', 'RS256', 'ES384', 'Ed25519', 'eddsa', ''),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    typ: fc.oneof(fc.constant('JWT'), fc.jsonValue({ maxDepth: 1 })),
    kid: fc.oneof(
      fc.constantFrom(ed.admin.fingerprint, es.admin.fingerprint, '../../etc/passwd', ''),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    jwk: fc.constantFrom(...strangerJwks),
    jku: fc.constant('https://attacker.example/jwks.json'),
    x5u: fc.constant('https://attacker.example/cert.pem'),
    crit: fc.oneof(fc.constant(['b64']), fc.array(fc.string(), { maxLength: 2 })),
    b64: fc.boolean(),
  },
  { requiredKeys: [] },
)

describe('verifyAdminAuthorization', () => {
  it('any Authorization header: refused with ERR_KBS_ADMIN_AUTH', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.tuple(segment, segment, segment).map((parts) => `Bearer ${parts.join('.')}`),
          fc.tuple(segment, segment).map(([h, p]) => `Bearer ${h}.${p}.`),
        ),
        async (authorization) => {
          expect(await outcome(authorization)).toBeUndefined()
        },
      ),
      { numRuns: 300 },
    )
  })

  it('a token no configured key signed, whatever its header says: refused', async () => {
    const publicBytes = [ed, es].map((k) => new TextEncoder().encode(k.publicPem))
    await fc.assert(
      fc.asyncProperty(
        hostileHeader,
        fc.constantFrom<KeyObject | Uint8Array>(
          ...strangers.map((s) => s.privateKey),
          ...publicBytes, // HS256 with the public key as the secret: the classic alg confusion
          new Uint8Array(0),
        ),
        fc.boolean(),
        async (header, key, unsigned) => {
          const jwt = token(header, validClaims, key)
          const authorization = `Bearer ${unsigned ? `${jwt.slice(0, jwt.lastIndexOf('.'))}.` : jwt}`
          expect(await outcome(authorization)).toBeUndefined()
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a configured key signed it: any header is refused unless it is the plain alg of that key', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileHeader,
        fc.constantFrom<TestAdminKey>(ed, es),
        async (header, key) => {
          const identity = await outcome(`Bearer ${token(header, validClaims, key.privateKey)}`)
          if (identity === undefined) return
          expect(header.alg).toBe(key.admin.algorithm)
          // The only critical extension jose knows is RFC 7797's b64, and a JWT may not turn it off.
          if (header.crit !== undefined) {
            expect(header.crit).toEqual(['b64'])
            expect(header.b64).toBe(true)
          }
          expect(identity).toEqual({
            subject: 'test-admin',
            keyFingerprint: key.admin.fingerprint,
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it('one character of a valid token changed: refused, unless it decodes to the same token', async () => {
    const jwt = token({ alg: 'EdDSA', typ: 'JWT' }, validClaims, ed.privateKey)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: jwt.length - 1 }),
        fc.nat({ max: alphabet.length - 1 }),
        async (i, a) => {
          const c = alphabet.charAt(a)
          const changed = jwt.slice(0, i) + c + jwt.slice(i + 1)
          fc.pre(changed !== jwt)
          const identity = await outcome(`Bearer ${changed}`)
          if (identity === undefined) return
          // Only a change in the unused low bits of a segment's last character can keep it valid.
          const decode = (t: string): string[] =>
            t.split('.').map((s) => Buffer.from(s, 'base64url').toString('hex'))
          expect(decode(changed)).toEqual(decode(jwt))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('a signed token with one claim replaced, retyped or removed: read exactly, or refused', async () => {
    const places = jsonMemberPaths(validClaims)
    const claimValue = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.integer({ min: nowSeconds - 4000, max: nowSeconds + 4000 }),
      fc.constantFrom('admin', 'KBS', ['KBS', 'other'], 'Admin', ' admin', 'KBS '),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...places),
        fc.option(claimValue, { nil: undefined }),
        fc.constantFrom<TestAdminKey>(ed, es),
        async (path, replacement, key) => {
          const claims = withJsonMember(validClaims, path, replacement) as Record<string, unknown>
          const header = { alg: key.admin.algorithm, typ: 'JWT' }
          const identity = await outcome(`Bearer ${token(header, claims, key.privateKey)}`)
          if (identity === undefined) return
          // Accepted: every rule holds of the claims as written, and the subject is read as is.
          const aud = claims['aud']
          expect(claims['role']).toBe('admin')
          expect(aud === 'KBS' || (Array.isArray(aud) && aud.includes('KBS'))).toBe(true)
          const exp = claims['exp']
          expect(
            typeof exp === 'number' && exp >= nowSeconds - 30 && exp <= nowSeconds + 3630,
          ).toBe(true)
          const sub = claims['sub']
          expect(sub === undefined || typeof sub === 'string', `sub ${JSON.stringify(sub)}`).toBe(
            true,
          )
          expect(identity).toEqual({ subject: sub, keyFingerprint: key.admin.fingerprint })
        },
      ),
      { numRuns: 300 },
    )
  })
})
