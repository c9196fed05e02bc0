/**
 * Creating a simulator directory, idempotently and atomically:
 *
 * - `dir` holds a simulator (`simulator.json`): it is loaded and checked ({@link loadSimulator})
 *   and reused as it is; a damaged one is refused, never overwritten.
 * - `dir` does not exist, or is an empty directory: everything is generated into a new 0700
 *   directory beside it, each file written atomically (private keys 0600), the manifest last,
 *   then that directory is renamed to `dir` in one step. An interrupted init leaves no `dir`, and
 *   two inits racing leave one simulator: the loser finds it in place and reuses it.
 * - `dir` exists with other content: refused (`ERR_SIM_DIR_INCOMPLETE` for what looks like an
 *   interrupted simulator, `ERR_SIM_DIR_FOREIGN` for anything else).
 *
 * @module
 */
import { createHash, generateKeyPair } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rename, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { LocalIoError, bytesToHex } from '@initguard/core'
import { removeTree, writeFileAtomic } from '@initguard/files'
import type { TestKeyPair } from './amd-pki-types.ts'
import {
  SIMULATOR_FILES,
  SIMULATOR_MANIFEST_FILE,
  SIMULATOR_MANIFEST_FORMAT,
  SIMULATOR_MANIFEST_VERSION,
  SIMULATOR_PRIVATE_FILES,
  encodeSimulatorManifest,
  type SimulatorFileName,
  type SimulatorManifest,
} from './simulator-manifest.ts'
import {
  SIMULATOR_AMD_RSA_BITS,
  createSimulatorMaterial,
  type SimulatorMaterial,
  type SimulatorRevocable,
} from './simulator-material.ts'
import { errnoOf, simDirError, simIoError } from './simulator-files.ts'
import { loadSimulator, withoutManifestError, type TeeSimulator } from './simulator-load.ts'
import { certificateSha256 } from './simulator-trust.ts'

/** Options for {@link initSimulator}. */
export interface InitSimulatorOptions {
  /** The creation time (validity windows start one day before it). Default: now. */
  readonly now?: Date
  /**
   * Certificates its CRL revokes (`SimulatorMaterialOptions.revoked`): a simulator a relying party
   * must refuse, for tests. Used only when the simulator is made, not when one is reused.
   */
  readonly revoked?: readonly SimulatorRevocable[]
}

/** What {@link initSimulator} did. */
export interface InitSimulatorResult {
  /** The simulator, loaded and checked from `dir` either way. */
  readonly simulator: TeeSimulator
  /** True when this call made it; false when a valid one was already there. */
  readonly created: boolean
}

const generateRsa = promisify(generateKeyPair)

/** The ARK and ASK keys, generated in parallel off the main thread (RSA-4096 takes seconds). */
async function amdKeys(): Promise<{ ark: TestKeyPair; ask: TestKeyPair }> {
  const [ark, ask] = await Promise.all([
    generateRsa('rsa', { modulusLength: SIMULATOR_AMD_RSA_BITS }),
    generateRsa('rsa', { modulusLength: SIMULATOR_AMD_RSA_BITS }),
  ])
  return { ark, ask }
}

function pkcs8(material: SimulatorMaterial): Record<string, string> {
  const pem = (key: SimulatorMaterial['snp']['vcekPrivateKey']): string =>
    key.export({ type: 'pkcs8', format: 'pem' }).toString()
  return {
    [SIMULATOR_FILES.amdVcekKey]: pem(material.snp.vcekPrivateKey),
    [SIMULATOR_FILES.intelPckKey]: pem(material.tdx.pckPrivateKey),
    [SIMULATOR_FILES.intelQeKey]: pem(material.tdx.attestationKey.privateKey),
  }
}

/** Every file's bytes, by name. */
function filesOf(material: SimulatorMaterial): Map<SimulatorFileName, Uint8Array> {
  const text: Record<SimulatorFileName, string> = {
    [SIMULATOR_FILES.amdRoots]: material.snp.askPem + material.snp.arkPem,
    [SIMULATOR_FILES.amdVcek]: material.snp.vcekPem,
    [SIMULATOR_FILES.intelRoot]: material.tdx.rootPem,
    [SIMULATOR_FILES.intelPckChain]: material.tdx.pckChainPem,
    [SIMULATOR_FILES.tdxCollateral]: `${material.tdx.collateralJson}\n`,
    ...pkcs8(material),
  } as Record<SimulatorFileName, string>
  return new Map([
    ...Object.entries(text).map(
      ([name, value]) => [name as SimulatorFileName, new TextEncoder().encode(value)] as const,
    ),
    [SIMULATOR_FILES.amdCrl, material.snp.crl],
  ])
}

