/**
 * The KBS's bound on AMD KDS downloads, end to end. Evidence without certificates makes the KBS
 * fetch the VCEK its report names (chip ID, reported TCB) before anything is verified, so anyone
 * who reaches `/attest` chooses the download. While every download slot is taken and the queue is
 * full, `/attest` for another chip is refused at once (503 `ERR_KDS_BUSY`, audited as a denial)
 * instead of queueing without bound; a chip KDS does not know is asked for once, then answered
 * from memory. The bound is the least the configuration accepts (1 at once + 3 waiting: a cold
 * TDX/SGX quote needs 4 PCS downloads).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringToUtf8 } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import { simulateSnpEvidence } from '@initguard/tee-simulator'
import { rejected, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { initdataToml, simulatorWorkload, startTestKbs, type TestKbs } from './kbs-test-support.ts'

const ACCEPTED = initdataToml('kds downloads')

let kds: LoopbackServer
let kbs: TestKbs
/** The paths KDS was asked for, in order. */
const asked: string[] = []
/** KDS's answers (all HTTP 404: no such chip), held until the test lets them go. */
const held: (() => void)[] = []
/** Whether KDS holds its answers now (else it answers at once). */
let holding = true

beforeAll(async () => {
  kds = await startLoopbackServer((req, res) => {
    asked.push(req.url ?? '')
    const answer = (): void => void res.writeHead(404).end()
    if (holding) held.push(answer)
    else answer()
  })
  kbs = await startTestKbs({
    kdsBaseUrl: kds.baseUrl,
    config: { 'collateral-downloads': { 'max-concurrent': 1, 'max-queued': 3 } },
  })
  const workload = simulatorWorkload([ACCEPTED])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
}, 60_000)

afterAll(async () => {
  holding = false
  for (const release of held.splice(0)) release()
  await kbs.stop()
  await kds.close()
})

/** `/attest` with a report of chip `chipByte` (all 64 bytes) and no certificates at all. */
function attest(chipByte: number): Promise<unknown> {
  const snp = { ...kbs.simulator.material.snp, chipId: new Uint8Array(64).fill(chipByte) }
  const evidence = (reportData: Uint8Array): Promise<unknown> => {
    const initdata = parseInitdata(stringToUtf8(ACCEPTED))
    const json = simulateSnpEvidence(snp, { initdata, reportData })
    return Promise.resolve(JSON.parse(JSON.stringify({ ...json, cert_chain: null })))
  }
  return kbs.client().attest({ tee: 'snp', evidence, initData: ACCEPTED })
}

async function kdsAsked(count: number): Promise<void> {
  while (asked.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
}

async function newestAudit(): Promise<Record<string, unknown>> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  return (json as { entries: Record<string, unknown>[] }).entries.at(-1) ?? {}
}

describe('/attest and the KDS download bound (1 at once, 3 waiting)', () => {
  /** The chip refused busy by the first test, which KDS was never asked for. */
  let refusedChip = 0

  it('refuses one of four more chips at once with 503 ERR_KDS_BUSY while one downloads and three wait, audited', async () => {
    const first = rejected(attest(1))
    await kdsAsked(1)
    // Which of the four reaches the full queue last is up to the network; exactly one does.
    const others = [2, 3, 4, 5].map((chip) =>
      rejected(attest(chip)).then((error) => ({ chip, error })),
    )
    const busy = await Promise.race(others)
    refusedChip = busy.chip
    // Refused, not waiting: the first download still holds its answer, the others their places.
    expect([busy.error.code, busy.error.details['status']]).toEqual(['ERR_KBS_STATUS', 503])
    expect(await newestAudit()).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      tee: 'snp',
      reason: 'ERR_KDS_BUSY',
    })
    expect(asked).toHaveLength(1)
    holding = false
    for (const release of held.splice(0)) release()
    for (const { error } of await Promise.all(others)) expect(error.details['status']).toBe(503)
    expect((await first).details['status']).toBe(503)
    // The three waiters were served in turn; the refused chip never reached KDS.
    expect(asked).toHaveLength(4)
    expect(new Set(asked).size).toBe(4)
    expect(await newestAudit()).toMatchObject({ outcome: 'denied', reason: 'ERR_KDS_NOT_FOUND' })
  })

  it('frees the slots for the next chip, and answers a chip KDS did not know from memory', async () => {
    holding = true
    const before = asked.length
    const refusedBefore = rejected(attest(refusedChip))
    await kdsAsked(before + 1)
    for (const release of held.splice(0)) release()
    expect((await refusedBefore).details['status']).toBe(503)
    const again = await rejected(attest(1))
    expect(again.details['status']).toBe(503)
    expect(await newestAudit()).toMatchObject({ outcome: 'denied', reason: 'ERR_KDS_NOT_FOUND' })
    expect(asked).toHaveLength(before + 1)
  })
})
