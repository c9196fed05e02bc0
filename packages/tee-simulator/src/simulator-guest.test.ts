/**
 * Simulated guests: the init-time field is fixed at launch and every later report carries it,
 * whatever document comes later; the evidence verifies under the simulator's trust; launches and
 * loads refuse bad names, existing guests, missing simulators, malformed documents and records
 * that were changed, leaving nothing half-written.
 */
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex, stringToUtf8 } from '@initguard/core'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseTrusteeDcapEvidence, verifyDcapQuote } from '@initguard/tdx'
import { rejected, rejectedCode, thrown } from '@initguard/testkit'
import { padReportData } from './report-data.ts'
import {
  launchSimulatedGuest,
  loadSimulatedGuest,
  simulateGuestEvidence,
} from './simulator-guest.ts'
import { initSimulator } from './simulator-init.ts'
import { simulatorTrust, type TeeSimulator } from './simulator-load.ts'
import type { SimulatorTrust } from './simulator-trust.ts'

let root: string
let simDir: string
let simulator: TeeSimulator
let trust: SimulatorTrust

const LAUNCH_DOC = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"note" = "launched"\n'
const LATER_DOC = LAUNCH_DOC.replace('launched', 'given later')
const REPORT_DATA = Uint8Array.from({ length: 64 }, (_, i) => 255 - i)
const NOW = new Date('2026-05-01T12:00:00.123Z')

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'initguard-sim-guest-'))
  simDir = join(root, 'sim')
  simulator = (await initSimulator(simDir)).simulator
  trust = await simulatorTrust(simDir)
}, 180_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

const launch = (
  name: string,
  tee: 'snp' | 'tdx',
  document = LAUNCH_DOC,
  extra: { replace?: boolean; debug?: boolean; migratable?: boolean; simDir?: string } = {},
): ReturnType<typeof launchSimulatedGuest> =>
  launchSimulatedGuest({ simDir, name, tee, initdata: stringToUtf8(document), now: NOW, ...extra })

const fieldOf = (tee: 'snp' | 'tdx', document: string): string => {
  const parsed = parseInitdata(stringToUtf8(document))
  return bytesToHex(bindingFor(tee, parsed.algorithm, parsed.digest).value)
}

const guestsDir = (): string => join(simDir, 'guests')
const recordPath = (name: string): string => join(guestsDir(), `${name}.json`)

