/**
 * Simulated guests: a guest's HOST_DATA (SEV-SNP) or MRCONFIGID (TDX) is fixed when it is
 * launched, from the document it was launched with, and every report it makes afterwards carries
 * that value, whatever document it is given later (as on hardware, where the host sets the field
 * at launch and the guest cannot change it).
 *
 * ```text
 * DIR/                    the simulator directory (`initSimulator`)
 *   guests/         0700
 *     NAME.json     0600  the guest's record (simulator-guest-record.ts)
 * ```
 *
 * A launch over an existing name is refused unless `replace` is set; the record is written
 * atomically either way (a temporary file renamed, or hard-linked into place when the name must
 * be new, so two launches of one name cannot both succeed).
 *
 * @module
 */
import { lstat, link, mkdir, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { LocalIoError } from '@initguard/core'
import { UsageError, bytesToHex, hexToBytes } from '@initguard/core'
import { writeFileAtomic } from '@initguard/files'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import type { TrusteeSnpEvidenceJson } from '@initguard/snp'
import {
  simulateSnpEvidenceWithField,
  simulateTdxEvidenceWithField,
  type TrusteeTdxEvidenceJson,
} from './simulator-evidence.ts'
import {
  checkSimulatorDirectory,
  errnoOf,
  readSimulatorFile,
  simDirError,
  simIoError,
} from './simulator-files.ts'
import {
  SIMULATED_GUESTS_DIR,
  SIMULATED_GUEST_FORMAT,
  SIMULATED_GUEST_MAX_SIZE,
  SIMULATED_GUEST_VERSION,
  checkGuestName,
  encodeSimulatedGuestRecord,
  guestRecordFile,
  parseSimulatedGuestRecord,
  type SimulatedGuestRecord,
  type SimulatedGuestTee,
} from './simulator-guest-record.ts'
import { loadSimulator } from './simulator-load.ts'
import type { SimulatorMaterial } from './simulator-material.ts'

/** Options for {@link launchSimulatedGuest}. */
export interface LaunchSimulatedGuestOptions {
  /** The simulator directory (made by `initSimulator`; it must exist and be valid). */
  readonly simDir: string
  /** The guest's name (`isSimulatedGuestName`). */
  readonly name: string
  readonly tee: SimulatedGuestTee
  /** The initdata document's exact bytes: parsed, and its digest fitted to the field. */
  readonly initdata: Uint8Array
  /** Launch a debuggable guest (its reports say so). Default false. */
  readonly debug?: boolean
  /** Launch a migratable guest (its reports say so). Default false. */
  readonly migratable?: boolean
  /** Replace a guest of this name. Default false: an existing name is refused. */
  readonly replace?: boolean
  /** The launch time recorded. Default: now. */
  readonly now?: Date
}

/** What {@link launchSimulatedGuest} did. */
export interface LaunchedSimulatedGuest {
  readonly record: SimulatedGuestRecord
  /** The record's path. */
  readonly path: string
  /** True when a guest of this name was there before (only with `replace`). */
  readonly replaced: boolean
  /** `bindingFor`'s warnings (a digest cut to fit HOST_DATA). */
  readonly warnings: readonly string[]
}

/** A simulated guest's evidence in Trustee's shape for its TEE. */
export type SimulatedGuestEvidence =
  | { readonly tee: 'snp'; readonly evidence: TrusteeSnpEvidenceJson }
  | { readonly tee: 'tdx'; readonly evidence: TrusteeTdxEvidenceJson }

/** `DIR/guests`, checked (a directory, not a link, ours, not writable by others); made if asked. */
async function guestsDirectory(simDir: string, create: boolean): Promise<string | undefined> {
  const dir = join(simDir, SIMULATED_GUESTS_DIR)
  try {
    if (create) await mkdir(dir, { mode: 0o700 })
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') {
      throw simIoError(
        'ERR_SIM_DIR_WRITE',
        'cannot create',
        dir,
        'check the simulator directory’s permissions',
        error,
      )
    }
  }
  let info
  try {
    info = await lstat(dir)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw simIoError('ERR_SIM_DIR_READ', 'cannot read', dir, 'check its permissions', error)
  }
  const uid = process.getuid?.()
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) {
    throw simDirError(
      'ERR_SIM_GUESTS_DIR',
      `${JSON.stringify(dir)} must be a directory (not a link) of this user, writable by nobody else`,
      dir,
      `if you trust the guests in it, run \`chmod 700 ${dir}\`; otherwise remove it and launch them again`,
    )
  }
  return dir
}

function launchTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false
    throw simIoError('ERR_SIM_DIR_READ', 'cannot read', path, 'check its permissions', error)
  }
}

function guestExists(name: string, path: string): UsageError {
  return new UsageError(
    'ERR_SIM_GUEST_EXISTS',
    `there is already a simulated guest ${JSON.stringify(name)} (${path})`,
    {
      details: { name, path },
      hint: 'give another --name, or --replace to launch it again with the new document',
    },
  )
}

