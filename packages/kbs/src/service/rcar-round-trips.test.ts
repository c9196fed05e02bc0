/**
 * The database work of one RCAR handshake, counted where it happens, on a real PostgreSQL and on
 * SQLite, and printed (`statements/round trips/parses` per step, with the SQL).
 *
 * PostgreSQL, at the `pg` driver's protocol messages (the spies call through): a statement is an
 * Execute or a simple Query message, a round trip a Sync or a simple Query (each is answered by
 * one ReadyForQuery, which the driver waits for before it sends the next), a parse a Parse message
 * (a prepared statement this connection did not have yet). `/auth` sends nothing (the challenge is
 * in its cookie); `/attest` one statement in one round trip (the session row with its audit entry,
 * one data-modifying `WITH`, its own transaction: no BEGIN/COMMIT); `/resource` with the Bearer
 * token one (the release with its audit entry), with the cookie one more (the session's token).
 * Warm, no statement is parsed again.
 *
 * SQLite, at better-sqlite3's statements (BEGIN and COMMIT included): the same writes as one
 * IMMEDIATE transaction each, in process (no round trip).
 */
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest'
import { stringToUtf8 } from '@initguard/core'
import { startPostgresCluster, type PostgresCluster } from '@initguard/testkit'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'
import { handshake } from './rcar-steps-test-support.ts'

const ACCEPTED = initdataToml('round trips')
const SECRET_PATH = 'default/app/counted'

/** What one step asked of the database. */
interface DatabaseWork {
  /** Statements the database ran, BEGIN and COMMIT included. */
  readonly statements: number
  /** Waits for the database's answer (0 in process). */
  readonly roundTrips: number
  /** Statements prepared anew rather than reused. */
  readonly parses: number
  /** The statements' SQL, whitespace collapsed and cut, for the printout. */
  readonly sql: readonly string[]
}

/** Counts the database work of whatever runs between `start()` and the returned `stop()`. */
type Counter = () => () => DatabaseWork

const shortSql = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 90)

/** At pg's protocol messages (see the module's comment). */
const countPostgres: Counter = () => {
  const proto = pg.Connection.prototype
  const spies = {
    parse: vi.spyOn(proto, 'parse'),
    execute: vi.spyOn(proto, 'execute'),
    sync: vi.spyOn(proto, 'sync'),
    query: vi.spyOn(proto, 'query'),
  }
  const sql: string[] = []
  const client = vi.spyOn(pg.Client.prototype, 'query')
  return () => {
    const calls = (spy: MockInstance): number => spy.mock.calls.length
    for (const [config] of client.mock.calls as unknown[][]) {
      const text = typeof config === 'string' ? config : (config as { text?: unknown }).text
      sql.push(shortSql(String(text)))
    }
    const work = {
      statements: calls(spies.execute) + calls(spies.query),
      roundTrips: calls(spies.sync) + calls(spies.query),
      parses: calls(spies.parse),
      sql,
    }
    for (const spy of [...Object.values(spies), client]) spy.mockRestore()
    return work
  }
}

/** The prototype of better-sqlite3's statements (native methods: spied there for every one). */
const SQLITE_STATEMENT: object = (() => {
  const database = new BetterSqlite3(':memory:')
  const prototype = Object.getPrototypeOf(database.prepare('SELECT 1')) as object
  database.close()
  return prototype
})()

/** At better-sqlite3's statement runs (the transaction's BEGIN and COMMIT are statements too). */
const countSqlite: Counter = () => {
  const statement = SQLITE_STATEMENT as Record<'run' | 'get' | 'all' | 'iterate', () => unknown>
  const sql: string[] = []
  const runs = (['run', 'get', 'all', 'iterate'] as const).map((method) => {
    const original = statement[method]
    return vi.spyOn(statement, method).mockImplementation(function (
      this: { readonly source: string },
      ...args: unknown[]
    ) {
      sql.push(shortSql(this.source))
      const result: unknown = Reflect.apply(original, this, args)
      return result
    })
  })
  const exec = vi.spyOn(BetterSqlite3.prototype, 'exec')
  const prepare = vi.spyOn(BetterSqlite3.prototype, 'prepare')
  return () => {
    const work = {
      statements:
        runs.reduce((sum, spy) => sum + spy.mock.calls.length, 0) + exec.mock.calls.length,
      roundTrips: 0,
      parses: prepare.mock.calls.length,
      sql,
    }
    for (const spy of [...runs, exec, prepare]) spy.mockRestore()
    return work
  }
}

/** The counts of `work`. */
async function workOf(count: Counter, work: () => Promise<unknown>): Promise<DatabaseWork> {
  const stop = count()
  let counted: DatabaseWork
  try {
    await work()
  } finally {
    // The spies are restored even when `work` throws.
    counted = stop()
  }
  return counted
}

/** Provision `kbs` and run one Bearer handshake (the workload snapshot and keys are read once). */
async function provision(kbs: TestKbs): Promise<void> {
  const workload = simulatorWorkload([ACCEPTED])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, SECRET_PATH, 'counted')).toBe(200)
}

