import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureGeneratedTlsIdentity } from '@initguard/kbs'
import { parseInitdata } from '@initguard/initdata'
import { initSimulator, type TeeSimulator } from '@initguard/tee-simulator'
import {
  BENCH_RESOURCE,
  DOCUMENT,
  LOAD_CONFIG,
  benchGuests,
  provision,
  startKbsProcess,
  stopKbsProcess,
  writeAdminKey,
  type KbsProcess,
} from './kbs-load.ts'
import { RcarGuest } from './rcar-guest.ts'

// The benchmarks' guests against a real `kbs serve`: they must do a whole handshake the KBS
// accepts, get the secret, and fail loudly on anything else, or the benchmarks measure nothing.
describe('RcarGuest against a real KBS', () => {
  let root = ''
  let simulator: TeeSimulator
  let kbs: KbsProcess | undefined
  let certPem = ''

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'rcar-guest-'))
    simulator = (await initSimulator(join(root, 'sim'))).simulator
    const admin = await writeAdminKey(join(root, 'admin.pub'))
    await writeFile(join(root, 'kbs.toml'), LOAD_CONFIG)
    await writeFile(join(root, 'master.key'), randomBytes(32).toString('hex'), { mode: 0o600 })
    const tls = await ensureGeneratedTlsIdentity(join(root, 'identity'), '127.0.0.1', new Date())
    certPem = tls.certPem
    kbs = await startKbsProcess([
      ...['--admin-public-key', join(root, 'admin.pub'), '--trust-sim', simulator.dir],
      ...['--config', join(root, 'kbs.toml'), '--master-key-file', join(root, 'master.key')],
      ...['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--data-dir', join(root, 'data')],
    ])
    await provision(kbs.url, certPem, admin)
  })

  afterAll(async () => {
    if (kbs !== undefined) await stopKbsProcess(kbs)
    await rm(root, { recursive: true, force: true })
  })

  const url = (): string => {
    if (kbs === undefined) throw new Error('the KBS did not start')
    return kbs.url
  }

  it('does whole handshakes, each with its own nonce, and opens the secret', async () => {
    const [guest] = benchGuests({ urls: [url()], certPem, snp: simulator.material.snp, count: 1 })
    if (guest === undefined) throw new Error('no guest')
    try {
      const first = await guest.handshake()
      const second = await guest.handshake()
      expect(Buffer.from(first.plaintext).toString()).toBe('"a secret"')
      expect(Buffer.from(second.plaintext).toString()).toBe('"a secret"')
      const nonceOf = (challenge: string) => (JSON.parse(challenge) as { nonce: string }).nonce
      expect(nonceOf(first.challenge)).not.toBe(nonceOf(second.challenge))
      expect(first.cookie).toMatch(/^kbs-session-id=/)
      expect(JSON.parse(first.attestRequest)).toMatchObject({
        'init-data': { format: 'toml', body: DOCUMENT },
        'runtime-data': { nonce: nonceOf(first.challenge) },
      })
    } finally {
      guest.close()
    }
  })

  it('fails with the KBS answer when no workload accepts its init-data', async () => {
    const other = DOCUMENT.replace('127.0.0.1', '127.0.0.2')
    const guest = new RcarGuest({
      url: url(),
      certPem,
      snp: simulator.material.snp,
      initData: { text: other, document: parseInitdata(new TextEncoder().encode(other)) },
      resource: BENCH_RESOURCE,
      timeoutMs: 30_000,
    })
    try {
      await expect(guest.handshake()).rejects.toThrow(/^\/kbs\/v0\/attest answered 4[0-9]{2}: /)
    } finally {
      guest.close()
    }
  })

  it('trusts only the KBS certificate it was given', async () => {
    const stranger = await ensureGeneratedTlsIdentity(
      join(root, 'stranger'),
      '127.0.0.1',
      new Date(),
    )
    const [guest] = benchGuests({
      urls: [url()],
      certPem: stranger.certPem,
      snp: simulator.material.snp,
      count: 1,
    })
    if (guest === undefined) throw new Error('no guest')
    try {
      await expect(guest.handshake()).rejects.toThrow(/certificate/i)
    } finally {
      guest.close()
    }
  })
})
