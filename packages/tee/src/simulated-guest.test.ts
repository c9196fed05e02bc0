/**
 * The simulated guest as a GuestTee: its reports carry the launch-time field whatever document the
 * agent holds, the field and REPORT_DATA are read back from the report made, the evidence verifies
 * as a KBS verifies it (the simulator's trust given explicitly), and failures are coded errors.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex, stringToUtf8 } from '@initguard/core'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseTrusteeDcapEvidence, verifyDcapQuote } from '@initguard/tdx'
import {
  initSimulator,
  launchSimulatedGuest,
  loadSimulatedGuest,
  loadSimulator,
  simulateGuestEvidence,
  simulatorTrust,
  type SimulatorTrust,
} from '@initguard/tee-simulator'
import { rejected, thrown } from '@initguard/testkit'
import { openSimulatedGuest, readBack } from './simulated-guest.ts'

let root: string
let simDir: string
let trust: SimulatorTrust

const LAUNCHED = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "launched"\n'
const TAMPERED = LAUNCHED.replace('launched', 'tampered after launch')

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'initguard-tee-sim-'))
  simDir = join(root, 'sim')
  await initSimulator(simDir)
  trust = await simulatorTrust(simDir)
  for (const tee of ['snp', 'tdx'] as const) {
    await launchSimulatedGuest({ simDir, name: tee, tee, initdata: stringToUtf8(LAUNCHED) })
  }
}, 180_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

function fitted(tee: 'snp' | 'tdx', document: string): string {
  const parsed = parseInitdata(stringToUtf8(document))
  return bytesToHex(bindingFor(tee, parsed.algorithm, parsed.digest).value)
}

describe('openSimulatedGuest', () => {
  it.each(['snp', 'tdx'] as const)(
    '%s: a fresh report with the launch-time field, read back from the report, verifying under the simulator trust',
    async (tee) => {
      const guest = await openSimulatedGuest({ simDir, guest: tee })
      expect(guest.tee).toBe(tee)
      expect(guest.simulated).toBe(true)
      expect(guest.description).toContain(`"${tee}"`)
      expect(guest.description).toContain(simDir)
      const reportData = Uint8Array.from({ length: 64 }, (_, i) => i)
      const report = await guest.report(reportData)
      expect(report.tee).toBe(tee)
      expect(bytesToHex(report.initDataField)).toBe(fitted(tee, LAUNCHED))
      expect(bytesToHex(report.initDataField)).not.toBe(fitted(tee, TAMPERED))
      expect(report.reportData).toEqual(reportData)
      const now = new Date()
      const launched = parseInitdata(stringToUtf8(LAUNCHED))
      const policy = { initdata: launched, reportData }
      if (tee === 'snp') {
        const evidence = parseTrusteeSnpEvidence(report.evidence)
        const claims = verifySnpEvidence(evidence, { now, anchors: trust.snpAnchors, policy })
        expect(claims.product).toBe('Milan')
      } else {
        const { quote } = parseTrusteeDcapEvidence(report.evidence)
        const options = { now, root: trust.intelRoot, collateral: trust.collateral, policy }
        expect(verifyDcapQuote(quote, options)).toBeTruthy()
      }
      // Each report is fresh: new report data, new evidence, same launch-time field.
      const again = await guest.report(Uint8Array.of(1, 2, 3))
      expect(again.reportData).toEqual(Uint8Array.from([1, 2, 3, ...new Uint8Array(61)]))
      expect(again.initDataField).toEqual(report.initDataField)
      expect(JSON.stringify(again.evidence)).not.toBe(JSON.stringify(report.evidence))
    },
  )

  it('keeps the field fixed at open even if the guest is launched again meanwhile (a new VM)', async () => {
    await launchSimulatedGuest({
      simDir,
      name: 'relaunched',
      tee: 'snp',
      initdata: stringToUtf8(LAUNCHED),
    })
    const guest = await openSimulatedGuest({ simDir, guest: 'relaunched' })
    await launchSimulatedGuest({
      simDir,
      name: 'relaunched',
      tee: 'snp',
      initdata: stringToUtf8(TAMPERED),
      replace: true,
    })
    expect(bytesToHex((await guest.report(new Uint8Array(64))).initDataField)).toBe(
      fitted('snp', LAUNCHED),
    )
  })

  it('refuses report data above 64 bytes, and an aborted request, with the hardware paths’ codes', async () => {
    const guest = await openSimulatedGuest({ simDir, guest: 'snp' })
    expect((await rejected(guest.report(new Uint8Array(65)))).code).toBe(
      'ERR_TEE_REPORT_DATA_TOO_LONG',
    )
    const cancelled = await rejected(guest.report(new Uint8Array(64), AbortSignal.abort()))
    expect([cancelled.category, cancelled.code]).toEqual(['unavailable', 'ERR_TEE_REPORT_ABORTED'])
  })

  it.each(['snp', 'tdx'] as const)(
    '%s: refuses evidence whose REPORT_DATA is not the one asked for',
    async (tee) => {
      const { material } = await loadSimulator(simDir)
      const record = await loadSimulatedGuest(simDir, tee)
      const asked = new Uint8Array(64).fill(1)
      const made = simulateGuestEvidence(material, record, new Uint8Array(64).fill(2))
      const error = thrown(() => readBack(made, asked, 'a test'))
      expect([error.category, error.code]).toEqual(['verification', 'ERR_TEE_REPORT_DATA_MISMATCH'])
      expect(readBack(made, new Uint8Array(64).fill(2), 'a test').tee).toBe(tee)
    },
  )

  it('names the directory and `sim launch` for a guest never launched', async () => {
    const error = await rejected(openSimulatedGuest({ simDir, guest: 'nobody' }))
    expect(error.code).toBe('ERR_SIM_GUEST_UNKNOWN')
    expect(error.message).toContain(simDir)
    expect(error.hint).toContain('initguard sim launch')
  })

  it('refuses a bad guest name and a missing simulator directory', async () => {
    expect((await rejected(openSimulatedGuest({ simDir, guest: '../sim' }))).code).toBe(
      'ERR_SIM_GUEST_NAME',
    )
    const missing = await rejected(openSimulatedGuest({ simDir: join(root, 'none'), guest: 'snp' }))
    expect(missing.code).toBe('ERR_SIM_DIR_MISSING')
  })
})
