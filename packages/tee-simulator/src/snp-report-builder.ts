/**
 * Build signed SEV-SNP ATTESTATION_REPORT structures (0x4A0 bytes) for tests, straight from the
 * layout in verifiers.md §1.1 (AMD SEV-SNP ABI, table "ATTESTATION_REPORT Structure").
 *
 * Every field has a default that looks like a real report of the chosen product (versions,
 * CPUID, TCB, platform info and firmware build taken from real Milan, Genoa and Turin reports),
 * so a test sets only what it is about. The signature is ECDSA P-384 with SHA-384 over bytes
 * `0x000..0x2A0`, computed by `node:crypto` and stored the way the firmware stores it: R at
 * 0x2A0 and S at 0x2E8, each a 72-byte little-endian integer.
 *
 * ```text
 * 0x000 VERSION u32        0x038 CURRENT_TCB u64     0x140 REPORT_ID [32]      0x1E8 CURRENT build/minor/major
 * 0x004 GUEST_SVN u32      0x040 PLATFORM_INFO u64   0x160 REPORT_ID_MA [32]   0x1EC COMMITTED build/minor/major
 * 0x008 POLICY u64         0x048 signer info u32     0x180 REPORTED_TCB u64    0x1F0 LAUNCH_TCB u64
 * 0x010 FAMILY_ID [16]     0x050 REPORT_DATA [64]    0x188 CPUID fam/mod/step  0x1F8 LAUNCH_MIT_VECTOR (v5)
 * 0x020 IMAGE_ID [16]      0x090 MEASUREMENT [48]          (v3+)               0x200 CURRENT_MIT_VECTOR (v5)
 * 0x030 VMPL u32           0x0C0 HOST_DATA [32]      0x1A0 CHIP_ID [64]        0x2A0 SIGNATURE R, S (72 B LE each)
 * 0x034 SIGNATURE_ALGO u32 0x0E0 ID_KEY_DIGEST [48]  0x1E0 COMMITTED_TCB u64
 *                          0x110 AUTHOR_KEY_DIGEST [48]
 * ```
 *
 * Pure: no clock, no randomness (the defaults are fixed values; ECDSA signing itself is
 * randomised by `node:crypto`).
 *
 * @module
 */
