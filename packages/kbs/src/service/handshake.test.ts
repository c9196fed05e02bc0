/**
 * The whole RCAR handshake over real HTTPS on loopback: `startKbs` (SQLite, generated TLS
 * identity, simulator trust), the admin API, and the protocol client attesting with simulated SNP
 * and TDX guests. Every refusal is checked for its status and its audit entry. Raw protocol abuse
 * (replays, cookies, nonces, tampered evidence) is in handshake-protocol-abuse.test.ts.
 */
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { KbsClient, type KbsTee } from '@initguard/kbs-protocol'
import { HttpClient, httpErrors } from '@initguard/http'
import { SQLITE_FILE_NAME } from '../storage/dialect.ts'
import { startKbs } from './start-kbs.ts'
import {
  initdataToml,
  simulatorWorkload,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'
import { ACCEPTED, OTHER, SECRET, auditsOf, startHandshakeKbs } from './handshake-test-support.ts'
import { ask, attestation, auth } from './rcar-steps-test-support.ts'

let kbs: TestKbs

const upload = (path: string, value: string): Promise<number> => uploadResource(kbs, path, value)

beforeAll(async () => {
  kbs = await startHandshakeKbs()
})

afterAll(async () => {
  await kbs.stop()
})

/** The newest `count` audit entries, oldest first. */
const lastAudits = (count: number): Promise<Record<string, unknown>[]> => auditsOf(kbs, count)

/** The newest audit entry. */
async function lastAudit(): Promise<Record<string, unknown>> {
  return (await lastAudits(1))[0] ?? {}
}

/** The RCAR session a token names (its `jti`). */
const sessionOf = (token: string): unknown => decodeJwt(token).jti

describe('the right workload and the right init-data get the secret', () => {
  for (const tee of ['snp', 'tdx'] as const)
    for (const teeKeyKind of ['P-256', 'P-384', 'RSA-2048'] as const)
      it(`${tee} with a ${teeKeyKind} TEE key`, async () => {
        const client = kbs.client()
        const session = await client.attest({
          tee,
          evidence: kbs.guest(tee, ACCEPTED),
          initData: ACCEPTED,
          teeKeyKind,
        })
        expect(session.token.split('.')).toHaveLength(3)
        const secret = await client.getResource('default/app/password')
        expect(new TextDecoder().decode(secret)).toBe(SECRET)
        // The release names the session the token came from, as the entry does.
        const [issued, released] = await lastAudits(2)
        expect(sessionOf(session.token)).toMatch(/^[0-9a-f]{32}$/)
        expect(issued).toMatchObject({
          action: 'attest',
          outcome: 'issued',
          session: sessionOf(session.token),
        })
        expect(released).toMatchObject({
          action: 'resource',
          outcome: 'released',
          workload: 'app',
          resource: 'default/app/password',
          simulated: true,
          session: sessionOf(session.token),
        })
      })
})

describe('a token too long for a request header', () => {
  it('still gets the secret: the client asks with the session cookie (a Kata policy in the init-data)', async () => {
    // A generated Kata agent policy is tens of kB; the token carries the [data] it sits in.
    const policy = `package agent_policy\n${'# a rule of the generated policy, as long as they come\n'.repeat(500)}`
    const launched = `version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"policy.rego" = '''\n${policy}'''\n`
    const workload = simulatorWorkload([launched], { resources: ['default/big/*'] })
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/big', workload)).status).toBe(200)
    expect(await upload('default/big/key', SECRET)).toBe(200)
    const client = kbs.client()
    const session = await client.attest({
      tee: 'snp',
      evidence: kbs.guest('snp', launched),
      initData: launched,
    })
    // Longer than the KBS accepts in its request headers (16 KiB by default).
    expect(session.token.length).toBeGreaterThan(16 * 1024)
    expect(new TextDecoder().decode(await client.getResource('default/big/key'))).toBe(SECRET)
    expect(await lastAudit()).toMatchObject({
      action: 'resource',
      outcome: 'released',
      workload: 'big',
      session: sessionOf(session.token),
    })
  })
})

describe('refusals carry their status and leave an audit entry', () => {
  const attest = (tee: KbsTee, launchedWith: string, sends: string | undefined, debug = false) =>
    kbs.client().attest({
      tee,
      evidence: kbs.guest(tee as 'snp' | 'tdx', launchedWith, { debug }),
      ...(sends === undefined ? {} : { initData: sends }),
    })

  it('another self-consistent init-data: 403', async () => {
    const error = await rejected(attest('snp', OTHER, OTHER))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    // The guest learns that no workload accepts it, not the workloads' rules; the audit says why.
    expect(error.message).toMatch(/no workload accepts this evidence/)
    expect(error.message).not.toMatch(/'app'/)
    const entry = await lastAudit()
    expect(entry).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_KBS_NO_WORKLOAD',
    })
    expect(entry['detail']).toMatch(/workload 'app': .*accepted/)
  })

  it('evidence two workloads accept: 403, and the guest is not told their names', async () => {
    const shared = initdataToml('accepted by two workloads')
    for (const name of ['tenant-a-db', 'tenant-b-web'])
      expect(
        (await kbs.adminCall('PUT', `/kbs/v0/admin/workloads/${name}`, simulatorWorkload([shared])))
          .status,
      ).toBe(200)
    try {
      const error = await rejected(attest('snp', shared, shared))
      expect(error.code).toBe('ERR_KBS_FORBIDDEN')
      expect(error.message).toMatch(/more than one workload accepts this evidence/)
      expect(error.message).not.toMatch(/tenant-/)
      const entry = await lastAudit()
      expect(entry).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_WORKLOAD_AMBIGUOUS' })
      expect(entry['detail']).toMatch(/'tenant-a-db', 'tenant-b-web'/)
    } finally {
      for (const name of ['tenant-a-db', 'tenant-b-web'])
        await kbs.adminCall('DELETE', `/kbs/v0/admin/workloads/${name}`)
    }
  })

  it('an init-data body that does not match the report: 401', async () => {
    const error = await rejected(attest('tdx', ACCEPTED, OTHER))
    expect(error.code).toBe('ERR_KBS_UNAUTHORIZED')
    expect(await lastAudit()).toMatchObject({
      outcome: 'denied',
      reason: 'ERR_KBS_INITDATA_MISMATCH',
    })
  })

  it('a debug guest: 403', async () => {
    const error = await rejected(attest('snp', ACCEPTED, ACCEPTED, true))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    expect(await lastAudit()).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_NO_WORKLOAD' })
  })

  it('a resource outside the workload: 403, and the secret stays put', async () => {
    const client = kbs.client()
    const { token } = await client.attest({
      tee: 'snp',
      evidence: kbs.guest('snp', ACCEPTED),
      initData: ACCEPTED,
    })
    const error = await rejected(client.getResource('other/app/key'))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    expect(await lastAudit()).toMatchObject({
      action: 'resource',
      outcome: 'denied',
      resource: 'other/app/key',
      session: sessionOf(token),
    })
  })

  it('a session row whose expiry is not a date (changed behind the KBS) opens nothing by its cookie', async () => {
    const session = await auth(kbs.http, kbs.kbs.url)
    if ('released' in session) throw new Error(`/auth failed: ${JSON.stringify(session)}`)
    const headers = { cookie: `kbs-session-id=${session.cookie}` }
    const { body } = await attestation(kbs.simulator, ACCEPTED, session.nonce)
    const attested = await ask(kbs.http, `${kbs.kbs.url}/kbs/v0/attest`, { body, headers })
    if ('code' in attested || attested.status !== 200) throw new Error('/attest failed')
    const get = async (): Promise<number | string> => {
      const answer = await ask(kbs.http, `${kbs.kbs.url}/kbs/v0/resource/default/app/password`, {
        headers,
      })
      return 'code' in answer ? answer.code : answer.status
    }
    expect(await get()).toBe(200)
    const file = new BetterSqlite3(join(kbs.config.dataDir, SQLITE_FILE_NAME))
    try {
      file
        .prepare('UPDATE rcar_session SET expires_at = ? WHERE id = ?')
        .run('not a date', sessionOf((JSON.parse(attested.body) as { token: string }).token))
    } finally {
      file.close()
    }
    // An invalid date compares false with every time: it must not read as "not expired".
    expect(await get()).toBe(401)
  })

  it('a stored secret that does not open: 500, and the log corrects the release it recorded', async () => {
    expect(await upload('default/app/tampered', SECRET)).toBe(200)
    // The row's bytes replaced behind the KBS's back: the envelope no longer opens.
    const file = new BetterSqlite3(join(kbs.config.dataDir, SQLITE_FILE_NAME))
    try {
      file
        .prepare('UPDATE resource SET sealed = ? WHERE path = ?')
        .run(Buffer.alloc(80, 7), 'default/app/tampered')
    } finally {
      file.close()
    }
    const client = kbs.client()
    await client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    // The operator's problem: 500 naming nothing, not 401 (the guest's attestation or token).
    const error = await rejected(client.getResource('default/app/tampered'))
    expect(error.details).toMatchObject({ status: 500 })
    expect(error.message).not.toMatch(/does not authenticate|envelope|attestation or token/)
    const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
    const [released, corrected] = (json as { entries: Record<string, unknown>[] }).entries.slice(-2)
    expect(released).toMatchObject({
      action: 'resource',
      outcome: 'released',
      resource: 'default/app/tampered',
    })
    expect(corrected).toMatchObject({
      action: 'resource',
      outcome: 'denied',
      resource: 'default/app/tampered',
      workload: 'app',
      reason: 'ERR_KBS_ENVELOPE_FORMAT',
      detail: `the release recorded as audit entry ${String(released?.['id'])} failed: the resource could not be opened or sealed to the TEE key`,
    })
    // The token was good: it still releases the workload's other resources.
    expect(new TextDecoder().decode(await client.getResource('default/app/password'))).toBe(SECRET)
  })

  it('no such resource: 404', async () => {
    const client = kbs.client()
    await client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    expect((await rejected(client.getResource('default/app/missing'))).code).toBe(
      'ERR_KBS_NOT_FOUND',
    )
  })

  it('a path spelt another way reaches no other resource than the one it decodes to', async () => {
    const { token } = await kbs
      .client()
      .attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    const status = (path: string): Promise<number> =>
      kbs.http.request(
        {
          url: `${kbs.kbs.url}/kbs/v0/resource/${path}`,
          what: `get ${path}`,
          headers: { authorization: `Bearer ${token}` },
        },
        async (response) => {
          await response.discard()
          return response.status
        },
      )
    const answers: Record<string, number> = {}
    for (const path of [
      '%64efault/app/pass%77ord', // percent-encoded letters: the same resource
      'default/app/password%2F..', // an encoded separator inside a segment
      'default%2Fapp/password/x',
      'default/app/password/', // a trailing slash
      'default//app/password',
      'default/app/password;x',
      'default/app/password%00',
      '%EF%BD%84efault/app/password', // a fullwidth d, which NFKC would fold to d
      'd%C3%A9fault/app/password', // any letter outside ASCII
      'DEFAULT/app/password', // another case is another path, outside the workload
      'other/app/key',
    ])
      answers[path] = await status(path)
    expect(answers).toEqual({
      '%64efault/app/pass%77ord': 200,
      'default/app/password%2F..': 400,
      'default%2Fapp/password/x': 400,
      'default/app/password/': 400,
      'default//app/password': 400,
      'default/app/password;x': 400,
      'default/app/password%00': 400,
      '%EF%BD%84efault/app/password': 400,
      'd%C3%A9fault/app/password': 400,
      'DEFAULT/app/password': 403,
      'other/app/key': 403,
    })
  })
})