/** Put `bytes` at `path` only if nothing is there: written beside it, then hard-linked. */
async function writeNew(path: string, bytes: Uint8Array, name: string): Promise<void> {
  const staging = `${path}.launch-${randomBytes(6).toString('hex')}`
  await writeFileAtomic(staging, bytes, { what: 'simulated guest record', mode: 0o600 })
  try {
    await link(staging, path)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') throw guestExists(name, path)
    throw simIoError('ERR_SIM_DIR_WRITE', 'cannot write', path, 'check its permissions', error)
  } finally {
    await rm(staging, { force: true })
  }
}

/**
 * Launch the simulated guest `name`: fix its init-time field to the document's fitted digest.
 *
 * @example
 * ```ts
 * const { record } = await launchSimulatedGuest({ simDir, name: 'web', tee: 'snp', initdata: bytes })
 * record.init_data_field // HOST_DATA, hex: what every report of `web` carries from now on
 * ```
 *
 * @throws {@link UsageError} `ERR_SIM_GUEST_NAME`, `ERR_SIM_GUEST_EXISTS` (without `replace`);
 *   `MalformedInputError` `ERR_INITDATA_…` for a document that does not parse; every error of
 *   `loadSimulator` (`ERR_SIM_DIR_MISSING`, …); {@link LocalIoError} `ERR_SIM_GUESTS_DIR`,
 *   `ERR_SIM_DIR_WRITE`, `ERR_FILE_WRITE`.
 */
export async function launchSimulatedGuest(
  options: LaunchSimulatedGuestOptions,
): Promise<LaunchedSimulatedGuest> {
  const file = guestRecordFile(options.name)
  const document = parseInitdata(options.initdata)
  const binding = bindingFor(options.tee, document.algorithm, document.digest)
  await loadSimulator(options.simDir)
  await guestsDirectory(options.simDir, true)
  const record: SimulatedGuestRecord = {
    format: SIMULATED_GUEST_FORMAT,
    version: SIMULATED_GUEST_VERSION,
    name: options.name,
    tee: options.tee,
    launched: launchTime(options.now ?? new Date()),
    init_data_field: bytesToHex(binding.value),
    algorithm: document.algorithm,
    initdata_digest: bytesToHex(document.digest),
    debug: options.debug === true,
    migratable: options.migratable === true,
  }
  const path = join(options.simDir, file)
  const bytes = encodeSimulatedGuestRecord(record)
  let replaced = false
  if (options.replace === true) {
    replaced = await exists(path)
    await writeFileAtomic(path, bytes, { what: 'simulated guest record', mode: 0o600 })
  } else {
    if (await exists(path)) throw guestExists(options.name, path)
    await writeNew(path, bytes, options.name)
  }
  return { record, path, replaced, warnings: binding.warnings }
}

/**
 * The record of the simulated guest `name` in `simDir`, read (0600, no link, ours) and checked.
 *
 * @throws {@link UsageError} `ERR_SIM_GUEST_NAME`; {@link LocalIoError} `ERR_SIM_GUEST_UNKNOWN`
 *   (never launched), `ERR_SIM_GUEST_INVALID`, `ERR_SIM_GUEST_VERSION`, `ERR_SIM_GUESTS_DIR`,
 *   `ERR_SIM_DIR_*`, `ERR_SIM_FILE_*`, `ERR_SIM_KEY_MODE` (a record others can write or read).
 */
export async function loadSimulatedGuest(
  simDir: string,
  name: string,
): Promise<SimulatedGuestRecord> {
  const file = guestRecordFile(checkGuestName(name))
  await checkSimulatorDirectory(simDir)
  const unknown = (): LocalIoError =>
    simDirError(
      'ERR_SIM_GUEST_UNKNOWN',
      `the simulator directory ${JSON.stringify(simDir)} has no guest ${JSON.stringify(name)}`,
      join(simDir, file),
      `launch it first: \`initguard sim launch --sim-dir ${simDir} --tee snp|tdx --initdata FILE --name ${name}\``,
    )
  if ((await guestsDirectory(simDir, false)) === undefined) throw unknown()
  const bytes = await readSimulatorFile(simDir, file, {
    private: true,
    maxSize: SIMULATED_GUEST_MAX_SIZE,
    missing: unknown,
  })
  return parseSimulatedGuestRecord(bytes, name, join(simDir, file))
}

/**
 * Fresh evidence from a launched guest: its launch-time field, the given REPORT_DATA, its launch
 * flags.
 *
 * @throws {@link UsageError} `ERR_SIM_REPORT_DATA_TOO_LONG` above 64 bytes.
 */
export function simulateGuestEvidence(
  material: SimulatorMaterial,
  guest: SimulatedGuestRecord,
  reportData: Uint8Array,
): SimulatedGuestEvidence {
  const request = {
    initDataField: hexToBytes(guest.init_data_field),
    reportData,
    debug: guest.debug,
    migratable: guest.migratable,
  }
  return guest.tee === 'snp'
    ? { tee: 'snp', evidence: simulateSnpEvidenceWithField(material.snp, request) }
    : { tee: 'tdx', evidence: simulateTdxEvidenceWithField(material.tdx, request) }
}
