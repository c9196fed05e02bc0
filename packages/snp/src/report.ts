/**
 * The SEV-SNP ATTESTATION_REPORT: 0x4A0 bytes, little-endian, signed by the VCEK or VLEK.
 *
 * Parsing checks only the format (size, version, signature algorithm). It never fails on values
 * real firmware may set: unknown policy and platform bits are listed, reserved must-be-zero bytes
 * that are not zero are named in `reservedNonZero`. Deciding whether any of that is acceptable is
 * the appraisal's job.
 *
 * @see AMD SEV-SNP ABI specification (56860), ATTESTATION_REPORT; verifiers.md §1.1, §1.2
 * @module
 */
import { ByteReader, MalformedInputError, bitFlagDecoder, requireUint8Array } from '@initguard/core'

/** Size of an ATTESTATION_REPORT in bytes. */
export const SNP_REPORT_SIZE = 0x4a0
/** Size of the signed part of a report: the signature covers bytes `0x000..0x2A0`. */
export const SNP_SIGNED_SIZE = 0x2a0
/** The only signature algorithm SNP defines: ECDSA P-384 with SHA-384. */
export const SNP_SIGNATURE_ALGORITHM_ECDSA_P384_SHA384 = 1

/** Which byte layout a report was read with (virtee/sev's variants). */
export type SnpReportLayout = 'v2' | 'v3' | 'v5'

/**
 * GUEST_POLICY (u64 at 0x008), decoded.
 *
 * | bits  | field                  |
 * | ----- | ---------------------- |
 * | 7:0   | ABI_MINOR              |
 * | 15:8  | ABI_MAJOR              |
 * | 16    | SMT                    |
 * | 17    | reserved, must be one  |
 * | 18    | MIGRATE_MA             |
 * | 19    | DEBUG                  |
 * | 20    | SINGLE_SOCKET          |
 * | 21    | CXL_ALLOW              |
 * | 22    | MEM_AES_256_XTS        |
 * | 23    | RAPL_DIS               |
 * | 24    | CIPHERTEXT_HIDING_DRAM |
 * | 25    | PAGE_SWAP_DISABLE (v5) |
 * | 63:26 | reserved, must be zero |
 */
export interface SnpGuestPolicy {
  /** The raw 64-bit value. */
  readonly raw: bigint
  /** Minimum ABI minor version the guest requires. */
  readonly abiMinor: number
  /** Minimum ABI major version the guest requires. */
  readonly abiMajor: number
  /** Bit 16: the host may use SMT. */
  readonly smt: boolean
  /** Bit 17: reserved and must be one; firmware refuses a policy without it. */
  readonly reservedBit17: boolean
  /** Bit 18: a migration agent may be associated. */
  readonly migrateMa: boolean
  /** Bit 19: debugging is allowed (the host can read guest memory). */
  readonly debug: boolean
  /** Bit 20: the guest may run on one socket only. */
  readonly singleSocket: boolean
  /** Bit 21: CXL may be populated with devices or memory. */
  readonly cxlAllow: boolean
  /** Bit 22: AES-256-XTS memory encryption is required. */
  readonly memAes256Xts: boolean
  /** Bit 23: Running Average Power Limit must be disabled. */
  readonly raplDis: boolean
  /** Bit 24: ciphertext hiding for DRAM must be enabled. */
  readonly ciphertextHiding: boolean
  /** Bit 25 (v5): the page move and swap commands are disabled for the guest. */
  readonly pageSwapDisable: boolean
  /** Positions of set bits this version does not define (26–63), ascending. */
  readonly unknownBits: readonly number[]
}

/**
 * PLATFORM_INFO (u64 at 0x040), decoded.
 *
 * | bits | field                      |
 * | ---- | -------------------------- |
 * | 0    | SMT_EN                     |
 * | 1    | TSME_EN                    |
 * | 2    | ECC_EN                     |
 * | 3    | RAPL_DIS                   |
 * | 4    | CIPHERTEXT_HIDING_DRAM_EN  |
 * | 5    | ALIAS_CHECK_COMPLETE       |
 * | 6    | reserved (set by real Turin firmware) |
 * | 7    | TIO_EN (v5)                |
 * | 63:8 | reserved                   |
 */
