/**
 * A rotation that revokes the previous keys (after a leak): whoever holds a leaked key can mint
 * tokens with any `iat`, so a routine rotation's grace (lifetime + leeway, 420 s by default) is
 * 7 minutes of forged tokens. Revoked, the key's tokens are refused at once on the replica that
 * rotated, and on another within `refreshSeconds` of its own clock; neither signs with it again,
 * and a replica that has seen it gone does not take it back when its row is written back.
 *
 * @module
 */
import { decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
} from '../storage/store-test-support.ts'
import { SESSION, acceptedFor, forgedToken, teeKey } from './token-test-support.ts'
import { createTokenService } from './token-service.ts'

const t0 = new Date('2026-12-01T10:00:00.000Z')
const after = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000)
const issuer = 'https://kbs.example'
const REVOKE = { revokePrevious: true } as const

describe.each(STORE_ENGINES)('a rotation that revokes the previous keys, on %s', (engine) => {
  const databases = testDatabases(engine)

  /**
   * Two replicas on one database, each with its own monotonic clock (ms, set by the test): the
   * first signs a token at t0 and the second verifies it, so both hold the key list; `leaked` is
   * that key as its thief has it.
   */
  async function twoReplicas() {
    const at = await databases.fresh()
    const masterKey = randomMasterKey()
    const clocks = { rotating: 0, other: 0 }
    const replica = async (clock: keyof typeof clocks) =>
      createTokenService({
        store: (await openTestStore({ ...at, masterKey })).signingKeys,
        issuer,
        monotonicMs: () => clocks[clock],
      })
    const rotating = await replica('rotating')
    const other = await replica('other')
    const key = await teeKey()
    const token = await rotating.issue(acceptedFor(key), key, t0, SESSION)
    expect((await other.verify(token, t0)).workload).toBe('web')
    const leaked = (await (await openTestStore({ ...at, masterKey })).signingKeys.list())[0]
    if (leaked === undefined) throw new Error('no key')
    return { at, masterKey, clocks, rotating, other, key, token, leaked }
  }

  it("a routine rotation keeps the leaked key's forged tokens for its grace; revoking refuses them at once", async () => {
    // The red team's finding: tokens the leaked key signs after a routine rotation at +10 s.
    const routine = await twoReplicas()
    await routine.rotating.rotate(after(10))
    for (const at of [60, 200, 400]) {
      const forged = forgedToken(routine.leaked, routine.token, after(at))
      expect((await routine.rotating.verify(forged, after(at))).workload).toBe('web')
    }
    const revoking = await twoReplicas()
    const { kid, revoked } = await revoking.rotating.rotate(after(10), undefined, REVOKE)
    expect(revoked).toEqual([revoking.leaked.kid])
    for (const at of [10, 60, 200, 400]) {
      const forged = forgedToken(revoking.leaked, revoking.token, after(at))
      expect(await rejectedCode(revoking.rotating.verify(forged, after(at)))).toBe(
        'ERR_KBS_TOKEN_UNKNOWN_KEY',
      )
    }
    // An honest guest's token of the old key is stranded too: its client attests again.
    expect(await rejectedCode(revoking.rotating.verify(revoking.token, after(10)))).toBe(
      'ERR_KBS_TOKEN_UNKNOWN_KEY',
    )
    expect((await revoking.rotating.jwks(after(10))).keys.map((k) => k.kid)).toEqual([kid])
    const signed = await revoking.rotating.issue(
      acceptedFor(revoking.key),
      revoking.key,
      after(10),
      SESSION,
    )
    expect(decodeProtectedHeader(signed).kid).toBe(kid)
  })

  it('is refused by another replica, and not signed with, once its key list is refreshSeconds (60 s) old', async () => {
    const { clocks, rotating, other, key, token, leaked } = await twoReplicas()
    await rotating.rotate(after(10), undefined, REVOKE)
    const forged = forgedToken(leaked, token, after(11))
    // Within the bound the other replica may still take it (its list, read at t0, is in memory).
    clocks.other = 59_000
    expect((await other.verify(forged, after(59))).workload).toBe('web')
    // Past it, by its own monotonic clock, even with its wall clock stepped back an hour.
    clocks.other = 60_001
    expect(await rejectedCode(other.verify(forged, after(60 - 3600)))).toBe(
      'ERR_KBS_TOKEN_UNKNOWN_KEY',
    )
    expect(await rejectedCode(other.verify(token, after(61)))).toBe('ERR_KBS_TOKEN_UNKNOWN_KEY')
    expect((await other.jwks(after(61))).keys.map((k) => k.kid)).not.toContain(leaked.kid)
    const signed = await other.issue(acceptedFor(key), key, after(61), SESSION)
    expect(decodeProtectedHeader(signed).kid).not.toBe(leaked.kid)
    expect((await rotating.verify(signed, after(61))).workload).toBe('web')
  })

  it('is not brought back by a replica that still held it: its signing, rotation and JWKS purge write nothing old', async () => {
    const { at, masterKey, clocks, rotating, other, key, leaked } = await twoReplicas()
    await rotating.rotate(after(10), undefined, REVOKE)
    // The other replica, its list still from before, signs with the old key (within the bound)…
    const stale = await other.issue(acceptedFor(key), key, after(11), SESSION)
    expect(decodeProtectedHeader(stale).kid).toBe(leaked.kid)
    expect(await rejectedCode(rotating.verify(stale, after(11)))).toBe('ERR_KBS_TOKEN_UNKNOWN_KEY')
    // …serves the JWKS and rotates: the store reads its rows afresh, so the key stays deleted.
    await other.jwks(after(12))
    clocks.other = 1000
    await other.rotate(after(12))
    const stored = await (await openTestStore({ ...at, masterKey })).signingKeys.list()
    expect(stored.map((k) => k.kid)).not.toContain(leaked.kid)
    expect(stored.filter((k) => k.retiredAt === undefined)).toHaveLength(1)
  })

  it('stays refused on replicas that have seen it gone when its row is written back, MAC and all', async () => {
    const { at, clocks, rotating, other, token, leaked } = await twoReplicas()
    const [row] = await databases.raw(at, 'SELECT kid, sealed, created_at, mac FROM signing_key')
    await rotating.rotate(after(10), undefined, REVOKE)
    clocks.other = 61_000
    await other.jwks(after(61))
    // Whoever can write the database (not the master key) puts the row back as it was: its MAC
    // was right then, so the store lists it, active.
    await databases.raw(
      at,
      'INSERT INTO signing_key (kid, sealed, created_at, retired_at, mac) VALUES (?, ?, ?, NULL, ?)',
      [row?.['kid'], row?.['sealed'], row?.['created_at'], row?.['mac']],
    )
    clocks.rotating = 200_000
    clocks.other = 200_000
    const forged = forgedToken(leaked, token, after(200))
    for (const replica of [rotating, other]) {
      expect(await rejectedCode(replica.verify(forged, after(200)))).toBe(
        'ERR_KBS_TOKEN_UNKNOWN_KEY',
      )
      expect((await replica.jwks(after(200))).keys.map((k) => k.kid)).not.toContain(leaked.kid)
    }
  })
})
