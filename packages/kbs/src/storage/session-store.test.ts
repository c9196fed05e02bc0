import type { KyselyPlugin, QueryId } from 'kysely'
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import type { AuditEntryInput } from '../ports.ts'
import { connectSqlite, type DialectConnection } from './dialect.ts'
import { connectPostgres } from './dialect-postgres.ts'
import type { RawExecutor } from './hot-statement.ts'
import { RcarChallengeCodec } from './rcar-challenge.ts'
import {
  SESSION_RETENTION_GRACE_MS,
  SESSION_SWEEP_BATCH,
  SqlSessionStore,
} from './session-store.ts'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
  type TestDatabase,
} from './store-test-support.ts'

// The real time: the store refuses and sweeps by the database's clock, which the tests cannot move.
const now = new Date()
const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000)
const issued = (workload: string): AuditEntryInput => ({
  at: now,
  action: 'attest',
  outcome: 'issued',
  workload,
  tee: 'snp',
})
const denied = (reason: string): AuditEntryInput => ({
  at: now,
  action: 'attest',
  outcome: 'denied',
  reason,
  tee: 'tdx',
})

/** The store's executor, counting the statements it runs (a transaction counts once). */
function counting(executor: RawExecutor): { readonly executor: RawExecutor; count(): number } {
  let statements = 0
  const { atomic } = executor
  return {
    count: () => statements,
    executor: {
      execute(sql, values) {
        statements += 1
        return executor.execute(sql, values)
      },
      ...(atomic === undefined
        ? {}
        : {
            atomic: {
              run(work) {
                statements += 1
                return atomic.run(work)
              },
            },
          }),
    },
  }
}

