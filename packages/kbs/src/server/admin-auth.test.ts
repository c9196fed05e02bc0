import { generateKeyPairSync } from 'node:crypto'
import { SignJWT, UnsecuredJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { rejected, thrown } from '@initguard/testkit'
import { parseAdminPublicKey, requireAdminKeys, verifyAdminAuthorization } from './admin-auth.ts'
import { testAdminKey, testAdminToken } from './admin-auth-test-support.ts'

const now = new Date('2026-06-01T12:00:00Z')
const ed = testAdminKey('EdDSA')
const es = testAdminKey('ES256')
const keys = [ed.admin, es.admin]
const bearer = (token: string): string => `Bearer ${token}`

async function refusal(authorization: string | undefined): Promise<string> {
  const error = await rejected(verifyAdminAuthorization(authorization, keys, now))
  expect(error.code).toBe('ERR_KBS_ADMIN_AUTH')
  return error.message
}

describe('admin JWT verification', () => {
  it('accepts EdDSA and ES256 tokens with role admin, aud KBS and a future exp', async () => {
    for (const key of [ed, es]) {
      const identity = await verifyAdminAuthorization(
        bearer(await testAdminToken(key, now)),
        keys,
        now,
      )
      expect(identity.keyFingerprint).toBe(key.admin.fingerprint)
      expect(identity.subject).toBe('test-admin')
    }
    // aud as a plain string naming KBS is accepted too.
    await verifyAdminAuthorization(bearer(await testAdminToken(ed, now, { aud: 'KBS' })), keys, now)
  })

  it('refuses alg none, HS256, and tokens without a header', async () => {
    const unsecured = new UnsecuredJWT({ role: 'admin', aud: ['KBS'], exp: 2e9 }).encode()
    expect(await refusal(bearer(unsecured))).toMatch(/alg "none" is not accepted/)
    const hs = await new SignJWT({ role: 'admin', aud: ['KBS'], exp: 2e9 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new Uint8Array(32))
    expect(await refusal(bearer(hs))).toMatch(/alg "HS256" is not accepted/)
    expect(await refusal(undefined)).toMatch(/no Authorization header/)
    expect(await refusal('Basic YWRtaW46YWRtaW4=')).toMatch(/not "Bearer <JWT>"/)
    expect(await refusal('Bearer not-a-jwt')).toMatch(/not "Bearer <JWT>"/)
  })

  it('refuses a token signed by a key that is not configured', async () => {
    const stranger = testAdminKey('EdDSA')
    expect(await refusal(bearer(await testAdminToken(stranger, now)))).toMatch(/does not verify/)
    // An ES256 header on a token signed by the configured key's algorithm but another key.
    const other = testAdminKey('ES256')
    expect(await refusal(bearer(await testAdminToken(other, now)))).toMatch(/does not verify/)
  })

  it('refuses an ES256 token when only an Ed25519 key is configured (alg must match the key)', async () => {
    const error = await rejected(
      verifyAdminAuthorization(bearer(await testAdminToken(es, now)), [ed.admin], now),
    )
    expect(error.message).toMatch(/no configured admin key is for ES256/)
  })

  it('refuses a token that would stay valid for more than an hour', async () => {
    const iat = Math.floor(now.getTime() / 1000)
    const long = await testAdminToken(ed, now, { exp: iat + 2 * 3600 })
    expect(await refusal(bearer(long))).toMatch(/at most 3600 s/)
    const hour = await testAdminToken(ed, now, { exp: iat + 3600 })
    expect(await verifyAdminAuthorization(bearer(hour), keys, now)).toMatchObject({
      subject: 'test-admin',
    })
  })

  it('refuses expired tokens beyond the leeway, and tokens without exp', async () => {
    const old = new Date(now.getTime() - 400_000)
    expect(await refusal(bearer(await testAdminToken(ed, old)))).toMatch(/expired/)
    // Within the 30 s leeway: accepted.
    const recent = new Date(now.getTime() - 310_000)
    await verifyAdminAuthorization(bearer(await testAdminToken(ed, recent)), keys, now)
    expect(await refusal(bearer(await testAdminToken(ed, now, {}, { noExp: true })))).toMatch(
      /exp claim/,
    )
  })

  it('refuses a wrong audience and a missing or wrong role', async () => {
    expect(await refusal(bearer(await testAdminToken(ed, now, { aud: ['other'] })))).toMatch(
      /not for this KBS's admin audience "KBS"/,
    )
    expect(await refusal(bearer(await testAdminToken(ed, now, { aud: undefined })))).toMatch(/aud/)
    expect(await refusal(bearer(await testAdminToken(ed, now, { role: undefined })))).toMatch(
      /role is not "admin"/,
    )
    expect(await refusal(bearer(await testAdminToken(ed, now, { role: 'user' })))).toMatch(
      /role is not "admin"/,
    )
  })

  it('refuses a sub claim that is not a string, rather than passing it on as the admin name', async () => {
    for (const sub of [42, ['root'], { name: 'admin' }, null, true])
      expect(await refusal(bearer(await testAdminToken(ed, now, { sub })))).toMatch(
        /sub claim is not a string/,
      )
    const anonymous = await testAdminToken(ed, now, { sub: undefined })
    expect(await verifyAdminAuthorization(bearer(anonymous), keys, now)).toMatchObject({
      subject: undefined,
    })
  })
})

describe('the admin audience', () => {
  const production = 'https://kbs.prod.example:8443'
  const signed = async (aud: unknown, key = ed): Promise<string> =>
    bearer(await testAdminToken(key, now, { aud }))

  it('binds a token to the KBS whose audience it names: another KBS sharing the key refuses it, saying why', async () => {
    const accepted = await verifyAdminAuthorization(
      await signed([production]),
      keys,
      now,
      production,
    )
    expect(accepted.keyFingerprint).toBe(ed.admin.fingerprint)
    // One of several audiences is enough, as RFC 7519 §4.1.3 has it.
    await verifyAdminAuthorization(await signed(['other', production]), keys, now, production)
    for (const aud of [['https://kbs.staging.example:8443'], ['KBS'], 'KBS', undefined]) {
      const error = await rejected(
        verifyAdminAuthorization(await signed(aud), keys, now, production),
      )
      expect(error.code).toBe('ERR_KBS_ADMIN_AUTH')
      expect(error.message).toContain(`not for this KBS's admin audience "${production}"`)
      // Signed by a configured key: the refusal names the key, so that the KBS can audit it.
      expect(error.details).toMatchObject({
        reason: 'ERR_KBS_ADMIN_AUDIENCE',
        signedBy: ed.admin.fingerprint,
      })
    }
    // The token's own audience is named, quoted: a token meant for another KBS is recognisable.
    const staging = await rejected(
      verifyAdminAuthorization(await signed(['staging', 'qa']), keys, now, production),
    )
    expect(staging.message).toContain('the token is for ["staging","qa"]')
    expect(staging.message).toMatch(
      /sign it for that audience \(initguard kbs admin --admin-audience\)$/,
    )
  })

  it("is KBS (Trustee's) unless configured: the tokens of existing clients keep working", async () => {
    await verifyAdminAuthorization(await signed(['KBS']), keys, now)
    await verifyAdminAuthorization(await signed(['KBS']), keys, now, 'KBS')
    const error = await rejected(verifyAdminAuthorization(await signed([production]), keys, now))
    expect(error.message).toContain(`not for this KBS's admin audience "KBS"`)
  })

  it('names the signing key of every refusal after the signature verified, and of no other', async () => {
    const iat = Math.floor(now.getTime() / 1000)
    const afterSignature = [
      await testAdminToken(ed, new Date(now.getTime() - 400_000)),
      await testAdminToken(es, now, { role: 'user' }),
      await testAdminToken(ed, now, { exp: iat + 7200 }),
      await testAdminToken(ed, now, { sub: 7 }),
    ]
    for (const token of afterSignature) {
      const error = await rejected(verifyAdminAuthorization(bearer(token), keys, now))
      expect(error.details['signedBy'], error.message).toMatch(/^[0-9a-f]{64}$/)
      expect(error.details['reason']).toBe('ERR_KBS_ADMIN_AUTH')
    }
    const stranger = testAdminKey('EdDSA')
    for (const authorization of [
      bearer(await testAdminToken(stranger, now, { aud: ['elsewhere'] })),
      'Bearer a.b.c',
      undefined,
    ]) {
      const error = await rejected(verifyAdminAuthorization(authorization, keys, now, 'x'))
      expect(error.details['signedBy']).toBeUndefined()
    }
  })
})

describe('admin public keys', () => {
  it('reads Ed25519 and P-256 PEM public keys with their algorithm', () => {
    expect(ed.admin.algorithm).toBe('EdDSA')
    expect(es.admin.algorithm).toBe('ES256')
    expect(ed.admin.fingerprint).toMatch(/^[0-9a-f]{64}$/)
  })

  it('refuses other key types, private keys and non-PEM text', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString()
    expect(thrown(() => parseAdminPublicKey(rsa, 'rsa.pub')).message).toMatch(
      /a rsa key; only Ed25519/,
    )
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString()
    expect(thrown(() => parseAdminPublicKey(p384, 'p384.pub')).code).toBe('ERR_KBS_ADMIN_KEY')
    const privatePem = ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    expect(thrown(() => parseAdminPublicKey(privatePem, 'admin.key')).message).toMatch(
      /not a PEM public key/,
    )
    expect(
      thrown(() =>
        parseAdminPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'x'),
      ).code,
    ).toBe('ERR_KBS_ADMIN_KEY')
  })

  it('refuses to run with no admin key at all', () => {
    expect(
      thrown(() => {
        requireAdminKeys([])
      }).code,
    ).toBe('ERR_KBS_NO_ADMIN_KEY')
  })
})
