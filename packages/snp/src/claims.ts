/**
 * The claims of a verified report, under stable snake_case names (the names Trustee uses where it
 * has one), byte fields as lower-case hex. Policies and tokens are written against these names.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import { SNP_REPORT_SIZE, type SnpReport } from './report.ts'
import { decodeTcbVersion, type SnpProduct, type TcbVersion } from './tcb.ts'

/** A TCB as claims. */
export interface TcbClaims {
  readonly fmc?: number
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
  readonly raw: string
}

/** The claims of an SNP report. */
export interface SnpClaims {
  readonly tee: 'snp'
  readonly report_version: number
  readonly product: SnpProduct
  readonly signing_key: 'vcek' | 'vlek'
  readonly vmpl: number
  readonly guest_svn: number
  readonly measurement: string
  readonly host_data: string
  /** The init-data binding: HOST_DATA. */
  readonly init_data: string
  readonly report_data: string
  readonly chip_id: string
  readonly family_id: string
  readonly image_id: string
  readonly id_key_digest: string
  readonly author_key_digest: string
  readonly report_id: string
  readonly report_id_ma: string
  readonly policy: {
    readonly raw: string
    readonly abi_major: number
    readonly abi_minor: number
    readonly smt_allowed: boolean
    readonly migrate_ma: boolean
    readonly debug_allowed: boolean
    readonly single_socket: boolean
    readonly cxl_allowed: boolean
    readonly mem_aes_256_xts: boolean
    readonly rapl_disabled: boolean
    readonly ciphertext_hiding: boolean
    readonly page_swap_disabled: boolean
  }
  readonly platform: {
    readonly raw: string
    readonly smt_enabled: boolean
    readonly tsme_enabled: boolean
    readonly ecc_enabled: boolean
    readonly rapl_disabled: boolean
    readonly ciphertext_hiding_enabled: boolean
    readonly alias_check_complete: boolean
    readonly tio_enabled: boolean
  }
  readonly reported_tcb: TcbClaims
  readonly current_tcb: TcbClaims
  readonly committed_tcb: TcbClaims
  readonly launch_tcb: TcbClaims
  readonly current_version: string
  readonly committed_version: string
  readonly cpuid: {
    readonly family: number
    readonly model: number
    readonly stepping: number
  } | null
  readonly launch_mit_vector: string | null
  readonly current_mit_vector: string | null
}

function u64Hex(value: bigint): string {
  return value.toString(16).padStart(16, '0')
}

function tcbClaims(tcb: TcbVersion): TcbClaims {
  return {
    ...(tcb.fmc === undefined ? {} : { fmc: tcb.fmc }),
    bootloader: tcb.bootloader,
    tee: tcb.tee,
    snp: tcb.snp,
    microcode: tcb.microcode,
    raw: u64Hex(tcb.raw),
  }
}

// The span of the report (FAMILY_ID to the end of CHIP_ID) that holds every byte field of the claims.
const FIELDS_START = 0x010
const FIELDS_END = 0x1e0

/**
 * Lower-case hex of the report's byte fields. {@link parseSnpReport} makes them views into one
 * private copy of the report, so the span of that copy that holds them all is converted once and
 * each field's hex is a slice of it: eleven conversions of a few dozen bytes each cost more than
 * one of 464 bytes. A field elsewhere (a report built by hand, in another buffer or at other
 * offsets), or in a buffer of another size than a report's, is converted alone.
 */
function fieldHex(report: SnpReport): (bytes: Uint8Array) => string {
  const shared = report.measurement.buffer
  if (shared.byteLength !== SNP_REPORT_SIZE) return bytesToHex
  let span: string | undefined
  return (bytes) => {
    const start = bytes.byteOffset
    const end = start + bytes.byteLength
    if (bytes.buffer !== shared || start < FIELDS_START || end > FIELDS_END) {
      return bytesToHex(bytes)
    }
    span ??= bytesToHex(new Uint8Array(shared, FIELDS_START, FIELDS_END - FIELDS_START))
    return span.slice(2 * (start - FIELDS_START), 2 * (end - FIELDS_START))
  }
}

/** The claims of a report whose product and signing key are known (that is, after verification). */
export function snpClaims(
  report: SnpReport,
  product: SnpProduct,
  signingKey: 'vcek' | 'vlek',
): SnpClaims {
  const hex = fieldHex(report)
  const { policy, platformInfo: platform } = report
  return {
    tee: 'snp',
    report_version: report.version,
    product,
    signing_key: signingKey,
    vmpl: report.vmpl,
    guest_svn: report.guestSvn,
    measurement: hex(report.measurement),
    host_data: hex(report.hostData),
    init_data: hex(report.hostData),
    report_data: hex(report.reportData),
    chip_id: hex(report.chipId),
    family_id: hex(report.familyId),
    image_id: hex(report.imageId),
    id_key_digest: hex(report.idKeyDigest),
    author_key_digest: hex(report.authorKeyDigest),
    report_id: hex(report.reportId),
    report_id_ma: hex(report.reportIdMa),
    policy: {
      raw: u64Hex(policy.raw),
      abi_major: policy.abiMajor,
      abi_minor: policy.abiMinor,
      smt_allowed: policy.smt,
      migrate_ma: policy.migrateMa,
      debug_allowed: policy.debug,
      single_socket: policy.singleSocket,
      cxl_allowed: policy.cxlAllow,
      mem_aes_256_xts: policy.memAes256Xts,
      rapl_disabled: policy.raplDis,
      ciphertext_hiding: policy.ciphertextHiding,
      page_swap_disabled: policy.pageSwapDisable,
    },
    platform: {
      raw: u64Hex(platform.raw),
      smt_enabled: platform.smtEnabled,
      tsme_enabled: platform.tsmeEnabled,
      ecc_enabled: platform.eccEnabled,
      rapl_disabled: platform.raplDisabled,
      ciphertext_hiding_enabled: platform.ciphertextHidingEnabled,
      alias_check_complete: platform.aliasCheckComplete,
      tio_enabled: platform.tioEnabled,
    },
    reported_tcb: tcbClaims(decodeTcbVersion(report.reportedTcb, product)),
    current_tcb: tcbClaims(decodeTcbVersion(report.currentTcb, product)),
    committed_tcb: tcbClaims(decodeTcbVersion(report.committedTcb, product)),
    launch_tcb: tcbClaims(decodeTcbVersion(report.launchTcb, product)),
    current_version: `${report.currentMajor}.${report.currentMinor}.${report.currentBuild}`,
    committed_version: `${report.committedMajor}.${report.committedMinor}.${report.committedBuild}`,
    cpuid:
      report.cpuidFamilyId === undefined ||
      report.cpuidModelId === undefined ||
      report.cpuidStepping === undefined
        ? null
        : {
            family: report.cpuidFamilyId,
            model: report.cpuidModelId,
            stepping: report.cpuidStepping,
          },
    launch_mit_vector: report.launchMitVector === undefined ? null : u64Hex(report.launchMitVector),
    current_mit_vector:
      report.currentMitVector === undefined ? null : u64Hex(report.currentMitVector),
  }
}
