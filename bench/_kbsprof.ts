import { readFileSync } from 'node:fs'
const mod = await import('./kbs.bench.ts')
// crude: run the job but sample CPU of children via /proc
const t0 = process.cpuUsage()
const res = await mod.benchmarks[0].job()
const t1 = process.cpuUsage(t0)
console.log(JSON.stringify(res.value), 'client cpu s', (t1.user + t1.system) / 1e6)
