/**
 * Attacks on the secret release path over real HTTPS that the other handshake tests do not make:
 * text that is no text (a lone surrogate escape) in an init-data body or a workload's documents,
 * an init-data document with the accepted one's meaning but other bytes, and a token kept past a
 * delete of its workload, also when the same definition is put again under the same name.
 */
import { describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { initdataToml, simulatorWorkload, uploadResource } from './kbs-test-support.ts'
import { ACCEPTED, handshakeKbsForFile } from './handshake-test-support.ts'
import { ask, attestation, auth } from './rcar-steps-test-support.ts'

const { kbs, lastAudit } = handshakeKbsForFile()

/** The status of `GET /kbs/v0/resource/<path>` with `token`. */
async function withToken(token: string, path: string): Promise<number | undefined> {
  const answer = await ask(kbs().http, `${kbs().kbs.url}/kbs/v0/resource/${path}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  return 'status' in answer ? answer.status : undefined
}

describe('a lone surrogate escape is no text, so it is refused, not read as U+FFFD', () => {
  // U+FFFD is what a lone surrogate became wherever the KBS needed bytes.
  const replaced = initdataToml('launched with U+FFFD: \ufffd')
  const lone = initdataToml('launched with U+FFFD: \ud800')

  it('in the init-data body sent to /attest: 400, audited, and no token', async () => {
    const workload = simulatorWorkload([replaced], { resources: ['fffd/app/*'] })
    expect((await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/fffd', workload)).status).toBe(
      200,
    )
    const session = await auth(kbs().http, kbs().kbs.url)
    if ('released' in session) throw new Error('no challenge')
    // A guest launched with the U+FFFD document, whose body is sent with the surrogate instead.
    const { body } = await attestation(kbs().simulator, replaced, session.nonce)
    const answer = await ask(kbs().http, `${kbs().kbs.url}/kbs/v0/attest`, {
      body: { ...body, 'init-data': { format: 'toml', body: lone } },
      headers: { cookie: `kbs-session-id=${session.cookie}` },
    })
    expect(answer).toMatchObject({ status: 400 })
    expect(JSON.stringify(answer)).not.toMatch(/token/)
    expect(await lastAudit()).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_KBS_JSON_LONE_SURROGATE',
    })
    expect((await kbs().adminCall('DELETE', '/kbs/v0/admin/workloads/fffd')).status).toBe(200)
  })

  it('in a workload definition: 400, and nothing is stored', async () => {
    const workload = simulatorWorkload([lone], { resources: ['fffd/app/*'] })
    const put = await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/lone', workload)
    expect(put.status).toBe(400)
    expect(JSON.stringify(put.json)).toMatch(/surrogate/)
    expect((await kbs().adminCall('GET', '/kbs/v0/admin/workloads/lone')).status).toBe(404)
  })
})

describe('init-data is its exact bytes: the same meaning in other bytes is another document', () => {
  // Each reads as ACCEPTED does (a BOM, one more final newline, the top-level keys swapped).
  const variants = [
    `\ufeff${ACCEPTED}`,
    `${ACCEPTED}\n`,
    ACCEPTED.replace(
      'version = "0.1.0"\nalgorithm = "sha384"',
      'algorithm = "sha384"\nversion = "0.1.0"',
    ),
  ]

  it('sent by a guest launched with the accepted document: 401, the body does not match', async () => {
    for (const variant of variants) {
      const error = await rejected(
        kbs()
          .client()
          .attest({ tee: 'snp', evidence: kbs().guest('snp', ACCEPTED), initData: variant }),
      )
      expect({ variant, code: error.code }).toEqual({ variant, code: 'ERR_KBS_UNAUTHORIZED' })
      expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_INITDATA_MISMATCH' })
    }
  })

  it('launched with: no workload accepts it, whatever body the guest sends', async () => {
    for (const variant of variants) {
      for (const sends of [variant, undefined]) {
        const error = await rejected(
          kbs()
            .client()
            .attest({
              tee: 'tdx',
              evidence: kbs().guest('tdx', variant),
              ...(sends === undefined ? {} : { initData: sends }),
            }),
        )
        expect({ variant, code: error.code }).toEqual({ variant, code: 'ERR_KBS_FORBIDDEN' })
        expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_NO_WORKLOAD' })
      }
    }
  })
})

describe('a token outlives no delete of its workload', () => {
  it('deleted: 401; the same definition put again under the same name: still 401', async () => {
    const document = initdataToml('deleted, then put again')
    const definition = simulatorWorkload([document], { resources: ['again/app/*'] })
    expect((await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/again', definition)).status).toBe(
      200,
    )
    expect(await uploadResource(kbs(), 'again/app/key', 'again')).toBe(200)
    const { token } = await kbs()
      .client()
      .attest({ tee: 'snp', evidence: kbs().guest('snp', document), initData: document })
    expect(await withToken(token, 'again/app/key')).toBe(200)
    expect((await kbs().adminCall('DELETE', '/kbs/v0/admin/workloads/again')).status).toBe(200)
    expect(await withToken(token, 'again/app/key')).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_WORKLOAD_CHANGED' })
    // Put again, word for word: a new version, which appraised no guest yet.
    expect((await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/again', definition)).status).toBe(
      200,
    )
    expect(await withToken(token, 'again/app/key')).toBe(401)
    expect(await lastAudit()).toMatchObject({ reason: 'ERR_KBS_WORKLOAD_CHANGED' })
  })
})
