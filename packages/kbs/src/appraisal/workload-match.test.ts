/** The SEV-SNP reference values of a workload against verified evidence of a Turin chip. */
import { describe, expect, it } from 'vitest'
import { hexToBytes } from '@initguard/core'
import { decodeSnpPlatformInfo, decodeSnpPolicy } from '@initguard/snp'
import { SIMULATOR_SNP_MEASUREMENT_HEX } from '@initguard/tee-simulator'
import { compileWorkload } from '../workloads/compiled-workload.ts'
import { webDefinition } from '../workloads/workload-test-support.ts'
import type { VerifiedSnpEvidence } from './verified-evidence.ts'
import { workloadMismatch } from './workload-match.ts'

const BASE = { bootloader: 1, tee: 1, snp: 4, microcode: 81 }

function workloadWith(minimumTcb: Record<string, number>) {
  const definition = webDefinition({
    tees: ['snp'],
    snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], minimumTcb },
  })
  delete definition['tdx']
  return compileWorkload({ name: 'web', version: 1, definition, updatedAt: '2026-01-01T00:00:00Z' })
}

/** Genuine-looking evidence of a Turin guest whose FMC SPL is 0 and every other SPL the base. */
function turinEvidence(workload: ReturnType<typeof workloadWith>): VerifiedSnpEvidence {
  const fitted = workload.initdata[0]?.fitted.snp ?? ''
  return {
    tee: 'snp',
    simulated: false,
    reportData: new Uint8Array(64),
    initDataField: hexToBytes(fitted),
    initDataFieldName: 'HOST_DATA',
    claims: {},
    anchor: { origin: 'pinned', subject: 'CN=ARK-Turin', sha256: '00'.repeat(32) },
    warnings: [],
    measurement: hexToBytes(SIMULATOR_SNP_MEASUREMENT_HEX),
    reportedTcb: { fmc: 0, ...BASE },
    launchTcb: { fmc: 0, ...BASE },
    provisionalFirmware: [],
    firmware: { major: 1, minor: 55, build: 29 },
    guestPolicy: decodeSnpPolicy(0x30000n),
    platformInfo: decodeSnpPlatformInfo(0x65n),
    debug: false,
    migration: false,
    vmpl: 0,
  }
}

describe('a workload minimum TCB and a Turin report', () => {
  it('refuses a Turin report when the minimum gives no fmc (its FMC SPL would be unbounded)', () => {
    const workload = workloadWith(BASE)
    expect(workloadMismatch(workload, turinEvidence(workload), {}, undefined)).toBe(
      'the report is from a Turin, whose TCB has an FMC SPL, and its minimumTcb gives no fmc: add snp.minimumTcb.fmc',
    )
  })

  it('compares fmc when the minimum gives it', () => {
    const low = workloadWith({ ...BASE, fmc: 1 })
    expect(workloadMismatch(low, turinEvidence(low), {}, undefined)).toContain(
      'is below its minimum',
    )
    const met = workloadWith({ ...BASE, fmc: 0 })
    expect(workloadMismatch(met, turinEvidence(met), {}, undefined)).toBeUndefined()
  })
})
