/**
 * Trustee's SEV-SNP evidence JSON (`SnpEvidence` in Trustee's `deps/verifier/src/snp`), which is
 * the serde form of the `sev` crate's `AttestationReport` and `CertTableEntry`:
 *
 * ```jsonc
 * {
 *   "attestation_report": {
 *     "version": 3, "guest_svn": 0, "policy": 196608,          // u32, u32, u64
 *     "family_id": [16 bytes], "image_id": [16 bytes],
 *     "vmpl": 0, "sig_algo": 1,                                 // u32, u32
 *     "current_tcb": {"fmc": null, "bootloader": 10, "tee": 0, "snp": 23, "microcode": 25},
 *     "plat_info": 37, "key_info": 0,                           // u64, u32
 *     "report_data": [64], "measurement": [48], "host_data": [32],
 *     "id_key_digest": [48], "author_key_digest": [48], "report_id": [32], "report_id_ma": [32],
 *     "reported_tcb": {…},
 *     "cpuid_fam_id": 25, "cpuid_mod_id": 160, "cpuid_step": 2, // u8 or null (v2)
 *     "chip_id": [64], "committed_tcb": {…},
 *     "current": {"major": 1, "minor": 55, "build": 40}, "committed": {…},
 *     "launch_tcb": {…},
 *     "launch_mit_vector": null, "current_mit_vector": null,   // u64 or null (before v5)
 *     "signature": {"r": [72 bytes, little-endian], "s": [72 bytes, little-endian]}
 *   },
 *   "cert_chain": [{"cert_type": "VCEK", "data": [DER bytes]}] // or null
 * }
 * ```
 *
 * `cert_type` is `"VCEK"`, `"VLEK"`, `"ASK"`, `"ARK"`, `"CRL"` or `{"OTHER": "<uuid>"}`.
 *
 * **What the JSON cannot carry.** It has no place for the report's reserved bytes (0x04C, the
 * reserved runs after CPUID_STEP, after the version bytes, after LAUNCH_TCB or the mitigation
 * vectors, and after SIGNATURE.S), nor for the reserved bytes inside each TCB_VERSION (bytes 2–5
 * on Milan/Genoa, 4–6 on Turin): the `sev` crate writes them as zero, and so does
 * {@link parseTrusteeSnpEvidence}. The signature covers the reserved bytes, so a genuine report
 * whose reserved bytes were not zero would not verify after the trip through JSON (no such report
 * is known). {@link snpReportToTrusteeJson} refuses such reports rather than silently dropping bytes.
 * The TCB layout is chosen by `fmc`: a number means the Turin layout, `null` the Milan/Genoa one.
 *
 * Accepted beyond what the `sev` crate writes, as serde reads it: a missing `cert_chain`, `fmc`,
 * `cpuid_*` or `*_mit_vector` means `null` (older `sev` versions wrote no mitigation vectors), and a
 * GUID in `OTHER` may be upper case. u64 values may also be given as `bigint` (for callers that
 * parse JSON with a bigint-preserving parser); as JSON numbers they must be safe integers.
 *
 * @see virtee/sev `src/firmware/guest/types/snp.rs` (`AttestationReport`) and
 *   `src/firmware/host/types/snp.rs` (`TcbVersion`, `CertType`, `CertTableEntry`);
 *   Trustee `attestation-service/tests/e2e/evidence.json`; relying-party.md §2.1
 * @module
 */
import { MalformedInputError, jsonKind, type JsonObject } from '@initguard/core'
import {
  CERT_TABLE_GUIDS,
  certKindOfGuid,
  normalizeGuid,
  type CertTableEntry,
  type KnownCertTableKind,
} from './cert-table.ts'
import {
  parseSnpReport,
  SNP_MAX_REPORT_VERSION,
  SNP_REPORT_SIZE,
  unsupportedVersion,
  type SnpReport,
} from './report.ts'
import { encodeTcbVersion, productFromCpuid, type SnpProduct, type TcbComponents } from './tcb.ts'
import { U8_MAX, child, JsonChecker } from './trustee-json-checker.ts'

/** A TCB_VERSION in the `sev` crate's serde form; `fmc` is a number on Turin only. */
export interface TrusteeTcbJson {
  fmc: number | null
  bootloader: number
  tee: number
  snp: number
  microcode: number
}

/** A firmware version in the `sev` crate's serde form. */
export interface TrusteeVersionJson {
  major: number
  minor: number
  build: number
}

