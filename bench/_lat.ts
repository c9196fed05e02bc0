import { startTestKbs, simulatorWorkload, initdataToml } from '../packages/kbs/src/service/kbs-test-support.ts'
const kbs = await startTestKbs()
const doc = initdataToml('x')
await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', simulatorWorkload([doc]))
await kbs.adminCall('POST', '/kbs/v0/resource/default/app/k', 'x')
const client = kbs.client()
const ev = kbs.guest('snp', doc)
for (let i = 0; i < 60; i++) {
  await new Promise((r) => setTimeout(r, 150))
  const t0 = performance.now(); const c0 = process.cpuUsage()
  let te = 0
  await client.attest({ tee: 'snp', evidence: async (rd) => { const a = performance.now(); const r = await ev(rd); te += performance.now() - a; return r }, initData: doc })
  const t1 = performance.now()
  await client.getResource('default/app/k')
  const t2 = performance.now(); const c = process.cpuUsage(c0)
  console.log(`attest ${(t1 - t0).toFixed(1)}ms (evidence ${te.toFixed(1)}) resource ${(t2 - t1).toFixed(1)}ms cpu ${((c.user + c.system) / 1000).toFixed(1)}ms`)
}
await kbs.stop()