export interface SnpPlatformInfo {
  /** The raw 64-bit value. */
  readonly raw: bigint
  /** Bit 0: SMT is enabled on the host. */
  readonly smtEnabled: boolean
  /** Bit 1: transparent SME is enabled. */
  readonly tsmeEnabled: boolean
  /** Bit 2: the platform uses ECC memory. */
  readonly eccEnabled: boolean
  /** Bit 3: RAPL is disabled. */
  readonly raplDisabled: boolean
  /** Bit 4: ciphertext hiding for DRAM is enabled. */
  readonly ciphertextHidingEnabled: boolean
  /** Bit 5: alias detection completed since the last reset and found no aliasing. */
  readonly aliasCheckComplete: boolean
  /** Bit 7: SEV-TIO is enabled. */
  readonly tioEnabled: boolean
  /**
   * Positions of set bits this version does not define (6, 8–63), ascending. Information only:
   * genuine Turin firmware sets bit 6.
   */
  readonly unknownBits: readonly number[]
}

/** Which key signed a report, from KEY_INFO bits 4:2: 0 VCEK, 1 VLEK, 7 none, 2–6 reserved. */
export type SnpSigningKey = 'vcek' | 'vlek' | 'none' | 'reserved'

/**
 * KEY_INFO / signer info (u32 at 0x048), decoded.
 *
 * | bits | field                        |
 * | ---- | ---------------------------- |
 * | 0    | AUTHOR_KEY_EN                |
 * | 1    | MASK_CHIP_KEY                |
 * | 4:2  | SIGNING_KEY (0 VCEK, 1 VLEK, 7 none) |
 * | 31:5 | reserved, must be zero       |
 */
export interface SnpSignerInfo {
  /** The raw 32-bit value. */
  readonly raw: number
  /** Bit 0: AUTHOR_KEY_DIGEST holds the digest of an author key. */
  readonly authorKeyEn: boolean
  /** Bit 1: MASK_CHIP_KEY; the firmware writes zeros instead of a signature. */
  readonly maskChipKey: boolean
  /** Bits 4:2, named. */
  readonly signingKey: SnpSigningKey
  /** Bits 4:2 as a number (0–7), so that reserved values can be reported. */
  readonly signingKeyCode: number
}

/** The report's ECDSA P-384 signature: R and S as 72-byte little-endian integers, as stored. */
export interface SnpReportSignature {
  /** R, 72 bytes little-endian (0x2A0..0x2E8); the top 24 bytes are zero for P-384. */
  readonly r: Uint8Array
  /** S, 72 bytes little-endian (0x2E8..0x330). */
  readonly s: Uint8Array
}