/** The `sev` crate's `AttestationReport` in serde form; byte arrays are arrays of numbers. */
export interface TrusteeAttestationReportJson {
  version: number
  guest_svn: number
  policy: number
  family_id: number[]
  image_id: number[]
  vmpl: number
  sig_algo: number
  current_tcb: TrusteeTcbJson
  plat_info: number
  key_info: number
  report_data: number[]
  measurement: number[]
  host_data: number[]
  id_key_digest: number[]
  author_key_digest: number[]
  report_id: number[]
  report_id_ma: number[]
  reported_tcb: TrusteeTcbJson
  cpuid_fam_id: number | null
  cpuid_mod_id: number | null
  cpuid_step: number | null
  chip_id: number[]
  committed_tcb: TrusteeTcbJson
  current: TrusteeVersionJson
  committed: TrusteeVersionJson
  launch_tcb: TrusteeTcbJson
  launch_mit_vector: number | null
  current_mit_vector: number | null
  signature: { r: number[]; s: number[] }
}

/** The `sev` crate's `CertType` in serde form (externally tagged enum). */
export type TrusteeCertTypeJson = 'VCEK' | 'VLEK' | 'ASK' | 'ARK' | 'CRL' | { OTHER: string }

/** One `cert_chain` entry. */
export interface TrusteeCertTableEntryJson {
  cert_type: TrusteeCertTypeJson
  data: number[]
}

/** Trustee's `SnpEvidence`, as it travels in the KBS attestation request. */
export interface TrusteeSnpEvidenceJson {
  attestation_report: TrusteeAttestationReportJson
  cert_chain: TrusteeCertTableEntryJson[] | null
}

/** Parsed Trustee SNP evidence. */
export interface TrusteeSnpEvidence {
  /** The report, re-encoded to its exact 0x4A0 ABI bytes (`report.raw`, `report.signedBytes`). */
  readonly report: SnpReport
  /** The `cert_chain` entries in order; empty when `cert_chain` is null or missing. */
  readonly certificates: readonly CertTableEntry[]
}

/** Options for {@link snpReportToTrusteeJson}. */
export interface SnpReportToTrusteeJsonOptions {
  /** Certificates for `cert_chain`; without them `cert_chain` is `null`. */
  readonly certificates?: readonly CertTableEntry[]
  /**
   * The product line, for the TCB layout, when the report does not tell: a v2 report (which the
   * `sev` crate guesses from CHIP_ID) or an unknown CPUID. Must agree with a known CPUID.
   */
  readonly product?: SnpProduct
}

const REPORT_KEYS = [
  'version',
  'guest_svn',
  'policy',
  'family_id',
  'image_id',
  'vmpl',
  'sig_algo',
  'current_tcb',
  'plat_info',
  'key_info',
  'report_data',
  'measurement',
  'host_data',
  'id_key_digest',
  'author_key_digest',
  'report_id',
  'report_id_ma',
  'reported_tcb',
  'cpuid_fam_id',
  'cpuid_mod_id',
  'cpuid_step',
  'chip_id',
  'committed_tcb',
  'current',
  'committed',
  'launch_tcb',
  'launch_mit_vector',
  'current_mit_vector',
  'signature',
] as const
const TCB_KEYS = ['fmc', 'bootloader', 'tee', 'snp', 'microcode'] as const
const TCB_FIELDS = ['current_tcb', 'reported_tcb', 'committed_tcb', 'launch_tcb'] as const
const VERSION_KEYS = ['major', 'minor', 'build'] as const
const KIND_BY_CERT_TYPE: ReadonlyMap<string, KnownCertTableKind> = new Map([
  ['VCEK', 'vcek'],
  ['VLEK', 'vlek'],
  ['ASK', 'ask'],
  ['ARK', 'ark'],
  ['CRL', 'crl'],
])
interface CheckedTcb {
  readonly components: TcbComponents
  readonly path: string
  /** False when the TCB had problems (already reported); then `components` are stand-ins. */
  readonly valid: boolean
}

