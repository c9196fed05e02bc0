/**
 * A workload's `snp.minimumLaunchTcb`, `snp.refuseProvisionalFirmware`, `snp.minimumFirmware`,
 * `snp.guestPolicy` and `snp.platformInfo`:
 * the facts the KBS maps from the real Milan reports (one committed, one running microcode above
 * its committed TCB; firmware 1.52.4 and 1.55.29), and the reasons a workload gives for refusing
 * them.
 */
import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '@initguard/core'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { compileWorkload } from '../workloads/compiled-workload.ts'
import { webDefinition } from '../workloads/workload-test-support.ts'
import { realSnpTrusteeJson } from './appraisal-test-support.ts'
import { snpEvidenceFacts } from './snp-evidence.ts'
import type { VerifiedSnpEvidence } from './verified-evidence.ts'
import { workloadMismatch } from './workload-match.ts'

/**
 * The KBS's facts of a real report verified to the pinned ARK at `now`. Through the SNP verifier
 * itself: the KBS verifier also needs AMD's CRL, and no AMD-signed CRL of the vectors' time is at
 * hand (see evidence-verifier.test.ts).
 */
function facts(json: unknown, now: Date): Promise<VerifiedSnpEvidence> {
  const evidence = parseTrusteeSnpEvidence(json)
  return Promise.resolve(snpEvidenceFacts(evidence, verifySnpEvidence(evidence, { now }), false))
}
const hostdata = (): Promise<VerifiedSnpEvidence> =>
  facts(
    realSnpTrusteeJson('milan-v3-hostdata', 'vcek', 'vcek.pem'),
    new Date('2026-06-01T00:00:00Z'),
  )
const vlek = (): Promise<VerifiedSnpEvidence> =>
  facts(realSnpTrusteeJson('milan-v3-vlek', 'vlek', 'vlek.der'), new Date('2025-06-01T00:00:00Z'))
const milanV2b = (): Promise<VerifiedSnpEvidence> =>
  facts(realSnpTrusteeJson('milan-v2-b', 'vcek', 'vcek.der'), new Date('2023-06-01T00:00:00Z'))

/** A workload for exactly this evidence (its measurement and VMPL), with `snp` options added. */
function workloadFor(e: VerifiedSnpEvidence, snp: Record<string, unknown>) {
  const definition = webDefinition({
    tees: ['snp'],
    snp: { measurements: [bytesToHex(e.measurement)], vmpl: e.vmpl, ...snp },
  })
  delete definition['tdx']
  const workload = compileWorkload({
    name: 'web',
    version: 1,
    definition,
    updatedAt: '2026-01-01T00:00:00Z',
  })
  // The real report binds another document: give it the fitted value of the workload's own.
  const bound = { ...e, initDataField: hexToBytes(workload.initdata[0]?.fitted.snp ?? '') }
  return (): string | undefined => workloadMismatch(workload, bound, {}, undefined)
}

const MILAN = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }

describe('the facts the KBS verifier establishes', () => {
  it('LAUNCH_TCB and how the running firmware differs from the committed one', async () => {
    const committed = await hostdata()
    expect(committed.launchTcb).toMatchObject(MILAN)
    expect(committed.provisionalFirmware).toEqual([])
    const provisional = await vlek()
    expect(provisional.launchTcb).toMatchObject(MILAN)
    expect(provisional.provisionalFirmware).toEqual(['microcode 220 (COMMITTED_TCB 219)'])
  })
})

describe('snp.refuseProvisionalFirmware', () => {
  it('is off by default: the real report running uncommitted microcode matches', async () => {
    expect(workloadFor(await vlek(), {})()).toBeUndefined()
  })

  it('when true, refuses that report and accepts the committed one', async () => {
    expect(workloadFor(await vlek(), { refuseProvisionalFirmware: true })()).toBe(
      'the host runs provisional firmware, not the committed one (microcode 220 (COMMITTED_TCB 219)), and the workload refuses it (snp.refuseProvisionalFirmware)',
    )
    expect(workloadFor(await hostdata(), { refuseProvisionalFirmware: true })()).toBeUndefined()
  })
})

