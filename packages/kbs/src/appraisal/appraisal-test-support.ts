/**
 * Test support for appraisal: a real simulator in a temporary directory, TEE keys, attestations
 * whose REPORT_DATA binds a nonce and key as the RCAR client computes it, and the real vectors.
 */
import { X509Certificate, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringToUtf8 } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import {
  expectedReportData,
  generateEcKeyPair,
  type EcTeePublicJwk,
  type KbsTee,
} from '@initguard/kbs-protocol'
import {
  initSimulator,
  simulateSnpEvidence,
  simulateTdxEvidence,
  type TeeSimulator,
} from '@initguard/tee-simulator'
import { CERT_TABLE_GUIDS, parseSnpReport, snpReportToTrusteeJson } from '@initguard/snp'
import type { AttestationToAppraise } from '../ports.ts'

/** A file of the repository's real vectors (testdata/vectors). */
export const vector = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../../../testdata/vectors/${path}`, import.meta.url)))

/** A real SEV-SNP report of `folder` as Trustee's JSON, its VCEK or VLEK (PEM or DER) in cert_chain. */
export function realSnpTrusteeJson(
  folder: string,
  kind: 'vcek' | 'vlek',
  certificate: string,
): unknown {
  const bytes = vector(`snp/${folder}/${certificate}`)
  const der = certificate.endsWith('.pem') ? new X509Certificate(Buffer.from(bytes)).raw : bytes
  const json = snpReportToTrusteeJson(parseSnpReport(vector(`snp/${folder}/report.bin`)), {
    certificates: [{ kind, guid: CERT_TABLE_GUIDS[kind], data: new Uint8Array(der) }],
  })
  return JSON.parse(JSON.stringify(json)) as unknown
}

/** A simulator made in a fresh temporary directory; `remove()` deletes it. */
export async function temporarySimulator(): Promise<{
  readonly simulator: TeeSimulator
  remove(): Promise<void>
}> {
  const dir = await mkdtemp(join(tmpdir(), 'kbs-appraisal-'))
  const { simulator } = await initSimulator(join(dir, 'sim'))
  return { simulator, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A fresh P-256 TEE public key as the attester sends it. */
export function teePublicKey(): EcTeePublicJwk {
  const { x, y } = generateEcKeyPair('P-256').jwk
  return { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x, y }
}

/** What the simulated guest is launched with and what it sends. */
export interface GuestRun {
  readonly tee: Exclude<KbsTee, 'sgx'>
  /** The document the guest was launched with (into HOST_DATA / MRCONFIGID). */
  readonly launchedWith: string
  /** The init-data body sent; default the launched document; `null` sends none. */
  readonly sends?: string | null
  readonly debug?: boolean
  readonly migratable?: boolean
  /** Bind the evidence to another nonce than the session's. */
  readonly bindOtherNonce?: boolean
}

/** An attestation of a simulated guest, bound to a fresh nonce and key unless told otherwise. */
export function simulatedAttestation(
  simulator: TeeSimulator,
  run: GuestRun,
  now = new Date(),
): AttestationToAppraise {
  const nonce = randomBytes(32).toString('base64')
  const teePubkey = teePublicKey()
  const bound = run.bindOtherNonce === true ? randomBytes(32).toString('base64') : nonce
  const reportData = expectedReportData({ nonce: bound, teePubkey, additionalEvidence: '' })
  const request = {
    initdata: parseInitdata(stringToUtf8(run.launchedWith)),
    reportData,
    ...(run.debug === undefined ? {} : { debug: run.debug }),
    ...(run.migratable === undefined ? {} : { migratable: run.migratable }),
  }
  const primaryEvidence =
    run.tee === 'snp'
      ? simulateSnpEvidence(simulator.material.snp, request)
      : simulateTdxEvidence(simulator.material.tdx, request)
  const sends = run.sends === undefined ? run.launchedWith : run.sends
  return {
    tee: run.tee,
    nonce,
    teePubkey,
    ...(sends === null ? {} : { initData: { format: 'toml', body: sends } }),
    primaryEvidence: JSON.parse(JSON.stringify(primaryEvidence)) as unknown,
    additionalEvidence: '',
    now,
  }
}