function checkTcb(c: JsonChecker, report: JsonObject, key: string, path: string): CheckedTcb {
  const tcbPath = child(path, key)
  const before = c.total
  const obj = c.field(report, key, path, (v, p) => c.object(v, p, TCB_KEYS), undefined)
  if (obj === undefined) {
    return {
      components: { bootloader: 0, tee: 0, snp: 0, microcode: 0 },
      path: tcbPath,
      valid: false,
    }
  }
  const fmc = c.absent(obj, 'fmc')
    ? undefined
    : c.integer(obj['fmc'], child(tcbPath, 'fmc'), U8_MAX)
  const components: TcbComponents = {
    ...(fmc === undefined ? {} : { fmc }),
    bootloader: c.u8(obj, 'bootloader', tcbPath),
    tee: c.u8(obj, 'tee', tcbPath),
    snp: c.u8(obj, 'snp', tcbPath),
    microcode: c.u8(obj, 'microcode', tcbPath),
  }
  return { components, path: tcbPath, valid: c.total === before }
}

function checkVersion(
  c: JsonChecker,
  report: JsonObject,
  key: string,
  path: string,
): TrusteeVersionJson {
  const versionPath = child(path, key)
  const obj = c.field(report, key, path, (v, p) => c.object(v, p, VERSION_KEYS), undefined)
  if (obj === undefined) return { major: 0, minor: 0, build: 0 }
  return {
    major: c.u8(obj, 'major', versionPath),
    minor: c.u8(obj, 'minor', versionPath),
    build: c.u8(obj, 'build', versionPath),
  }
}

/**
 * A serde `Option` field that the report has from version `since` on: it must be set then and
 * null (or missing) before. `present` is undefined when the version itself is bad.
 */
function checkVersioned<T>(
  c: JsonChecker,
  report: JsonObject,
  key: string,
  path: string,
  present: boolean | undefined,
  read: (value: unknown, path: string) => T,
  since: number,
): T | undefined {
  const fieldPath = child(path, key)
  if (c.absent(report, key)) {
    if (present === true) c.add(fieldPath, `must be set for report version ${since} and later`)
    return undefined
  }
  if (present === false) {
    c.add(fieldPath, `must be null before report version ${since}: the report has no such field`)
    return undefined
  }
  return read(report[key], fieldPath)
}

const NIL_GUID = '00000000-0000-0000-0000-000000000000'

/** The GUID a `cert_type` stands for, or '' (and a problem). */
function checkCertType(c: JsonChecker, type: unknown, path: string): string {
  if (typeof type === 'string') {
    const kind = KIND_BY_CERT_TYPE.get(type)
    if (kind !== undefined) return CERT_TABLE_GUIDS[kind]
    c.add(path, 'expected "VCEK", "VLEK", "ASK", "ARK", "CRL" or {"OTHER": "<uuid>"}')
    return ''
  }
  const other = c.object(type, path, ['OTHER'])
  if (other === undefined) return ''
  return c.field(
    other,
    'OTHER',
    path,
    (raw, otherPath) => {
      const guid = typeof raw === 'string' ? normalizeGuid(raw) : undefined
      if (guid === undefined) {
        c.add(otherPath, 'expected a UUID string (8-4-4-4-12 hex digits)')
        return ''
      }
      if (guid === NIL_GUID) {
        c.add(otherPath, 'the zero UUID marks the end of a certificate table, not a certificate')
        return ''
      }
      const kind = certKindOfGuid(guid)
      if (kind !== 'other') {
        // Trustee picks certificates by variant, so OTHER(<VCEK GUID>) is not a VCEK to it.
        const name = kind.toUpperCase()
        c.add(otherPath, `is the ${name} GUID; use "${name}" as the cert_type`)
        return ''
      }
      return guid
    },
    '',
  )
}

function checkCertChain(c: JsonChecker, value: unknown, path: string): CertTableEntry[] {
  if (!Array.isArray(value)) {
    c.add(path, `expected an array or null, got ${jsonKind(value)}`)
    return []
  }
  const entries: CertTableEntry[] = []
  const seen = new Set<string>()
  ;(value as readonly unknown[]).forEach((item, index) => {
    const itemPath = `${path}[${index}]`
    const obj = c.object(item, itemPath, ['cert_type', 'data'])
    if (obj === undefined) return
    const guid = c.field(obj, 'cert_type', itemPath, (v, p) => checkCertType(c, v, p), '')
    const data = c.field(
      obj,
      'data',
      itemPath,
      (v, p) => c.byteArray(v, p, undefined),
      new Uint8Array(0),
    )
    if (guid !== '') {
      if (seen.has(guid)) {
        c.add(
          child(itemPath, 'cert_type'),
          `a second certificate of this type (${guid}); which one counts would be ambiguous`,
        )
      }
      seen.add(guid)
    }
    entries.push({ kind: certKindOfGuid(guid), guid, data })
  })
  return entries
}

