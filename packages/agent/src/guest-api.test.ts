/**
 * The guest API end to end, real parts only: a real KBS on loopback HTTPS trusting a real TEE
 * simulator, a simulated SEV-SNP guest whose init-data is checked for real, and requests over
 * loopback HTTP and the Unix socket.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSelfSignedTls } from '@initguard/kbs'
import { closedPort } from '../../http/src/http-test-support.ts'
import {
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../kbs/src/service/kbs-test-support.ts'
import { launchGuest, unboundGuest, verifyInitdata } from './agent-test-support.ts'
import { VerifiedDocuments } from './initdata-check/verified-documents.ts'
import { get, kbsInitdataToml, type TestResponse } from './guest-api-test-support.ts'
import { serveGuestApi, type RunningGuestApi } from './guest-api-server.ts'
import { openAgentKbs } from './kbs-access.ts'
import type { GuestTee } from '@initguard/tee'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

const SECRET = 'the database password'
let kbs: TestKbs
let dir: string
let accepted: string
const running: RunningGuestApi[] = []

beforeAll(async () => {
  kbs = await startTestKbs()
  dir = await mkdtemp(join(tmpdir(), 'guest-api-'))
  accepted = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'accepted')
  const workload = simulatorWorkload([accepted])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/password', SECRET)).toBe(200)
})

afterAll(async () => {
  for (const api of running) await api.close()
  await kbs.stop()
  await rm(dir, { recursive: true, force: true })
})

/** An agent for a guest launched with `launchedWith`, serving `initdata` (default: checked). */
async function agent(
  launchedWith: string,
  options: { unbound?: boolean; socket?: string } = {},
): Promise<{ api: RunningGuestApi; initdata: VerifiedInitdata | UnboundInitdata }> {
  let tee: GuestTee
  let initdata: VerifiedInitdata | UnboundInitdata
  if (options.unbound === true) {
    ;({ tee, initdata } = await unboundGuest(kbs.simulator.dir, launchedWith))
  } else {
    tee = await launchGuest(kbs.simulator.dir, launchedWith)
    initdata = await verifyInitdata(tee, launchedWith)
  }
  const { access } = openAgentKbs({ initdata, tee, clock: () => kbs.now() })
  const api = await serveGuestApi({
    state: { initdata, documents: new VerifiedDocuments(initdata), tee, kbs: access },
    listen: { host: '127.0.0.1', port: 0 },
    ...(options.socket === undefined ? {} : { socketPath: options.socket }),
  })
  running.push(api)
  return { api, initdata }
}

/** Attestation tokens the KBS has issued so far (its audit log). */
async function tokensIssued(): Promise<number> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  const entries = (json as { entries: Record<string, unknown>[] }).entries
  return entries.filter((e) => e['action'] === 'attest' && e['outcome'] === 'issued').length
}

/** Secrets the KBS has released so far. */
async function released(): Promise<number> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  const entries = (json as { entries: Record<string, unknown>[] }).entries
  return entries.filter((e) => e['action'] === 'resource' && e['outcome'] === 'released').length
}

const errorOf = (response: TestResponse): Record<string, unknown> => response.json()