describe.each(STORE_ENGINES)('SqlSessionStore on %s', (engine) => {
  const databases = testDatabases(engine)
  afterEach(() => {
    vi.useRealTimers()
  })

  it('stores nothing for a challenge; stores the attested session and its audit entry once', async () => {
    const { sessions, audit } = await databases.open()
    const challenge = sessions.issueChallenge('snp', later(300))
    expect(sessions.openChallenge(challenge.cookie)).toEqual({
      id: challenge.id,
      tee: 'snp',
      nonce: challenge.nonce,
      expiresAt: later(300),
    })
    expect(await sessions.get(challenge.id)).toBeUndefined()
    expect(await sessions.recordAttested(challenge, 'the.token.here', issued('w'))).toBe(true)
    expect(await sessions.get(challenge.id)).toEqual({
      id: challenge.id,
      tee: 'snp',
      nonce: challenge.nonce,
      expiresAt: later(300),
      state: 'attested',
      token: 'the.token.here',
    })
    // Used: neither a second token nor a refusal writes anything, the audit log included.
    expect(await sessions.recordAttested(challenge, 'another.token', issued('x'))).toBe(false)
    expect(await sessions.recordRefused(challenge, denied('ERR_X'))).toBe(false)
    expect((await sessions.get(challenge.id))?.token).toBe('the.token.here')
    expect(await audit.list({ limit: 10 })).toEqual([
      { id: 1, ...issued('w'), at: now.toISOString(), session: challenge.id },
    ])
  })

  it('a refusal burns the challenge: no token can be recorded for it afterwards', async () => {
    const { sessions, audit } = await databases.open()
    const challenge = sessions.issueChallenge('tdx', later(300))
    // The entry names the challenge's session, whatever the caller put there.
    const claimed = { ...denied('ERR_KBS_NONCE_MISMATCH'), session: 'f'.repeat(32) }
    expect(await sessions.recordRefused(challenge, claimed)).toBe(true)
    expect(await sessions.get(challenge.id)).toMatchObject({ state: 'consumed', tee: 'tdx' })
    expect(await sessions.recordAttested(challenge, 't', issued('w'))).toBe(false)
    expect((await sessions.get(challenge.id))?.token).toBeUndefined()
    expect(
      (await audit.list({ limit: 10 })).map(({ reason, session }) => ({ reason, session })),
    ).toEqual([{ reason: 'ERR_KBS_NONCE_MISMATCH', session: challenge.id }])
  })

  it('of two concurrent uses on two handles (two replicas), exactly one records', async () => {
    const { first, second } = await databases.twoHandles()
    for (let round = 0; round < 20; round++) {
      // Made on one replica, opened on the other: they share the master key.
      const made = first.sessions.issueChallenge('snp', later(300))
      const opened = second.sessions.openChallenge(made.cookie)
      expect(opened).toBeDefined()
      if (opened === undefined) return
      const results = await Promise.all([
        first.sessions.recordAttested(made, `token-a-${String(round)}`, issued('a')),
        round % 2 === 0
          ? second.sessions.recordAttested(opened, `token-b-${String(round)}`, issued('b'))
          : second.sessions.recordRefused(opened, denied('ERR_KBS_NONCE_MISMATCH')),
      ])
      expect(results.filter(Boolean)).toHaveLength(1)
    }
    expect(await first.audit.list({ limit: 100 })).toHaveLength(20)
  })

  it('does not open a challenge made under another master key', async () => {
    const one = await databases.open()
    const other = await databases.open()
    const challenge = one.sessions.issueChallenge('snp', later(300))
    expect(other.sessions.openChallenge(challenge.cookie)).toBeUndefined()
    expect(one.sessions.openChallenge(challenge.cookie)).toBeDefined()
  })

  it('sweeps only rows expired longer than the grace, by the database clock, not the process clock', async () => {
    const at = await databases.fresh()
    const { sessions } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    const grace = SESSION_RETENTION_GRACE_MS / 1000
    // Past its expiry but within the grace: still recordable (expiry is the route's to check).
    const recent = sessions.issueChallenge('snp', later(60 - grace))
    expect(await sessions.recordRefused(recent, denied('ERR_X'))).toBe(true)
    // A row from before: expired longer than the grace (it cannot be recorded any more, see below).
    await databases.raw(
      at,
      'INSERT INTO rcar_session (id, tee, nonce, expires_at, state, token) VALUES (?, ?, ?, ?, ?, ?)',
      ['old', 'snp', 'n', later(-60 - grace).toISOString(), 'consumed', null],
    )
    // A replica whose clock runs a day ahead sweeps: the database's clock decides, so the row
    // that makes `recent` used stays, and `recent` cannot be recorded again.
    vi.useFakeTimers({ toFake: ['Date'], now: later(86_400) })
    expect(await sessions.deleteExpired()).toBe(1)
    expect(await sessions.get('old')).toBeUndefined()
    expect(await sessions.get(recent.id)).toBeDefined()
    expect(await sessions.recordAttested(recent, 't', issued('w'))).toBe(false)
  })

  it('sweeps in statements of at most SESSION_SWEEP_BATCH rows, giving the event loop a turn between them', async () => {
    const at = await databases.fresh()
    const masterKey = randomMasterKey()
    await openTestStore({ ...at, masterKey })
    const connection = await connect(at)
    onTestFinished(() => connection.db.destroy())
    const deletes = deletedRows()
    const sessions = new SqlSessionStore(
      connection.db.withPlugin(deletes.plugin),
      connection.executor,
      new RcarChallengeCodec(masterKey),
      at.database.kind,
    )
    const grace = SESSION_RETENTION_GRACE_MS / 1000
    const expired = 2 * SESSION_SWEEP_BATCH + 1
    const rows = Array.from({ length: expired }, (_, n) => [
      `old-${String(n)}`,
      'snp',
      'n',
      later(-60 - grace).toISOString(),
      'consumed',
      null,
    ])
    await databases.raw(
      at,
      `INSERT INTO rcar_session (id, tee, nonce, expires_at, state, token) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
      rows.flat(),
    )
    const kept = sessions.issueChallenge('snp', later(300))
    expect(await sessions.recordRefused(kept, denied('ERR_X'))).toBe(true)
    let turns = 0
    const tick = (): void => {
      turns++
      if (turns < 1000) setImmediate(tick)
    }
    setImmediate(tick)
    expect(await sessions.deleteExpired()).toBe(expired)
    // The batches, on either engine: one DELETE for every row would be [1001].
    expect(deletes.rows).toEqual([SESSION_SWEEP_BATCH, SESSION_SWEEP_BATCH, 1])
    // SQLite runs in this thread: one statement for every row would keep all requests waiting.
    // (PostgreSQL deletes in its server, so the loop turns during any statement: nothing to see.)
    if (engine === 'sqlite') expect(turns).toBeGreaterThanOrEqual(2)
    expect(await sessions.get('old-0')).toBeUndefined()
    expect(await sessions.get(`old-${String(expired - 1)}`)).toBeUndefined()
    expect(await sessions.get(kept.id)).toBeDefined()
    expect(await sessions.deleteExpired()).toBe(0)
  })

  it('never records a challenge expired longer than the grace by the database clock, whatever the process clock says', async () => {
    const { sessions, audit } = await databases.open()
    const grace = SESSION_RETENTION_GRACE_MS / 1000
    const stale = sessions.issueChallenge('tdx', later(-1 - grace))
    // A replica whose clock runs a day behind would take the challenge for fresh.
    vi.useFakeTimers({ toFake: ['Date'], now: later(-86_400) })
    expect(await sessions.recordAttested(stale, 't', issued('w'))).toBe(false)
    expect(await sessions.recordRefused(stale, denied('ERR_X'))).toBe(false)
    vi.useRealTimers()
    expect(await sessions.get(stale.id)).toBeUndefined()
    expect(await audit.list({ limit: 10 })).toEqual([])
  })

  it('one statement per use, one per read, none for a challenge', async () => {
    const at = await databases.fresh()
    const masterKey = randomMasterKey()
    await openTestStore({ ...at, masterKey })
    const connection = await connect(at)
    onTestFinished(() => connection.db.destroy())
    const counted = counting(connection.executor)
    const sessions = new SqlSessionStore(
      connection.db,
      counted.executor,
      new RcarChallengeCodec(masterKey),
      at.database.kind,
    )
    const challenge = sessions.issueChallenge('snp', later(300))
    expect(sessions.openChallenge(challenge.cookie)).toBeDefined()
    expect(counted.count()).toBe(0)
    expect(await sessions.recordAttested(challenge, 't', issued('w'))).toBe(true)
    expect(counted.count()).toBe(1)
    expect(await sessions.recordRefused(challenge, denied('ERR_X'))).toBe(false)
    expect(counted.count()).toBe(2)
    expect((await sessions.get(challenge.id))?.state).toBe('attested')
    expect(counted.count()).toBe(3)
  })
})

/** A kysely plugin recording how many rows each DELETE statement removed, in order. */
function deletedRows(): { readonly plugin: KyselyPlugin; readonly rows: number[] } {
  const rows: number[] = []
  const deletes = new WeakSet<QueryId>()
  return {
    rows,
    plugin: {
      transformQuery({ node, queryId }) {
        if (node.kind === 'DeleteQueryNode') deletes.add(queryId)
        return node
      },
      transformResult({ result, queryId }) {
        if (deletes.has(queryId)) rows.push(Number(result.numAffectedRows))
        return Promise.resolve(result)
      },
    },
  }
}

function connect(at: TestDatabase): Promise<DialectConnection> {
  return at.database.kind === 'postgres'
    ? connectPostgres(at.database)
    : connectSqlite({ dataDir: at.dataDir })
}
