import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { STORE_ENGINES, testDatabases } from './store-test-support.ts'

const now = new Date('2026-12-01T10:00:00.000Z')
const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000)
const issued = (workload: string) => ({
  at: now,
  action: 'attest' as const,
  outcome: 'issued' as const,
  workload,
  tee: 'snp' as const,
})
const session = (id: string, expiresAt = later(300)) => ({
  id,
  tee: 'snp' as const,
  nonce: 'n'.repeat(43) + '=',
  expiresAt,
})

describe.each(STORE_ENGINES)('SqlSessionStore on %s', (engine) => {
  const databases = testDatabases(engine)

  it('creates an authed session, consumes its challenge once, records the token', async () => {
    const { sessions, audit } = await databases.open()
    await sessions.create(session('a'.repeat(32)))
    expect(await sessions.get('a'.repeat(32))).toEqual({
      ...session('a'.repeat(32)),
      state: 'authed',
    })
    const consumed = await sessions.consumeChallenge('a'.repeat(32), later(10))
    expect(consumed?.state).toBe('consumed')
    expect(consumed?.nonce).toBe(session('x').nonce)
    expect(await sessions.consumeChallenge('a'.repeat(32), later(11))).toBeUndefined()
    await sessions.markAttested('a'.repeat(32), 'the.token.here', issued('w'))
    expect(await sessions.get('a'.repeat(32))).toMatchObject({
      state: 'attested',
      token: 'the.token.here',
    })
    expect(await audit.list({ limit: 10 })).toEqual([
      { id: 1, ...issued('w'), at: now.toISOString() },
    ])
    expect(await sessions.consumeChallenge('a'.repeat(32), later(12))).toBeUndefined()
  })

  it('does not consume an unknown or expired challenge', async () => {
    const { sessions } = await databases.open()
    expect(await sessions.consumeChallenge('f'.repeat(32), now)).toBeUndefined()
    await sessions.create(session('b'.repeat(32), later(60)))
    expect(await sessions.consumeChallenge('b'.repeat(32), later(60))).toBeUndefined()
    expect(await sessions.consumeChallenge('b'.repeat(32), later(61))).toBeUndefined()
    expect((await sessions.get('b'.repeat(32)))?.state).toBe('authed')
  })

  it('gives exactly one of two concurrent /attest calls (two handles) the challenge', async () => {
    const { first, second } = await databases.twoHandles()
    for (let round = 0; round < 20; round++) {
      const id = round.toString(16).padStart(32, '0')
      await first.sessions.create(session(id))
      const results = await Promise.all([
        first.sessions.consumeChallenge(id, later(1)),
        second.sessions.consumeChallenge(id, later(1)),
      ])
      expect(results.filter((r) => r !== undefined)).toHaveLength(1)
    }
  })

  it('refuses a token for a session whose challenge was not consumed, and audits nothing', async () => {
    const { sessions, audit } = await databases.open()
    await sessions.create(session('c'.repeat(32)))
    expect(await rejectedCode(sessions.markAttested('c'.repeat(32), 't', issued('w')))).toBe(
      'ERR_KBS_SESSION_STATE',
    )
    expect(await rejectedCode(sessions.markAttested('d'.repeat(32), 't', issued('w')))).toBe(
      'ERR_KBS_SESSION_STATE',
    )
    await sessions.consumeChallenge('c'.repeat(32), later(1))
    await sessions.markAttested('c'.repeat(32), 't', issued('w'))
    expect(await rejectedCode(sessions.markAttested('c'.repeat(32), 'u', issued('x')))).toBe(
      'ERR_KBS_SESSION_STATE',
    )
    expect((await sessions.get('c'.repeat(32)))?.token).toBe('t')
    expect((await audit.list({ limit: 10 })).map((entry) => entry.workload)).toEqual(['w'])
  })

  it('refuses to create a session over an existing id', async () => {
    const { sessions } = await databases.open()
    await sessions.create(session('e'.repeat(32)))
    await sessions.consumeChallenge('e'.repeat(32), later(1))
    expect(await rejectedCode(sessions.create(session('e'.repeat(32))))).toBe(
      'ERR_KBS_SESSION_EXISTS',
    )
    expect((await sessions.get('e'.repeat(32)))?.state).toBe('consumed')
  })

  it('deletes only expired sessions', async () => {
    const { sessions } = await databases.open()
    await sessions.create(session('1'.repeat(32), later(10)))
    await sessions.create(session('2'.repeat(32), later(20)))
    await sessions.create(session('3'.repeat(32), later(30)))
    expect(await sessions.deleteExpired(later(20))).toBe(1)
    expect(await sessions.get('1'.repeat(32))).toBeUndefined()
    expect(await sessions.get('2'.repeat(32))).toBeDefined()
    expect(await sessions.deleteExpired(later(31))).toBe(2)
  })
})