import { createHash, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { AmdProduct, SnpTcbParts } from './amd-pki-types.ts'
import { builderError, type BuilderError } from './builder-error.ts'
import { isEcKey } from '@initguard/core'
import type { SnpReport } from '@initguard/snp/parsers'

/** Size of an ATTESTATION_REPORT: 0x4A0 = 1184 bytes. */
export const SNP_REPORT_SIZE = 0x4a0
/** Length of the signed part of a report: bytes `0x000..0x2A0`. */
export const SNP_REPORT_SIGNED_LENGTH = 0x2a0

const SIG_R_OFFSET = 0x2a0
const SIG_S_OFFSET = 0x2e8
const P384_SCALAR_SIZE = 48

/** Which key signed the report: the signer-info SIGNING_KEY field (bits 4:2) at 0x048. */
export type SnpKeySelect = 'vcek' | 'vlek' | 'none'

const KEY_SELECT_VALUE: Readonly<Record<SnpKeySelect, number>> = { vcek: 0, vlek: 1, none: 7 }

/** A firmware version as the report stores it: build, minor, major, one byte each. */
export interface SnpFirmwareVersion {
  /** Build number (0x1E8 current, 0x1EC committed). */
  readonly build: number
  /** Minor API version. */
  readonly minor: number
  /** Major API version. */
  readonly major: number
}

/** Bytes to write over the signed part of a report after the fields, before signing. */
export interface SnpReportPatch {
  /** Offset in the report, 0 to 0x29F. */
  readonly offset: number
  /** The bytes; they must end at or before 0x2A0. */
  readonly bytes: Uint8Array
}

/** The fields the builder takes by the parser's own name and type ({@link SnpReport}). */
type SnpReportSharedField =
  | 'guestSvn'
  | 'familyId'
  | 'imageId'
  | 'vmpl'
  | 'currentTcb'
  | 'reportData'
  | 'measurement'
  | 'hostData'
  | 'idKeyDigest'
  | 'authorKeyDigest'
  | 'reportId'
  | 'reportIdMa'
  | 'reportedTcb'
  | 'chipId'
  | 'committedTcb'
  | 'launchTcb'

/**
 * Every field of a report with its value: what {@link defaultSnpReportFields} returns and
 * {@link buildSnpReport} writes. The fields `parseSnpReport` returns as they are written
 * (byte arrays, raw TCB values, plain numbers) keep its names and types; the others are given
 * here in the form they are written in (raw POLICY and PLATFORM_INFO, signer-info bits, CPUID and
 * firmware bytes, mitigation vectors).
 */
export interface SnpReportFieldValues extends Pick<SnpReport, SnpReportSharedField> {
  /**
   * VERSION. 2, 3 and 5 are the real layouts (4 is laid out as 3). Other values are written as
   * given for negative tests: below 3 the v2 layout (no CPUID), from 5 the v5 layout
   * (mitigation vectors).
   */
  readonly version: number
  /** POLICY (u64); bit 17 is reserved-must-be-one. */
  readonly policy: bigint
  /** SIGNATURE_ALGO (u32); 1 is ECDSA P-384 with SHA-384. */
  readonly signatureAlgo: number
  /** PLATFORM_INFO (u64). */
  readonly platformInfo: bigint
  /** AUTHOR_KEY_EN (signer info bit 0). */
  readonly authorKeyEn: boolean
  /** MASK_CHIP_KEY (signer info bit 1). */
  readonly maskChipKey: boolean
  /** SIGNING_KEY (signer info bits 4:2): VCEK 0, VLEK 1, none 7. */
  readonly keySelect: SnpKeySelect
  /** CPUID_FAM_ID (v3+). */
  readonly cpuidFamId: number
  /** CPUID_MOD_ID (v3+). */
  readonly cpuidModId: number
  /** CPUID_STEP (v3+). */
  readonly cpuidStep: number
  /** CURRENT_BUILD / CURRENT_MINOR / CURRENT_MAJOR. */
  readonly currentVersion: SnpFirmwareVersion
  /** COMMITTED_BUILD / COMMITTED_MINOR / COMMITTED_MAJOR. */
  readonly committedVersion: SnpFirmwareVersion
  /** LAUNCH_MIT_VECTOR (u64, v5). */
  readonly launchMitVector: bigint
  /** CURRENT_MIT_VECTOR (u64, v5). */
  readonly currentMitVector: bigint
}

/** The fields to set in {@link buildSnpReport}; everything left out takes the product default. */
export interface SnpReportFields extends Partial<SnpReportFieldValues> {
  /** The product whose defaults fill the fields left out. Default `'Milan'`. */
  readonly product?: AmdProduct
  /**
   * The whole signer-info u32 at 0x048, overriding `authorKeyEn`, `maskChipKey` and `keySelect`
   * (to set must-be-zero bits in negative tests).
   */
  readonly signerInfo?: number
  /** Raw bytes written over the signed part after the fields, before signing. */
  readonly patches?: readonly SnpReportPatch[]
}

const snpBuildError: BuilderError<'ERR_SNP_BUILD_'> = builderError

function checkByte(value: number | undefined, field: string): number {
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 0xff) {
    throw snpBuildError(
      'ERR_SNP_BUILD_FIELD_INVALID',
      `${field} must be an integer from 0 to 255 (got ${String(value)})`,
      { field, value: String(value) },
    )
  }
  return value
}

/**
 * Encode a TCB_VERSION u64 from its security patch levels (verifiers.md §1.3):
 *
 * ```text
 * Milan, Genoa: byte 0 BL, 1 TEE, 2–5 reserved, 6 SNP, 7 UCODE
 * Turin:        byte 0 FMC, 1 BL, 2 TEE, 3 SNP, 4–6 reserved, 7 UCODE
 * ```
 *
 * @example
 * ```ts
 * encodeTcbVersion({ bootloader: 2, tee: 0, snp: 5, microcode: 68 }, 'Milan') // 0x4405000000000002n
 * encodeTcbVersion({ fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }, 'Turin') // 0x5100000004010101n
 * ```
 *
 * @throws {@link UsageError} `ERR_SNP_BUILD_FIELD_INVALID` when a level is not an integer from 0
 *   to 255, or `fmc` is given for Milan or Genoa (Turin's `fmc` defaults to 0).
 */
