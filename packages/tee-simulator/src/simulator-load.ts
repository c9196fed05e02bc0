/**
 * Loading a simulator directory, checking everything read before anything is used:
 *
 * 1. the directory: ours, not writable by others;
 * 2. `simulator.json`: known format and version, every key present and well formed;
 * 3. every file: present, the SHA-256 the manifest gives; private keys also 0600 or stricter,
 *    regular files, ours;
 * 4. the content: certificates and keys parse, each private key belongs to its certificate, the
 *    VCEK names the manifest's chip id and TCB, the roots have the manifest's fingerprints, the
 *    collateral parses — that last one when `trust` is first read (a guest making evidence never
 *    reads it, and parsing it was a third of loading), with the same `ERR_SIM_MATERIAL_INVALID`.
 *
 * Any failure is a {@link LocalIoError} (exit 7) with its own `ERR_SIM_…` code: a simulator
 * directory that is not exactly what `initSimulator` wrote is unusable, never repaired.
 *
 * @module
 */
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, bytesToHex, constantTimeEqual, hexToBytes, isEcKey } from '@initguard/core'
import { parseAmdCertificate } from '@initguard/snp/parsers'
import {
  SIMULATOR_FILES,
  SIMULATOR_MANIFEST_FILE,
  SIMULATOR_MANIFEST_MAX_SIZE,
  SIMULATOR_PRIVATE_FILES,
  SIMULATOR_TRUST_FILES,
  parseSimulatorManifest,
  type SimulatorFileName,
  type SimulatorManifest,
} from './simulator-manifest.ts'
import type { SimulatorMaterial } from './simulator-material.ts'
import { checkSimulatorDirectory, readSimulatorFile, simDirError } from './simulator-files.ts'
import { certificateSha256, simulatorTrustFrom, type SimulatorTrust } from './simulator-trust.ts'

/** A loaded, checked simulator. */
export interface TeeSimulator {
  /** The directory it was loaded from. */
  readonly dir: string
  readonly manifest: SimulatorManifest
  /** Its keys and certificates, for `simulateSnpEvidence` / `simulateTdxEvidence`. */
  readonly material: SimulatorMaterial
  /** Its public roots and collateral in the verifiers' shapes. */
  readonly trust: SimulatorTrust
}

const REMAKE = 'make a new simulator with `initguard sim init --sim-dir NEW_DIR`'

async function readManifest(dir: string): Promise<SimulatorManifest> {
  const bytes = await readSimulatorFile(dir, SIMULATOR_MANIFEST_FILE, {
    private: false,
    maxSize: SIMULATOR_MANIFEST_MAX_SIZE,
    missing: () => withoutManifestError(dir),
  })
  return parseSimulatorManifest(bytes, join(dir, SIMULATOR_MANIFEST_FILE))
}

/**
 * Why a directory without `simulator.json` is not a simulator: it is empty, half-made (only
 * files a simulator writes, so an init stopped before the manifest), or holds something else.
 */
export async function withoutManifestError(dir: string): Promise<LocalIoError> {
  const entries = await readdir(dir)
  const ours = new Set<string>(Object.values(SIMULATOR_FILES))
  if (entries.length === 0) {
    return simDirError(
      'ERR_SIM_DIR_EMPTY',
      `the simulator directory ${JSON.stringify(dir)} is empty`,
      dir,
      'create the simulator with `initguard sim init --sim-dir DIR`',
    )
  }
  // writeFileAtomic's temporary files are `.NAME.RANDOM.tmp`.
  const half = entries.every((e) => ours.has(e) || /^\..+\.[0-9a-f]+\.tmp$/.test(e))
  return half
    ? simDirError(
        'ERR_SIM_DIR_INCOMPLETE',
        `${JSON.stringify(dir)} is a half-made simulator directory (it has no simulator.json): an init was interrupted, or the manifest was removed`,
        dir,
        `remove the directory and run \`initguard sim init --sim-dir ${dir}\` again`,
      )
    : simDirError(
        'ERR_SIM_DIR_FOREIGN',
        `${JSON.stringify(dir)} is not a simulator directory (no simulator.json, and it holds other files)`,
        dir,
        'give a new or empty directory to `initguard sim init`, or the directory it created',
      )
}

