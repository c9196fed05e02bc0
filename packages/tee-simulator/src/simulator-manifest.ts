/**
 * The simulator directory's files and its manifest, `simulator.json`: what the simulator is and
 * the SHA-256 of every other file, so a changed, swapped or truncated file is refused on load.
 *
 * ```text
 * DIR/                              (0700)
 *   simulator.json                  manifest (below), written last: its presence means complete
 *   amd-roots.pem                   ASK then ARK (KDS cert_chain order): --trust-root
 *   amd-vcek.pem                    the VCEK
 *   amd-vcek-key.pem          0600  the VCEK's P-384 private key (PKCS#8)
 *   amd-crl.der                     the VCEK CRL signed by the ARK (KDS /vcek/v1/Milan/crl's shape)
 *   intel-root.pem                  the Intel-shaped root: --intel-root
 *   intel-pck-chain.pem             PCK ‖ PCK Platform CA ‖ root, as quotes carry it
 *   intel-pck-key.pem         0600  the PCK's P-256 private key
 *   intel-qe-attestation-key.pem 0600 the QE attestation key (P-256)
 *   tdx-collateral.json             TCB info, QE identity, CRLs: --collateral
 * ```
 *
 * ```jsonc
 * { "format": "initguard-tee-simulator", "version": 2, "created": "2026-05-01T12:00:00Z",
 *   "snp": { "product": "Milan", "chip_id": "<128 hex>",
 *            "reported_tcb": { "bootloader": 4, "tee": 0, "snp": 24, "microcode": 219 } },
 *   "roots": { "amd_ark_sha256": "<hex>", "intel_root_sha256": "<hex>" },   // of the DER
 *   "files": { "amd-roots.pem": "<sha256 of the file>", … } }               // every file above
 * ```
 *
 * Pure: bytes in, a checked manifest or a coded error out.
 *
 * @module
 */
import { SimulatorJsonReader, type SimulatorJsonFile } from './simulator-json.ts'
import type { AmdProduct, SnpTcbParts } from './amd-pki-types.ts'

/** The manifest's `format`. */
export const SIMULATOR_MANIFEST_FORMAT = 'initguard-tee-simulator'
/**
 * The one manifest version this code reads and writes. Version 2 added `amd-crl.der`: a version 1
 * simulator has no CRL, so a relying party that checks revocation could not accept its evidence;
 * it is refused on load (`ERR_SIM_MANIFEST_VERSION`) with the hint to make a new one.
 */
export const SIMULATOR_MANIFEST_VERSION = 2
/** The manifest's file name. */
export const SIMULATOR_MANIFEST_FILE = 'simulator.json'
/** The largest manifest read: it is a few hundred bytes. */
export const SIMULATOR_MANIFEST_MAX_SIZE: number = 64 * 1024

/** The simulator's files (besides the manifest) by role. */
export const SIMULATOR_FILES = {
  amdRoots: 'amd-roots.pem',
  amdVcek: 'amd-vcek.pem',
  amdVcekKey: 'amd-vcek-key.pem',
  amdCrl: 'amd-crl.der',
  intelRoot: 'intel-root.pem',
  intelPckChain: 'intel-pck-chain.pem',
  intelPckKey: 'intel-pck-key.pem',
  intelQeKey: 'intel-qe-attestation-key.pem',
  tdxCollateral: 'tdx-collateral.json',
} as const

/** A file of the simulator directory (not the manifest). */
export type SimulatorFileName = (typeof SIMULATOR_FILES)[keyof typeof SIMULATOR_FILES]

/** The files that hold private keys: mode 0600, and refused on load when others may read them. */
export const SIMULATOR_PRIVATE_FILES: readonly SimulatorFileName[] = [
  SIMULATOR_FILES.amdVcekKey,
  SIMULATOR_FILES.intelPckKey,
  SIMULATOR_FILES.intelQeKey,
]

/** The files the public trust material (`simulatorTrust`) is made of. */
export const SIMULATOR_TRUST_FILES: readonly SimulatorFileName[] = [
  SIMULATOR_FILES.amdRoots,
  SIMULATOR_FILES.amdCrl,
  SIMULATOR_FILES.intelRoot,
  SIMULATOR_FILES.tdxCollateral,
]