export function encodeTcbVersion(tcb: SnpTcbParts, product: AmdProduct): bigint {
  const bytes = new Uint8Array(8)
  if (product === 'Turin') {
    bytes[0] = checkByte(tcb.fmc ?? 0, 'tcb.fmc')
    bytes[1] = checkByte(tcb.bootloader, 'tcb.bootloader')
    bytes[2] = checkByte(tcb.tee, 'tcb.tee')
    bytes[3] = checkByte(tcb.snp, 'tcb.snp')
  } else {
    if (tcb.fmc !== undefined) {
      throw snpBuildError(
        'ERR_SNP_BUILD_FIELD_INVALID',
        `tcb.fmc is a Turin field; ${product}'s TCB_VERSION has no FMC SPL`,
        { field: 'tcb.fmc', product },
        'leave fmc out for Milan and Genoa',
      )
    }
    bytes[0] = checkByte(tcb.bootloader, 'tcb.bootloader')
    bytes[1] = checkByte(tcb.tee, 'tcb.tee')
    bytes[6] = checkByte(tcb.snp, 'tcb.snp')
  }
  bytes[7] = checkByte(tcb.microcode, 'tcb.microcode')
  return new DataView(bytes.buffer).getBigUint64(0, true)
}

interface ProductProfile {
  readonly version: number
  readonly tcb: SnpTcbParts
  readonly platformInfo: bigint
  readonly cpuid: readonly [family: number, model: number, stepping: number]
  readonly firmware: SnpFirmwareVersion
}

// Taken from real reports: Milan v3 (vectors/snp/milan-v3-hostdata: TCB BL4 SNP24 UCODE219,
// PLATFORM_INFO 0x25, CPUID 19/01/01, firmware 1.55.29); Genoa v3 (the TCB of the CoCo
// attestation-service e2e evidence, BL10 TEE0 SNP23 UCODE25, with go-sev-guest's ProductLineCpuid
// model 0x11); Turin v5 (microsoft vector: TCB 0x5100000004010101, PLATFORM_INFO 0x65, CPUID
// family 0x1A model 0x02). Stepping 1 and the Genoa/Turin firmware build are assumptions.
const FIRMWARE: SnpFirmwareVersion = { build: 0x1d, minor: 0x37, major: 0x01 }
const MILAN: ProductProfile = {
  version: 3,
  tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
  platformInfo: 0x25n,
  cpuid: [0x19, 0x01, 0x01],
  firmware: FIRMWARE,
}
const PROFILES: Readonly<Record<AmdProduct, ProductProfile>> = {
  Milan: MILAN,
  // Report version and platform info as Milan's.
  Genoa: {
    ...MILAN,
    tcb: { bootloader: 10, tee: 0, snp: 23, microcode: 25 },
    cpuid: [0x19, 0x11, 0x01],
  },
  Turin: {
    version: 5,
    tcb: { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 },
    platformInfo: 0x65n,
    cpuid: [0x1a, 0x02, 0x01],
    firmware: FIRMWARE,
  },
}

function digest(algorithm: 'sha256' | 'sha384' | 'sha512', label: string): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(`initguard-testkit ${label}`).digest())
}

/**
 * The default value of every report field for a product: what {@link buildSnpReport} writes for
 * fields it is not given. Fixed values (no randomness): a measurement and report ID that look like
 * digests, CHIP_ID of 64 pattern bytes (Turin: 8, then zeros), the product's usual version, TCB,
 * CPUID, platform info and firmware build; POLICY 0x30000 (SMT allowed, reserved bit 17);
 * REPORT_ID_MA all 0xFF; everything else zero. Use it to issue the matching VCEK:
 *
 * @example
 * ```ts
 * const d = defaultSnpReportFields('Milan')
 * const vcek = pki.issueVcek({ chipId: d.chipId, tcb: defaultSnpTcb('Milan'), notBefore, notAfter })
 * ```
 */
