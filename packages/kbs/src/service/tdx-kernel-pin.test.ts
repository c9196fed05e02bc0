/**
 * End to end over real HTTPS: a TDX workload pins the kernel (RTMR1) and its command line and
 * initrd (RTMR2), or says it accepts any kernel. The admin API refuses a definition that does
 * neither; a TD whose RTMR1 is not the pinned one gets no secret; and a definition stored before
 * the rule (by the store, as the old admin route did) releases nothing until it is put again.
 */
import { describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { SIMULATOR_TDX_MRTD_HEX, SIMULATOR_TDX_RTMR_HEX } from '@initguard/tee-simulator'
import { loadMasterKey } from '../storage/master-key.ts'
import { openTestStore } from '../storage/store-test-support.ts'
import { initdataToml, simulatorWorkload, uploadResource } from './kbs-test-support.ts'
import { handshakeKbsForFile } from './handshake-test-support.ts'

// Every request reads the store: a row written behind this KBS is seen by the next one.
const { kbs, lastAudit } = handshakeKbsForFile({
  config: { workloads: { 'cache-max-age': '0s' } },
})

const OTHER_KERNEL = 'ab'.repeat(48)

/** A TDX-only workload `name` for its own init-data, with this `tdx` block. */
async function putTdx(name: string, tdx: Record<string, unknown>) {
  const document = initdataToml(`tdx workload ${name}`)
  const workload = simulatorWorkload([document], {
    tees: ['tdx'],
    snp: undefined,
    tdx,
    resources: [`${name}/app/*`],
  })
  const put = await kbs().adminCall('PUT', `/kbs/v0/admin/workloads/${name}`, workload)
  return {
    document,
    workload: JSON.parse(JSON.stringify(workload)) as Record<string, unknown>,
    put,
  }
}

/** A simulated TD launched with `document` attests and asks for `path`; the secret's text. */
async function secretFor(document: string, path: string): Promise<string> {
  const client = kbs().client()
  await client.attest({ tee: 'tdx', evidence: kbs().guest('tdx', document), initData: document })
  return new TextDecoder().decode(await client.getResource(path))
}

describe('a TDX workload must pin the kernel', () => {
  it('the admin API refuses a definition without RTMR1 and RTMR2, and stores nothing', async () => {
    const { put } = await putTdx('unpinned', { mrtd: [SIMULATOR_TDX_MRTD_HEX] })
    expect(put.status).toBe(400)
    expect((put.json as { detail: string }).detail).toMatch(
      /workload unpinned: workload definition: \$\.tdx pins no kernel .*"anyKernel": true/,
    )
    expect((await kbs().adminCall('GET', '/kbs/v0/admin/workloads/unpinned')).status).toBe(404)
  })

  it('a TD whose RTMR1 is not the pinned one gets no secret; with its own pinned, it does', async () => {
    const pins = { rtmr2: [SIMULATOR_TDX_RTMR_HEX] }
    const { document, put } = await putTdx('kernel', {
      mrtd: [SIMULATOR_TDX_MRTD_HEX],
      rtmr1: [OTHER_KERNEL],
      ...pins,
    })
    expect(put.status).toBe(200)
    expect(await uploadResource(kbs(), 'kernel/app/key', 'kernel secret')).toBe(200)
    const error = await rejected(secretFor(document, 'kernel/app/key'))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    const entry = await lastAudit()
    expect(entry).toMatchObject({
      action: 'attest',
      outcome: 'denied',
      reason: 'ERR_KBS_NO_WORKLOAD',
    })
    expect(entry['detail']).toContain(
      `workload 'kernel': RTMR1 ${SIMULATOR_TDX_RTMR_HEX.slice(0, 16)}… is not one of its 1 RTMR1`,
    )
    const again = await putTdx('kernel', {
      mrtd: [SIMULATOR_TDX_MRTD_HEX],
      rtmr1: [SIMULATOR_TDX_RTMR_HEX],
      ...pins,
    })
    expect(again.put.status).toBe(200)
    expect(await secretFor(document, 'kernel/app/key')).toBe('kernel secret')
  })

  it('a definition stored before the rule releases nothing until put again with the pins or anyKernel', async () => {
    // What the old admin route stored: the store authenticates the row, it does not judge it.
    const { dataDir } = kbs().config
    const store = await openTestStore({
      dataDir,
      masterKey: (await loadMasterKey({ dataDir })).key,
    })
    const document = initdataToml('tdx workload legacy')
    const legacy = simulatorWorkload([document], {
      name: 'legacy',
      tees: ['tdx'],
      snp: undefined,
      tdx: { mrtd: [SIMULATOR_TDX_MRTD_HEX], acceptedTcbStatuses: ['UpToDate'] },
      resources: ['legacy/app/*'],
    })
    const old = JSON.parse(JSON.stringify(legacy)) as Record<string, unknown>
    await store.workloads.put('legacy', old, new Date())
    expect(await uploadResource(kbs(), 'legacy/app/key', 'legacy secret')).toBe(200)
    const error = await rejected(secretFor(document, 'legacy/app/key'))
    expect(error.code).toBe('ERR_KBS_FORBIDDEN')
    const entry = await lastAudit()
    expect(entry).toMatchObject({ outcome: 'denied', reason: 'ERR_KBS_NO_WORKLOAD' })
    expect(entry['detail']).toMatch(
      /workload 'legacy': its stored definition is invalid \(workload definition: \$\.tdx pins no kernel .*--tdx-rtmr 1=HEX --tdx-rtmr 2=HEX.*put it again/,
    )
    // Put back as it was, it is refused; with the opt-out said, it is used.
    const asWas = await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/legacy', old)
    expect(asWas.status).toBe(400)
    const tdx = { ...(old['tdx'] as Record<string, unknown>), anyKernel: true }
    const optedOut = await kbs().adminCall('PUT', '/kbs/v0/admin/workloads/legacy', { ...old, tdx })
    expect(optedOut.status).toBe(200)
    expect(await secretFor(document, 'legacy/app/key')).toBe('legacy secret')
  })
})