describe('launchSimulatedGuest', () => {
  it('records the fitted digest, the document digest, the flags and the time, 0600 in a 0700 folder', async () => {
    const launched = await launch('rec', 'snp', LAUNCH_DOC, { migratable: true })
    const parsed = parseInitdata(stringToUtf8(LAUNCH_DOC))
    expect(launched.record).toEqual({
      format: 'initguard-simulated-guest',
      version: 1,
      name: 'rec',
      tee: 'snp',
      launched: '2026-05-01T12:00:00Z',
      init_data_field: fieldOf('snp', LAUNCH_DOC),
      algorithm: 'sha384',
      initdata_digest: bytesToHex(parsed.digest),
      debug: false,
      migratable: true,
    })
    expect(launched.replaced).toBe(false)
    expect(launched.warnings.join()).toMatch(/truncated to the first 32 bytes/)
    expect(statSync(launched.path).mode & 0o777).toBe(0o600)
    expect(statSync(guestsDir()).mode & 0o777).toBe(0o700)
    expect(await loadSimulatedGuest(simDir, 'rec')).toEqual(launched.record)
  })

  it.each(['snp', 'tdx'] as const)(
    '%s: evidence carries the launch value whatever document comes later, and verifies under the simulator trust only',
    async (tee) => {
      await launch(`fixed-${tee}`, tee)
      const record = await loadSimulatedGuest(simDir, `fixed-${tee}`)
      const made = simulateGuestEvidence(simulator.material, record, REPORT_DATA)
      expect(made.tee).toBe(tee)
      const wire: unknown = JSON.parse(JSON.stringify(made.evidence))
      const later = parseInitdata(stringToUtf8(LATER_DOC))
      const launched = parseInitdata(stringToUtf8(LAUNCH_DOC))
      const now = new Date()
      if (tee === 'snp') {
        const evidence = parseTrusteeSnpEvidence(wire)
        expect(bytesToHex(evidence.report.hostData)).toBe(fieldOf('snp', LAUNCH_DOC))
        expect(bytesToHex(evidence.report.hostData)).not.toBe(fieldOf('snp', LATER_DOC))
        const policy = { initdata: launched, reportData: REPORT_DATA }
        expect(verifySnpEvidence(evidence, { now, anchors: trust.snpAnchors, policy })).toBeTruthy()
        expect(
          thrown(() =>
            verifySnpEvidence(evidence, {
              now,
              anchors: trust.snpAnchors,
              policy: { initdata: later },
            }),
          ).category,
        ).toBe('expectation')
        expect(thrown(() => verifySnpEvidence(evidence, { now })).code).toBe(
          'ERR_SNP_CHAIN_ROOT_UNTRUSTED',
        )
      } else {
        const { quote } = parseTrusteeDcapEvidence(wire)
        if (quote.body.kind === 'sgx') throw new Error('expected a TD quote')
        expect(bytesToHex(quote.body.mrConfigId)).toBe(fieldOf('tdx', LAUNCH_DOC))
        const options = { now, root: trust.intelRoot, collateral: trust.collateral }
        const policy = { initdata: launched, reportData: REPORT_DATA }
        expect(verifyDcapQuote(quote, { ...options, policy })).toBeTruthy()
        expect(
          thrown(() => verifyDcapQuote(quote, { ...options, policy: { initdata: later } }))
            .category,
        ).toBe('expectation')
      }
    },
  )

  it('carries the launch flags into the evidence (a debug guest is refused unless debug is allowed)', async () => {
    await launch('dbg', 'snp', LAUNCH_DOC, { debug: true })
    const record = await loadSimulatedGuest(simDir, 'dbg')
    const made = simulateGuestEvidence(simulator.material, record, REPORT_DATA)
    const evidence = parseTrusteeSnpEvidence(JSON.parse(JSON.stringify(made.evidence)))
    const options = { now: new Date(), anchors: trust.snpAnchors }
    expect(thrown(() => verifySnpEvidence(evidence, options)).category).toBe('expectation')
    expect(verifySnpEvidence(evidence, { ...options, policy: { allowDebug: true } })).toBeTruthy()
  })

  it('refuses report data above 64 bytes and pads shorter data', async () => {
    const record = await loadSimulatedGuest(simDir, 'fixed-snp')
    expect(
      thrown(() => simulateGuestEvidence(simulator.material, record, new Uint8Array(65))).code,
    ).toBe('ERR_SIM_REPORT_DATA_TOO_LONG')
    const made = simulateGuestEvidence(simulator.material, record, Uint8Array.of(7))
    const { report } = parseTrusteeSnpEvidence(JSON.parse(JSON.stringify(made.evidence)))
    expect(report.reportData).toEqual(padReportData(Uint8Array.of(7)))
  })

  it('refuses an existing name without replace, leaving the record as it was; replaces with it', async () => {
    const first = await launch('dup', 'snp')
    const before = readFileSync(first.path, 'utf8')
    const again = await rejected(launch('dup', 'tdx', LATER_DOC))
    expect([again.category, again.code]).toEqual(['usage', 'ERR_SIM_GUEST_EXISTS'])
    expect(readFileSync(first.path, 'utf8')).toBe(before)
    const replaced = await launch('dup', 'tdx', LATER_DOC, { replace: true })
    expect(replaced.replaced).toBe(true)
    expect((await loadSimulatedGuest(simDir, 'dup')).init_data_field).toBe(
      fieldOf('tdx', LATER_DOC),
    )
    expect(
      readdirSync(guestsDir()).filter((f) => f.startsWith('.') || f.includes('launch-')),
    ).toEqual([])
  })

  it('lets only one of two racing launches of a name succeed', async () => {
    const results = await Promise.allSettled([launch('race', 'snp'), launch('race', 'tdx')])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(readdirSync(guestsDir()).filter((f) => f.includes('race'))).toEqual(['race.json'])
  })

  it.each(['', 'Web', '-web', '.web', 'a/b', '../sim', 'web\0', 'a'.repeat(64), 'wéb'])(
    'refuses the guest name %j (usage), writing nothing',
    async (name) => {
      const error = await rejected(launch(name, 'snp'))
      expect([error.category, error.code]).toEqual(['usage', 'ERR_SIM_GUEST_NAME'])
      expect(await rejectedCode(loadSimulatedGuest(simDir, name))).toBe('ERR_SIM_GUEST_NAME')
    },
  )

  it('accepts the longest and the odd-but-valid names', async () => {
    for (const name of ['a'.repeat(63), '0', 'a.b_c-d']) {
      expect((await launch(name, 'tdx')).record.name).toBe(name)
    }
  })

  it('refuses a malformed document with the initdata codes, before writing', async () => {
    const bad = await rejected(launch('bad', 'snp', 'version = "0.1.0"\nalgorithm = "md5"\n'))
    expect(bad.category).toBe('malformed')
    expect(bad.code).toMatch(/^ERR_INITDATA_/)
    expect(await rejectedCode(launch('bad', 'snp', ''))).toBe('ERR_INITDATA_EMPTY')
    expect(readdirSync(guestsDir())).not.toContain('bad.json')
  })

  it('refuses a missing simulator directory with the sim init hint', async () => {
    const error = await rejected(launch('web', 'snp', LAUNCH_DOC, { simDir: join(root, 'none') }))
    expect(error.code).toBe('ERR_SIM_DIR_MISSING')
    expect(error.hint).toMatch(/initguard sim init/)
  })
})