export function defaultSnpReportFields(product: AmdProduct): SnpReportFieldValues {
  const profile = PROFILES[product]
  const tcb = encodeTcbVersion(profile.tcb, product)
  const chipId = digest('sha512', `chip id ${product}`)
  if (product === 'Turin') chipId.fill(0, 8)
  const [cpuidFamId, cpuidModId, cpuidStep] = profile.cpuid
  return {
    version: profile.version,
    guestSvn: 0,
    policy: 0x30000n,
    familyId: new Uint8Array(16),
    imageId: new Uint8Array(16),
    vmpl: 0,
    signatureAlgo: 1,
    currentTcb: tcb,
    platformInfo: profile.platformInfo,
    authorKeyEn: false,
    maskChipKey: false,
    keySelect: 'vcek',
    reportData: new Uint8Array(64),
    measurement: digest('sha384', `measurement ${product}`),
    hostData: new Uint8Array(32),
    idKeyDigest: new Uint8Array(48),
    authorKeyDigest: new Uint8Array(48),
    reportId: digest('sha256', `report id ${product}`),
    reportIdMa: new Uint8Array(32).fill(0xff),
    reportedTcb: tcb,
    cpuidFamId,
    cpuidModId,
    cpuidStep,
    chipId,
    committedTcb: tcb,
    currentVersion: profile.firmware,
    committedVersion: profile.firmware,
    launchTcb: tcb,
    launchMitVector: 0n,
    currentMitVector: 0n,
  }
}

/**
 * The TCB levels behind the default CURRENT/REPORTED/COMMITTED/LAUNCH_TCB of a product's reports
 * (in {@link defaultSnpReportFields}), to issue a VCEK that matches them.
 */
export function defaultSnpTcb(product: AmdProduct): SnpTcbParts {
  return PROFILES[product].tcb
}

function u32(view: DataView, offset: number, value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw snpBuildError(
      'ERR_SNP_BUILD_FIELD_INVALID',
      `${field} must be an integer from 0 to 2^32 − 1 (got ${String(value)})`,
      { field, value: String(value) },
    )
  }
  view.setUint32(offset, value, true)
}

function u64(view: DataView, offset: number, value: bigint, field: string): void {
  if (value < 0n || value > 0xffffffffffffffffn) {
    throw snpBuildError(
      'ERR_SNP_BUILD_FIELD_INVALID',
      `${field} must be from 0 to 2^64 − 1 (got ${value.toString()})`,
      { field, value: value.toString() },
    )
  }
  view.setBigUint64(offset, value, true)
}

function put(
  report: Uint8Array,
  offset: number,
  bytes: Uint8Array,
  size: number,
  field: string,
): void {
  if (bytes.length !== size) {
    throw snpBuildError(
      'ERR_SNP_BUILD_FIELD_INVALID',
      `${field} must be exactly ${size} bytes (got ${bytes.length})`,
      { field, expected: size, actual: bytes.length },
    )
  }
  report.set(bytes, offset)
}

function putVersion(
  report: Uint8Array,
  offset: number,
  v: SnpFirmwareVersion,
  field: string,
): void {
  report[offset] = checkByte(v.build, `${field}.build`)
  report[offset + 1] = checkByte(v.minor, `${field}.minor`)
  report[offset + 2] = checkByte(v.major, `${field}.major`)
}

function requireVersion(
  fields: SnpReportFields,
  names: readonly (keyof SnpReportFieldValues)[],
  minimum: number,
  version: number,
): void {
  for (const name of names) {
    if (fields[name] !== undefined && version < minimum) {
      throw snpBuildError(
        'ERR_SNP_BUILD_FIELD_VERSION',
        `${name} exists from report version ${minimum}; this report is version ${version}`,
        { field: name, version, minimum },
        `set version: ${minimum} or leave ${name} out (use patches to write reserved bytes)`,
      )
    }
  }
}