/**
 * A parsed SEV-SNP ATTESTATION_REPORT.
 *
 * Wire layout (0x4A0 bytes, little-endian; "MBZ" = reserved, must be zero, reported in
 * `reservedNonZero` under the name in brackets when not zero):
 *
 * | offset | size | field                | notes                                           |
 * | ------ | ---- | -------------------- | ----------------------------------------------- |
 * | 0x000  | 4    | VERSION              | 2, 3, 4 (v3 layout), 5; >5 read as v5           |
 * | 0x004  | 4    | GUEST_SVN            |                                                 |
 * | 0x008  | 8    | POLICY               | {@link SnpGuestPolicy}                          |
 * | 0x010  | 16   | FAMILY_ID            |                                                 |
 * | 0x020  | 16   | IMAGE_ID             |                                                 |
 * | 0x030  | 4    | VMPL                 |                                                 |
 * | 0x034  | 4    | SIGNATURE_ALGO       | must be 1 (ECDSA P-384 / SHA-384)               |
 * | 0x038  | 8    | CURRENT_TCB          | TCB_VERSION, see `tcb.ts`                       |
 * | 0x040  | 8    | PLATFORM_INFO        | {@link SnpPlatformInfo}                         |
 * | 0x048  | 4    | KEY_INFO             | {@link SnpSignerInfo}; bits 31:5 MBZ [`KEY_INFO[31:5]`] |
 * | 0x04C  | 4    | reserved             | MBZ [`reserved@0x04C`]                          |
 * | 0x050  | 64   | REPORT_DATA          | guest-supplied                                  |
 * | 0x090  | 48   | MEASUREMENT          | launch digest                                   |
 * | 0x0C0  | 32   | HOST_DATA            | hypervisor-supplied at launch                   |
 * | 0x0E0  | 48   | ID_KEY_DIGEST        |                                                 |
 * | 0x110  | 48   | AUTHOR_KEY_DIGEST    |                                                 |
 * | 0x140  | 32   | REPORT_ID            |                                                 |
 * | 0x160  | 32   | REPORT_ID_MA         | all-FF without a migration agent                |
 * | 0x180  | 8    | REPORTED_TCB         | the TCB the VCEK was derived for                |
 * | 0x188  | 1    | CPUID_FAM_ID         | v3+; v2: 0x188..0x1A0 MBZ [`reserved@0x188`]    |
 * | 0x189  | 1    | CPUID_MOD_ID         | v3+                                             |
 * | 0x18A  | 1    | CPUID_STEP           | v3+                                             |
 * | 0x18B  | 21   | reserved             | v3+: MBZ [`reserved@0x18B`]                     |
 * | 0x1A0  | 64   | CHIP_ID              | zero when masked; Turin: 8 bytes + zeros        |
 * | 0x1E0  | 8    | COMMITTED_TCB        |                                                 |
 * | 0x1E8  | 1    | CURRENT_BUILD        |                                                 |
 * | 0x1E9  | 1    | CURRENT_MINOR        |                                                 |
 * | 0x1EA  | 1    | CURRENT_MAJOR        |                                                 |
 * | 0x1EB  | 1    | reserved             | MBZ [`reserved@0x1EB`]                          |
 * | 0x1EC  | 1    | COMMITTED_BUILD      |                                                 |
 * | 0x1ED  | 1    | COMMITTED_MINOR      |                                                 |
 * | 0x1EE  | 1    | COMMITTED_MAJOR      |                                                 |
 * | 0x1EF  | 1    | reserved             | MBZ [`reserved@0x1EF`]                          |
 * | 0x1F0  | 8    | LAUNCH_TCB           |                                                 |
 * | 0x1F8  | 8    | LAUNCH_MIT_VECTOR    | v5+; v2–v4: 0x1F8..0x2A0 MBZ [`reserved@0x1F8`] |
 * | 0x200  | 8    | CURRENT_MIT_VECTOR   | v5+                                             |
 * | 0x208  | 152  | reserved             | v5+: MBZ [`reserved@0x208`]                     |
 * | 0x2A0  | 72   | SIGNATURE.R          | little-endian; end of the signed bytes is 0x2A0 |
 * | 0x2E8  | 72   | SIGNATURE.S          | little-endian                                   |
 * | 0x330  | 368  | reserved             | MBZ [`signature.reserved@0x330`]                |
 *
 * Byte arrays are private copies: changing them changes neither `raw` nor `signedBytes`.
 */