/** Read the named files, each checked against the manifest's SHA-256. */
async function readChecked(
  dir: string,
  manifest: SimulatorManifest,
  names: readonly SimulatorFileName[],
): Promise<Map<SimulatorFileName, Uint8Array>> {
  const out = new Map<SimulatorFileName, Uint8Array>()
  for (const name of names) {
    const bytes = await readSimulatorFile(dir, name, {
      private: SIMULATOR_PRIVATE_FILES.includes(name),
    })
    const actual = createHash('sha256').update(bytes).digest()
    if (!constantTimeEqual(actual, hexToBytes(manifest.files[name]))) {
      throw simDirError(
        'ERR_SIM_FILE_CHANGED',
        `${name} in the simulator directory ${JSON.stringify(dir)} is not the file the simulator wrote (its SHA-256 differs from simulator.json's)`,
        join(dir, name),
        `the directory was changed; ${REMAKE}`,
      )
    }
    out.set(name, bytes)
  }
  return out
}

function bytesOf(
  files: ReadonlyMap<SimulatorFileName, Uint8Array>,
  name: SimulatorFileName,
): Uint8Array {
  const bytes = files.get(name)
  if (bytes === undefined) throw new LocalIoError('ERR_SIM_FILE_MISSING', `${name} was not read`)
  return bytes
}

function text(files: ReadonlyMap<SimulatorFileName, Uint8Array>, name: SimulatorFileName): string {
  return Buffer.from(bytesOf(files, name)).toString('utf8')
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g

function pemBlocks(pem: string, count: number, name: string): string[] {
  const blocks = pem.match(PEM_BLOCK) ?? []
  if (blocks.length !== count) {
    throw new Error(`${name} holds ${blocks.length} certificates, not ${count}`)
  }
  return blocks
}

function privateKey(pem: string, curve: 'secp384r1' | 'prime256v1', name: string): KeyObject {
  const key = createPrivateKey(pem)
  if (!isEcKey(key, curve)) {
    throw new Error(`${name} is not an EC ${curve} private key`)
  }
  return key
}

function belongsTo(key: KeyObject, certificatePem: string, name: string): void {
  if (!new X509Certificate(certificatePem).checkPrivateKey(key)) {
    throw new Error(`${name} is not the key of its certificate`)
  }
}

function sameTcb(a: SimulatorManifest['snp']['reported_tcb'], b: Readonly<object>): boolean {
  const other = b as Record<string, unknown>
  return (['bootloader', 'tee', 'snp', 'microcode'] as const).every((k) => a[k] === other[k])
}

/** Parse and cross-check the content; any inconsistency is a plain Error, wrapped by the caller. */
function materialFrom(
  manifest: SimulatorManifest,
  files: ReadonlyMap<SimulatorFileName, Uint8Array>,
): { material: SimulatorMaterial; trust: () => SimulatorTrust } {
  const { trust, arkPem, askPem, intelRootPem } = publicTrust(manifest, files)
  const vcekPem = pemBlocks(text(files, SIMULATOR_FILES.amdVcek), 1, SIMULATOR_FILES.amdVcek)[0]
  const vcek = parseAmdCertificate(vcekPem ?? '', SIMULATOR_FILES.amdVcek)
  if (vcek.amd.hwId === undefined || bytesToHex(vcek.amd.hwId) !== manifest.snp.chip_id) {
    throw new Error('the VCEK does not name the chip id of simulator.json')
  }
  if (vcek.amd.tcb === undefined || !sameTcb(manifest.snp.reported_tcb, vcek.amd.tcb)) {
    throw new Error('the VCEK is not derived at the TCB of simulator.json')
  }
  const vcekPrivateKey = privateKey(
    text(files, SIMULATOR_FILES.amdVcekKey),
    'secp384r1',
    SIMULATOR_FILES.amdVcekKey,
  )
  belongsTo(vcekPrivateKey, vcekPem ?? '', SIMULATOR_FILES.amdVcekKey)
  const pckChainPem = text(files, SIMULATOR_FILES.intelPckChain)
  const [pckPem = ''] = pemBlocks(pckChainPem, 3, SIMULATOR_FILES.intelPckChain)
  const pckPrivateKey = privateKey(
    text(files, SIMULATOR_FILES.intelPckKey),
    'prime256v1',
    SIMULATOR_FILES.intelPckKey,
  )
  belongsTo(pckPrivateKey, pckPem, SIMULATOR_FILES.intelPckKey)
  const attestationPrivateKey = privateKey(
    text(files, SIMULATOR_FILES.intelQeKey),
    'prime256v1',
    SIMULATOR_FILES.intelQeKey,
  )
  const material: SimulatorMaterial = {
    created: new Date(manifest.created),
    snp: {
      product: manifest.snp.product,
      chipId: hexToBytes(manifest.snp.chip_id),
      reportedTcb: manifest.snp.reported_tcb,
      arkPem,
      askPem,
      vcekPem: vcekPem ?? '',
      vcekPrivateKey,
      crl: bytesOf(files, SIMULATOR_FILES.amdCrl),
    },
    tdx: {
      rootPem: intelRootPem,
      pckChainPem,
      pckPrivateKey,
      attestationKey: {
        privateKey: attestationPrivateKey,
        publicKey: createPublicKey(attestationPrivateKey),
      },
      collateralJson: text(files, SIMULATOR_FILES.tdxCollateral),
    },
  }
  return { material, trust }
}

function publicTrust(
  manifest: SimulatorManifest,
  files: ReadonlyMap<SimulatorFileName, Uint8Array>,
): { trust: () => SimulatorTrust; arkPem: string; askPem: string; intelRootPem: string } {
  const [askPem = '', arkPem = ''] = pemBlocks(
    text(files, SIMULATOR_FILES.amdRoots),
    2,
    SIMULATOR_FILES.amdRoots,
  )
  const [intelRootPem = ''] = pemBlocks(
    text(files, SIMULATOR_FILES.intelRoot),
    1,
    SIMULATOR_FILES.intelRoot,
  )
  if (certificateSha256(arkPem) !== manifest.roots.amd_ark_sha256) {
    throw new Error('the ARK is not the one simulator.json names')
  }
  if (certificateSha256(intelRootPem) !== manifest.roots.intel_root_sha256) {
    throw new Error('the Intel-shaped root is not the one simulator.json names')
  }
  // The fingerprints above are checked now; the anchors and the parsed collateral when wanted.
  const collateralJson = text(files, SIMULATOR_FILES.tdxCollateral)
  const amdCrl = bytesOf(files, SIMULATOR_FILES.amdCrl)
  const product = manifest.snp.product
  const trust = (): SimulatorTrust =>
    simulatorTrustFrom({ product, arkPem, askPem, amdCrl, intelRootPem, collateralJson })
  return { trust, arkPem, askPem, intelRootPem }
}

function unusable(dir: string, cause: unknown): LocalIoError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return simDirError(
    'ERR_SIM_MATERIAL_INVALID',
    `the simulator directory ${JSON.stringify(dir)} is inconsistent: ${reason}`,
    dir,
    REMAKE,
    cause,
  )
}

