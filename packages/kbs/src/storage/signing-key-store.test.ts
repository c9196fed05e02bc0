import BetterSqlite3 from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

const t = (minute: number): Date => new Date(Date.UTC(2026, 11, 1, 10, minute))
const jwk = (d: string) => ({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d })

describe('SqlSigningKeyStore', () => {
  it('adds, lists newest first, retires (idempotently) and purges', async () => {
    const { signingKeys } = await openTestStore({
      dataDir: await temporaryDir(),
      masterKey: randomMasterKey(),
    })
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

  it('keeps the private key sealed: not in the file, and bound to its kid', async () => {
    const s = await openTestStore({ dataDir: await temporaryDir(), masterKey: randomMasterKey() })
    await s.signingKeys.add({ kid: 'a', privateJwk: jwk('private-scalar-value'), createdAt: t(1) })
    await s.signingKeys.add({ kid: 'b', privateJwk: jwk('other'), createdAt: t(2) })
    const raw = new BetterSqlite3(s.location)
    try {
      const rows = raw.prepare('SELECT sealed FROM signing_key').all() as { sealed: Buffer }[]
      for (const row of rows) expect(row.sealed.includes('private-scalar-value')).toBe(false)
      raw
        .prepare(
          "UPDATE signing_key SET sealed = (SELECT sealed FROM signing_key WHERE kid = 'b') WHERE kid = 'a'",
        )
        .run()
    } finally {
      raw.close()
    }
    expect(await rejectedCode(s.signingKeys.list())).toBe('ERR_KBS_ENVELOPE_INTEGRITY')
  })
})