export interface SnpReport {
  /** VERSION (0x000). */
  readonly version: number
  /** The layout the report was read with: v2; v3 for versions 3 and 4; v5 for version 5. */
  readonly layout: SnpReportLayout
  /** GUEST_SVN (0x004). */
  readonly guestSvn: number
  /** POLICY (0x008). */
  readonly policy: SnpGuestPolicy
  /** FAMILY_ID (0x010, 16 bytes). */
  readonly familyId: Uint8Array
  /** IMAGE_ID (0x020, 16 bytes). */
  readonly imageId: Uint8Array
  /** VMPL (0x030) the report was requested at. */
  readonly vmpl: number
  /** SIGNATURE_ALGO (0x034); always 1 in a parsed report. */
  readonly signatureAlgorithm: number
  /** CURRENT_TCB (0x038), raw; decode with `decodeTcbVersion`. */
  readonly currentTcb: bigint
  /** PLATFORM_INFO (0x040). */
  readonly platformInfo: SnpPlatformInfo
  /** KEY_INFO (0x048): which key signed the report. */
  readonly signerInfo: SnpSignerInfo
  /** REPORT_DATA (0x050, 64 bytes), chosen by the guest. */
  readonly reportData: Uint8Array
  /** MEASUREMENT (0x090, 48 bytes), the launch digest. */
  readonly measurement: Uint8Array
  /** HOST_DATA (0x0C0, 32 bytes), set by the host at launch; Initguard's config binding. */
  readonly hostData: Uint8Array
  /** ID_KEY_DIGEST (0x0E0, 48 bytes). */
  readonly idKeyDigest: Uint8Array
  /** AUTHOR_KEY_DIGEST (0x110, 48 bytes). */
  readonly authorKeyDigest: Uint8Array
  /** REPORT_ID (0x140, 32 bytes). */
  readonly reportId: Uint8Array
  /** REPORT_ID_MA (0x160, 32 bytes). */
  readonly reportIdMa: Uint8Array
  /** REPORTED_TCB (0x180), raw: the TCB the signing VCEK was derived for. */
  readonly reportedTcb: bigint
  /** CPUID_FAM_ID (0x188), v3 and later; undefined on v2. */
  readonly cpuidFamilyId: number | undefined
  /** CPUID_MOD_ID (0x189), v3 and later; undefined on v2. */
  readonly cpuidModelId: number | undefined
  /** CPUID_STEP (0x18A), v3 and later; undefined on v2. */
  readonly cpuidStepping: number | undefined
  /** CHIP_ID (0x1A0, 64 bytes). */
  readonly chipId: Uint8Array
  /** COMMITTED_TCB (0x1E0), raw. */
  readonly committedTcb: bigint
  /** CURRENT_BUILD (0x1E8). */
  readonly currentBuild: number
  /** CURRENT_MINOR (0x1E9). */
  readonly currentMinor: number
  /** CURRENT_MAJOR (0x1EA). */
  readonly currentMajor: number
  /** COMMITTED_BUILD (0x1EC). */
  readonly committedBuild: number
  /** COMMITTED_MINOR (0x1ED). */
  readonly committedMinor: number
  /** COMMITTED_MAJOR (0x1EE). */
  readonly committedMajor: number
  /** LAUNCH_TCB (0x1F0), raw. */
  readonly launchTcb: bigint
  /** LAUNCH_MIT_VECTOR (0x1F8), v5 and later; undefined before. */
  readonly launchMitVector: bigint | undefined
  /** CURRENT_MIT_VECTOR (0x200), v5 and later; undefined before. */
  readonly currentMitVector: bigint | undefined
  /** SIGNATURE R and S (0x2A0), raw little-endian. */
  readonly signature: SnpReportSignature
  /**
   * Reserved must-be-zero areas that are not zero, by the names in the layout table, in offset
   * order. Empty for every genuine report seen so far.
   */
  readonly reservedNonZero: readonly string[]
  /** The bytes the signature covers: `raw[0x000..0x2A0]` (a view into `raw`). */
  readonly signedBytes: Uint8Array
  /** The whole report: this parser's private copy of the input. */
  readonly raw: Uint8Array
}

// ABI_MINOR and ABI_MAJOR (bits 0–15) are numbers, read apart from the flags.
const decodePolicyFlags = bitFlagDecoder(
  {
    smt: 16,
    reservedBit17: 17,
    migrateMa: 18,
    debug: 19,
    singleSocket: 20,
    cxlAllow: 21,
    memAes256Xts: 22,
    raplDis: 23,
    ciphertextHiding: 24,
    pageSwapDisable: 25,
  },
  0xffffn,
)

const decodePlatformFlags = bitFlagDecoder({
  smtEnabled: 0,
  tsmeEnabled: 1,
  eccEnabled: 2,
  raplDisabled: 3,
  ciphertextHidingEnabled: 4,
  aliasCheckComplete: 5,
  tioEnabled: 7,
})

/**
 * Decode a GUEST_POLICY value (see {@link SnpGuestPolicy} for the bits). Never throws on unknown
 * bits: they are listed in `unknownBits`.
 *
 * @example
 * ```ts
 * decodeSnpPolicy(0xb0000n).debug // true
 * ```
 */
export function decodeSnpPolicy(raw: bigint): SnpGuestPolicy {
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    ...decodePolicyFlags(raw),
  }
}

/**
 * Decode a PLATFORM_INFO value (see {@link SnpPlatformInfo} for the bits). Unknown bits are listed,
 * never fatal: real Turin firmware sets the undocumented bit 6.
 *
 * @example
 * ```ts
 * decodeSnpPlatformInfo(0x65n).unknownBits // [6]
 * ```
 */
export function decodeSnpPlatformInfo(raw: bigint): SnpPlatformInfo {
  return { raw, ...decodePlatformFlags(raw) }
}