function checkSigningKey(key: KeyObject): void {
  const details = key.asymmetricKeyDetails
  if (!isEcKey(key, 'secp384r1', 'private')) {
    throw snpBuildError(
      'ERR_SNP_BUILD_KEY_INVALID',
      'the report signing key must be an ECDSA P-384 private key (a VCEK or VLEK)',
      { keyType: `${key.type} ${key.asymmetricKeyType ?? ''} ${details?.namedCurve ?? ''}`.trim() },
    )
  }
}

/**
 * Write the signature of a report: ECDSA P-384 with SHA-384 over bytes `0x000..0x2A0`, R at 0x2A0
 * and S at 0x2E8 as 72-byte little-endian integers, zeros up to 0x4A0. Returns a new array; the
 * input is not changed. Use it to re-sign a report after editing it.
 *
 * @throws {@link UsageError} `ERR_SNP_BUILD_SIZE_INVALID` when the report is not 0x4A0 bytes;
 *   `ERR_SNP_BUILD_KEY_INVALID` when the key is not a P-384 private key.
 */
export function signSnpReport(report: Uint8Array, signingKey: KeyObject): Uint8Array {
  if (report.length !== SNP_REPORT_SIZE) {
    throw snpBuildError(
      'ERR_SNP_BUILD_SIZE_INVALID',
      `an SNP report is ${SNP_REPORT_SIZE} bytes (got ${report.length})`,
      { expected: SNP_REPORT_SIZE, actual: report.length },
    )
  }
  checkSigningKey(signingKey)
  const out = report.slice()
  const p1363 = sign('sha384', out.subarray(0, SNP_REPORT_SIGNED_LENGTH), {
    key: signingKey,
    dsaEncoding: 'ieee-p1363',
  })
  out.fill(0, SNP_REPORT_SIGNED_LENGTH)
  // node gives r ‖ s, each 48 bytes big-endian; the report stores each little-endian in 72 bytes.
  out.set(Uint8Array.from(p1363.subarray(0, P384_SCALAR_SIZE)).reverse(), SIG_R_OFFSET)
  out.set(Uint8Array.from(p1363.subarray(P384_SCALAR_SIZE)).reverse(), SIG_S_OFFSET)
  return out
}

/**
 * Read a report's signature as the 96-byte `r ‖ s` (big-endian) that `node:crypto` verifies with
 * `dsaEncoding: 'ieee-p1363'`: the low 48 bytes of each 72-byte little-endian half, reversed. (The
 * high 24 bytes of each half are zero in a well-formed signature; this helper does not check.)
 *
 * @throws {@link UsageError} `ERR_SNP_BUILD_SIZE_INVALID` when the report is not 0x4A0 bytes.
 */
export function snpReportSignatureP1363(report: Uint8Array): Uint8Array {
  if (report.length !== SNP_REPORT_SIZE) {
    throw snpBuildError(
      'ERR_SNP_BUILD_SIZE_INVALID',
      `an SNP report is ${SNP_REPORT_SIZE} bytes (got ${report.length})`,
      { expected: SNP_REPORT_SIZE, actual: report.length },
    )
  }
  const out = new Uint8Array(2 * P384_SCALAR_SIZE)
  out.set(report.slice(SIG_R_OFFSET, SIG_R_OFFSET + P384_SCALAR_SIZE).reverse(), 0)
  out.set(report.slice(SIG_S_OFFSET, SIG_S_OFFSET + P384_SCALAR_SIZE).reverse(), P384_SCALAR_SIZE)
  return out
}

/**
 * Build an ATTESTATION_REPORT (0x4A0 bytes) and sign it.
 *
 * Fields left out take {@link defaultSnpReportFields} of `fields.product` (default Milan). The
 * layout follows the version: CPUID bytes from version 3, mitigation vectors from version 5;
 * reserved bytes are zero. `patches` are applied last, before signing.
 *
 * @param signingKey - The VCEK's or VLEK's P-384 private key; `null` leaves the signature area
 *   zero (an unsigned report).
 *
 * @example
 * ```ts
 * const report = buildSnpReport({ hostData, reportData }, vcek.privateKey)
 * verify('sha384', report.subarray(0, 0x2a0),
 *   { key: vcek.publicKey, dsaEncoding: 'ieee-p1363' }, snpReportSignatureP1363(report)) // true
 * ```
 *
 * @throws {@link UsageError} `ERR_SNP_BUILD_FIELD_INVALID` (a value out of range or a byte field
 *   of the wrong length), `ERR_SNP_BUILD_FIELD_VERSION` (CPUID fields before v3, mitigation
 *   vectors before v5), `ERR_SNP_BUILD_PATCH_INVALID` (a patch outside 0x000..0x2A0),
 *   `ERR_SNP_BUILD_KEY_INVALID` (not a P-384 private key).
 */
