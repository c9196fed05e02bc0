/**
 * Two KBS replicas on one PostgreSQL whose clocks are {@link REPLICA_CLOCK_SKEW_MS} apart (one
 * 5 s ahead, one 5 s behind), at the shortest lifetimes the configuration allows
 * ({@link MIN_REPLICA_LIFETIME_MS} for challenges and tokens): a handshake whose steps alternate
 * between them works, a challenge or token keeps its stated lifetime ± the skew, and one past
 * that fails on both.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostgresCluster, type PostgresCluster } from '@initguard/testkit'
import { MIN_REPLICA_LIFETIME_MS, REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'
import { testAdminKey } from '../server/admin-auth-test-support.ts'
import { ACCEPTED, SECRET } from './handshake-test-support.ts'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'
import { ask, attestation, auth, handshake } from './rcar-steps-test-support.ts'

const PATH = 'default/app/password'
const HALF_SKEW = REPLICA_CLOCK_SKEW_MS / 2
/**
 * The replicas' clocks stand still but for `pass`: no real time a step takes (seconds, on a busy
 * machine) eats into a lifetime, so each is tested to its last millisecond. On a whole second, as
 * `iat` and `exp` count, and now (the database's clock decides single use).
 */
const STOPPED_AT = new Date(Math.ceil(Date.now() / 1000) * 1000)
let cluster: PostgresCluster
let ahead: TestKbs
let behind: TestKbs

beforeAll(async () => {
  cluster = await startPostgresCluster()
  const database = await cluster.createDatabase('replica_clocks')
  const shortest = `${String(MIN_REPLICA_LIFETIME_MS / 1000)}s`
  const shared = {
    database,
    insecureHttp: true,
    masterKey: randomBytes(32).toString('base64'),
    admin: testAdminKey('EdDSA'),
    config: { sessions: { 'nonce-ttl': shortest }, tokens: { lifetime: shortest } },
    stoppedAt: STOPPED_AT,
  }
  behind = await startTestKbs(shared)
  ahead = await startTestKbs({ ...shared, simulator: behind.simulator })
  behind.advance(-HALF_SKEW)
  ahead.advance(HALF_SKEW)
  const workload = simulatorWorkload([ACCEPTED])
  expect((await ahead.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(ahead, PATH, SECRET)).toBe(200)
}, 120_000)

afterAll(async () => {
  // The simulator lives in the first one's directory: stop it last.
  await ahead.stop()
  await behind.stop()
  await cluster.stop()
})

/** Moves both clocks: real time passing. */
function pass(ms: number): void {
  ahead.advance(ms)
  behind.advance(ms)
}

/** Moves both clocks to the next whole second: a token issued then lives exactly its lifetime. */
function passToWholeSecond(): void {
  pass((1000 - (ahead.now().getTime() % 1000)) % 1000)
}

/** `/auth` on `on`: the cookie header and the `/attest` body of a guest launched with ACCEPTED. */
async function challenge(on: TestKbs) {
  const session = await auth(on.http, on.kbs.url)
  if ('released' in session) throw new Error(`/auth failed: ${JSON.stringify(session)}`)
  const { body } = await attestation(on.simulator, ACCEPTED, session.nonce)
  return { headers: { cookie: `kbs-session-id=${session.cookie}` }, body }
}

/** `/attest` on `on`: its status, and the token when it issued one. */
async function attest(on: TestKbs, made: Awaited<ReturnType<typeof challenge>>) {
  const answer = await ask(on.http, `${on.kbs.url}/kbs/v0/attest`, made)
  if ('code' in answer) throw new Error(`/attest failed: ${answer.code}`)
  const token =
    answer.status === 200 ? (JSON.parse(answer.body) as { token: string }).token : undefined
  return { status: answer.status, token, body: answer.body }
}

/** `GET /resource` on `on` with `token`: its status. */
async function resourceStatus(on: TestKbs, token: string): Promise<number | string> {
  const answer = await ask(on.http, `${on.kbs.url}/kbs/v0/resource/${PATH}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return 'code' in answer ? answer.code : answer.status
}

describe(`two replicas ${String(REPLICA_CLOCK_SKEW_MS)} ms apart on one PostgreSQL, at the shortest lifetimes`, () => {
  it('complete handshakes whose steps alternate between them, by cookie and by token', async () => {
    const [a, b] = [ahead.kbs.url, behind.kbs.url]
    for (const route of [
      { auth: b, attest: a, resource: b },
      { auth: a, attest: b, resource: a },
      { auth: b, attest: b, resource: a },
    ])
      for (const via of ['cookie', 'bearer'] as const)
        expect(
          await handshake(ahead.http, ahead.simulator, route, ACCEPTED, PATH, via),
          `${JSON.stringify(route)} ${via}`,
        ).toEqual({ released: true, secret: SECRET })
  })

  it('a challenge made behind is used ahead within its lifetime less the skew; one made ahead is refused on both past its lifetime plus the skew', async () => {
    const lifetime = MIN_REPLICA_LIFETIME_MS
    const early = await challenge(behind)
    // Its last millisecond where the clock is ahead.
    pass(lifetime - REPLICA_CLOCK_SKEW_MS - 1)
    expect((await attest(ahead, early)).status).toBe(200)

    const late = await challenge(ahead)
    pass(lifetime + REPLICA_CLOCK_SKEW_MS - 1)
    // Its last millisecond where the clock is behind (a refusal there would burn it).
    expect((await attest(behind, late)).status).not.toBe(401)
    pass(1)
    for (const on of [behind, ahead]) {
      const refused = await attest(on, late)
      expect(refused.status).toBe(401)
      expect(refused.body).toContain('the challenge has expired')
    }
  })

  it('a token issued behind opens resources ahead within its lifetime less the skew; one issued ahead is refused on both past its lifetime plus the skew', async () => {
    const lifetime = MIN_REPLICA_LIFETIME_MS
    passToWholeSecond()
    const early = await attest(behind, await challenge(behind))
    // Its last millisecond where the clock is ahead.
    pass(lifetime - REPLICA_CLOCK_SKEW_MS - 1)
    expect(await resourceStatus(ahead, early.token ?? '')).toBe(200)

    passToWholeSecond()
    const late = await attest(ahead, await challenge(ahead))
    pass(lifetime + REPLICA_CLOCK_SKEW_MS - 1)
    // The stated lifetime plus the skew, no more: still taken where the clock is behind.
    expect(await resourceStatus(behind, late.token ?? '')).toBe(200)
    pass(1)
    for (const on of [behind, ahead]) expect(await resourceStatus(on, late.token ?? '')).toBe(401)
  })
})