/**
 * Load the simulator in `dir`, checking everything (see the module comment).
 *
 * @example
 * ```ts
 * const sim = await loadSimulator('/var/lib/initguard/sim')
 * const evidence = simulateSnpEvidence(sim.material.snp, { initdata, reportData })
 * ```
 *
 * @throws {@link LocalIoError} `ERR_SIM_DIR_*`, `ERR_SIM_MANIFEST_*`, `ERR_SIM_FILE_*`,
 *   `ERR_SIM_KEY_MODE`, `ERR_SIM_KEY_OWNER`, `ERR_SIM_MATERIAL_INVALID`.
 */
export async function loadSimulator(dir: string): Promise<TeeSimulator> {
  await checkSimulatorDirectory(dir)
  const manifest = await readManifest(dir)
  const files = await readChecked(dir, manifest, Object.values(SIMULATOR_FILES))
  const checked = <T>(make: () => T): T => {
    try {
      return make()
    } catch (error) {
      if (error instanceof LocalIoError) throw error
      throw unusable(dir, error)
    }
  }
  return checked(() => {
    const { material, trust } = materialFrom(manifest, files)
    let made: SimulatorTrust | undefined
    return {
      dir,
      manifest,
      material,
      get trust(): SimulatorTrust {
        made ??= checked(trust)
        return made
      },
    }
  })
}

/**
 * The simulator's public trust material, for a relying party that accepts its evidence (the KBS's
 * `--trust-sim DIR`). Reads only the manifest, the roots and the collateral, each checked against
 * the manifest; never the private keys, so it works where they are not readable.
 *
 * @example
 * ```ts
 * const { snpAnchors, intelRoot, collateral } = await simulatorTrust(dir)
 * verifySnpEvidence(evidence, { now, anchors: snpAnchors })
 * verifyDcapQuote(quote, { now, root: intelRoot, collateral })
 * ```
 *
 * @throws {@link LocalIoError} as {@link loadSimulator}, for the files it reads.
 */
export async function simulatorTrust(dir: string): Promise<SimulatorTrust> {
  await checkSimulatorDirectory(dir)
  const manifest = await readManifest(dir)
  const files = await readChecked(dir, manifest, SIMULATOR_TRUST_FILES)
  try {
    return publicTrust(manifest, files).trust()
  } catch (error) {
    if (error instanceof LocalIoError) throw error
    throw unusable(dir, error)
  }
}