/**
 * Decode a KEY_INFO value (see {@link SnpSignerInfo} for the bits). Bits 31:5 are not decoded;
 * {@link parseSnpReport} reports them under `KEY_INFO[31:5]` when set.
 *
 * @example
 * ```ts
 * decodeSnpSignerInfo(0x4).signingKey // 'vlek'
 * ```
 */
export function decodeSnpSignerInfo(raw: number): SnpSignerInfo {
  const code = (raw >>> 2) & 0b111
  return {
    raw,
    authorKeyEn: (raw & 1) === 1,
    maskChipKey: ((raw >>> 1) & 1) === 1,
    signingKey: code === 0 ? 'vcek' : code === 1 ? 'vlek' : code === 7 ? 'none' : 'reserved',
    signingKeyCode: code,
  }
}

/** The newest report version whose layout this parser knows. */
export const SNP_MAX_REPORT_VERSION = 5

/**
 * The layout for a version, or undefined for the versions no layout is known for: 0 and 1, which
 * predate the published layout, and every version above {@link SNP_MAX_REPORT_VERSION}.
 *
 * A version above 5 is refused, not read with the v5 layout. AMD's SEV-SNP ABI specification
 * (56860) defines VERSION as the version of the report's structure and the layout of that version
 * only; it promises no compatibility for later ones. Every new version so far gave reserved bytes
 * a meaning (v3: CPUID_FAM_ID/MOD_ID/STEP at 0x188; v5: the mitigation vectors at 0x1F8), so a
 * future one may give meaning to bytes read here as reserved, or change a field read here, and a
 * report read with the wrong layout would be appraised on values it does not hold. Failing closed
 * matches go-sev-guest (`ValidateReportFormat`: versions 2 to `MaxSupportedReportVersion` = 5,
 * checked before the signature); virtee/sev reads later versions with its v5 decoder.
 */
function layoutOf(version: number): SnpReportLayout | undefined {
  if (version < 2 || version > SNP_MAX_REPORT_VERSION) return undefined
  if (version === 2) return 'v2'
  if (version <= 4) return 'v3'
  return 'v5'
}

/**
 * Throw the error for a report version no layout is known for (see {@link layoutOf}).
 *
 * @internal shared with the Trustee evidence parser, so both fail with the same code.
 */
export function unsupportedVersion(version: number): MalformedInputError {
  const newer = version > SNP_MAX_REPORT_VERSION
  return new MalformedInputError(
    'ERR_SNP_REPORT_VERSION',
    newer
      ? `SNP report version ${version} is newer than this verifier reads (2 to ${SNP_MAX_REPORT_VERSION}): its layout is not known, and reading it as v${SNP_MAX_REPORT_VERSION} could take new fields for reserved bytes or misread changed ones`
      : `SNP report version ${version} is not supported: versions 0 and 1 predate the published report layout`,
    {
      details: { field: 'VERSION', offset: 0, version, supported: `2-${SNP_MAX_REPORT_VERSION}` },
      hint: newer
        ? `the guest's firmware writes a newer report format: update Initguard to a release that reads report version ${version}`
        : 'check that the bytes are an SEV-SNP attestation report (version 2 or later)',
    },
  )
}

/** A reserved area: its name in `reservedNonZero`, where it is, and which layouts have it. */
interface ReservedArea {
  readonly name: string
  readonly offset: number
  readonly length: number
  readonly layouts: readonly SnpReportLayout[]
}

const RESERVED_AREAS: readonly ReservedArea[] = [
  { name: 'reserved@0x04C', offset: 0x04c, length: 4, layouts: ['v2', 'v3', 'v5'] },
  { name: 'reserved@0x188', offset: 0x188, length: 24, layouts: ['v2'] },
  { name: 'reserved@0x18B', offset: 0x18b, length: 21, layouts: ['v3', 'v5'] },
  { name: 'reserved@0x1EB', offset: 0x1eb, length: 1, layouts: ['v2', 'v3', 'v5'] },
  { name: 'reserved@0x1EF', offset: 0x1ef, length: 1, layouts: ['v2', 'v3', 'v5'] },
  { name: 'reserved@0x1F8', offset: 0x1f8, length: 168, layouts: ['v2', 'v3'] },
  { name: 'reserved@0x208', offset: 0x208, length: 152, layouts: ['v5'] },
  { name: 'signature.reserved@0x330', offset: 0x330, length: 368, layouts: ['v2', 'v3', 'v5'] },
]

function isAllZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false
  return true
}

/**
 * The field at `offset` as a view into `fields` (the parser's second copy of the report), after
 * `reader` has checked that it lies inside the report. A module function, not a closure made on
 * every parse.
 */
function fieldView(
  reader: ByteReader,
  fields: Uint8Array,
  offset: number,
  length: number,
  field: string,
): Uint8Array {
  reader.bytesAt(offset, length, field)
  return fields.subarray(offset, offset + length)
}

/**
 * Parse an SEV-SNP ATTESTATION_REPORT of exactly 0x4A0 bytes (layout in {@link SnpReport}).
 *
 * The input is copied once; every field comes from that copy, and `signedBytes` is the exact
 * prefix of it the signature covers (verify over these bytes, never over a re-serialisation).
 * Versions 2, 3, 4 and 5 are read with their layouts; a later version is refused, since the
 * specification promises no layout for it (see {@link SNP_MAX_REPORT_VERSION}). Reserved bytes and
 * unknown bits never fail parsing (see `reservedNonZero`, `policy.unknownBits`,
 * `platformInfo.unknownBits`).
 *
 * @example
 * ```ts
 * const report = parseSnpReport(bytes)
 * bytesToHex(report.hostData) // the config binding
 * decodeTcbVersion(report.reportedTcb, 'Milan').snp
 * ```
 *
 * @throws {@link MalformedInputError}
 * - `ERR_SNP_REPORT_TRUNCATED` when shorter than 0x4A0 bytes;
 * - `ERR_SNP_REPORT_TOO_LONG` when longer (an extended report goes to `parseExtendedReport`);
 * - `ERR_SNP_REPORT_VERSION` for version 0 or 1, or above 5 (a layout this parser does not know);
 * - `ERR_SNP_SIGNATURE_ALGORITHM` when SIGNATURE_ALGO is not 1 (ECDSA P-384 with SHA-384).
 * @throws {@link UsageError} `ERR_SNP_INPUT_TYPE` when `bytes` is not a `Uint8Array`.
 * @see AMD SEV-SNP ABI specification (56860), Table "ATTESTATION_REPORT Structure"
 */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  const input = requireUint8Array(bytes, 'ERR_SNP_INPUT_TYPE', 'an SNP report')
  if (input.length < SNP_REPORT_SIZE) {
    throw new MalformedInputError(
      'ERR_SNP_REPORT_TRUNCATED',
      `SNP report is truncated: ${input.length} bytes, expected ${SNP_REPORT_SIZE} (0x4A0)`,
      {
        details: { length: input.length, expected: SNP_REPORT_SIZE },
        hint: 'the report was cut off in transfer or decoded from the wrong encoding',
      },
    )
  }
  if (input.length > SNP_REPORT_SIZE) {
    throw new MalformedInputError(
      'ERR_SNP_REPORT_TOO_LONG',
      `SNP report has ${input.length} bytes, expected exactly ${SNP_REPORT_SIZE} (0x4A0)`,
      {
        details: { length: input.length, expected: SNP_REPORT_SIZE },
        hint: 'for an extended report (report followed by a certificate table) use parseExtendedReport',
      },
    )
  }

  // The reader copies the input once; `raw` and every view below point into that copy.
  const reader = new ByteReader(input, { name: 'SNP report' })
  const raw = reader.bytesAt(0, SNP_REPORT_SIZE, 'report')
  // Fields are views into a second private copy: one allocation instead of one per field, and
  // still a caller who changes a field changes neither `raw` nor what was verified.
  const fields = raw.slice()

  const version = reader.u32leAt(0x000, 'VERSION')
  const layout = layoutOf(version)
  if (layout === undefined) throw unsupportedVersion(version)

  const signatureAlgorithm = reader.u32leAt(0x034, 'SIGNATURE_ALGO')
  if (signatureAlgorithm !== SNP_SIGNATURE_ALGORITHM_ECDSA_P384_SHA384) {
    throw new MalformedInputError(
      'ERR_SNP_SIGNATURE_ALGORITHM',
      `SNP report signature algorithm ${signatureAlgorithm} is not supported; only 1 (ECDSA P-384 with SHA-384) is defined`,
      {
        details: { field: 'SIGNATURE_ALGO', offset: 0x034, algorithm: signatureAlgorithm },
        hint: 'the report is corrupt or not an SEV-SNP report',
      },
    )
  }

  const signerRaw = reader.u32leAt(0x048, 'KEY_INFO')
  const reservedNonZero: string[] = []
  if (signerRaw >>> 5 !== 0) reservedNonZero.push('KEY_INFO[31:5]')
  for (const area of RESERVED_AREAS) {
    if (
      area.layouts.includes(layout) &&
      !isAllZero(reader.bytesAt(area.offset, area.length, area.name))
    ) {
      reservedNonZero.push(area.name)
    }
  }

  const hasCpuid = layout !== 'v2'
  const hasMitVectors = layout === 'v5'
  return {
    version,
    layout,
    guestSvn: reader.u32leAt(0x004, 'GUEST_SVN'),
    policy: decodeSnpPolicy(reader.u64leAt(0x008, 'POLICY')),
    familyId: fieldView(reader, fields, 0x010, 16, 'FAMILY_ID'),
    imageId: fieldView(reader, fields, 0x020, 16, 'IMAGE_ID'),
    vmpl: reader.u32leAt(0x030, 'VMPL'),
    signatureAlgorithm,
    currentTcb: reader.u64leAt(0x038, 'CURRENT_TCB'),
    platformInfo: decodeSnpPlatformInfo(reader.u64leAt(0x040, 'PLATFORM_INFO')),
    signerInfo: decodeSnpSignerInfo(signerRaw),
    reportData: fieldView(reader, fields, 0x050, 64, 'REPORT_DATA'),
    measurement: fieldView(reader, fields, 0x090, 48, 'MEASUREMENT'),
    hostData: fieldView(reader, fields, 0x0c0, 32, 'HOST_DATA'),
    idKeyDigest: fieldView(reader, fields, 0x0e0, 48, 'ID_KEY_DIGEST'),
    authorKeyDigest: fieldView(reader, fields, 0x110, 48, 'AUTHOR_KEY_DIGEST'),
    reportId: fieldView(reader, fields, 0x140, 32, 'REPORT_ID'),
    reportIdMa: fieldView(reader, fields, 0x160, 32, 'REPORT_ID_MA'),
    reportedTcb: reader.u64leAt(0x180, 'REPORTED_TCB'),
    cpuidFamilyId: hasCpuid ? reader.u8At(0x188, 'CPUID_FAM_ID') : undefined,
    cpuidModelId: hasCpuid ? reader.u8At(0x189, 'CPUID_MOD_ID') : undefined,
    cpuidStepping: hasCpuid ? reader.u8At(0x18a, 'CPUID_STEP') : undefined,
    chipId: fieldView(reader, fields, 0x1a0, 64, 'CHIP_ID'),
    committedTcb: reader.u64leAt(0x1e0, 'COMMITTED_TCB'),
    currentBuild: reader.u8At(0x1e8, 'CURRENT_BUILD'),
    currentMinor: reader.u8At(0x1e9, 'CURRENT_MINOR'),
    currentMajor: reader.u8At(0x1ea, 'CURRENT_MAJOR'),
    committedBuild: reader.u8At(0x1ec, 'COMMITTED_BUILD'),
    committedMinor: reader.u8At(0x1ed, 'COMMITTED_MINOR'),
    committedMajor: reader.u8At(0x1ee, 'COMMITTED_MAJOR'),
    launchTcb: reader.u64leAt(0x1f0, 'LAUNCH_TCB'),
    launchMitVector: hasMitVectors ? reader.u64leAt(0x1f8, 'LAUNCH_MIT_VECTOR') : undefined,
    currentMitVector: hasMitVectors ? reader.u64leAt(0x200, 'CURRENT_MIT_VECTOR') : undefined,
    signature: {
      r: fieldView(reader, fields, 0x2a0, 72, 'SIGNATURE.R'),
      s: fieldView(reader, fields, 0x2e8, 72, 'SIGNATURE.S'),
    },
    reservedNonZero,
    signedBytes: raw.subarray(0, SNP_SIGNED_SIZE),
    raw,
  }
}
