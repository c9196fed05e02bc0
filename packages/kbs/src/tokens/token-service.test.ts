import { createHmac, createPrivateKey, sign } from 'node:crypto'
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose'
import { generateEcKeyPair } from '@initguard/kbs-protocol'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import type { SigningKeyStore } from '../ports.ts'
import { openKbsStore } from '../storage/open-store.ts'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  temporaryDir,
  testDatabases,
  twoHandles,
  undoMigrations,
} from '../storage/store-test-support.ts'
import { EAR_PROFILE } from './ear-claims.ts'
import { SESSION, acceptedFor, claimsView, forgedToken, teeKey } from './token-test-support.ts'
import { createTokenService } from './token-service.ts'

const t0 = new Date('2026-12-01T10:00:00.000Z')
const after = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000)
const issuer = 'https://kbs.example'
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** `inner`, counting its `list()` calls (store reads). */
function countingLists(inner: SigningKeyStore): { store: SigningKeyStore; lists: () => number } {
  let lists = 0
  const store: SigningKeyStore = {
    list: () => ((lists += 1), inner.list()),
    add: (k) => inner.add(k),
    rotate: (k, changed) => inner.rotate(k, changed),
    rotateRevoking: (k, changed) => inner.rotateRevoking(k, changed),
    retire: (kid, at) => inner.retire(kid, at),
    purge: (before) => inner.purge(before),
  }
  return { store, lists: () => lists }
}

async function service(store?: SigningKeyStore) {
  const keys =
    store ??
    (await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() }))
      .signingKeys
  return createTokenService({ store: keys, issuer })
}

