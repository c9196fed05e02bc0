/**
 * Three `initguard kbs serve` processes on one real PostgreSQL (a throwaway cluster), as replicas
 * behind a load balancer with no sticky sessions: a handshake whose `/auth`, `/attest` and
 * `/resource` land on three different replicas works; killing a replica under load, or restarting
 * PostgreSQL under load, costs retries (503 while the database is down) but no handshake hangs,
 * no acknowledged admin write is lost, and the audit log shows no release to a client that did not
 * attest; a workload changed through one replica is enforced by the others within the workload
 * cache's bound. Needs the built CLI (`npm ci` builds it; `npx tsc -b` after changes).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { startPostgresCluster, type PostgresCluster } from '@initguard/testkit'
import { initdataToml, simulatorWorkload } from './kbs-test-support.ts'
import { handshake, type HandshakeOutcome } from './rcar-steps-test-support.ts'
import { startLoad, type LoadRecord } from './replica-load-test-support.ts'
import { startReplicaSet, type Replica, type ReplicaSet } from './replicas-test-support.ts'

const ACCEPTED = initdataToml('replica-guest')
const REFUSED = initdataToml('not-accepted')
const SECRET_PATH = 'default/app/secret'
const SECRET = 'the replicas share one secret'
/** `[workloads] cache-max-age` as the replicas run it (the default: their kbs.toml leaves it). */
const WORKLOAD_CACHE_MAX_AGE_MS = 2000
/** Longest a guest's handshakes (with failover) may take together: no hang. */
const HANDSHAKE_BOUND_MS = 20_000

let cluster: PostgresCluster
let set: ReplicaSet
let r1: Replica
let r2: Replica
let r3: Replica

beforeAll(async () => {
  cluster = await startPostgresCluster()
  set = await startReplicaSet({ count: 3, database: await cluster.createDatabase('kbs') })
  ;[r1, r2, r3] = set.replicas as [Replica, Replica, Replica]
  const workload = simulatorWorkload([ACCEPTED])
  expect((await set.admin(r1, 'PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  const upload = new TextEncoder().encode(SECRET)
  expect((await set.admin(r2, 'POST', `/kbs/v0/resource/${SECRET_PATH}`, upload)).status).toBe(200)
}, 90_000)

afterAll(async () => {
  await set.stop()
  await cluster.stop()
})

/** The last audit entry's id now (later checks look only past it). */
async function auditMark(replica: Replica): Promise<number> {
  return (await auditAfter(replica, 0)).at(-1)?.id ?? 0
}

interface AuditRow {
  readonly id: number
  readonly action: string
  readonly outcome: string
  readonly workload?: string
  readonly resource?: string
  readonly tee?: string
  readonly session?: string
}

async function auditAfter(replica: Replica, after: number): Promise<AuditRow[]> {
  const rows: AuditRow[] = []
  for (let from = after; ;) {
    const { status, json } = await set.admin(
      replica,
      'GET',
      `/kbs/v0/admin/audit?after=${String(from)}&limit=1000`,
    )
    expect(status).toBe(200)
    const page = (json as { entries: AuditRow[] }).entries
    rows.push(...page)
    if (page.length < 1000) return rows
    from = page.at(-1)?.id ?? from
  }
}

/** A failed handshake that failed as a fault should make it fail: no answer, or 503. */
function isCleanFailure(outcome: HandshakeOutcome): boolean {
  if (outcome.released) return false
  if (outcome.code !== undefined) return /^ERR_[A-Z]+_(UNREACHABLE|UNAVAILABLE)$/.test(outcome.code)
  return outcome.status === 503
}

/**
 * What every load must show: each guest's handshakes ended (released or a clean failure) within
 * the bound; attackers never got a secret; every release in the audit log since `mark` went to an
 * honest guest's request (no more releases than honest resource requests, none for another
 * workload or path, each naming a session whose token was issued earlier to the same workload and
 * TEE, whichever replicas wrote the two entries); every acknowledged admin write is there.
 */
async function checkLoad(record: LoadRecord, mark: number, reader: Replica): Promise<void> {
  for (const guest of record.honest) {
    expect(guest.ms).toBeLessThan(HANDSHAKE_BOUND_MS)
    for (const outcome of guest.outcomes) {
      if (outcome.released) expect(outcome.secret).toBe(SECRET)
      // A clean failure: no answer at all (refused, reset, timed out), or 503. An honest guest
      // answered 401, 500 or a broken body would be the replicas failing it, not the fault.
      else expect(isCleanFailure(outcome), JSON.stringify(outcome)).toBe(true)
    }
  }
  expect(record.attacks.length).toBeGreaterThan(0)
  expect(
    record.attacks.filter((status) => status !== undefined && status !== 401 && status !== 503),
  ).toEqual([])
  const entries = await auditAfter(reader, mark)
  const releases = entries.filter((e) => e.action === 'resource' && e.outcome === 'released')
  const issued = entries.filter((e) => e.action === 'attest' && e.outcome === 'issued')
  const outcomes = record.honest.flatMap((guest) => guest.outcomes)
  const honestReleased = outcomes.filter((o) => o.released).length
  const honestAsked = outcomes.filter((o) => o.released || o.step === 'resource').length
  expect(honestReleased).toBeGreaterThan(0)
  expect(releases.every((e) => e.workload === 'app' && e.resource === SECRET_PATH)).toBe(true)
  expect(releases.length).toBeGreaterThanOrEqual(honestReleased)
  expect(releases.length).toBeLessThanOrEqual(honestAsked)
  // Each release traced to its attestation: the session its token named was issued, before it.
  const issuedBySession = new Map(issued.map((entry) => [entry.session, entry]))
  expect(issuedBySession.size).toBe(issued.length)
  const untraced = releases.filter((release) => {
    const attested = issuedBySession.get(release.session)
    return (
      release.session === undefined ||
      attested === undefined ||
      attested.id >= release.id ||
      attested.workload !== release.workload ||
      attested.tee !== release.tee
    )
  })
  expect(untraced).toEqual([])
  const acknowledged = record.writes.filter((write) => write.acknowledged)
  expect(acknowledged.length).toBeGreaterThan(0)
  const resources = (await set.admin(reader, 'GET', '/kbs/v0/admin/resources')).json as {
    resources: { path: string }[]
  }
  const workloads = (await set.admin(reader, 'GET', '/kbs/v0/admin/workloads')).json as {
    workloads: { name: string }[]
  }
  const present = new Set([
    ...resources.resources.map((r) => r.path),
    ...workloads.workloads.map((w) => w.name),
  ])
  const lost = acknowledged.filter(
    (w) => !present.has(w.kind === 'resource' ? `default/admin/${w.name}` : w.name),
  )
  expect(lost).toEqual([])
}

/** Three honest guests, two attackers and an admin on every replica; `tag` names the writes. */
const loadWith = (tag: string): ReturnType<typeof startLoad> =>
  startLoad(set, {
    initdata: ACCEPTED,
    otherInitdata: REFUSED,
    path: SECRET_PATH,
    honestWorkers: 3,
    attackers: 2,
    tag,
  })

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A request's status, `Retry-After` and body, and how long it took; `undefined` status: no answer. */
async function probe(url: string, body?: unknown, cookie?: string) {
  const started = Date.now()
  const answer = await set
    .fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : {
            headers: {
              'content-type': 'application/json',
              ...(cookie === undefined ? {} : { cookie }),
            },
            body: new TextEncoder().encode(JSON.stringify(body)),
          }),
    })
    .then(async (response) => ({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      cookie: response.headers.getSetCookie()[0]?.split(';')[0],
      json: await response.json(),
    }))
    .catch(() => ({ status: undefined, retryAfter: null, cookie: undefined, json: undefined }))
  return { ...answer, ms: Date.now() - started }
}

