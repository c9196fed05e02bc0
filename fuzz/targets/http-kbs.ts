/**
 * Starting the KBS for the HTTP target: in this process (`startKbs`, plain HTTP on loopback,
 * SQLite in the scratch directory, simulator trust, a rate limit out of the way), with an admin key,
 * a workload for the simulator's launch values and one secret.
 *
 * @module
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveKbsServerConfig, startKbs, type RunningKbs } from '@initguard/kbs'
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
} from '@initguard/tee-simulator'

/** The init-data document the simulated guests launch with and the workload accepts. */
export const HTTP_DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "http://127.0.0.1"\n\'\'\'\n'

export interface FuzzKbs {
  readonly kbs: RunningKbs
  /** A fresh admin token (EdDSA JWT, five minutes). */
  readonly adminToken: () => string
}

function adminTokenOf(key: KeyObject): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const exp = Math.floor(Date.now() / 1000) + 300
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ role: 'admin', aud: ['KBS'], exp })}`
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`
}

/** Start the KBS and provision it; fails loudly if provisioning does not succeed. */
export async function startFuzzKbs(scratch: string, simulatorDir: string): Promise<FuzzKbs> {
  await mkdir(scratch, { recursive: true })
  const admin = generateKeyPairSync('ed25519')
  const adminPub = join(scratch, 'admin.pub')
  await writeFile(adminPub, admin.publicKey.export({ type: 'spki', format: 'pem' }))
  const config = resolveKbsServerConfig(
    {
      dataDir: join(scratch, 'kbs-data'),
      listen: '127.0.0.1:0',
      adminPublicKey: [adminPub],
      trustSim: simulatorDir,
      insecureHttp: true,
    },
    { document: { 'rate-limit': { max: 1_000_000 } }, path: 'fuzz-kbs.toml' },
  )
  const kbs = await startKbs(config, { online: false, logger: { level: 'silent' } })
  const adminToken = (): string => adminTokenOf(admin.privateKey)
  const call = async (method: string, path: string, body: string, type?: string): Promise<void> => {
    const response = await fetch(`${kbs.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken()}`,
        ...(type === undefined ? {} : { 'content-type': type }),
      },
      body,
    })
    if (response.status !== 200)
      throw new Error(
        `provisioning ${path}: HTTP ${String(response.status)} ${await response.text()}`,
      )
  }
  const workload = {
    tees: ['snp', 'tdx'],
    initdata: [HTTP_DOCUMENT],
    resources: ['default/app/*'],
    snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX] },
    tdx: {
      mrtd: [SIMULATOR_TDX_MRTD_HEX],
      rtmr1: [SIMULATOR_TDX_RTMR_HEX],
      rtmr2: [SIMULATOR_TDX_RTMR_HEX],
    },
  }
  await call('PUT', '/kbs/v0/admin/workloads/app', JSON.stringify(workload), 'application/json')
  await call('POST', '/kbs/v0/resource/default/app/key', 'a secret')
  return { kbs, adminToken }
}
