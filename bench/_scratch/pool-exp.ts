import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureGeneratedTlsIdentity } from '@initguard/kbs'
import { KbsClient } from '@initguard/kbs-protocol'
import { initSimulator } from '@initguard/tee-simulator'
import { LOAD_CONFIG, closedLoop, cpuSecondsOf, provision, startKbsProcess, stopKbsProcess, writeAdminKey, type KbsProcess } from '../kbs-load.ts'
import { BenchStores } from '../kbs-replica-stores.ts'

const POOLS = (process.env['POOLS'] ?? '10,2').split(',').map(Number)
const N = Number(process.env['REPLICAS'] ?? 2)
const root = await mkdtemp(join(tmpdir(), 'pool-exp-'))
const stores = new BenchStores(); const started: KbsProcess[] = []
try {
  const { simulator } = await initSimulator(join(root, 'sim'))
  const admin = await writeAdminKey(join(root, 'admin.pub'))
  await writeFile(join(root, 'master.key'), randomBytes(32).toString('hex'), { mode: 0o600 })
  const tls = await ensureGeneratedTlsIdentity(join(root, 'identity'), '127.0.0.1', new Date())
  const setups = []
  for (const [i, pool] of POOLS.entries()) {
    await writeFile(join(root, `kbs-${i}.toml`), `${LOAD_CONFIG}\n[postgres]\npool-size = ${pool}\n`)
    const args = ['--admin-public-key', join(root, 'admin.pub'), '--trust-sim', simulator.dir, '--config', join(root, `kbs-${i}.toml`), '--master-key-file', join(root, 'master.key'), '--tls-cert', tls.certFile, '--tls-key', tls.keyFile]
    const store = await stores.forSetup('postgres', join(root, `s${i}`))
    const reps: KbsProcess[] = []
    for (let r = 0; r < N; r++) { const k = await startKbsProcess([...args, ...store.argsFor(r)]); started.push(k); reps.push(k) }
    await provision(reps[0]!.url, tls.certPem, admin)
    const clients = Array.from({ length: 8 }, (_, c) => new KbsClient({ url: reps[c % reps.length]!.url, tls: { pinnedCertificatePem: tls.certPem } }))
    let served = 0
    while (served < 3000 * N) { const s = performance.now(); const rate = await closedLoop(clients, simulator, 1); served += rate * (performance.now() - s) / 1000 }
    setups.push({ pool, reps, clients, store, hs: 0, secs: 0, kbs: 0, pg: 0 })
  }
  const kbsCpu = async (reps: KbsProcess[]) => { let t = 0; for (const k of reps) t += await cpuSecondsOf(k.child.pid ?? 0); return t }
  for (let round = 0; round < Number(process.env['ROUNDS'] ?? 8); round++) {
    const order = round % 2 === 0 ? setups : [...setups].reverse()
    for (const s of order) {
      const k0 = await kbsCpu(s.reps); const p0 = await s.store.cpuSeconds(); const t0 = performance.now()
      const rate = await closedLoop(s.clients, simulator, 3)
      const secs = (performance.now() - t0) / 1000
      s.hs += rate * secs; s.secs += secs; s.kbs += (await kbsCpu(s.reps)) - k0; s.pg += (await s.store.cpuSeconds()) - p0
    }
  }
  for (const s of setups) console.log(`pool ${s.pool}: ${(s.hs / s.secs).toFixed(0)}/s, KBS ${(s.kbs * 1000 / s.hs).toFixed(2)} ms/hs, PG ${(s.pg * 1000 / s.hs).toFixed(2)} ms/hs`)
} finally {
  for (const k of started) await stopKbsProcess(k)
  await stores.stop(); await rm(root, { recursive: true, force: true })
}
