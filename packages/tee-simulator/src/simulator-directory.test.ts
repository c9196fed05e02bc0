/**
 * The simulator directory: created once with the right modes, reused as it is, and refused —
 * never repaired or overwritten — when anything in it is not what init wrote.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseInitdata } from '@initguard/initdata'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseDcapEvidence, verifyDcapQuote } from '@initguard/tdx'
import { rejected } from '@initguard/testkit'
import { initSimulator } from './simulator-init.ts'
import { loadSimulator, simulatorTrust } from './simulator-load.ts'
import {
  SIMULATOR_FILES,
  SIMULATOR_MANIFEST_FILE,
  SIMULATOR_PRIVATE_FILES,
} from './simulator-manifest.ts'
import { simulateSnpEvidence, simulateTdxEvidence } from './simulator-evidence.ts'

let root: string
let simDir: string
/** An init generates two RSA-4096 keys (seconds each on a loaded machine): allow for it. */
const INIT_TIMEOUT = 180_000

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'initguard-sim-'))
  simDir = join(root, 'nested', 'sim')
  const { created } = await initSimulator(simDir)
  expect(created).toBe(true)
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

const mode = (path: string): number => statSync(path).mode & 0o777

/** Every file's bytes, to show nothing changed. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir).map((name) => [
      name,
      createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex'),
    ]),
  )
}

/** A copy of the simulator to damage. */
function copy(label: string): string {
  const dir = join(root, label)
  cpSync(simDir, dir, { recursive: true })
  chmodSync(dir, 0o700)
  return dir
}

async function code(work: Promise<unknown>): Promise<string> {
  const error = await rejected(work)
  expect(error.category).toBe('io') // exit 7: an unusable simulator directory
  return error.code
}

describe('initSimulator', () => {
  it('makes a 0700 directory with 0600 private keys, readable public files and the manifest', () => {
    expect(mode(simDir)).toBe(0o700)
    expect(readdirSync(simDir).sort()).toEqual(
      [SIMULATOR_MANIFEST_FILE, ...Object.values(SIMULATOR_FILES)].sort(),
    )
    for (const name of Object.values(SIMULATOR_FILES)) {
      expect(mode(join(simDir, name)) & 0o077, name).toBe(
        SIMULATOR_PRIVATE_FILES.includes(name) ? 0 : 0o044,
      )
    }
    const manifest = JSON.parse(readFileSync(join(simDir, SIMULATOR_MANIFEST_FILE), 'utf8')) as {
      format: string
      version: number
      snp: { product: string }
    }
    expect(manifest).toMatchObject({
      format: 'initguard-tee-simulator',
      version: 2,
      snp: { product: 'Milan' },
    })
    // Nothing of the staging directory is left beside it.
    expect(readdirSync(join(root, 'nested'))).toEqual(['sim'])
  })

  it('reuses a valid simulator as it is (idempotent)', async () => {
    const before = snapshot(simDir)
    const again = await initSimulator(simDir)
    expect(again.created).toBe(false)
    expect(snapshot(simDir)).toEqual(before)
    expect(again.simulator.manifest.snp.chip_id).toBe(
      (await loadSimulator(simDir)).manifest.snp.chip_id,
    )
  })

  it(
    'fills an existing empty directory, making it 0700',
    async () => {
      const dir = join(root, 'empty')
      mkdirSync(dir, { mode: 0o755 })
      chmodSync(dir, 0o755)
      expect((await initSimulator(dir)).created).toBe(true)
      expect(mode(dir)).toBe(0o700)
      await loadSimulator(dir)
    },
    INIT_TIMEOUT,
  )

  it(
    'leaves one simulator when two inits race for the same directory',
    async () => {
      const dir = join(root, 'race')
      const [a, b] = await Promise.all([initSimulator(dir), initSimulator(dir)])
      expect([a.created, b.created].sort()).toEqual([false, true])
      expect(a.simulator.manifest).toEqual(b.simulator.manifest)
      // The loser's staging directory is gone too.
      expect(readdirSync(root).filter((name) => name.startsWith('.race'))).toEqual([])
    },
    INIT_TIMEOUT,
  )

  it('refuses a foreign directory and a half-made one, writing nothing', async () => {
    const foreign = join(root, 'foreign')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'notes.txt'), 'mine')
    expect(await code(initSimulator(foreign))).toBe('ERR_SIM_DIR_FOREIGN')
    expect(readdirSync(foreign)).toEqual(['notes.txt'])

    const half = copy('half-made')
    unlinkSync(join(half, SIMULATOR_MANIFEST_FILE))
    const before = snapshot(half)
    expect(await code(initSimulator(half))).toBe('ERR_SIM_DIR_INCOMPLETE')
    expect(await code(loadSimulator(half))).toBe('ERR_SIM_DIR_INCOMPLETE')
    expect(snapshot(half)).toEqual(before)

    const file = join(root, 'a-file')
    writeFileSync(file, 'x')
    expect(await code(initSimulator(file))).toBe('ERR_SIM_DIR_NOT_A_DIRECTORY')
  })

  it('refuses a damaged simulator instead of overwriting it', async () => {
    const dir = copy('damaged-init')
    writeFileSync(join(dir, SIMULATOR_FILES.intelRoot), 'changed\n')
    const before = snapshot(dir)
    expect(await code(initSimulator(dir))).toBe('ERR_SIM_FILE_CHANGED')
    expect(snapshot(dir)).toEqual(before)
  })
})