describe('createTokenService', () => {
  it("issues an EAR JWT in Trustee's shape that verifies", async () => {
    const tokens = await service()
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    const header = decodeProtectedHeader(token)
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: expect.any(String) as string })
    const claims = claimsView(decodeJwt(token))
    expect(claims.eat_profile).toBe(EAR_PROFILE)
    expect(claims.iss).toBe(issuer)
    expect(claims.jti).toBe(SESSION)
    expect(claims.exp).toBe(claims.iat + 300)
    const cpu0 = claims.submods.cpu0
    expect(cpu0['ear.status']).toBe('affirming')
    expect(cpu0['ear.appraisal-policy-id']).toBe('web@3')
    expect(cpu0['ear.trustworthiness-vector']).toMatchObject({
      hardware: 2,
      configuration: 2,
      executables: 2,
    })
    expect(cpu0['ear.veraison.annotated-evidence'].runtime_data_claims['tee-pubkey']).toEqual(key)
    expect(cpu0['ear.veraison.annotated-evidence']['snp']).toEqual(
      acceptedFor(key).annotatedEvidence['snp'],
    )
    expect(claims.initguard).toEqual({
      workload: { name: 'web', version: 3 },
      tee: 'snp',
      simulated: false,
    })
    expect(claims['ear.verifier-id'].build).not.toContain('simulator')
    expect(await tokens.verify(token, after(299))).toEqual({
      workload: 'web',
      workloadVersion: 3,
      tee: 'snp',
      teePubkey: key,
      simulated: false,
      expiresAt: after(300),
      session: SESSION,
    })
  })

  it('says so visibly when the evidence was simulated', async () => {
    const tokens = await service()
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key, true), key, t0, SESSION)
    const claims = claimsView(decodeJwt(token))
    expect(claims.initguard['simulated']).toBe(true)
    expect(claims['ear.verifier-id'].build).toContain('TEE simulator')
    expect(claims.submods.cpu0['ear.trustworthiness-vector']['hardware']).toBe(0)
    expect((await tokens.verify(token, t0)).simulated).toBe(true)
  })

  it('refuses an expired token, a tampered one, and a wrong issuer', async () => {
    const store = (
      await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
    ).signingKeys
    const tokens = await service(store)
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    expect(await rejectedCode(tokens.verify(token, after(300)))).toBe('ERR_KBS_TOKEN_EXPIRED')
    const [h, p, s] = token.split('.') as [string, string, string]
    const claims = decodeJwt(token)
    const forged = `${h}.${b64url({ ...claims, initguard: { workload: { name: 'admin', version: 3 }, tee: 'snp', simulated: false } })}.${s}`
    expect(await rejectedCode(tokens.verify(forged, t0))).toBe('ERR_KBS_TOKEN_SIGNATURE')
    const flipped = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`
    expect(await rejectedCode(tokens.verify(flipped, t0))).toBe('ERR_KBS_TOKEN_SIGNATURE')
    expect(await rejectedCode(tokens.verify('not a token', t0))).toBe('ERR_KBS_TOKEN_MALFORMED')
    const other = createTokenService({ store, issuer: 'someone-else' })
    expect(await rejectedCode(other.verify(token, t0))).toBe('ERR_KBS_TOKEN_ISSUER')
  })

  it('refuses a kid it does not know, and alg none or HS256 tokens that name our kid', async () => {
    const tokens = await service()
    const stranger = await service()
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    const foreign = await stranger.issue(acceptedFor(key), key, t0, SESSION)
    expect(await rejectedCode(tokens.verify(foreign, t0))).toBe('ERR_KBS_TOKEN_UNKNOWN_KEY')
    const { kid } = decodeProtectedHeader(token)
    const payload = token.split('.')[1] ?? ''
    const none = `${b64url({ alg: 'none', typ: 'JWT', kid })}.${payload}.`
    expect(await rejectedCode(tokens.verify(none, t0))).toBe('ERR_KBS_TOKEN_ALGORITHM')
    // Key confusion: an HMAC keyed with our public JWK, as a verifier trusting the header might accept.
    const jwk = (await tokens.jwks(t0)).keys[0]
    const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT', kid })}.${payload}`
    const mac = createHmac('sha256', JSON.stringify(jwk)).update(signingInput).digest('base64url')
    expect(await rejectedCode(tokens.verify(`${signingInput}.${mac}`, t0))).toBe(
      'ERR_KBS_TOKEN_ALGORITHM',
    )
    const noKid = `${b64url({ alg: 'ES256', typ: 'JWT' })}.${payload}.${token.split('.')[2] ?? ''}`
    expect(await rejectedCode(tokens.verify(noKid, t0))).toBe('ERR_KBS_TOKEN_UNKNOWN_KEY')
  })

  it('takes no key from the token: its own jwk, jku, x5u or x5c, under its kid or ours, or ES384', async () => {
    const tokens = await service()
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    const { kid } = decodeProtectedHeader(token)
    const payload = token.split('.')[1] ?? ''
    // The attacker's own P-256 key, published by it however a header can point to a key.
    const { privateKey, jwk: privateJwk } = generateEcKeyPair('P-256')
    const { d: _d, ...jwk } = { ...privateJwk, alg: 'ES256' }
    const own = await calculateJwkThumbprint(jwk)
    const x5c = ['MIIB' + 'A'.repeat(60)]
    const signed = (header: Record<string, unknown>): string => {
      const input = `${b64url({ typ: 'JWT', ...header })}.${payload}`
      const signature = sign('sha256', Buffer.from(input), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      })
      return `${input}.${signature.toString('base64url')}`
    }
    for (const [header, code] of [
      [{ alg: 'ES256', jwk }, 'ERR_KBS_TOKEN_UNKNOWN_KEY'],
      [{ alg: 'ES256', kid: own, jwk }, 'ERR_KBS_TOKEN_UNKNOWN_KEY'],
      [
        { alg: 'ES256', kid: own, jku: 'https://attacker.example/jwks.json' },
        'ERR_KBS_TOKEN_UNKNOWN_KEY',
      ],
      [{ alg: 'ES256', kid: 'https://attacker.example/jwks.json' }, 'ERR_KBS_TOKEN_UNKNOWN_KEY'],
      [{ alg: 'ES256', kid, jwk }, 'ERR_KBS_TOKEN_SIGNATURE'],
      [
        { alg: 'ES256', kid, x5u: 'https://attacker.example/cert.pem', x5c },
        'ERR_KBS_TOKEN_SIGNATURE',
      ],
      [{ alg: 'ES384', kid }, 'ERR_KBS_TOKEN_ALGORITHM'],
    ] as const)
      expect({ header, code: await rejectedCode(tokens.verify(signed(header), t0)) }).toEqual({
        header,
        code,
      })
  })

  it('keeps the previous key published after rotation until its tokens expire, then purges it', async () => {
    const store = (
      await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
    ).signingKeys
    const tokens = createTokenService({ store, issuer, lifetimeSeconds: 300, leewaySeconds: 120 })
    const key = await teeKey()
    const oldToken = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    const oldKid = decodeProtectedHeader(oldToken).kid
    const { kid: newKid } = await tokens.rotate(after(100))
    expect(newKid).not.toBe(oldKid)
    const newToken = await tokens.issue(acceptedFor(key), key, after(101), SESSION)
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid)
    expect((await tokens.jwks(after(101))).keys.map((k) => k.kid)).toEqual([newKid, oldKid])
    expect((await tokens.verify(oldToken, after(299))).workload).toBe('web')
    expect(await rejectedCode(tokens.verify(oldToken, after(300)))).toBe('ERR_KBS_TOKEN_EXPIRED')
    // Published until retirement (100) + lifetime (300) + leeway (120) = 520.
    expect((await tokens.jwks(after(519))).keys.map((k) => k.kid)).toEqual([newKid, oldKid])
    expect((await tokens.jwks(after(520))).keys.map((k) => k.kid)).toEqual([newKid])
    expect((await store.list()).map((k) => k.kid)).toEqual([newKid])
    expect(await rejectedCode(tokens.verify(oldToken, after(520)))).toBe(
      'ERR_KBS_TOKEN_UNKNOWN_KEY',
    )
    expect((await tokens.verify(newToken, after(400))).workload).toBe('web')
  })

  it("lets replicas on one database verify each other's tokens, across a rotation", async () => {
    const { first, second } = await twoHandles()
    const a = createTokenService({
      store: first.signingKeys,
      issuer,
      refreshSeconds: 30,
      leewaySeconds: 60,
    })
    const b = createTokenService({
      store: second.signingKeys,
      issuer,
      refreshSeconds: 30,
      leewaySeconds: 60,
    })
    const key = await teeKey()
    const fromA = await a.issue(acceptedFor(key), key, t0, SESSION)
    expect((await b.verify(fromA, t0)).workload).toBe('web')
    const fromB = await b.issue(acceptedFor(key), key, t0, SESSION)
    expect(decodeProtectedHeader(fromB).kid).toBe(decodeProtectedHeader(fromA).kid)
    const { kid } = await b.rotate(after(10))
    const rotated = await b.issue(acceptedFor(key), key, after(11), SESSION)
    expect((await a.verify(rotated, after(12))).workload).toBe('web')
    // A signs with the new key once its list is older than refreshSeconds.
    expect(
      decodeProtectedHeader(await a.issue(acceptedFor(key), key, after(31), SESSION)).kid,
    ).toBe(kid)
  })

  it("verifies another replica's new key at once, even when its own list was read just before the rotation", async () => {
    const { first, second } = await twoHandles()
    const counted = countingLists(first.signingKeys)
    const a = createTokenService({ store: counted.store, issuer })
    const b = createTokenService({ store: second.signingKeys, issuer })
    const key = await teeKey()
    await a.issue(acceptedFor(key), key, t0, SESSION)
    // A reads the key list (serving the JWKS), then B rotates and signs within the same second.
    await a.jwks(after(10))
    await b.rotate(after(10))
    const rotated = await b.issue(acceptedFor(key), key, after(10), SESSION)
    const started = Date.now()
    const [one, two] = await Promise.all([
      a.verify(rotated, after(10)),
      a.verify(rotated, after(10)),
    ])
    expect([one.workload, two.workload]).toEqual(['web', 'web'])
    // Bounded: the one read it waited for came at most a second later.
    expect(Date.now() - started).toBeLessThan(1500)
    // Made-up kids share reads: five at once cost one store read, and all are refused.
    const forged = (kid: string): string =>
      `${b64url({ alg: 'ES256', typ: 'JWT', kid })}.${rotated.split('.').slice(1).join('.')}`
    const before = counted.lists()
    const codes = await Promise.all(
      ['k1', 'k2', 'k3', 'k4', 'k5'].map((kid) => rejectedCode(a.verify(forged(kid), after(10)))),
    )
    expect(new Set(codes)).toEqual(new Set(['ERR_KBS_TOKEN_UNKNOWN_KEY']))
    expect(counted.lists() - before).toBe(1)
  })

  it("refuses the old key's tokens past its grace on a replica that only verifies, not at its next signature", async () => {
    // A rotation is how a leaked signing key is taken out of use: a replica that served resources
    // but issued no token since must not keep taking tokens the old key signs after its grace.
    const { first, second } = await twoHandles()
    const verifying = createTokenService({ store: first.signingKeys, issuer })
    const rotating = createTokenService({ store: second.signingKeys, issuer })
    const key = await teeKey()
    const token = await rotating.issue(acceptedFor(key), key, t0, SESSION)
    const [oldKey] = await second.signingKeys.list()
    expect((await verifying.verify(token, t0)).workload).toBe('web')
    await rotating.rotate(after(10))
    // Whoever holds the old private key signs a fresh token long after its grace (10 + 300 + 120).
    const later = 3600
    const [, payload] = token.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >
    const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid: oldKey?.kid })}.${b64url({
      ...claims,
      iat: t0.getTime() / 1000 + later,
      exp: t0.getTime() / 1000 + later + 300,
    })}`
    const signature = sign('sha256', Buffer.from(input), {
      key: createPrivateKey({ key: { ...oldKey?.privateJwk }, format: 'jwk' }),
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url')
    expect(await rejectedCode(verifying.verify(`${input}.${signature}`, after(later)))).toBe(
      'ERR_KBS_TOKEN_UNKNOWN_KEY',
    )
  })

  it('reads its key list again within refreshSeconds of real time after its clock steps back', async () => {
    // A wall clock stepped back (NTP stepping, a VM resumed) must not freeze the list for the
    // length of the step: this replica would go on signing with a key another replica retired,
    // and serve a JWKS without the new key.
    const { first, second } = await twoHandles()
    let monotonicMs = 0
    const stepped = createTokenService({
      store: first.signingKeys,
      issuer,
      monotonicMs: () => monotonicMs,
    })
    const rotating = createTokenService({ store: second.signingKeys, issuer })
    const key = await teeKey()
    const before = await stepped.issue(acceptedFor(key), key, t0, SESSION)
    expect((await stepped.jwks(t0)).keys).toHaveLength(1)
    const { kid } = await rotating.rotate(after(10))
    expect(decodeProtectedHeader(before).kid).not.toBe(kid)
    // The clock is now an hour behind; 2 s pass, then 61 s (the default refreshSeconds is 60).
    monotonicMs = 2000
    expect((await stepped.jwks(after(2 - 3600))).keys.map((k) => k.kid)).toContain(kid)
    monotonicMs = 61_000
    const token = await stepped.issue(acceptedFor(key), key, after(61 - 3600), SESSION)
    expect(decodeProtectedHeader(token).kid).toBe(kid)
  })

  it('keeps its keys across a reopen of the store', async () => {
    const dataDir = await temporaryDir()
    const masterKey = randomMasterKey()
    const store = await openKbsStore({ dataDir, masterKey })
    const key = await teeKey()
    const token = await createTokenService({ store: store.signingKeys, issuer }).issue(
      acceptedFor(key),
      key,
      t0,
      SESSION,
    )
    await store.close()
    const reopened = await openTestStore({ dataDir, masterKey })
    const tokens = createTokenService({ store: reopened.signingKeys, issuer })
    expect((await tokens.verify(token, t0)).workload).toBe('web')
    const again = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    expect(decodeProtectedHeader(again).kid).toBe(decodeProtectedHeader(token).kid)
  })

  it('does not go back to the store for each verification', async () => {
    const inner = (
      await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
    ).signingKeys
    const counted = countingLists(inner)
    const tokens = createTokenService({ store: counted.store, issuer })
    const key = await teeKey()
    const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
    const before = counted.lists()
    for (let i = 0; i < 5; i++) await tokens.verify(token, t0)
    expect(counted.lists()).toBe(before)
  })

  it("refuses a token for a key other than the evidence's, a refused appraisal, and bad options", async () => {
    const tokens = await service()
    const key = await teeKey()
    expect(await rejectedCode(tokens.issue(acceptedFor(key), await teeKey(), t0, SESSION))).toBe(
      'ERR_KBS_TOKEN_TEE_KEY_MISMATCH',
    )
    const refused = { ...acceptedFor(key), accepted: false } as unknown as ReturnType<
      typeof acceptedFor
    >
    expect(await rejectedCode(tokens.issue(refused, key, t0, SESSION))).toBe(
      'ERR_KBS_TOKEN_NOT_ACCEPTED',
    )
    const store = (
      await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
    ).signingKeys
    for (const bad of [
      { lifetimeSeconds: 0 },
      { lifetimeSeconds: 1.5 },
      { refreshSeconds: 60, leewaySeconds: 10 },
      // Signed with the retired key up to refreshSeconds after the rotation; purged by a clock
      // up to 10 s ahead of the retiring one, verified by one up to 10 s behind the signing one.
      { refreshSeconds: 60, leewaySeconds: 79 },
      { issuer: '' },
    ]) {
      let code = 'accepted'
      try {
        createTokenService({ store, issuer, ...bad })
      } catch (error) {
        code = (error as { code: string }).code
      }
      expect(code, JSON.stringify(bad)).toBe('ERR_KBS_TOKEN_OPTIONS')
    }
  })
})

describe.each(STORE_ENGINES)(
  'a retired signing key on %s, un-retired in the database',
  (engine) => {
    const databases = testDatabases(engine)
    const later = 3600

    /**
     * One replica signs a token, its key leaks and it rotates at t0 + 10 s; `forged` is a token the
     * leaked key signs an hour later, long past its grace (10 + 300 + 120).
     */
    async function leakedThenRotated() {
      const at = await databases.fresh()
      const masterKey = randomMasterKey()
      const store = await openTestStore({ ...at, masterKey })
      const tokens = createTokenService({ store: store.signingKeys, issuer })
      const key = await teeKey()
      const token = await tokens.issue(acceptedFor(key), key, t0, SESSION)
      const [leaked] = await store.signingKeys.list()
      const [row] = await databases.raw(at, 'SELECT kid, sealed, created_at, mac FROM signing_key')
      if (leaked === undefined || row === undefined) throw new Error('no key')
      await tokens.rotate(after(10))
      return {
        at,
        masterKey,
        key,
        tokens,
        leaked,
        row,
        forged: forgedToken(leaked, token, after(later)),
      }
    }

    it('stays retired on a replica that has seen it retired: retired_at set back to null', async () => {
      const { at, masterKey, key, tokens, leaked, forged } = await leakedThenRotated()
      // Another replica reads the list after the rotation.
      const verifying = createTokenService({
        store: (await openTestStore({ ...at, masterKey })).signingKeys,
        issuer,
      })
      const rotated = await tokens.issue(acceptedFor(key), key, after(11), SESSION)
      expect((await verifying.verify(rotated, after(12))).workload).toBe('web')
      // Whoever can write the database (not the master key) un-retires the leaked key.
      await databases.raw(at, 'UPDATE signing_key SET retired_at = NULL WHERE kid = ?', [
        leaked.kid,
      ])
      for (const replica of [tokens, verifying]) {
        expect(await rejectedCode(replica.verify(forged, after(later)))).toBe(
          'ERR_KBS_TOKEN_UNKNOWN_KEY',
        )
        expect((await replica.jwks(after(later))).keys.map((k) => k.kid)).not.toContain(leaked.kid)
      }
    })

    it("stays unpublished on a replica that has seen it retired: a purged key's row written back", async () => {
      const { at, tokens, row, forged } = await leakedThenRotated()
      // Past its window the old key is purged; the database writer puts its row back, active.
      expect((await tokens.jwks(after(1000))).keys).toHaveLength(1)
      await databases.raw(
        at,
        'INSERT INTO signing_key (kid, sealed, created_at, retired_at) VALUES (?, ?, ?, NULL)',
        [row['kid'], row['sealed'], row['created_at']],
      )
      expect(await rejectedCode(tokens.verify(forged, after(later)))).toBe(
        'ERR_KBS_TOKEN_UNKNOWN_KEY',
      )
    })

    /** A replica started now, on the same database. */
    async function freshReplica(
      at: Awaited<ReturnType<typeof databases.fresh>>,
      masterKey: Uint8Array,
    ) {
      return createTokenService({
        store: (await openTestStore({ ...at, masterKey })).signingKeys,
        issuer,
      })
    }

    /** A fresh database whose one replica has signed a token at t0. */
    async function signedOnce() {
      const at = await databases.fresh()
      const masterKey = randomMasterKey()
      const tokens = createTokenService({
        store: (await openTestStore({ ...at, masterKey })).signingKeys,
        issuer,
      })
      const key = await teeKey()
      return {
        at,
        masterKey,
        tokens,
        key,
        token: await tokens.issue(acceptedFor(key), key, t0, SESSION),
      }
    }

    it('is refused by a replica started after the retirement: retired_at set back to null', async () => {
      const { at, masterKey, key, leaked, forged } = await leakedThenRotated()
      await databases.raw(at, 'UPDATE signing_key SET retired_at = NULL WHERE kid = ?', [
        leaked.kid,
      ])
      const warnings = collectWarnings()
      try {
        const fresh = await freshReplica(at, masterKey)
        expect(await rejectedCode(fresh.verify(forged, after(later)))).toBe(
          'ERR_KBS_TOKEN_UNKNOWN_KEY',
        )
        expect((await fresh.jwks(after(later))).keys.map((k) => k.kid)).not.toContain(leaked.kid)
        const signed = await fresh.issue(acceptedFor(key), key, after(later), SESSION)
        expect(decodeProtectedHeader(signed).kid).not.toBe(leaked.kid)
        expect(warnings.codes()).toContain('ERR_KBS_SIGNING_KEY_INTEGRITY')
      } finally {
        warnings.stop()
      }
    })

    it('is refused by a replica started after the retirement: created_at or retired_at moved', async () => {
      const { at, masterKey, leaked, forged } = await leakedThenRotated()
      // Retired long after the forged token's time: it would be published (and in grace) then.
      await databases.raw(at, 'UPDATE signing_key SET retired_at = ? WHERE kid = ?', [
        new Date(t0.getTime() + 2 * later * 1000).toISOString(),
        leaked.kid,
      ])
      const fresh = await freshReplica(at, masterKey)
      expect(await rejectedCode(fresh.verify(forged, after(later)))).toBe(
        'ERR_KBS_TOKEN_UNKNOWN_KEY',
      )
    })

    it('keeps its grace on a replica started after the rotation (the retirement is authenticated)', async () => {
      const { at, masterKey, tokens, token: before } = await signedOnce()
      await tokens.rotate(after(10))
      const fresh = await freshReplica(at, masterKey)
      expect((await fresh.verify(before, after(20))).workload).toBe('web')
      expect((await fresh.jwks(after(20))).keys).toHaveLength(2)
    })

    it('is not used when it has no MAC (a database from before 006, migrated): a new key is made', async () => {
      const { at, masterKey, key, token: old } = await signedOnce()
      // The database as a KBS from before 006 left it: no mac column, neither migration run.
      await undoMigrations(at, [
        '008-audit-commit-order',
        '007-audit-prune-mark',
        '006-signing-key-mac',
      ])
      const warnings = collectWarnings()
      try {
        const store = await openTestStore({ ...at, masterKey })
        expect(store.appliedMigrations).toEqual([
          '006-signing-key-mac',
          '007-audit-prune-mark',
          '008-audit-commit-order',
        ])
        const fresh = createTokenService({ store: store.signingKeys, issuer })
        expect(await rejectedCode(fresh.verify(old, after(1)))).toBe('ERR_KBS_TOKEN_UNKNOWN_KEY')
        const signed = await fresh.issue(acceptedFor(key), key, after(2), SESSION)
        expect(decodeProtectedHeader(signed).kid).not.toBe(decodeProtectedHeader(old).kid)
        expect((await fresh.verify(signed, after(3))).workload).toBe('web')
        expect((await fresh.jwks(after(3))).keys.map((k) => k.kid)).toEqual([
          decodeProtectedHeader(signed).kid,
        ])
        expect(warnings.codes()).toContain('ERR_KBS_SIGNING_KEY_INTEGRITY')
      } finally {
        warnings.stop()
      }
    })

    it('what remains: the row from before the retirement, written back whole, is taken by a replica started after', async () => {
      const { at, masterKey, leaked, row, forged } = await leakedThenRotated()
      await databases.raw(at, 'UPDATE signing_key SET retired_at = NULL, mac = ? WHERE kid = ?', [
        row['mac'],
        leaked.kid,
      ])
      const fresh = await freshReplica(at, masterKey)
      expect((await fresh.verify(forged, after(later))).workload).toBe('web')
    })
  },
)

/** The codes of the process warnings emitted until `stop`. */
function collectWarnings(): { codes: () => readonly string[]; stop: () => void } {
  const codes: string[] = []
  const listener = (warning: Error & { code?: string }): void => {
    if (warning.code !== undefined) codes.push(warning.code)
  }
  process.on('warning', listener)
  return {
    codes: () => codes,
    stop: () => {
      process.off('warning', listener)
    },
  }
}