describe('snp.minimumLaunchTcb', () => {
  it('bounds LAUNCH_TCB, naming the component that is too low', async () => {
    const e = await hostdata()
    expect(workloadFor(e, { minimumLaunchTcb: MILAN })()).toBeUndefined()
    expect(workloadFor(e, { minimumLaunchTcb: { ...MILAN, snp: 25 } })()).toBe(
      'LAUNCH_TCB (bootloader 4, tee 0, snp 24, microcode 219) is below its minimum launch TCB (bootloader 4, tee 0, snp 25, microcode 219): snp too low',
    )
  })

  it('refuses a guest launched on older firmware whose REPORTED_TCB meets minimumTcb', async () => {
    const launchedOld = { ...(await hostdata()), launchTcb: { ...MILAN, snp: 23 } }
    const check = (snp: Record<string, unknown>): string | undefined =>
      workloadFor(launchedOld, snp)()
    expect(check({ minimumTcb: MILAN })).toBeUndefined()
    expect(check({ minimumTcb: MILAN, minimumLaunchTcb: MILAN })).toContain(
      'LAUNCH_TCB (bootloader 4, tee 0, snp 23, microcode 219) is below its minimum launch TCB',
    )
  })

  it('on a Turin report needs fmc; on a Milan one refuses it', async () => {
    const milan = await hostdata()
    expect(workloadFor(milan, { minimumLaunchTcb: { ...MILAN, fmc: 0 } })()).toBe(
      'its minimumLaunchTcb gives fmc, and the report is from a Milan or Genoa, whose TCB has no FMC SPL: drop snp.minimumLaunchTcb.fmc',
    )
    const turinTcb = { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }
    const turin = { ...milan, reportedTcb: turinTcb, launchTcb: { ...turinTcb, fmc: 0 } }
    const { fmc: _fmc, ...withoutFmc } = turinTcb
    expect(workloadFor(turin, { minimumLaunchTcb: withoutFmc })()).toBe(
      'the report is from a Turin, whose TCB has an FMC SPL, and its minimumLaunchTcb gives no fmc: add snp.minimumLaunchTcb.fmc',
    )
    expect(workloadFor(turin, { minimumLaunchTcb: turinTcb })()).toMatch(/: fmc too low$/)
    expect(workloadFor(turin, { minimumLaunchTcb: { ...turinTcb, fmc: 0 } })()).toBeUndefined()
  })
})

describe('snp.minimumFirmware', () => {
  it('the KBS facts carry the running firmware version of the report', async () => {
    expect((await hostdata()).firmware).toEqual({ major: 1, minor: 55, build: 29 })
    expect((await vlek()).firmware).toEqual({ major: 1, minor: 55, build: 29 })
    expect((await milanV2b()).firmware).toEqual({ major: 1, minor: 52, build: 4 })
  })

  it('is not applied by default: the real reports keep matching', async () => {
    expect(workloadFor(await hostdata(), {})()).toBeUndefined()
    expect(workloadFor(await milanV2b(), {})()).toBeUndefined()
  })

  it('bounds the running firmware, naming both versions', async () => {
    const e = await hostdata()
    expect(
      workloadFor(e, { minimumFirmware: { major: 1, minor: 55, build: 29 } })(),
    ).toBeUndefined()
    expect(workloadFor(e, { minimumFirmware: { major: 1, minor: 55, build: 30 } })()).toBe(
      'the host runs SEV firmware 1.55.29, below its minimum 1.55.30 (snp.minimumFirmware; ordered major, then minor, then build)',
    )
    expect(workloadFor(e, { minimumFirmware: { major: 1, minor: 56, build: 0 } })()).toContain(
      'below its minimum 1.56.0',
    )
  })

  it('orders major, then minor, then build: the real 1.52.4 report meets 1.49.5', async () => {
    const e = await milanV2b()
    expect(workloadFor(e, { minimumFirmware: { major: 1, minor: 49, build: 5 } })()).toBeUndefined()
    expect(workloadFor(e, { minimumFirmware: { major: 1, minor: 52, build: 5 } })()).toContain(
      'the host runs SEV firmware 1.52.4, below its minimum 1.52.5',
    )
  })
})

describe('snp.guestPolicy and snp.platformInfo', () => {
  it('the KBS facts carry the decoded POLICY and PLATFORM_INFO of the report', async () => {
    const e = await hostdata()
    expect(e.guestPolicy).toMatchObject({ raw: 0x3001fn, smt: true, singleSocket: false })
    expect(e.platformInfo).toMatchObject({ raw: 0x25n, smtEnabled: true, eccEnabled: true })
  })

  it('refuses the real report, whose policy allows SMT, under {smt: false}, naming the bit', async () => {
    const e = await hostdata()
    expect(workloadFor(e, { guestPolicy: { smt: true, cxlAllow: false } })()).toBeUndefined()
    expect(workloadFor(e, { guestPolicy: { smt: false } })()).toBe(
      'the guest policy (POLICY 0x3001f) does not meet snp.guestPolicy: SMT (bit 16) is set, required clear',
    )
    expect(workloadFor(e, { guestPolicy: { pageSwapDisable: true } })()).toContain(
      'PAGE_SWAP_DISABLE (bit 25) is clear, required set',
    )
  })

  it("bounds the host's platform: the VLEK host runs TSME, the other does not", async () => {
    const rule = { platformInfo: { tsmeEnabled: true, aliasCheckComplete: true } }
    expect(workloadFor(await vlek(), rule)()).toBeUndefined()
    expect(workloadFor(await hostdata(), rule)()).toBe(
      "the host's platform (PLATFORM_INFO 0x25) does not meet snp.platformInfo: TSME_EN (bit 1) is clear, required set",
    )
  })
})
