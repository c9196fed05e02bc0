/**
 * `initguard sim init | launch | evidence` end to end: the simulator's evidence is refused by `evidence
 * verify` under the pinned vendor roots and accepted (init-data binding checked) only with its own
 * roots and collateral passed explicitly; exit codes for bad options (2), a bad document (3) and
 * an unusable simulator directory (7). A launched guest's evidence carries its launch-time field
 * whatever document is given later, and the KBS's verifier accepts it only with the simulator's
 * trust.
 */
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { base64ToBytes, bytesToHex } from '@initguard/core'
import { encodeAnnotation } from '@initguard/initdata'
import { checkInitData, createEvidenceVerifier } from '@initguard/kbs'
import { parseTrusteeSnpEvidence } from '@initguard/snp'
import { parseDcapQuote } from '@initguard/tdx'
import { simulatorTrust } from '@initguard/tee-simulator'
import { jsonError, runInProcess as run, type CliRun } from './cli-test-support.ts'

let root: string
let sim: string
let initdata: string
let otherInitdata: string

const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"note" = "sim test"\n'
const REPORT_DATA = 'a1'.repeat(32)
/** REPORT_DATA as the report holds it: zero-padded to 64 bytes. */
const PADDED = REPORT_DATA + '00'.repeat(32)

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'initguard-sim-cli-'))
  sim = join(root, 'sim')
  initdata = join(root, 'initdata.toml')
  otherInitdata = join(root, 'other.toml')
  writeFileSync(initdata, DOCUMENT)
  writeFileSync(otherInitdata, DOCUMENT.replace('sim test', 'another'))
  const created = await run(['sim', 'init', '--sim-dir', sim])
  expect(created.code, created.stderr).toBe(0)
  expect(created.stdout).toContain(`created the TEE simulator in ${sim}`)
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

type SimOption = 'sim-dir' | 'tee' | 'initdata' | 'report-data'

/** `initguard sim evidence` with these options over the defaults (`null` leaves one out). */
function simEvidence(
  options: Partial<Record<SimOption, string | null>>,
  ...extra: string[]
): Promise<CliRun> {
  const values = { 'sim-dir': sim, tee: 'snp', initdata, 'report-data': REPORT_DATA, ...options }
  const args = Object.entries(values).flatMap(([name, value]) =>
    value === null ? [] : [`--${name}`, value],
  )
  return run(['sim', 'evidence', ...args, ...extra])
}

/** Evidence for `tee` written to a file; its path. */
async function evidence(tee: 'snp' | 'tdx', ...extra: string[]): Promise<string> {
  const out = await simEvidence({ tee }, ...extra)
  expect(out.code, out.stderr).toBe(0)
  const path = join(root, `${tee}${extra.join('')}.json`)
  writeFileSync(path, out.stdout)
  return path
}

function failed(result: CliRun, code: number, errorCode: string): void {
  expect(result.code, result.stderr).toBe(code)
  expect(result.stderr).toContain(`code: ${errorCode}`)
}

/** `initguard evidence verify PATH --offline ARGS…`. */
const verify = (path: string, ...args: string[]): Promise<CliRun> =>
  run(['evidence', 'verify', path, '--offline', ...args])

const snpTrust = (): string[] => ['--trust-root', join(sim, 'amd-roots.pem')]
const tdxTrust = (): string[] => [
  '--intel-root',
  join(sim, 'intel-root.pem'),
  '--collateral',
  join(sim, 'tdx-collateral.json'),
]

describe('initguard sim init', () => {
  it('reuses the simulator it made, and says so (--json too)', async () => {
    const again = await run(['sim', 'init', '--sim-dir', sim, '--json'])
    expect(again.code).toBe(0)
    const report = JSON.parse(again.stdout) as {
      created: boolean
      snp: { product: string; trust_root: string; measurement: string }
      tdx: { intel_root: string; collateral: string }
    }
    expect(report.created).toBe(false)
    expect(report.snp.product).toBe('Milan')
    expect(report.snp.trust_root).toBe(join(sim, 'amd-roots.pem'))
    expect(report.tdx.collateral).toBe(join(sim, 'tdx-collateral.json'))
    expect((await run(['sim', 'init', '--sim-dir', sim])).stdout).toContain(
      `reused the TEE simulator in ${sim}`,
    )
  })

  it('refuses a foreign directory with exit 7, and a missing --sim-dir with exit 2', async () => {
    const foreign = join(root, 'foreign')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'x'), 'x')
    failed(await run(['sim', 'init', '--sim-dir', foreign]), 7, 'ERR_SIM_DIR_FOREIGN')
    failed(await run(['sim', 'init']), 2, 'ERR_USAGE')
    failed(await run(['sim', 'init', '--sim-dir', sim, 'extra']), 2, 'ERR_USAGE')
  })
})

