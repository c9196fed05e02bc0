/**
 * A simulated guest's record: what its init-time field was fixed to at launch
 * (`initguard sim launch`), stored in the simulator directory as `guests/NAME.json` (0600).
 *
 * ```jsonc
 * { "format": "initguard-simulated-guest", "version": 1,
 *   "name": "web", "tee": "snp", "launched": "2026-05-01T12:00:00Z",
 *   "init_data_field": "<64 hex (snp HOST_DATA) | 96 hex (tdx MRCONFIGID)>",
 *   "algorithm": "sha384", "initdata_digest": "<the document's whole digest, hex>",
 *   "debug": false, "migratable": false }
 * ```
 *
 * `init_data_field` is what the guest's evidence carries; `algorithm` and `initdata_digest` say
 * where it came from (for display), and must fit to it exactly (`fitDigest`), so a record whose
 * field was edited alone is refused rather than silently believed.
 *
 * Pure: bytes in, a checked record or a coded error out.
 *
 * @module
 */
import { UsageError, bytesToHex, hexToBytes } from '@initguard/core'
import { SimulatorJsonReader, type SimulatorJsonFile } from './simulator-json.ts'
import {
  DIGEST_LENGTHS,
  INITDATA_ALGORITHMS,
  TEE_FIELDS,
  fitDigest,
  isInitdataAlgorithm,
  type InitdataAlgorithm,
} from '@initguard/initdata'

/** The record's `format`. */
export const SIMULATED_GUEST_FORMAT = 'initguard-simulated-guest'
/** The one record version this code reads and writes. */
export const SIMULATED_GUEST_VERSION = 1
/** The folder of the simulator directory that holds the guests' records. */
export const SIMULATED_GUESTS_DIR = 'guests'
/** The largest guest record read: it is a few hundred bytes. */
export const SIMULATED_GUEST_MAX_SIZE: number = 16 * 1024
/** What a guest name may be: a lower-case letter or digit, then up to 62 of `a-z 0-9 . _ -`. */
const GUEST_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/

/** The TEEs the simulator launches guests of. */
export type SimulatedGuestTee = 'snp' | 'tdx'

/** The checked content of `guests/NAME.json`. */
export interface SimulatedGuestRecord {
  readonly format: typeof SIMULATED_GUEST_FORMAT
  readonly version: typeof SIMULATED_GUEST_VERSION
  /** The guest's name (matches {@link isSimulatedGuestName} and the file name). */
  readonly name: string
  readonly tee: SimulatedGuestTee
  /** ISO 8601 UTC, whole seconds. */
  readonly launched: string
  /** HOST_DATA (32 bytes) or MRCONFIGID (48 bytes), lower-case hex: what the evidence carries. */
  readonly init_data_field: string
  /** The launch document's algorithm. */
  readonly algorithm: InitdataAlgorithm
  /** The launch document's whole digest, lower-case hex (before fitting). */
  readonly initdata_digest: string
  readonly debug: boolean
  readonly migratable: boolean
}

/** True when `name` is a guest name: 1 to 63 of `a-z 0-9 . _ -`, starting with a letter or digit. */
export function isSimulatedGuestName(name: string): boolean {
  return GUEST_NAME.test(name)
}

/**
 * `name`, checked with {@link isSimulatedGuestName} (it becomes a file name).
 *
 * @throws {@link UsageError} `ERR_SIM_GUEST_NAME`.
 */
export function checkGuestName(name: string): string {
  if (!isSimulatedGuestName(name)) {
    throw new UsageError('ERR_SIM_GUEST_NAME', `${JSON.stringify(name)} is not a guest name`, {
      details: { name: name.slice(0, 80) },
      hint: 'a guest name is 1 to 63 characters: a lower-case letter or digit, then letters, digits, ".", "_" or "-"',
    })
  }
  return name
}

/** The record's path inside the simulator directory: `guests/NAME.json`. */
export function guestRecordFile(name: string): string {
  return `${SIMULATED_GUESTS_DIR}/${checkGuestName(name)}.json`
}

const GUEST_RECORD_FILE: SimulatorJsonFile = {
  what: 'guest record',
  format: SIMULATED_GUEST_FORMAT,
  version: SIMULATED_GUEST_VERSION,
  invalidCode: 'ERR_SIM_GUEST_INVALID',
  versionCode: 'ERR_SIM_GUEST_VERSION',
  damagedHint:
    'the guest record was damaged; launch the guest again with `initguard sim launch … --replace`',
  invalidHint:
    'the guest record was changed or is not one this version wrote; launch the guest again with `initguard sim launch … --replace`',
  versionHint: 'use the initguard that launched it, or launch the guest again with `--replace`',
}

function flag(json: SimulatorJsonReader, value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw json.invalid(field, 'must be true or false')
  return value
}

const KEYS = [
  'format',
  'version',
  'name',
  'tee',
  'launched',
  'init_data_field',
  'algorithm',
  'initdata_digest',
  'debug',
  'migratable',
] as const

/**
 * Parse and check a guest record: every key known and present, every value of its form, the
 * name the one expected, and the field the digest fitted to it.
 *
 * @param expectedName - the name the record was looked up by (its file name).
 * @param path - the file's path, for messages.
 * @throws {@link LocalIoError} `ERR_SIM_GUEST_INVALID` (exit 7); `ERR_SIM_GUEST_VERSION` for a
 *   version this code does not know.
 */
export function parseSimulatedGuestRecord(
  bytes: Uint8Array,
  expectedName: string,
  path: string,
): SimulatedGuestRecord {
  const json = new SimulatorJsonReader(GUEST_RECORD_FILE, path)
  const top = json.top(bytes, KEYS)
  if (top['name'] !== expectedName) {
    throw json.invalid('name', `must be ${JSON.stringify(expectedName)}, the file's name`)
  }
  const tee = top['tee']
  if (tee !== 'snp' && tee !== 'tdx') throw json.invalid('tee', 'must be "snp" or "tdx"')
  const launched = json.time(top['launched'], 'launched')
  const algorithm = top['algorithm']
  if (!isInitdataAlgorithm(algorithm)) {
    throw json.invalid('algorithm', `must be one of ${INITDATA_ALGORITHMS.join(', ')}`)
  }
  const alg = algorithm
  const field = json.hex(top['init_data_field'], TEE_FIELDS[tee].length, 'init_data_field')
  const digest = json.hex(top['initdata_digest'], DIGEST_LENGTHS[alg], 'initdata_digest')
  if (bytesToHex(fitDigest(hexToBytes(digest), TEE_FIELDS[tee].length)) !== field) {
    throw json.invalid(
      'init_data_field',
      `is not initdata_digest fitted to ${TEE_FIELDS[tee].name}`,
    )
  }
  return {
    format: SIMULATED_GUEST_FORMAT,
    version: SIMULATED_GUEST_VERSION,
    name: expectedName,
    tee,
    launched,
    init_data_field: field,
    algorithm: alg,
    initdata_digest: digest,
    debug: flag(json, top['debug'], 'debug'),
    migratable: flag(json, top['migratable'], 'migratable'),
  }
}

/** The record as written: two-space indented JSON and a final newline. */
export function encodeSimulatedGuestRecord(record: SimulatedGuestRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`)
}