function invalid(c: JsonChecker): MalformedInputError {
  const shown = c.problems.slice(0, 5).map((p) => `${p.path}: ${p.problem}`)
  const more = c.total - shown.length
  return new MalformedInputError(
    'ERR_SNP_EVIDENCE_JSON_INVALID',
    `Trustee SNP evidence is invalid (${c.total} problem${c.total === 1 ? '' : 's'}): ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    {
      details: {
        problems: c.total,
        paths: c.problems.map((p) => p.path),
        messages: c.problems.map((p) => `${p.path}: ${p.problem}`),
      },
      hint: "the evidence must be the serde JSON of the sev crate's AttestationReport (see Trustee attestation-service/tests/e2e/evidence.json)",
    },
  )
}

/**
 * Parse Trustee's SEV-SNP evidence JSON (already parsed from text, e.g. with `JSON.parse`) into
 * a report re-encoded to its exact 0x4A0 ABI bytes, plus the `cert_chain` certificates.
 *
 * Validation is strict: every field present (except the serde `Option` fields listed in the module
 * comment) with the right type and range, every byte array of exactly its length with integers
 * 0–255, no unknown fields, CPUID fields set from version 3 on and null before, mitigation vectors
 * set from version 5 on and null before, all four TCBs in the same layout (and the Turin layout
 * exactly when the CPUID says Turin). All problems are collected and reported together, each with
 * its JSON path. The re-encoded bytes then go through `parseSnpReport`.
 *
 * @example
 * ```ts
 * const { report, certificates } = parseTrusteeSnpEvidence(JSON.parse(evidenceText))
 * const vcek = certificates.find((c) => c.kind === 'vcek')?.data
 * // report.signedBytes are the exact bytes the signature covers
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_SNP_EVIDENCE_JSON_INVALID` with `details.paths` and
 *   `details.messages` (the first 50 problems) and `details.problems` (how many); or, for a report
 *   that fits the JSON schema, `ERR_SNP_REPORT_VERSION` (version 0 or 1, or above 5) and
 *   `ERR_SNP_SIGNATURE_ALGORITHM` from `parseSnpReport`.
 */
export function parseTrusteeSnpEvidence(json: unknown): TrusteeSnpEvidence {
  const c = new JsonChecker()
  const top = c.object(json, '$', ['attestation_report', 'cert_chain'])
  if (top === undefined) throw invalid(c)
  const certificates = c.absent(top, 'cert_chain')
    ? []
    : checkCertChain(c, top['cert_chain'], '$.cert_chain')
  const path = '$.attestation_report'
  const report = c.field(
    top,
    'attestation_report',
    '$',
    (v, p) => c.object(v, p, REPORT_KEYS),
    undefined,
  )
  if (report === undefined) throw invalid(c)

  const before = c.total
  const version = c.u32(report, 'version', path)
  const versionKnown = c.total === before
  if (versionKnown && (version < 2 || version > SNP_MAX_REPORT_VERSION))
    throw unsupportedVersion(version)
  const hasCpuid = versionKnown ? version >= 3 : undefined
  const hasMitVectors = versionKnown ? version >= 5 : undefined
  const u8 = (value: unknown, at: string): number => c.integer(value, at, U8_MAX)
  const u64 = (value: unknown, at: string): bigint => c.u64Value(value, at)

  const f = {
    guestSvn: c.u32(report, 'guest_svn', path),
    policy: c.u64(report, 'policy', path),
    familyId: c.bytes(report, 'family_id', path, 16),
    imageId: c.bytes(report, 'image_id', path, 16),
    vmpl: c.u32(report, 'vmpl', path),
    sigAlgo: c.u32(report, 'sig_algo', path),
    platInfo: c.u64(report, 'plat_info', path),
    keyInfo: c.u32(report, 'key_info', path),
    reportData: c.bytes(report, 'report_data', path, 64),
    measurement: c.bytes(report, 'measurement', path, 48),
    hostData: c.bytes(report, 'host_data', path, 32),
    idKeyDigest: c.bytes(report, 'id_key_digest', path, 48),
    authorKeyDigest: c.bytes(report, 'author_key_digest', path, 48),
    reportId: c.bytes(report, 'report_id', path, 32),
    reportIdMa: c.bytes(report, 'report_id_ma', path, 32),
    cpuidFamId: checkVersioned(c, report, 'cpuid_fam_id', path, hasCpuid, u8, 3),
    cpuidModId: checkVersioned(c, report, 'cpuid_mod_id', path, hasCpuid, u8, 3),
    cpuidStep: checkVersioned(c, report, 'cpuid_step', path, hasCpuid, u8, 3),
    chipId: c.bytes(report, 'chip_id', path, 64),
    current: checkVersion(c, report, 'current', path),
    committed: checkVersion(c, report, 'committed', path),
    launchMitVector: checkVersioned(c, report, 'launch_mit_vector', path, hasMitVectors, u64, 5),
    currentMitVector: checkVersioned(c, report, 'current_mit_vector', path, hasMitVectors, u64, 5),
  }
  const [currentTcb, reportedTcb, committedTcb, launchTcb] = TCB_FIELDS.map((key) =>
    checkTcb(c, report, key, path),
  ) as [CheckedTcb, CheckedTcb, CheckedTcb, CheckedTcb]
  const signaturePath = child(path, 'signature')
  const signature = c.field(
    report,
    'signature',
    path,
    (v, p) => c.object(v, p, ['r', 's']),
    undefined,
  )
  const r =
    signature === undefined ? new Uint8Array(72) : c.bytes(signature, 'r', signaturePath, 72)
  const s =
    signature === undefined ? new Uint8Array(72) : c.bytes(signature, 's', signaturePath, 72)

  // The JSON carries TCBs as components; which byte layout they go back into follows `fmc`.
  // All four must agree, and agree with the CPUID when it names a product.
  const [first, ...rest] = [currentTcb, reportedTcb, committedTcb, launchTcb].filter((t) => t.valid)
  const turin = first?.components.fmc !== undefined
  if (first !== undefined) {
    for (const t of rest) {
      if ((t.components.fmc !== undefined) !== turin) {
        c.add(
          child(t.path, 'fmc'),
          `${turin ? 'null' : 'set'} here but ${turin ? 'set' : 'null'} in ${first.path}: all TCBs of a report have the same layout`,
        )
      }
    }
    const product = productFromCpuid(f.cpuidFamId ?? -1, f.cpuidModId ?? -1)
    if (product !== 'unknown' && (product === 'Turin') !== turin) {
      c.add(
        child(first.path, 'fmc'),
        `must be ${product === 'Turin' ? 'set' : 'null'}: the CPUID fields say ${product}`,
      )
    }
  }
  if (c.total > 0) throw invalid(c)

  const layout: SnpProduct = turin ? 'Turin' : 'Milan'
  const tcb = (t: CheckedTcb): bigint => encodeTcbVersion(t.components, layout)
  const out = new Uint8Array(SNP_REPORT_SIZE)
  const view = new DataView(out.buffer)
  view.setUint32(0x000, version, true)
  view.setUint32(0x004, f.guestSvn, true)
  view.setBigUint64(0x008, f.policy, true)
  out.set(f.familyId, 0x010)
  out.set(f.imageId, 0x020)
  view.setUint32(0x030, f.vmpl, true)
  view.setUint32(0x034, f.sigAlgo, true)
  view.setBigUint64(0x038, tcb(currentTcb), true)
  view.setBigUint64(0x040, f.platInfo, true)
  view.setUint32(0x048, f.keyInfo, true)
  out.set(f.reportData, 0x050)
  out.set(f.measurement, 0x090)
  out.set(f.hostData, 0x0c0)
  out.set(f.idKeyDigest, 0x0e0)
  out.set(f.authorKeyDigest, 0x110)
  out.set(f.reportId, 0x140)
  out.set(f.reportIdMa, 0x160)
  view.setBigUint64(0x180, tcb(reportedTcb), true)
  // Absent CPUID and mitigation-vector fields (versions before 3 and 5) are reserved zeros.
  out.set([f.cpuidFamId ?? 0, f.cpuidModId ?? 0, f.cpuidStep ?? 0], 0x188)
  out.set(f.chipId, 0x1a0)
  view.setBigUint64(0x1e0, tcb(committedTcb), true)
  out.set([f.current.build, f.current.minor, f.current.major], 0x1e8)
  out.set([f.committed.build, f.committed.minor, f.committed.major], 0x1ec)
  view.setBigUint64(0x1f0, tcb(launchTcb), true)
  view.setBigUint64(0x1f8, f.launchMitVector ?? 0n, true)
  view.setBigUint64(0x200, f.currentMitVector ?? 0n, true)
  out.set(r, 0x2a0)
  out.set(s, 0x2e8)
  return { report: parseSnpReport(out), certificates }
}
