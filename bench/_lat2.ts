import { startTestKbs } from '../packages/kbs/src/service/kbs-test-support.ts'
const kbs = await startTestKbs()
const time = async (label: string, f: () => Promise<unknown>) => {
  const xs: number[] = []
  for (let i = 0; i < 15; i++) { const t = performance.now(); await f(); xs.push(performance.now() - t); await new Promise((r) => setTimeout(r, 60)) }
  xs.sort((a, b) => a - b); console.log(label, 'median ms', xs[7]!.toFixed(2))
}
await time('healthz', () => kbs.http.request({ url: `${kbs.kbs.url}/healthz`, what: 'h' }, (r) => r.text({ maxBytes: 100 })))
await time('auth', () => kbs.http.request({ method: 'POST', url: `${kbs.kbs.url}/kbs/v0/auth`, what: 'a', headers: { 'content-type': 'application/json' }, body: new TextEncoder().encode('{"version":"0.4.0","tee":"snp","extra-params":""}') }, (r) => r.text({ maxBytes: 1000 })))
const { parseInitdata } = await import('@initguard/initdata')
const { simulateSnpEvidence } = await import('@initguard/tee-simulator')
const { generateTeeKeyPair, sealResource } = await import('@initguard/kbs-protocol')
const doc = parseInitdata(new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha384"\n[data]\n'))
await time('simulateSnpEvidence', async () => simulateSnpEvidence(kbs.simulator.material.snp, { initdata: doc, reportData: new Uint8Array(64) }))
await time('teekey', () => generateTeeKeyPair('P-256'))
const k = (await generateTeeKeyPair('P-256')).publicJwk
await time('seal', () => sealResource(k, new Uint8Array(32)))
await kbs.stop()
