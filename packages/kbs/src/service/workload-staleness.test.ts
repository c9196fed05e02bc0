/**
 * Two KBS instances on one SQLite data directory (issue 13: "a workload changed on one replica is
 * seen by all within a stated bound"). Each keeps the workloads it read for at most its
 * `[workloads] cache-max-age`; its own admin writes are seen by its next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { KbsClient } from '@initguard/kbs-protocol'
import { startKbs, type RunningKbs } from './start-kbs.ts'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'

const LAUNCHED = initdataToml('replicas')
const BOUND_MS = 400
let first: TestKbs
let second: RunningKbs
let secondClient: () => KbsClient

beforeAll(async () => {
  first = await startTestKbs()
  second = await startKbs(
    { ...first.config, listen: { host: '127.0.0.1', port: 0 }, workloadCacheMs: BOUND_MS },
    { online: false, logger: { level: 'silent' } },
  )
  const tls = { pinnedCertificatePem: second.tls?.certPem ?? '' }
  secondClient = () => new KbsClient({ url: second.url, tls })
})

afterAll(async () => {
  await second.close()
  await first.stop()
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('a workload changed through one replica', () => {
  it('is used by the other within its cache-max-age, and by the one that changed it at once', async () => {
    const put = async (accepted: string): Promise<void> => {
      const workload = simulatorWorkload([accepted])
      const { status } = await first.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)
      expect(status).toBe(200)
    }
    await put(LAUNCHED)
    expect(await uploadResource(first, 'default/app/key', 'replicated')).toBe(200)
    const attest = (client: KbsClient) =>
      client.attest({ tee: 'snp', evidence: first.guest('snp', LAUNCHED), initData: LAUNCHED })
    // Both replicas read version 1 and hand out the secret under it.
    const onSecond = secondClient()
    await attest(onSecond)
    expect(new TextDecoder().decode(await onSecond.getResource('default/app/key'))).toBe(
      'replicated',
    )
    await attest(first.client())

    // Version 2 no longer accepts the document the guest was launched with.
    await put(initdataToml('replicas, version 2'))
    const changedAt = performance.now()
    // The replica that wrote it refuses at once.
    expect((await rejected(attest(first.client()))).code).toBe('ERR_KBS_FORBIDDEN')
    // The other one: every handshake that starts more than the bound after the change.
    await sleep(Math.max(0, BOUND_MS + 1 - (performance.now() - changedAt)))
    expect((await rejected(attest(secondClient()))).code).toBe('ERR_KBS_FORBIDDEN')
    // And the token it issued under version 1 no longer releases anything there.
    const stale = await rejected(
      onSecond.getResource('default/app/key', { retryUnauthorized: false }),
    )
    expect(stale.code).toBe('ERR_KBS_UNAUTHORIZED')
  })
})
