import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from './store-test-support.ts'

const t = (minute: number): Date => new Date(Date.UTC(2026, 11, 1, 10, minute))
const jwk = (d: string) => ({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d })

describe.each(STORE_ENGINES)('SqlSigningKeyStore on %s', (engine) => {
  const databases = testDatabases(engine)

  it('adds, lists newest first, retires (idempotently) and purges', async () => {
    const { signingKeys } = await databases.open()
    await signingKeys.add({ kid: 'old', privateJwk: jwk('1'), createdAt: t(1) })
    await signingKeys.add({ kid: 'new', privateJwk: jwk('2'), createdAt: t(2) })
    expect((await signingKeys.list()).map((k) => k.kid)).toEqual(['new', 'old'])
    await signingKeys.retire('old', t(3))
    await signingKeys.retire('old', t(4))
    const old = (await signingKeys.list()).find((k) => k.kid === 'old')
    expect(old).toEqual({ kid: 'old', privateJwk: jwk('1'), createdAt: t(1), retiredAt: t(3) })
    expect(await rejectedCode(signingKeys.retire('nope', t(3)))).toBe('ERR_KBS_SIGNING_KEY_UNKNOWN')
    expect(await signingKeys.purge(t(3))).toBe(0)
    expect(await signingKeys.purge(t(10))).toBe(1)
    expect((await signingKeys.list()).map((k) => k.kid)).toEqual(['new'])
  })

  it('leaves out a row whose metadata was changed behind it; a rotation or retirement never blesses it', async () => {
    const at = await databases.fresh()
    const { signingKeys } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    await signingKeys.add({ kid: 'a', privateJwk: jwk('1'), createdAt: t(1) })
    await signingKeys.add({ kid: 'b', privateJwk: jwk('2'), createdAt: t(2) })
    await signingKeys.retire('b', t(3))
    await databases.raw(at, 'UPDATE signing_key SET created_at = ? WHERE kid = ?', [
      t(0).toISOString(),
      'a',
    ])
    await databases.raw(at, 'UPDATE signing_key SET retired_at = NULL WHERE kid = ?', ['b'])
    expect(await signingKeys.list()).toEqual([])
    await signingKeys.retire('a', t(4))
    await signingKeys.rotate({ kid: 'c', privateJwk: jwk('3'), createdAt: t(5) })
    // Put back as they were: the MACs written meanwhile (none) do not make them authentic.
    await databases.raw(
      at,
      'UPDATE signing_key SET created_at = ?, retired_at = NULL WHERE kid = ?',
      [t(1).toISOString(), 'a'],
    )
    expect((await signingKeys.list()).map((k) => k.kid)).toEqual(['c'])
    const macs = await databases.raw(
      at,
      "SELECT kid, mac FROM signing_key WHERE kid <> 'c' ORDER BY kid",
    )
    expect(macs.map((row) => row['mac'])).toEqual([null, null])
  })

  it('keeps the private key sealed: not in the database, and bound to its kid', async () => {
    const at1 = await databases.fresh()
    const s = await openTestStore({ ...at1, masterKey: randomMasterKey() })
    await s.signingKeys.add({ kid: 'a', privateJwk: jwk('private-scalar-value'), createdAt: t(1) })
    await s.signingKeys.add({ kid: 'b', privateJwk: jwk('other'), createdAt: t(2) })
    const rows = await databases.raw(at1, 'SELECT sealed FROM signing_key')
    expect(rows).toHaveLength(2)
    for (const row of rows) {
      expect(Buffer.from(row['sealed'] as Uint8Array).includes('private-scalar-value')).toBe(false)
    }
    await databases.raw(
      at1,
      "UPDATE signing_key SET sealed = (SELECT sealed FROM signing_key WHERE kid = 'b') WHERE kid = 'a'",
    )
    // The operator's problem (500), not a guest's failed verification (401).
    const refused: unknown = await s.signingKeys.list().catch((error: unknown) => error)
    expect(refused).toMatchObject({ code: 'ERR_KBS_ENVELOPE_INTEGRITY', category: 'internal' })
  })

  it('rotates (adds a key, retires every other active one) with its audit entry in one write', async () => {
    const at = await databases.fresh()
    const { signingKeys, audit } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    const change = (detail: string) =>
      ({ at: t(0), action: 'admin', outcome: 'changed', detail }) as const
    await signingKeys.add({ kid: 'a', privateJwk: jwk('1'), createdAt: t(1) })
    await signingKeys.add({ kid: 'b', privateJwk: jwk('2'), createdAt: t(2) })
    await signingKeys.retire('a', t(3))
    await signingKeys.rotate({ kid: 'c', privateJwk: jwk('3'), createdAt: t(4) }, change('to c'))
    const state = async () =>
      (await signingKeys.list()).map((k) => [k.kid, k.retiredAt?.toISOString()])
    expect(await state()).toEqual([
      ['c', undefined],
      ['b', t(4).toISOString()],
      ['a', t(3).toISOString()],
    ])
    const before = await state()
    await databases.failAuditAppends(at)
    await expect(
      signingKeys.rotate({ kid: 'd', privateJwk: jwk('4'), createdAt: t(5) }, change('to d')),
    ).rejects.toThrow(/the audit log cannot be written/)
    expect(await state()).toEqual(before)
    await databases.allowAuditAppends(at)
    // Without an entry (the ring's rotation outside the admin route), the same change.
    await signingKeys.rotate({ kid: 'e', privateJwk: jwk('5'), createdAt: t(6) })
    expect((await state()).slice(0, 2)).toEqual([
      ['e', undefined],
      ['c', t(6).toISOString()],
    ])
    expect((await audit.list({ limit: 10 })).map((entry) => entry.detail)).toEqual(['to c'])
  })

  it('rotates revoking (adds a key, deletes every other, unusable rows too) with its entry in one write', async () => {
    const at = await databases.fresh()
    const { signingKeys, audit } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    const change = (revoked: readonly string[]) =>
      ({ at: t(0), action: 'admin', outcome: 'changed', detail: revoked.join(' ') }) as const
    await signingKeys.add({ kid: 'a', privateJwk: jwk('1'), createdAt: t(1) })
    await signingKeys.add({ kid: 'b', privateJwk: jwk('2'), createdAt: t(2) })
    await signingKeys.add({ kid: 'c', privateJwk: jwk('3'), createdAt: t(3) })
    await signingKeys.retire('a', t(4))
    // A row that does not authenticate is revoked as well: written back right, it would verify.
    await databases.raw(at, 'UPDATE signing_key SET mac = NULL WHERE kid = ?', ['c'])
    const kids = async () =>
      (await databases.raw(at, 'SELECT kid FROM signing_key ORDER BY kid')).map((row) => row['kid'])
    await databases.failAuditAppends(at)
    await expect(
      signingKeys.rotateRevoking({ kid: 'x', privateJwk: jwk('4'), createdAt: t(5) }, change),
    ).rejects.toThrow(/the audit log cannot be written/)
    expect(await kids()).toEqual(['a', 'b', 'c'])
    await databases.allowAuditAppends(at)
    expect(
      await signingKeys.rotateRevoking({ kid: 'd', privateJwk: jwk('4'), createdAt: t(5) }, change),
    ).toEqual(['a', 'b', 'c'])
    expect(await kids()).toEqual(['d'])
    expect((await signingKeys.list()).map((k) => [k.kid, k.retiredAt])).toEqual([['d', undefined]])
    expect(
      await signingKeys.rotateRevoking({ kid: 'e', privateJwk: jwk('5'), createdAt: t(6) }),
    ).toEqual(['d'])
    expect(await kids()).toEqual(['e'])
    expect((await audit.list({ limit: 10 })).map((entry) => entry.detail)).toEqual(['a b c'])
  })
})