describe('loadSimulatedGuest', () => {
  it('names the directory and `sim launch` for a guest never launched', async () => {
    const error = await rejected(loadSimulatedGuest(simDir, 'never'))
    expect([error.category, error.code]).toEqual(['io', 'ERR_SIM_GUEST_UNKNOWN'])
    expect(error.message).toContain(simDir)
    expect(error.hint).toMatch(/initguard sim launch --sim-dir .* --name never/)
    // A simulator with no guests folder yet: the same answer.
    renameSync(guestsDir(), `${guestsDir()}.away`)
    try {
      expect(await rejectedCode(loadSimulatedGuest(simDir, 'rec'))).toBe('ERR_SIM_GUEST_UNKNOWN')
    } finally {
      renameSync(`${guestsDir()}.away`, guestsDir())
    }
  })

  it.each([
    [
      'a changed field',
      (r: Record<string, unknown>) => ({ ...r, init_data_field: 'ab'.repeat(32) }),
    ],
    ['an unknown key', (r: Record<string, unknown>) => ({ ...r, extra: 1 })],
    ['a missing key', ({ debug: _d, ...r }: Record<string, unknown>) => r],
    ['another name', (r: Record<string, unknown>) => ({ ...r, name: 'other' })],
    ['another tee', (r: Record<string, unknown>) => ({ ...r, tee: 'tdx' })],
    ['a string flag', (r: Record<string, unknown>) => ({ ...r, debug: 'false' })],
    ['another format', (r: Record<string, unknown>) => ({ ...r, format: 'x' })],
    ['a bad time', (r: Record<string, unknown>) => ({ ...r, launched: 'yesterday' })],
    [
      'upper-case hex',
      (r: Record<string, unknown>) => ({
        ...r,
        initdata_digest: String(r['initdata_digest']).toUpperCase(),
      }),
    ],
  ])('refuses a record with %s (ERR_SIM_GUEST_INVALID)', async (_what, change) => {
    const { path } = await launch('tamper', 'snp', LAUNCH_DOC, { replace: true })
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    writeFileSync(path, JSON.stringify(change(record)))
    expect(await rejectedCode(loadSimulatedGuest(simDir, 'tamper'))).toBe('ERR_SIM_GUEST_INVALID')
  })

  it('refuses another version, non-JSON, a record others can read, and a link', async () => {
    const { path } = await launch('odd', 'tdx')
    const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    writeFileSync(path, JSON.stringify({ ...record, version: 2 }))
    expect(await rejectedCode(loadSimulatedGuest(simDir, 'odd'))).toBe('ERR_SIM_GUEST_VERSION')
    writeFileSync(path, 'not json')
    expect(await rejectedCode(loadSimulatedGuest(simDir, 'odd'))).toBe('ERR_SIM_GUEST_INVALID')
    await launch('odd', 'tdx', LAUNCH_DOC, { replace: true })
    chmodSync(path, 0o644)
    expect(await rejectedCode(loadSimulatedGuest(simDir, 'odd'))).toBe('ERR_SIM_KEY_MODE')
    await launch('linked', 'tdx')
    rmSync(path)
    symlinkSync(recordPath('linked'), path)
    expect(await rejectedCode(loadSimulatedGuest(simDir, 'odd'))).toBe('ERR_SIM_FILE_READ')
  })

  it('refuses a guests folder others can write', async () => {
    chmodSync(guestsDir(), 0o777)
    try {
      expect(await rejectedCode(loadSimulatedGuest(simDir, 'rec'))).toBe('ERR_SIM_GUESTS_DIR')
      expect(await rejectedCode(launch('other', 'snp'))).toBe('ERR_SIM_GUESTS_DIR')
    } finally {
      chmodSync(guestsDir(), 0o700)
    }
  })
})