describe('initguard sim evidence', () => {
  it("prints Trustee's SNP evidence binding the document, refused under AMD's roots, accepted under the simulator's", async () => {
    const path = await evidence('snp')
    const parsed = parseTrusteeSnpEvidence(JSON.parse(readFileSync(path, 'utf8')))
    const binding = await run(['initdata', 'digest', initdata, '--tee', 'snp'])
    expect(bytesToHex(parsed.report.hostData)).toBe(binding.stdout.trim())
    expect(bytesToHex(parsed.report.reportData)).toBe(PADDED)

    const pinned = await verify(path, '--expect-initdata', initdata)
    failed(pinned, 4, 'ERR_SNP_CHAIN_ROOT_UNTRUSTED')
    const trusted = await verify(
      path,
      ...snpTrust(),
      '--expect-initdata',
      initdata,
      '--expect-report-data',
      PADDED,
    )
    expect(trusted.code, trusted.stderr).toBe(0)
    expect(trusted.stdout).toContain('a user-supplied root (--trust-root)')
    const other = await verify(path, ...snpTrust(), '--expect-initdata', otherInitdata)
    expect(other.code).toBe(5)
  })

  it("prints Trustee's TDX evidence binding the document, refused under Intel's root, accepted under the simulator's", async () => {
    const path = await evidence('tdx')
    const json = JSON.parse(readFileSync(path, 'utf8')) as { quote: string }
    expect(Object.keys(json)).toEqual(['quote'])
    const { body } = parseDcapQuote(base64ToBytes(json.quote))
    if (body.kind === 'sgx') throw new Error('expected a TD quote')
    const binding = await run(['initdata', 'digest', initdata, '--tee', 'tdx'])
    expect(bytesToHex(body.mrConfigId)).toBe(binding.stdout.trim())

    const collateral = ['--collateral', join(sim, 'tdx-collateral.json')]
    const pinned = await verify(path, ...collateral)
    failed(pinned, 4, 'ERR_TDX_PCK_ROOT_UNTRUSTED')
    const trusted = await verify(
      path,
      ...tdxTrust(),
      '--expect-initdata',
      initdata,
      '--expect-report-data',
      PADDED,
      '--json',
    )
    expect(trusted.code, trusted.stdout).toBe(0)
    const other = await verify(path, ...tdxTrust(), '--expect-initdata', otherInitdata)
    expect(other.code).toBe(5)
  })

  it('--debug makes a guest that verify refuses unless debugging is allowed', async () => {
    const snp = await evidence('snp', '--debug')
    expect((await verify(snp, ...snpTrust())).code).toBe(5)
    expect((await verify(snp, ...snpTrust(), '--allow-debug')).code).toBe(0)
    const tdx = await evidence('tdx', '--debug')
    expect((await verify(tdx, ...tdxTrust())).code).toBe(5)
    expect((await verify(tdx, ...tdxTrust(), '--allow-debug')).code).toBe(0)
  })

  it('takes 1 to 64 bytes of report data, zero-padded', async () => {
    const out = await simEvidence({ 'report-data': 'AB' })
    expect(out.code).toBe(0)
    const { report } = parseTrusteeSnpEvidence(JSON.parse(out.stdout))
    expect(bytesToHex(report.reportData)).toBe('ab' + '00'.repeat(63))
  })

  it.each([
    ['65 bytes of report data', { 'report-data': 'ab'.repeat(65) }, 'ERR_OPTION_VALUE'],
    ['an odd number of hex digits', { 'report-data': 'abc' }, 'ERR_OPTION_VALUE'],
    ['empty report data', { 'report-data': '' }, 'ERR_OPTION_VALUE'],
    ['a TEE it does not simulate', { tee: 'sgx' }, 'ERR_OPTION_VALUE'],
    ['no --tee', { tee: null }, 'ERR_USAGE'],
    ['no --report-data', { 'report-data': null }, 'ERR_USAGE'],
    ['no --initdata', { initdata: null }, 'ERR_USAGE'],
    ['no --sim-dir', { 'sim-dir': null }, 'ERR_USAGE'],
  ] as const)('exits 2 for %s', async (_what, options, code) => {
    failed(await simEvidence(options), 2, code)
  })

  it('exits 2 for an option it does not know, or an argument', async () => {
    failed(await simEvidence({}, '--nonsense'), 2, 'ERR_USAGE')
    failed(await simEvidence({}, 'extra'), 2, 'ERR_USAGE')
  })

  it('exits 3 for a bad document, naming an annotation given instead of the TOML', async () => {
    const broken = join(root, 'broken.toml')
    writeFileSync(broken, 'version = "0.1.0"\nalgorithm = "md5"\n')
    expect((await simEvidence({ initdata: broken })).code).toBe(3)
    const annotation = join(root, 'annotation.txt')
    writeFileSync(annotation, encodeAnnotation(new TextEncoder().encode(DOCUMENT)))
    const named = await simEvidence({ initdata: annotation })
    expect(named.code).toBe(3)
    expect(named.stderr).toMatch(/annotation/)
  })

  it('exits 7 for an unusable simulator directory, with the code saying why', async () => {
    const args = (dir: string): Promise<CliRun> => simEvidence({ 'sim-dir': dir, tee: 'tdx' })
    failed(await args(join(root, 'nowhere')), 7, 'ERR_SIM_DIR_MISSING')
    const loose = join(root, 'loose')
    cpSync(sim, loose, { recursive: true })
    chmodSync(loose, 0o700)
    chmodSync(join(loose, 'intel-pck-key.pem'), 0o640)
    failed(await args(loose), 7, 'ERR_SIM_KEY_MODE')
    const changed = join(root, 'changed')
    cpSync(sim, changed, { recursive: true })
    chmodSync(changed, 0o700)
    writeFileSync(join(changed, 'intel-pck-chain.pem'), 'x', { mode: 0o644 })
    failed(await args(changed), 7, 'ERR_SIM_FILE_CHANGED')
    expect(jsonError(await run(['sim', 'init', '--sim-dir', changed, '--json'])).code).toBe(
      'ERR_SIM_FILE_CHANGED',
    )
  })
})