describe('three KBS replicas on one PostgreSQL', () => {
  it("exports each `kbs serve` process's own metrics (event-loop lag, heap, RSS)", async () => {
    for (const replica of set.replicas) {
      const metrics = await (await set.fetch(`${replica.url}/metrics`)).text()
      expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds [0-9.e+-]+$/m)
      expect(metrics).toMatch(/^process_resident_memory_bytes [0-9.e+-]+$/m)
      expect(metrics).toMatch(/^kbs_build_info\{version="[^"]+"\} 1$/m)
      // The statement timeout is SET before a pooled connection is handed out, not queued beside
      // its first query (which pg deprecates, and pg 9 will refuse).
      expect(replica.log()).not.toContain('already executing a query')
    }
  })

  it('completes handshakes whose steps land on three different replicas, by cookie and by token', async () => {
    const routes = [
      { auth: r1.url, attest: r2.url, resource: r3.url },
      { auth: r2.url, attest: r3.url, resource: r1.url },
      { auth: r3.url, attest: r1.url, resource: r2.url },
    ]
    for (const route of routes) {
      for (const via of ['cookie', 'bearer'] as const) {
        const outcome = await handshake(set.http, set.simulator, route, ACCEPTED, SECRET_PATH, via)
        expect(outcome).toEqual({ released: true, secret: SECRET })
      }
    }
    // A rotation on one replica: a token signed at once with the new key verifies on the others.
    expect((await set.admin(r1, 'POST', '/kbs/v0/admin/signing-keys/rotate')).status).toBe(200)
    for (const route of routes) {
      const outcome = await handshake(
        set.http,
        set.simulator,
        route,
        ACCEPTED,
        SECRET_PATH,
        'bearer',
      )
      expect(outcome).toEqual({ released: true, secret: SECRET })
    }
  })

  it('enforces a workload changed through one replica on every other within [workloads] cache-max-age', async () => {
    const alone = (replica: Replica) => ({
      auth: replica.url,
      attest: replica.url,
      resource: replica.url,
    })
    const attempt = (replica: Replica) =>
      handshake(set.http, set.simulator, alone(replica), ACCEPTED, SECRET_PATH, 'bearer')
    // Every replica has read the workload as it is (its cache is warm).
    for (const replica of set.replicas)
      expect(await attempt(replica)).toEqual({ released: true, secret: SECRET })
    const withdrawn = simulatorWorkload([REFUSED])
    expect((await set.admin(r1, 'PUT', '/kbs/v0/admin/workloads/app', withdrawn)).status).toBe(200)
    const acknowledgedAt = Date.now()
    try {
      // The replica that took the write sees it at once.
      expect(await attempt(r1)).toMatchObject({ released: false, step: 'attest', status: 403 })
      // The others within the bound (2 s, the default), allowing for the handshake itself.
      const refusedAfter: number[] = []
      for (const replica of [r2, r3]) {
        for (;;) {
          const outcome = await attempt(replica)
          if (!outcome.released) {
            // Refused at /attest (403), or, attested just before its cache expired, refused the
            // secret at /resource (401): either way by the KBS, never released.
            expect([
              { step: 'attest', status: 403 },
              { step: 'resource', status: 401 },
            ]).toContainEqual({ step: outcome.step, status: outcome.status })
            refusedAfter.push(Date.now() - acknowledgedAt)
            break
          }
          expect(Date.now() - acknowledgedAt).toBeLessThan(WORKLOAD_CACHE_MAX_AGE_MS + 1000)
          await pause(50)
        }
      }
      expect(Math.max(...refusedAfter)).toBeLessThan(WORKLOAD_CACHE_MAX_AGE_MS + 1000)
      // And none of them serves the old workload again.
      for (const replica of set.replicas)
        expect(await attempt(replica)).toMatchObject({ released: false, status: 403 })
    } finally {
      const restored = simulatorWorkload([ACCEPTED])
      expect((await set.admin(r1, 'PUT', '/kbs/v0/admin/workloads/app', restored)).status).toBe(200)
      await pause(WORKLOAD_CACHE_MAX_AGE_MS + 200)
    }
  })

  it('answers 503 while PostgreSQL is down and recovers by itself when it is back, under load', async () => {
    const mark = await auditMark(r1)
    const load = loadWith('pg-restart')
    // Whatever fails below, the load stops and the database comes back for the next test.
    onTestFailed(async () => {
      await load.stop()
      await cluster.startServer()
    })
    await pause(2000)
    await cluster.stopServer()
    await pause(300)
    for (const [index, replica] of set.replicas.entries()) {
      const ready = await probe(`${replica.url}/readyz`)
      expect([ready.status, ready.retryAfter]).toEqual([503, '1'])
      // /auth needs no database (the challenge is in its cookie); /attest, on another replica, does.
      const auth = await probe(`${replica.url}/kbs/v0/auth`, {
        version: '0.4.0',
        tee: 'snp',
        'extra-params': '',
      })
      expect(auth.status).toBe(200)
      const next = set.replicas[(index + 1) % set.replicas.length] ?? replica
      const attest = await probe(`${next.url}/kbs/v0/attest`, {}, auth.cookie)
      expect([attest.status, attest.retryAfter]).toEqual([503, '1'])
      expect(attest.json).toMatchObject({
        type: expect.stringMatching(/ServiceUnavailable$/) as unknown,
      })
      expect(attest.ms).toBeLessThan(3000)
    }
    await pause(1500)
    await cluster.startServer()
    for (const replica of set.replicas) {
      const deadline = Date.now() + 15_000
      while ((await probe(`${replica.url}/readyz`)).status !== 200 && Date.now() < deadline)
        await pause(200)
      expect((await probe(`${replica.url}/readyz`)).status).toBe(200)
    }
    await pause(2500)
    const record = await load.stop()
    // Recovered by themselves: every replica is the process it was, none exited on the way.
    expect(set.replicas.map((replica) => replica.running())).toEqual([true, true, true])
    // Some handshakes were answered 503 while it was down, and the last ones all completed.
    const outcomes = record.honest.flatMap((guest) => guest.outcomes)
    expect(outcomes.some((o) => !o.released && o.status === 503)).toBe(true)
    expect(record.honest.slice(-3).every((guest) => guest.outcomes.at(-1)?.released)).toBe(true)
    await checkLoad(record, mark, r2)
  })

  it('keeps serving when a replica is killed under load: clients fail over, none hangs', async () => {
    const mark = await auditMark(r1)
    const load = loadWith('replica-kill')
    onTestFailed(async () => {
      await load.stop()
    })
    await pause(2000)
    await r2.kill('SIGKILL')
    const killedAt = Date.now()
    await pause(4000)
    const record = await load.stop()
    // Every guest got the secret in the end: the dead replica cost retries only.
    expect(record.honest.filter((guest) => guest.outcomes.at(-1)?.released !== true)).toEqual([])
    expect(record.honest.some((guest) => guest.outcomes.some((o) => !o.released))).toBe(true)
    expect(Date.now() - killedAt).toBeGreaterThan(3000)
    await checkLoad(record, mark, r3)
  })
})