const FILE_NAMES: readonly SimulatorFileName[] = Object.values(SIMULATOR_FILES)

/** The checked content of `simulator.json`. */
export interface SimulatorManifest {
  readonly format: typeof SIMULATOR_MANIFEST_FORMAT
  readonly version: typeof SIMULATOR_MANIFEST_VERSION
  /** ISO 8601, whole seconds. */
  readonly created: string
  readonly snp: {
    readonly product: AmdProduct
    /** The chip id, 64 bytes as hex. */
    readonly chip_id: string
    readonly reported_tcb: SnpTcbParts
  }
  /** SHA-256 of the roots' DER, as verifiers print them. */
  readonly roots: { readonly amd_ark_sha256: string; readonly intel_root_sha256: string }
  /** SHA-256 (hex) of every file's bytes. */
  readonly files: Readonly<Record<SimulatorFileName, string>>
}

const MANIFEST_FILE: SimulatorJsonFile = {
  what: 'simulator',
  format: SIMULATOR_MANIFEST_FORMAT,
  version: SIMULATOR_MANIFEST_VERSION,
  invalidCode: 'ERR_SIM_MANIFEST_INVALID',
  versionCode: 'ERR_SIM_MANIFEST_VERSION',
  damagedHint:
    'a simulator directory was damaged or is not one; make a new one with `initguard sim init`',
  invalidHint:
    'this is not a simulator directory this version wrote; make a new one with `initguard sim init --sim-dir NEW_DIR`',
  versionHint: 'use the initguard that made it, or make a new simulator with `initguard sim init`',
}

function spl(json: SimulatorJsonReader, value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
    throw json.invalid(field, 'must be a whole number from 0 to 255')
  }
  return value
}

/**
 * Parse and check `simulator.json`: every key known and present, every value of its form.
 *
 * @param path - the file's path, for messages.
 * @throws {@link LocalIoError} `ERR_SIM_MANIFEST_INVALID` (exit 7: the directory is unusable);
 *   `ERR_SIM_MANIFEST_VERSION` for a version this code does not know.
 */
export function parseSimulatorManifest(bytes: Uint8Array, path: string): SimulatorManifest {
  const json = new SimulatorJsonReader(MANIFEST_FILE, path)
  const top = json.top(bytes, ['format', 'version', 'created', 'snp', 'roots', 'files'])
  const created = json.time(top['created'], 'created')
  const snp = json.object(top['snp'], ['product', 'chip_id', 'reported_tcb'], 'snp')
  if (snp['product'] !== 'Milan') throw json.invalid('snp.product', 'must be "Milan"')
  const tcb = json.object(
    snp['reported_tcb'],
    ['bootloader', 'tee', 'snp', 'microcode'],
    'snp.reported_tcb',
  )
  const roots = json.object(top['roots'], ['amd_ark_sha256', 'intel_root_sha256'], 'roots')
  const files = json.object(top['files'], FILE_NAMES, 'files')
  return {
    format: SIMULATOR_MANIFEST_FORMAT,
    version: SIMULATOR_MANIFEST_VERSION,
    created,
    snp: {
      product: 'Milan',
      chip_id: json.hex(snp['chip_id'], 64, 'snp.chip_id'),
      reported_tcb: {
        bootloader: spl(json, tcb['bootloader'], 'snp.reported_tcb.bootloader'),
        tee: spl(json, tcb['tee'], 'snp.reported_tcb.tee'),
        snp: spl(json, tcb['snp'], 'snp.reported_tcb.snp'),
        microcode: spl(json, tcb['microcode'], 'snp.reported_tcb.microcode'),
      },
    },
    roots: {
      amd_ark_sha256: json.hex(roots['amd_ark_sha256'], 32, 'roots.amd_ark_sha256'),
      intel_root_sha256: json.hex(roots['intel_root_sha256'], 32, 'roots.intel_root_sha256'),
    },
    files: Object.fromEntries(
      FILE_NAMES.map((name) => [name, json.hex(files[name], 32, `files.${name}`)]),
    ) as Record<SimulatorFileName, string>,
  }
}

/** The manifest as written: two-space indented JSON and a final newline. */
export function encodeSimulatorManifest(manifest: SimulatorManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)
}
