/**
 * Raw abuse of the RCAR protocol against a KBS over real HTTPS on loopback: replayed sessions and
 * challenges, altered or foreign cookies, made-up, expired and reused nonces, and evidence bound to
 * another key or nonce or tampered with. Each is refused with its status and an audit entry.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { InternalError, UnavailableError, stringToUtf8 } from '@initguard/core'
import type { TestKbs } from './kbs-test-support.ts'
import { ACCEPTED, auditsOf, startHandshakeKbs } from './handshake-test-support.ts'

let kbs: TestKbs

beforeAll(async () => {
  kbs = await startHandshakeKbs()
})

afterAll(async () => {
  await kbs.stop()
})

/** The newest audit entry. */
async function lastAudit(): Promise<Record<string, unknown>> {
  return (await auditsOf(kbs, 1))[0] ?? {}
}

describe('raw protocol abuse', () => {
  /** POST /auth; the cookie and nonce. */
  async function auth(): Promise<{ cookie: string; nonce: string }> {
    return kbs.http.request(
      {
        method: 'POST',
        url: `${kbs.kbs.url}/kbs/v0/auth`,
        what: 'auth',
        headers: { 'content-type': 'application/json' },
        body: stringToUtf8(JSON.stringify({ version: '0.4.0', tee: 'snp', 'extra-params': '' })),
      },
      async (response) => {
        const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
        const { nonce } = JSON.parse(await response.text({ maxBytes: 4096 })) as { nonce: string }
        return { cookie, nonce }
      },
    )
  }

  /** POST /attest with evidence bound to `bindNonce` (default the message's nonce). */
  async function attest(
    cookie: string,
    nonce: string,
    options: { bindNonce?: string; tamper?: boolean; otherKey?: boolean } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const { generateTeeKeyPair, expectedReportData } = await import('@initguard/kbs-protocol')
    const key = (await generateTeeKeyPair('P-256')).publicJwk
    const bound = options.otherKey === true ? (await generateTeeKeyPair('P-256')).publicJwk : key
    const reportData = expectedReportData({
      nonce: options.bindNonce ?? nonce,
      teePubkey: bound,
      additionalEvidence: '',
    })
    const evidence = (await kbs.guest('snp', ACCEPTED)(reportData)) as {
      attestation_report: { measurement: number[] }
    }
    const measurement = evidence.attestation_report.measurement
    if (options.tamper === true) measurement[0] = (measurement[0] ?? 0) ^ 1
    const message = {
      'init-data': { format: 'toml', body: ACCEPTED },
      'runtime-data': { nonce, 'tee-pubkey': key },
      'tee-evidence': { primary_evidence: evidence, additional_evidence: '' },
    }
    return kbs.http.request(
      {
        method: 'POST',
        url: `${kbs.kbs.url}/kbs/v0/attest`,
        what: 'attest',
        headers: { 'content-type': 'application/json', cookie },
        body: stringToUtf8(JSON.stringify(message)),
      },
      async (response) => ({
        status: response.status,
        body: JSON.parse(await response.text({ maxBytes: 1 << 20 })) as Record<string, unknown>,
      }),
    )
  }

  it('a good attestation, then the same session replayed: 200 then 401', async () => {
    const { cookie, nonce } = await auth()
    expect((await attest(cookie, nonce)).status).toBe(200)
    const replay = await attest(cookie, nonce)
    expect(replay.status).toBe(401)
    expect(String(replay.body['detail'])).toMatch(/already used/)
    expect(await lastAudit()).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_CHALLENGE_USED' })
  })

  it('the same challenge twice at once: exactly one token, the other 401 used', async () => {
    const { cookie, nonce } = await auth()
    const both = await Promise.all([attest(cookie, nonce), attest(cookie, nonce)])
    expect(both.map((answer) => answer.status).sort()).toEqual([200, 401])
    expect(both.filter((answer) => 'token' in answer.body)).toHaveLength(1)
    expect(await lastAudit()).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_CHALLENGE_USED' })
  })

  it('a refusal burns the challenge: the right evidence afterwards is refused as used', async () => {
    const { cookie, nonce } = await auth()
    expect((await attest(cookie, randomBytes(32).toString('base64'))).status).toBe(401)
    const retried = await attest(cookie, nonce)
    expect(retried.status).toBe(401)
    expect(retried.body).not.toHaveProperty('token')
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_CHALLENGE_USED' })
  })

  it.each([
    [503, new UnavailableError('ERR_KBS_STORE_UNAVAILABLE', 'the key store is out of reach')],
    [500, new InternalError('ERR_KBS_ENVELOPE_INTEGRITY', 'a signing key does not unwrap')],
  ])(
    'a token that cannot be issued (%i): burnt and audited, the retry refused as used',
    async (status, thrown) => {
      // The fault injected: the real token service, failing once.
      const failing = vi.spyOn(kbs.kbs.services.tokens, 'issue').mockRejectedValueOnce(thrown)
      try {
        const { cookie, nonce } = await auth()
        // The client reports a 5xx as an error that carries the status.
        const failed: unknown = await attest(cookie, nonce).catch((error: unknown) => error)
        expect(failed).toMatchObject({ details: { status } })
        expect(failing).toHaveBeenCalledTimes(1)
        expect(await lastAudit()).toMatchObject({
          outcome: 'denied',
          reason: thrown.code,
          workload: 'app',
          detail: 'no token could be issued',
        })
        const retried = await attest(cookie, nonce)
        expect(retried.status).toBe(401)
        expect(retried.body).not.toHaveProperty('token')
        expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_CHALLENGE_USED' })
      } finally {
        failing.mockRestore()
      }
    },
  )

  it('a challenge that expires while its evidence is appraised: 401 expired, burnt', async () => {
    const { cookie, nonce } = await auth()
    const { appraiser } = kbs.kbs.services
    const appraise = appraiser.appraise.bind(appraiser)
    // Appraisal that takes the rest of the challenge's life (the KBS's clock moves meanwhile).
    const slow = vi.spyOn(appraiser, 'appraise').mockImplementationOnce(async (input) => {
      const outcome = await appraise(input)
      kbs.advance(6 * 60_000)
      return outcome
    })
    try {
      const late = await attest(cookie, nonce)
      expect(late.status).toBe(401)
      expect(late.body).not.toHaveProperty('token')
      expect(await lastAudit()).toMatchObject({
        outcome: 'denied',
        reason: 'ERR_KBS_CHALLENGE_EXPIRED',
        workload: 'app',
      })
    } finally {
      slow.mockRestore()
      kbs.advance(-6 * 60_000)
    }
    expect((await attest(cookie, nonce)).status).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_CHALLENGE_USED' })
  })

  it('a cookie with any field altered (version, id, expiry, TEE, MAC): 401 unknown session', async () => {
    const { cookie, nonce } = await auth()
    const value = cookie.slice('kbs-session-id='.length)
    expect(value).toHaveLength(116)
    // One hex digit in each field: version 0–1, id 2–33, expiry 34–49, TEE 50–51, MAC 52–115.
    for (const at of [1, 2, 33, 40, 49, 51, 52, 115]) {
      const digit = ((parseInt(value[at] ?? '0', 16) + 1) % 16).toString(16)
      const forged = `kbs-session-id=${value.slice(0, at)}${digit}${value.slice(at + 1)}`
      const answer = await attest(forged, nonce)
      expect(answer.status).toBe(401)
      expect(String(answer.body['detail'])).toMatch(/unknown session/)
      const entry = await lastAudit()
      expect(entry).toMatchObject({ reason: 'ERR_KBS_SESSION_UNKNOWN' })
      // No session verified, none named: a forged id must not reach the audit log.
      expect(entry['session']).toBeUndefined()
    }
    // None of that used the challenge.
    expect((await attest(cookie, nonce)).status).toBe(200)
  })

  it('a cookie made under another master key (another KBS): 401 unknown session', async () => {
    const { RcarChallengeCodec } = await import('../storage/rcar-challenge.ts')
    const foreign = new RcarChallengeCodec(new Uint8Array(randomBytes(32))).issue(
      'snp',
      new Date(kbs.now().getTime() + 60_000),
    )
    const answer = await attest(`kbs-session-id=${foreign.cookie}`, foreign.nonce)
    expect(answer.status).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_SESSION_UNKNOWN' })
  })

  it('a made-up nonce: 401', async () => {
    const { cookie } = await auth()
    const made = randomBytes(32).toString('base64')
    expect((await attest(cookie, made)).status).toBe(401)
    // Burnt after the cookie verified: the entry names its session.
    expect(await lastAudit()).toMatchObject({
      outcome: 'denied',
      reason: 'ERR_KBS_NONCE_MISMATCH',
      session: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown,
    })
  })

  it('an expired challenge: 401', async () => {
    const { cookie, nonce } = await auth()
    kbs.advance(6 * 60_000)
    try {
      const late = await attest(cookie, nonce)
      expect(late.status).toBe(401)
      expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_CHALLENGE_EXPIRED' })
    } finally {
      kbs.advance(-6 * 60_000)
    }
  })

  it('evidence bound to another key: 401', async () => {
    const { cookie, nonce } = await auth()
    const other = await attest(cookie, nonce, { otherKey: true })
    expect(other.status).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_REPORT_DATA_MISMATCH' })
  })

  it('tampered evidence: 401', async () => {
    const { cookie, nonce } = await auth()
    const tampered = await attest(cookie, nonce, { tamper: true })
    expect(tampered.status).toBe(401)
    expect(await lastAudit()).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_SNP_REPORT_SIGNATURE',
    })
  })

  it('evidence bound to another nonce: 401', async () => {
    const { cookie, nonce } = await auth()
    const other = await attest(cookie, nonce, { bindNonce: randomBytes(32).toString('base64') })
    expect(other.status).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_REPORT_DATA_MISMATCH' })
  })
})