describe('the honest guest', () => {
  it('gets the secret over HTTP and the socket, with one handshake for everything', async () => {
    const socket = join(dir, 'agent.sock')
    const { api } = await agent(accepted, { socket })
    expect(((await stat(socket)).mode & 0o777).toString(8)).toBe('600')
    const before = await tokensIssued()
    const concurrent = await Promise.all(
      [0, 1, 2, 3].map(() => get({ base: api.url }, '/cdh/resource/default/app/password')),
    )
    for (const response of concurrent) {
      expect(response.status).toBe(200)
      expect(response.body.toString('utf8')).toBe(SECRET)
      expect(response.headers['content-type']).toBe('application/octet-stream')
      expect(response.headers['initguard-tee']).toBe('simulated')
      expect(response.headers['initguard-initdata']).toBeUndefined()
    }
    const viaSocket = await get({ socket }, '/cdh/resource/default/app/password')
    expect(viaSocket.body.toString('utf8')).toBe(SECRET)
    const token = await get({ socket }, '/aa/token?token_type=kbs')
    expect(token.status).toBe(200)
    expect(Object.keys(token.json()).sort()).toEqual(['tee_keypair', 'token'])
    expect(token.json()['tee_keypair']).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expect(await tokensIssued()).toBe(before + 1)

    // Past the token's exp (5 minutes), the next request attests again, once.
    kbs.advance(5 * 60_000)
    expect((await get({ base: api.url }, '/aa/token?token_type=kbs')).status).toBe(200)
    expect((await get({ base: api.url }, '/aa/token?token_type=kbs')).status).toBe(200)
    expect(await tokensIssued()).toBe(before + 2)
    await api.close()
    await expect(stat(socket)).rejects.toThrow(/ENOENT/)
  })

  it('a workload changed under a valid token: the KBS says 401, one new handshake, the secret', async () => {
    const { api } = await agent(accepted)
    const secret = (): Promise<TestResponse> =>
      get({ base: api.url }, '/cdh/resource/default/app/password')
    const before = await tokensIssued()
    expect((await secret()).status).toBe(200)
    const version2 = simulatorWorkload([accepted, kbsInitdataToml(kbs.kbs.url, undefined, 'v2')])
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', version2)).status).toBe(200)
    const again = await secret()
    expect([again.status, again.body.toString('utf8')]).toEqual([200, SECRET])
    expect(await tokensIssued()).toBe(before + 2)
    expect((await secret()).status).toBe(200)
    expect(await tokensIssued()).toBe(before + 2)
  })

  it('serves the verified documents and evidence binding runtime_data', async () => {
    const { api } = await agent(accepted)
    const keys = await get({ base: api.url }, '/initdata')
    expect(keys.json()).toEqual({ keys: ['aa.toml', 'cdh.toml'] })
    const cdh = await get({ base: api.url }, '/initdata/cdh.toml')
    expect(cdh.body.toString('utf8')).toMatch(/# accepted\n$/)
    const whole = await get({ base: api.url }, '/initdata/initdata.toml')
    expect(whole.body.toString('utf8')).toBe(accepted)
    const evidence = await get({ base: api.url }, '/aa/evidence?runtime_data=xxxx')
    expect(evidence.status).toBe(200)
    const report = evidence.json()['attestation_report'] as { report_data: number[] }
    expect(report.report_data).toEqual([...Buffer.from('xxxx'), ...new Array<number>(60).fill(0)])
  })
})

describe('refusals', () => {
  it('a KBS presenting a certificate other than the pinned one: 502, no secret', async () => {
    const other = generateSelfSignedTls('127.0.0.1', kbs.now()).certPem
    const document = kbsInitdataToml(kbs.kbs.url, other, 'pins another certificate')
    const before = await released()
    const { api } = await agent(document)
    const response = await get({ base: api.url }, '/cdh/resource/default/app/password')
    expect(response.status).toBe(502)
    expect(errorOf(response)).toMatchObject({ code: 'ERR_KBS_TLS' })
    expect(errorOf(response)['message']).toMatch(/did not present the certificate pinned/)
    expect(response.body.toString('utf8')).not.toContain(SECRET)
    expect(await released()).toBe(before)
  })

  it('the KBS down: 503 with the reason, while /initdata is served', async () => {
    const url = `https://127.0.0.1:${await closedPort()}`
    const document = kbsInitdataToml(url, kbs.kbs.tls?.certPem, 'down')
    const { api } = await agent(document)
    const response = await get({ base: api.url }, '/cdh/resource/default/app/password')
    expect(response.status).toBe(503)
    expect(errorOf(response)).toMatchObject({ code: 'ERR_KBS_UNREACHABLE' })
    expect(errorOf(response)['message']).toMatch(/refused/)
    expect((await get({ base: api.url }, '/initdata/aa.toml')).status).toBe(200)
  })

  it('no KBS in the documents, or https without a certificate: 503 saying so', async () => {
    const unpinned = kbsInitdataToml(kbs.kbs.url, undefined, 'no certificate')
    const { api } = await agent(unpinned)
    const response = await get({ base: api.url }, '/aa/token?token_type=kbs')
    expect(response.status).toBe(503)
    expect(errorOf(response)).toMatchObject({ code: 'ERR_AGENT_KBS_CERT_MISSING' })
    const bare = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"policy.rego" = "x"\n'
    const none = await agent(bare)
    const answer = await get({ base: none.api.url }, '/cdh/resource/default/app/password')
    expect(answer.status).toBe(503)
    expect(errorOf(answer)).toMatchObject({ code: 'ERR_AGENT_KBS_NOT_CONFIGURED' })
  })

  it("a guest with another self-consistent init-data: the KBS's 403 and its detail", async () => {
    const other = kbsInitdataToml(kbs.kbs.url, kbs.kbs.tls?.certPem, 'another workload')
    const { api } = await agent(other)
    const response = await get({ base: api.url }, '/cdh/resource/default/app/password')
    expect(response.status).toBe(403)
    expect(errorOf(response)).toMatchObject({ code: 'ERR_KBS_FORBIDDEN' })
    expect(errorOf(response)['message']).toMatch(/no workload accepts this evidence/)
  })

  it('bad paths and queries: 400 or 404, before the KBS is asked', async () => {
    const { api } = await agent(accepted)
    const cases: [string, number, string][] = [
      ['/cdh/resource/.hidden/app/password', 400, 'ERR_KBS_RESOURCE_PATH'],
      ['/cdh/resource/default/app/%2e%2e', 400, 'ERR_KBS_RESOURCE_PATH'],
      ['/cdh/resource/def%2Fault/app/password', 400, 'ERR_KBS_RESOURCE_PATH'],
      ['/cdh/resource/default/app/password?x=1', 400, 'ERR_AGENT_QUERY'],
      ['/cdh/resource/default/app', 404, 'ERR_AGENT_NO_SUCH_PATH'],
      ['/cdh/resource/default/app/password/more', 404, 'ERR_AGENT_NO_SUCH_PATH'],
      ['/aa/token', 400, 'ERR_AGENT_QUERY'],
      ['/aa/token?token_type=coco_as', 400, 'ERR_AGENT_TOKEN_TYPE'],
      ['/aa/token?token_type=kbs&token_type=kbs', 400, 'ERR_AGENT_QUERY'],
      [`/aa/evidence?runtime_data=${'x'.repeat(65)}`, 400, 'ERR_AGENT_RUNTIME_DATA'],
      ['/initdata/nope', 404, 'ERR_AGENT_INITDATA_KEY'],
      ['/nope', 404, 'ERR_AGENT_NO_SUCH_PATH'],
    ]
    for (const [path, status, code] of cases) {
      const response = await get({ base: api.url }, path)
      expect([path, response.status, errorOf(response)['code']]).toEqual([path, status, code])
    }
  })
})

describe('running unbound', () => {
  it('every response says so, in a header and in JSON bodies', async () => {
    const { api, initdata } = await agent(accepted, { unbound: true })
    const reason = 'unbound' in initdata ? initdata.reason : ''
    expect(reason).toContain('--allow-unbound-initdata')
    for (const path of ['/initdata', '/initdata/aa.toml', '/nope', '/aa/token?token_type=kbs']) {
      const response = await get({ base: api.url }, path)
      expect([path, response.headers['initguard-initdata']]).toEqual([
        path,
        `unbound; reason="${reason}"`,
      ])
      if (response.headers['content-type']?.startsWith('application/json') === true)
        expect(response.json()['initguard-initdata']).toEqual({ bound: false, reason })
    }
  })
})

describe('where it listens', () => {
  it('a non-loopback address is refused without the flag', async () => {
    const tee = await launchGuest(kbs.simulator.dir, accepted)
    const initdata = await verifyInitdata(tee, accepted)
    const documents = new VerifiedDocuments(initdata)
    const state = { initdata, documents, tee, kbs: openAgentKbs({ initdata, tee }).access }
    await expect(
      serveGuestApi({ state, listen: { host: '0.0.0.0', port: 0 } }),
    ).rejects.toMatchObject({ code: 'ERR_AGENT_LISTEN_NOT_LOOPBACK' })
  })
})