export function buildSnpReport(fields: SnpReportFields, signingKey: KeyObject | null): Uint8Array {
  const product = fields.product ?? 'Milan'
  const f: SnpReportFieldValues = { ...defaultSnpReportFields(product), ...fields }
  const version = f.version
  requireVersion(fields, ['cpuidFamId', 'cpuidModId', 'cpuidStep'], 3, version)
  requireVersion(fields, ['launchMitVector', 'currentMitVector'], 5, version)

  const report = new Uint8Array(SNP_REPORT_SIZE)
  const view = new DataView(report.buffer)
  u32(view, 0x000, version, 'version')
  u32(view, 0x004, f.guestSvn, 'guestSvn')
  u64(view, 0x008, f.policy, 'policy')
  put(report, 0x010, f.familyId, 16, 'familyId')
  put(report, 0x020, f.imageId, 16, 'imageId')
  u32(view, 0x030, f.vmpl, 'vmpl')
  u32(view, 0x034, f.signatureAlgo, 'signatureAlgo')
  u64(view, 0x038, f.currentTcb, 'currentTcb')
  u64(view, 0x040, f.platformInfo, 'platformInfo')
  const signerInfo =
    fields.signerInfo ??
    (f.authorKeyEn ? 1 : 0) | (f.maskChipKey ? 2 : 0) | (KEY_SELECT_VALUE[f.keySelect] << 2)
  u32(view, 0x048, signerInfo, 'signerInfo')
  put(report, 0x050, f.reportData, 64, 'reportData')
  put(report, 0x090, f.measurement, 48, 'measurement')
  put(report, 0x0c0, f.hostData, 32, 'hostData')
  put(report, 0x0e0, f.idKeyDigest, 48, 'idKeyDigest')
  put(report, 0x110, f.authorKeyDigest, 48, 'authorKeyDigest')
  put(report, 0x140, f.reportId, 32, 'reportId')
  put(report, 0x160, f.reportIdMa, 32, 'reportIdMa')
  u64(view, 0x180, f.reportedTcb, 'reportedTcb')
  if (version >= 3) {
    report[0x188] = checkByte(f.cpuidFamId, 'cpuidFamId')
    report[0x189] = checkByte(f.cpuidModId, 'cpuidModId')
    report[0x18a] = checkByte(f.cpuidStep, 'cpuidStep')
  }
  put(report, 0x1a0, f.chipId, 64, 'chipId')
  u64(view, 0x1e0, f.committedTcb, 'committedTcb')
  putVersion(report, 0x1e8, f.currentVersion, 'currentVersion')
  putVersion(report, 0x1ec, f.committedVersion, 'committedVersion')
  u64(view, 0x1f0, f.launchTcb, 'launchTcb')
  if (version >= 5) {
    u64(view, 0x1f8, f.launchMitVector, 'launchMitVector')
    u64(view, 0x200, f.currentMitVector, 'currentMitVector')
  }

  for (const patch of fields.patches ?? []) {
    const { offset, bytes } = patch
    if (
      !Number.isInteger(offset) ||
      offset < 0 ||
      offset + bytes.length > SNP_REPORT_SIGNED_LENGTH
    ) {
      throw snpBuildError(
        'ERR_SNP_BUILD_PATCH_INVALID',
        `a patch must lie inside the signed part 0x000..0x2A0 (got offset ${String(offset)}, ${bytes.length} bytes)`,
        { offset: String(offset), length: bytes.length },
        'edit the signature area of the returned report directly',
      )
    }
    report.set(bytes, offset)
  }

  return signingKey === null ? report : signSnpReport(report, signingKey)
}