/** Each step of a handshake on `kbs`, counted by `count`, after a warm handshake. */
async function stepsOf(kbs: TestKbs, count: Counter): Promise<Record<string, DatabaseWork>> {
  const route = { auth: kbs.kbs.url, attest: kbs.kbs.url, resource: kbs.kbs.url }
  const run = (via: 'cookie' | 'bearer') =>
    handshake(kbs.http, kbs.simulator, route, ACCEPTED, SECRET_PATH, via)
  // Warm: the workload snapshot and the signing keys are read once per process, each statement
  // prepared once per connection.
  expect(await run('bearer')).toEqual({ released: true, secret: 'counted' })
  expect(await run('cookie')).toEqual({ released: true, secret: 'counted' })
  const auth = await workOf(count, () =>
    kbs.http.request(
      {
        method: 'POST',
        url: `${kbs.kbs.url}/kbs/v0/auth`,
        what: 'auth',
        headers: { 'content-type': 'application/json' },
        body: stringToUtf8(JSON.stringify({ version: '0.4.0', tee: 'snp', 'extra-params': '' })),
      },
      (response) => {
        expect(response.status).toBe(200)
        return Promise.resolve()
      },
    ),
  )
  const client = kbs.client()
  // `attest` also asks /auth first, which does no database work (counted above).
  const attest = await workOf(count, () =>
    client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED }),
  )
  const resource = await workOf(count, () => client.getResource(SECRET_PATH))
  const bearer = await workOf(count, () => run('bearer'))
  const cookie = await workOf(count, () => run('cookie'))
  return {
    auth,
    attest,
    'resource (Bearer)': resource,
    'handshake (Bearer)': bearer,
    'handshake (cookie)': cookie,
  }
}

function print(engine: string, steps: Record<string, DatabaseWork>): void {
  const lines = Object.entries(steps).map(
    ([step, work]) =>
      `  ${step.padEnd(20)} statements ${String(work.statements)}, round trips ${String(work.roundTrips)}, parses ${String(work.parses)}${step.startsWith('handshake') ? '' : work.sql.map((text) => `\n    ${text}`).join('')}`,
  )
  console.log(`database work of one RCAR handshake, ${engine}:\n${lines.join('\n')}`)
}

/** The counts only (the SQL is printed, not compared). */
const countsOf = (steps: Record<string, DatabaseWork>) =>
  Object.fromEntries(
    Object.entries(steps).map(([step, { statements, roundTrips, parses }]) => [
      step,
      { statements, roundTrips, parses },
    ]),
  )

/**
 * The counts of each step when `/attest`'s write and `/resource`'s release (each with its audit
 * entry) take `write` statements and the cookie's session read `sessionRead`, each statement its
 * own round trip unless the database is `inProcess`; warm, nothing is parsed again.
 */
function expectedWork(per: {
  readonly write: number
  readonly sessionRead: number
  readonly inProcess: boolean
}): ReturnType<typeof countsOf> {
  const work = (statements: number) => ({
    statements,
    roundTrips: per.inProcess ? 0 : statements,
    parses: 0,
  })
  return {
    auth: work(0),
    attest: work(per.write),
    'resource (Bearer)': work(per.write),
    'handshake (Bearer)': work(2 * per.write),
    'handshake (cookie)': work(2 * per.write + per.sessionRead),
  }
}

describe('database work of one handshake: PostgreSQL', () => {
  let cluster: PostgresCluster
  let kbs: TestKbs

  beforeAll(async () => {
    cluster = await startPostgresCluster()
    kbs = await startTestKbs({
      database: await cluster.createDatabase('round_trips'),
      // The counts are of one handshake, not of a workload cache refreshing meanwhile.
      config: { workloads: { 'cache-max-age': '60s' } },
    })
    await provision(kbs)
  }, 120_000)

  afterAll(async () => {
    await kbs.stop()
    await cluster.stop()
  })

  it('Bearer: /auth 0, /attest 1, /resource 1 statement, each its own round trip; cookie: /resource 2', async () => {
    const steps = await stepsOf(kbs, countPostgres)
    print('PostgreSQL (pg protocol messages)', steps)
    expect(countsOf(steps)).toEqual(expectedWork({ write: 1, sessionRead: 1, inProcess: false }))
    // Atomic without a transaction of its own: no BEGIN or COMMIT round trip.
    const sent = Object.values(steps).flatMap((work) => work.sql)
    expect(sent.filter((text) => /^(BEGIN|COMMIT|ROLLBACK|START)/i.test(text))).toEqual([])
  })
})

describe('database work of one handshake: SQLite', () => {
  let kbs: TestKbs

  beforeAll(async () => {
    kbs = await startTestKbs({ config: { workloads: { 'cache-max-age': '60s' } } })
    await provision(kbs)
  }, 120_000)

  afterAll(async () => {
    await kbs.stop()
  })

  it('/attest and /resource: BEGIN IMMEDIATE, the write and its audit entry, COMMIT', async () => {
    const steps = await stepsOf(kbs, countSqlite)
    print('SQLite (better-sqlite3 statements)', steps)
    expect(countsOf(steps)).toEqual(expectedWork({ write: 4, sessionRead: 1, inProcess: true }))
  })
})