/** Update the manifest's SHA-256 of `name` to the file as it is now (a consistent tampering). */
function manifestFollows(dir: string, name: string): void {
  const manifestPath = join(dir, SIMULATOR_MANIFEST_FILE)
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    files: Record<string, string>
  }
  manifest.files[name] = createHash('sha256')
    .update(readFileSync(join(dir, name)))
    .digest('hex')
  writeFileSync(manifestPath, JSON.stringify(manifest))
}

describe('loadSimulator refuses a tampered directory', () => {
  it('a key replaced by another valid key', async () => {
    const dir = copy('other-key')
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
    const path = join(dir, SIMULATOR_FILES.amdVcekKey)
    writeFileSync(path, other.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_FILE_CHANGED')
    // Even with the manifest updated to match, the key is not the VCEK's.
    manifestFollows(dir, SIMULATOR_FILES.amdVcekKey)
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MATERIAL_INVALID')
  })

  it('collateral that does not parse (manifest updated): refused when the trust is read', async () => {
    const dir = copy('collateral')
    const path = join(dir, SIMULATOR_FILES.tdxCollateral)
    writeFileSync(path, '{"not": "collateral"}')
    manifestFollows(dir, SIMULATOR_FILES.tdxCollateral)
    expect(await code(simulatorTrust(dir))).toBe('ERR_SIM_MATERIAL_INVALID')
    // A guest that only makes evidence never parses the collateral; reading the trust does.
    const loaded = await loadSimulator(dir)
    expect(() => loaded.trust).toThrow(
      expect.objectContaining({ code: 'ERR_SIM_MATERIAL_INVALID' }) as Error,
    )
  })

  it('a private key others can read, or a key that is a symbolic link', async () => {
    const dir = copy('key-mode')
    chmodSync(join(dir, SIMULATOR_FILES.intelPckKey), 0o644)
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_KEY_MODE')
    chmodSync(join(dir, SIMULATOR_FILES.intelPckKey), 0o400) // stricter than 0600 is fine
    await loadSimulator(dir)

    const linked = copy('key-link')
    const key = join(linked, SIMULATOR_FILES.intelQeKey)
    cpSync(key, join(root, 'elsewhere.pem'))
    unlinkSync(key)
    symlinkSync(join(root, 'elsewhere.pem'), key)
    expect(await code(loadSimulator(linked))).toBe('ERR_SIM_FILE_READ')
  })

  it('a directory others can write to', async () => {
    const dir = copy('dir-mode')
    chmodSync(dir, 0o777)
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_DIR_MODE')
    expect(await code(simulatorTrust(dir))).toBe('ERR_SIM_DIR_MODE')
  })

  it('a missing file', async () => {
    const dir = copy('missing')
    unlinkSync(join(dir, SIMULATOR_FILES.tdxCollateral))
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_FILE_MISSING')
    expect(await code(simulatorTrust(dir))).toBe('ERR_SIM_FILE_MISSING')
  })

  it('a manifest that is not JSON, of another version, or with unknown keys', async () => {
    const dir = copy('manifest')
    const path = join(dir, SIMULATOR_MANIFEST_FILE)
    const good = readFileSync(path, 'utf8')
    writeFileSync(path, '{')
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MANIFEST_INVALID')
    writeFileSync(path, good.replace('"version": 2', '"version": 3'))
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MANIFEST_VERSION')
    // Version 1 had no CRL: such a simulator is refused, not accepted without one.
    writeFileSync(path, good.replace('"version": 2', '"version": 1'))
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MANIFEST_VERSION')
    expect(await code(simulatorTrust(dir))).toBe('ERR_SIM_MANIFEST_VERSION')
    writeFileSync(path, good.replace('"format"', '"extra": 1, "format"'))
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MANIFEST_INVALID')
    writeFileSync(path, good.replace(/"chip_id": "[0-9a-f]{2}/, '"chip_id": "00'))
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_MATERIAL_INVALID')
  })

  it('an empty or absent directory', async () => {
    const dir = join(root, 'plain-empty')
    mkdirSync(dir, { mode: 0o700 })
    expect(await code(loadSimulator(dir))).toBe('ERR_SIM_DIR_EMPTY')
    expect(await code(loadSimulator(join(root, 'absent')))).toBe('ERR_SIM_DIR_MISSING')
  })
})

describe('simulatorTrust', () => {
  it('reads only public material (works without the private keys) and verifies the evidence', async () => {
    const sim = await loadSimulator(simDir)
    const initdata = parseInitdata(
      new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n'),
    )
    const reportData = new Uint8Array(64).fill(7)
    const snp = simulateSnpEvidence(sim.material.snp, { initdata, reportData })
    const tdx = simulateTdxEvidence(sim.material.tdx, { initdata, reportData })

    const publicOnly = copy('public-only')
    for (const name of SIMULATOR_PRIVATE_FILES) unlinkSync(join(publicOnly, name))
    const trust = await simulatorTrust(publicOnly)
    const now = new Date()
    verifySnpEvidence(parseTrusteeSnpEvidence(snp), {
      now,
      anchors: trust.snpAnchors,
      policy: { initdata, reportData },
      // The simulator's CRL is signed by its ARK, current, and lists nothing.
      crl: trust.snpCrl,
    })
    const quote = parseDcapEvidence(new TextEncoder().encode(JSON.stringify(tdx))).quote
    const verified = verifyDcapQuote(quote, {
      now,
      root: trust.intelRoot,
      collateral: trust.collateral,
      policy: { initdata, reportData },
    })
    expect(verified.tcb.status).toBe('UpToDate')
    // The loaded simulator's trust, made when first read, is the same material, made once.
    expect(sim.trust).toEqual(trust)
    expect(sim.trust).toBe(sim.trust)
  })
})