describe('a workload row that does not authenticate', () => {
  it('takes only its own workload out of use, and the guests are not told of it', async () => {
    const theirs = initdataToml('tenant b')
    const workload = simulatorWorkload([theirs], { resources: ['b/app/*'] })
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/tenant-b', workload)).status).toBe(
      200,
    )
    const client = kbs.client()
    await client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    // Written before the rows carried a MAC (or changed behind the KBS): refused, not used.
    const file = new BetterSqlite3(join(kbs.config.dataDir, SQLITE_FILE_NAME))
    try {
      file.prepare(`UPDATE workload_version SET mac = NULL WHERE name = 'tenant-b'`).run()
    } finally {
      file.close()
    }
    // An admin write drops this replica's cached read (a 404 delete is one).
    expect((await kbs.adminCall('DELETE', '/kbs/v0/admin/workloads/none')).status).toBe(404)
    try {
      // Every other workload goes on: a token it issued releases, its guests attest.
      expect(new TextDecoder().decode(await client.getResource('default/app/password'))).toBe(
        SECRET,
      )
      await kbs
        .client()
        .attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
      // Its own guests are refused by default deny, told nothing of the row.
      const error = await rejected(
        kbs.client().attest({ tee: 'snp', evidence: kbs.guest('snp', theirs), initData: theirs }),
      )
      expect(error.code).toBe('ERR_KBS_FORBIDDEN')
      expect(error.message).not.toMatch(/tenant-b|MAC/)
      const entry = await lastAudit()
      expect(entry).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_NO_WORKLOAD' })
      expect(entry['detail']).toMatch(
        /workload 'tenant-b': its stored version 1 is not used \(.*no MAC/,
      )
      // The operator's list names it, without a definition, beside the others.
      const { status, json } = await kbs.adminCall('GET', '/kbs/v0/admin/workloads')
      expect(status).toBe(200)
      const listed = (json as { workloads: Record<string, unknown>[] }).workloads
      expect(listed.find((w) => w['name'] === 'tenant-b')).toEqual({
        name: 'tenant-b',
        version: 1,
        unusable: expect.objectContaining({ code: 'ERR_KBS_WORKLOAD_INTEGRITY' }) as unknown,
      })
      expect(listed.find((w) => w['name'] === 'app')).toHaveProperty('definition')
    } finally {
      expect((await kbs.adminCall('DELETE', '/kbs/v0/admin/workloads/tenant-b')).status).toBe(200)
    }
  })
})