/** `initguard sim launch` with these options over the defaults (`null` leaves one out). */
function simLaunch(
  options: Partial<Record<'sim-dir' | 'tee' | 'initdata' | 'name', string | null>>,
  ...extra: string[]
): Promise<CliRun> {
  const values = { 'sim-dir': sim, tee: 'snp', initdata, name: 'web', ...options }
  const args = Object.entries(values).flatMap(([name, value]) =>
    value === null ? [] : [`--${name}`, value],
  )
  return run(['sim', 'launch', ...args, ...extra])
}

/** A launched guest's evidence (`sim evidence --guest`) written to a file; its path. */
async function guestEvidence(guest: string): Promise<string> {
  const out = await run([
    'sim',
    'evidence',
    '--sim-dir',
    sim,
    '--guest',
    guest,
    '--report-data',
    REPORT_DATA,
  ])
  expect(out.code, out.stderr).toBe(0)
  const path = join(root, `guest-${guest}.json`)
  writeFileSync(path, out.stdout)
  return path
}

describe('initguard sim launch', () => {
  it.each(['snp', 'tdx'] as const)(
    '%s: fixes the field at launch; the guest evidence carries it, whatever document comes later',
    async (tee) => {
      const name = `fixed-${tee}`
      const launched = await simLaunch({ tee, name })
      expect(launched.code, launched.stderr).toBe(0)
      const binding = (await run(['initdata', 'digest', initdata, '--tee', tee])).stdout.trim()
      const field = tee === 'snp' ? 'SEV-SNP HOST_DATA' : 'TDX MRCONFIGID'
      expect(launched.stdout).toContain(
        `launched the simulated ${tee === 'snp' ? 'SEV-SNP' : 'TDX'} guest ${name} in ${sim}`,
      )
      expect(launched.stdout).toContain(`${field} ${binding}`)

      const path = await guestEvidence(name)
      const trust = tee === 'snp' ? snpTrust() : tdxTrust()
      const expect5 = await verify(path, ...trust, '--expect-initdata', otherInitdata)
      expect(expect5.code, expect5.stdout).toBe(5)
      const ok = await verify(
        path,
        ...trust,
        '--expect-initdata',
        initdata,
        '--expect-report-data',
        PADDED,
      )
      expect(ok.code, ok.stderr).toBe(0)

      // The KBS's own verifier: accepted only with the simulator's trust; the document the guest
      // now holds (another one) does not match what it was launched with.
      const evidence: unknown = JSON.parse(readFileSync(path, 'utf8'))
      const now = new Date()
      const pinned = createEvidenceVerifier({ trust: {} })
      await expect(pinned.verify(tee, evidence, now)).rejects.toMatchObject({
        category: 'verification',
      })
      const verifier = createEvidenceVerifier({ trust: { simulator: await simulatorTrust(sim) } })
      const facts = await verifier.verify(tee, evidence, now)
      expect(facts.simulated).toBe(true)
      expect(bytesToHex(facts.initDataField)).toBe(binding)
      const body = (file: string): { format: 'toml'; body: string } => ({
        format: 'toml',
        body: readFileSync(file, 'utf8'),
      })
      expect(checkInitData(body(initdata), facts).ok).toBe(true)
      expect(checkInitData(body(otherInitdata), facts).ok).toBe(false)
    },
  )

  it('refuses a launch over an existing guest (exit 2) unless --replace, then says so (--json)', async () => {
    expect((await simLaunch({ name: 'again' })).code).toBe(0)
    const before = readFileSync(join(sim, 'guests', 'again.json'), 'utf8')
    failed(await simLaunch({ name: 'again', initdata: otherInitdata }), 2, 'ERR_SIM_GUEST_EXISTS')
    expect(readFileSync(join(sim, 'guests', 'again.json'), 'utf8')).toBe(before)
    const replaced = await simLaunch(
      { name: 'again', tee: 'tdx', initdata: otherInitdata },
      '--replace',
      '--json',
    )
    expect(replaced.code, replaced.stderr).toBe(0)
    const report = JSON.parse(replaced.stdout) as Record<string, unknown>
    expect(report).toMatchObject({
      ok: true,
      guest: 'again',
      tee: 'tdx',
      field: 'TDX MRCONFIGID',
      replaced: true,
      debug: false,
    })
    const binding = await run(['initdata', 'digest', otherInitdata, '--tee', 'tdx'])
    expect(report['value']).toBe(binding.stdout.trim())
  })

  it('--debug launches a guest whose evidence verify refuses unless debugging is allowed', async () => {
    expect((await simLaunch({ name: 'dbg' }, '--debug')).code).toBe(0)
    const path = await guestEvidence('dbg')
    expect((await verify(path, ...snpTrust())).code).toBe(5)
    expect((await verify(path, ...snpTrust(), '--allow-debug')).code).toBe(0)
  })

  it.each([
    ['a name with an upper-case letter', { name: 'Web' }, 'ERR_SIM_GUEST_NAME'],
    ['a name that is a path', { name: '../web' }, 'ERR_SIM_GUEST_NAME'],
    ['a TEE it does not simulate', { tee: 'sgx' }, 'ERR_OPTION_VALUE'],
    ['no --name', { name: null }, 'ERR_USAGE'],
    ['no --initdata', { initdata: null }, 'ERR_USAGE'],
    ['no --tee', { tee: null }, 'ERR_USAGE'],
    ['no --sim-dir', { 'sim-dir': null }, 'ERR_USAGE'],
  ] as const)('exits 2 for %s', async (_what, options, code) => {
    failed(await simLaunch(options), 2, code)
  })

  it('exits 3 for a malformed document and 7 without a simulator, writing no guest', async () => {
    const broken = join(root, 'broken-launch.toml')
    writeFileSync(broken, 'version = "0.1.0"\nalgorithm = "md5"\n')
    const malformed = await simLaunch({ name: 'broken', initdata: broken })
    expect(malformed.code).toBe(3)
    expect(malformed.stderr).toMatch(/code: ERR_INITDATA_/)
    const missing = await simLaunch({ 'sim-dir': join(root, 'no-sim') })
    failed(missing, 7, 'ERR_SIM_DIR_MISSING')
    expect(missing.stderr).toContain('initguard sim init')
    failed(
      await run(['sim', 'evidence', '--sim-dir', sim, '--guest', 'broken', '--report-data', '00']),
      7,
      'ERR_SIM_GUEST_UNKNOWN',
    )
  })

  it('sim evidence --guest refuses --tee, --initdata and --debug (fixed at launch), and a tampered record', async () => {
    expect((await simLaunch({ name: 'strict' })).code).toBe(0)
    const guest = ['sim', 'evidence', '--sim-dir', sim, '--guest', 'strict', '--report-data', '00']
    failed(await run([...guest, '--tee', 'snp']), 2, 'ERR_USAGE')
    failed(await run([...guest, '--initdata', initdata]), 2, 'ERR_USAGE')
    failed(await run([...guest, '--debug']), 2, 'ERR_USAGE')
    const record = join(sim, 'guests', 'strict.json')
    writeFileSync(record, readFileSync(record, 'utf8').replace('"debug": false', '"debug": "no"'))
    failed(await run(guest), 7, 'ERR_SIM_GUEST_INVALID')
  })
})
