/**
 * Database round trips of one RCAR handshake on a real PostgreSQL, counted where they happen:
 * every query the `pg` driver sends (each is one round trip; the spy calls through). `/auth`
 * sends none (the challenge is in its cookie), `/attest` one (the session row with its audit
 * entry), `/resource` with the Bearer token one (the release with its audit entry), and with the
 * cookie one more (the session's token).
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
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

let cluster: PostgresCluster
let kbs: TestKbs

beforeAll(async () => {
  cluster = await startPostgresCluster()
  kbs = await startTestKbs({
    database: await cluster.createDatabase('round_trips'),
    // The counts are of one handshake, not of a workload cache refreshing meanwhile.
    config: { workloads: { 'cache-max-age': '60s' } },
  })
  const workload = simulatorWorkload([ACCEPTED])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, SECRET_PATH, 'counted')).toBe(200)
}, 120_000)

afterAll(async () => {
  await kbs.stop()
  await cluster.stop()
})

/** How many queries `work` sent to PostgreSQL. */
async function queriesOf(work: () => Promise<unknown>): Promise<number> {
  const spy = vi.spyOn(pg.Client.prototype, 'query')
  try {
    await work()
    return spy.mock.calls.length
  } finally {
    spy.mockRestore()
  }
}

describe('database round trips of one handshake (PostgreSQL)', () => {
  it('Bearer: /auth 0, /attest 1, /resource 1; cookie: /resource 2', async () => {
    const route = { auth: kbs.kbs.url, attest: kbs.kbs.url, resource: kbs.kbs.url }
    const run = (via: 'cookie' | 'bearer') =>
      handshake(kbs.http, kbs.simulator, route, ACCEPTED, SECRET_PATH, via)
    // Warm: the workload snapshot and the signing keys are read once per process.
    expect(await run('bearer')).toEqual({ released: true, secret: 'counted' })
    const auth = await queriesOf(() =>
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
    expect(auth).toBe(0)
    const client = kbs.client()
    const attest = await queriesOf(() =>
      client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED }),
    )
    expect(attest).toBe(1)
    const resource = await queriesOf(() => client.getResource(SECRET_PATH))
    expect(resource).toBe(1)
    expect(await queriesOf(() => run('bearer'))).toBe(2)
    expect(await queriesOf(() => run('cookie'))).toBe(3)
  })
})