describe('the token', () => {
  it('is an EAR JWT verifiable at /.well-known/jwks.json, marked simulated', async () => {
    const { createLocalJWKSet, jwtVerify } = await import('jose')
    const session = await kbs.client().attest({
      tee: 'tdx',
      evidence: kbs.guest('tdx', ACCEPTED),
      initData: ACCEPTED,
    })
    const jwks = await kbs.http.request(
      { url: `${kbs.kbs.url}/.well-known/jwks.json`, what: 'jwks' },
      async (response) => JSON.parse(await response.text({ maxBytes: 1 << 20 })) as { keys: [] },
    )
    const { payload } = await jwtVerify(session.token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      currentDate: kbs.now(),
    })
    expect(payload).toMatchObject({
      initguard: { workload: { name: 'app', version: 1 }, tee: 'tdx', simulated: true },
      submods: { cpu0: { 'ear.status': 'affirming' } },
    })
    const annotated = (
      payload['submods'] as Record<string, Record<string, Record<string, unknown>>>
    )['cpu0']?.['ear.veraison.annotated-evidence']
    expect(annotated?.['init_data_claims']).toMatchObject({
      'cdh.toml': { kbc: { name: 'cc_kbc' } },
    })
  })
})

describe('tokens are worth only what appraised them', () => {
  /** GET a resource with a bearer token, as a client holding it would. */
  async function withToken(token: string, path: string): Promise<number> {
    return kbs.http.request(
      {
        url: `${kbs.kbs.url}/kbs/v0/resource/${path}`,
        what: 'resource',
        headers: { authorization: `Bearer ${token}` },
      },
      async (response) => {
        await response.discard()
        return response.status
      },
    )
  }

  it('a wrong measurement is refused over HTTPS (403), with the reason audited', async () => {
    const measured = initdataToml('measured elsewhere')
    const wrong = simulatorWorkload([measured], {
      tees: ['snp'],
      tdx: undefined,
      resources: ['measured/app/*'],
      snp: { measurements: ['ab'.repeat(48)] },
    })
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/measured', wrong)).status).toBe(200)
    const error = await rejected(
      kbs.client().attest({ tee: 'snp', evidence: kbs.guest('snp', measured), initData: measured }),
    )
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    expect(error.message).not.toMatch(/MEASUREMENT/)
    const entry = await lastAudit()
    expect(entry).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_NO_WORKLOAD' })
    expect(entry['detail']).toMatch(/workload 'measured': MEASUREMENT/)
  })

  it('a workload changed after the token was issued: 401, attest again', async () => {
    const document = initdataToml('second workload')
    const second = simulatorWorkload([document], { resources: ['second/app/*'] })
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/second', second)).status).toBe(200)
    expect(await upload('second/app/key', 'second secret')).toBe(200)
    const session = await kbs
      .client()
      .attest({ tee: 'tdx', evidence: kbs.guest('tdx', document), initData: document })
    expect(await withToken(session.token, 'second/app/key')).toBe(200)
    // Version 2 no longer accepts the document this guest was launched with.
    const changed = simulatorWorkload([initdataToml('second, version 2')], {
      resources: ['second/app/*'],
    })
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/second', changed)).status).toBe(200)
    expect(await withToken(session.token, 'second/app/key')).toBe(401)
    expect(await lastAudit()).toMatchObject({
      action: 'resource',
      outcome: 'denied',
      reason: 'ERR_KBS_WORKLOAD_CHANGED',
    })
    // And a guest launched with the old document no longer gets a token at all.
    const again = await rejected(
      kbs.client().attest({ tee: 'tdx', evidence: kbs.guest('tdx', document), initData: document }),
    )
    expect(again.code).toBe('ERR_KBS_FORBIDDEN')
  })

  it('a token issued under simulator trust, and simulated evidence, are refused by a KBS without it (same data)', async () => {
    const session = await kbs
      .client()
      .attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    const { trustSimDir: _dropped, ...withoutSim } = kbs.config
    const production = await startKbs(
      { ...withoutSim, listen: { host: '127.0.0.1', port: 0 } },
      { online: false, logger: { level: 'silent' } },
    )
    try {
      const http = new HttpClient({
        attempts: 1,
        errors: httpErrors({ area: 'KBS' }),
        tls: { pinnedCertificatePem: production.tls?.certPem ?? '' },
      })
      const status = await http.request(
        {
          url: `${production.url}/kbs/v0/resource/default/app/password`,
          what: 'resource',
          headers: { authorization: `Bearer ${session.token}` },
        },
        async (response) => {
          const body = await response.text({ maxBytes: 4096 })
          expect(body).toMatch(/simulat/)
          return response.status
        },
      )
      expect(status).toBe(401)
      // Nor does it take the simulator's evidence: the wiring, not only the appraiser, leaves the
      // simulator's roots out without --trust-sim.
      const client = new KbsClient({
        url: production.url,
        tls: { pinnedCertificatePem: production.tls?.certPem ?? '' },
      })
      for (const tee of ['snp', 'tdx'] as const) {
        const error = await rejected(
          client.attest({ tee, evidence: kbs.guest(tee, ACCEPTED), initData: ACCEPTED }),
        )
        expect({ tee, code: error.code }).toEqual({ tee, code: 'ERR_KBS_UNAUTHORIZED' })
        expect(error.message).toMatch(/does not verify/)
      }
    } finally {
      await production.close()
    }
  })
})