function manifestOf(
  material: SimulatorMaterial,
  files: ReadonlyMap<SimulatorFileName, Uint8Array>,
): SimulatorManifest {
  const digests = Object.fromEntries(
    [...files].map(([name, bytes]) => [name, createHash('sha256').update(bytes).digest('hex')]),
  ) as Record<SimulatorFileName, string>
  return {
    format: SIMULATOR_MANIFEST_FORMAT,
    version: SIMULATOR_MANIFEST_VERSION,
    created: material.created.toISOString().replace('.000Z', 'Z'),
    snp: {
      product: 'Milan',
      chip_id: bytesToHex(material.snp.chipId),
      reported_tcb: material.snp.reportedTcb,
    },
    roots: {
      amd_ark_sha256: certificateSha256(material.snp.arkPem),
      intel_root_sha256: certificateSha256(material.tdx.rootPem),
    },
    files: digests,
  }
}

/** Write every file into `staging` (0700), the manifest last. */
async function writeSimulator(staging: string, material: SimulatorMaterial): Promise<void> {
  const files = filesOf(material)
  for (const [name, bytes] of files) {
    const secret = SIMULATOR_PRIVATE_FILES.includes(name)
    await writeFileAtomic(join(staging, name), bytes, {
      what: secret ? 'simulator private key' : 'simulator file',
      mode: secret ? 0o600 : 0o644,
    })
  }
  await writeFileAtomic(
    join(staging, SIMULATOR_MANIFEST_FILE),
    encodeSimulatorManifest(manifestOf(material, files)),
    { what: 'simulator manifest', mode: 0o644 },
  )
}

/** What is at `dir` now. */
async function stateOf(dir: string): Promise<'absent' | 'empty' | 'simulator' | 'other'> {
  try {
    const info = await stat(dir)
    if (!info.isDirectory()) {
      throw simDirError(
        'ERR_SIM_DIR_NOT_A_DIRECTORY',
        `${JSON.stringify(dir)} exists and is not a directory`,
        dir,
        'give a new directory path',
      )
    }
    const entries = await readdir(dir)
    if (entries.includes(SIMULATOR_MANIFEST_FILE)) return 'simulator'
    return entries.length === 0 ? 'empty' : 'other'
  } catch (error) {
    if (error instanceof LocalIoError) throw error
    if (errnoOf(error) === 'ENOENT') return 'absent'
    throw simIoError(
      'ERR_SIM_DIR_READ',
      'cannot read',
      dir,
      'check the path and its permissions',
      error,
    )
  }
}

async function createInto(dir: string, options: InitSimulatorOptions): Promise<boolean> {
  const parent = dirname(dir)
  let staging: string
  try {
    await mkdir(parent, { recursive: true })
    // mkdtemp makes the directory 0700; beside `dir`, so the rename stays on one file system.
    staging = await mkdtemp(join(parent, `.${basename(dir)}.init-`))
  } catch (error) {
    throw simIoError(
      'ERR_SIM_DIR_WRITE',
      'cannot create the simulator directory beside',
      dir,
      'give a path in a directory you can write to',
      error,
    )
  }
  try {
    const material = createSimulatorMaterial({
      now: options.now ?? new Date(),
      amdKeys: await amdKeys(),
      ...(options.revoked === undefined ? {} : { revoked: options.revoked }),
    })
    await writeSimulator(staging, material)
    try {
      // rename(2) replaces an empty directory, and fails on a non-empty one: the atomic step.
      await rename(staging, dir)
      return true
    } catch (error) {
      const errno = errnoOf(error)
      if (errno === 'ENOTEMPTY' || errno === 'EEXIST') return false // another init won the race
      throw simDirError(
        'ERR_SIM_DIR_WRITE',
        `cannot put the simulator in place at ${JSON.stringify(dir)}: ${errno ?? 'unknown error'}`,
        dir,
        'give a path that does not exist yet (not a mount point or a symbolic link)',
        error,
      )
    }
  } finally {
    await removeTree(staging)
  }
}

/**
 * Create the simulator in `dir`, or reuse the valid one already there (see the module comment).
 *
 * @example
 * ```ts
 * const { simulator, created } = await initSimulator('/var/lib/initguard/sim')
 * ```
 *
 * @throws {@link LocalIoError} (exit 7): `ERR_SIM_DIR_NOT_A_DIRECTORY`, `ERR_SIM_DIR_INCOMPLETE`,
 *   `ERR_SIM_DIR_FOREIGN`, `ERR_SIM_DIR_WRITE`, `ERR_SIM_DIR_READ`, and every error of
 *   {@link loadSimulator} for a simulator that is there but damaged.
 */
export async function initSimulator(
  dir: string,
  options: InitSimulatorOptions = {},
): Promise<InitSimulatorResult> {
  const target = resolve(dir)
  const state = await stateOf(target)
  if (state === 'other') throw await withoutManifestError(target)
  const created = state === 'simulator' ? false : await createInto(target, options)
  return { simulator: await loadSimulator(dir), created }
}
