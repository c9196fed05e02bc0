/**
 * The per-TEE reference values of a workload, and their strict validation. Measurements are
 * always required (there is no "any measurement"); debug and migration are refused unless allowed.
 *
 * @module
 */
import { jsonKind, type JsonObject } from '@initguard/core'
import {
  SNP_GUEST_POLICY_RULE_KEYS,
  SNP_PLATFORM_INFO_RULE_KEYS,
  type SnpGuestPolicyRule,
  type SnpPlatformInfoRule,
} from '@initguard/snp'
import {
  booleanAt,
  nonEmptyList,
  hexAt,
  integerAt,
  invalid,
  memberOf,
  objectAt,
  oneOfAt,
  required,
} from './definition-reader.ts'

/** SEV-SNP TCB components (a minimum REPORTED_TCB or LAUNCH_TCB); `fmc` only on Turin and later. */
export interface SnpTcbMinimum {
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
  readonly fmc?: number
}

/** A SEV firmware version (CURRENT_MAJOR.CURRENT_MINOR.CURRENT_BUILD), each a byte. */
export interface SnpFirmwareMinimum {
  readonly major: number
  readonly minor: number
  readonly build: number
}

/** SEV-SNP reference values. */
export interface SnpReferenceValues {
  /** MEASUREMENT must be one of these (hex, 48 bytes each). */
  readonly measurements: readonly string[]
  /**
   * REPORTED_TCB must be at least this, component by component. A Turin report needs `fmc` here:
   * without it the report is refused, since its FMC SPL would have no bound.
   */
  readonly minimumTcb?: SnpTcbMinimum
  /**
   * LAUNCH_TCB (the firmware that launched the guest and took its MEASUREMENT) must be at least
   * this, component by component; a guest launched on older firmware and live-updated since is
   * refused though its REPORTED_TCB meets `minimumTcb`. The same `fmc` rule as `minimumTcb`.
   */
  readonly minimumLaunchTcb?: SnpTcbMinimum
  /**
   * Refuse a guest whose host runs provisional firmware: CURRENT_TCB differs from COMMITTED_TCB, or
   * the current firmware version from the committed one (SNP_COMMIT not run since the update, so
   * the host can still roll back). Default false: real hosts run microcode above the committed one.
   */
  readonly refuseProvisionalFirmware: boolean
  /**
   * The host's running SEV firmware (CURRENT_MAJOR.CURRENT_MINOR.CURRENT_BUILD) must be at least
   * this version, ordered major, then minor, then build (1.56.0 is above 1.55.29): the snp
   * library's `firmwareVersionAtLeast`, whose TSDoc says why this is not go-sev-guest's separate
   * `MinimumVersion` and `MinimumBuild`. All three required, each 0..255.
   */
  readonly minimumFirmware?: SnpFirmwareMinimum
  /**
   * GUEST_POLICY bits that must be set (true) or clear (false), e.g. `{"smt": false}` refuses a
   * guest whose policy allows SMT. Keys: smt, singleSocket, cxlAllow, memAes256Xts, raplDis,
   * ciphertextHiding, pageSwapDisable (the snp library's `SNP_GUEST_POLICY_RULE_BITS`); at least
   * one. DEBUG and MIGRATE_MA are `allowDebug` and `allowMigration`.
   */
  readonly guestPolicy?: SnpGuestPolicyRule
  /**
   * PLATFORM_INFO bits (the host's state) that must be set (true) or clear (false), e.g.
   * `{"smtEnabled": false, "aliasCheckComplete": true}`. Keys: smtEnabled, tsmeEnabled, eccEnabled,
   * raplDisabled, ciphertextHidingEnabled, aliasCheckComplete, tioEnabled; at least one.
   */
  readonly platformInfo?: SnpPlatformInfoRule
  /** Accept a guest whose policy allows debugging (POLICY.DEBUG). Default false. */
  readonly allowDebug: boolean
  /** Accept a guest whose policy allows a migration agent (POLICY.MIGRATE_MA). Default false. */
  readonly allowMigration: boolean
  /** VMPL the report must come from. Default 0 (Trustee's rule). */
  readonly vmpl: number
}

/**
 * The Intel TCB statuses a workload may accept. The verifier never accepts `OutOfDate`,
 * `OutOfDateConfigurationNeeded`, `Revoked` or `TcbNotSupported`: those need a TCB recovery.
 */
export const ACCEPTABLE_TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
] as const

/** A TCB status a workload may accept. */
export type AcceptableTcbStatus = (typeof ACCEPTABLE_TCB_STATUSES)[number]

/** TDX reference values. */
export interface TdxReferenceValues {
  /** MRTD must be one of these (hex, 48 bytes each). */
  readonly mrtd: readonly string[]
  /**
   * RTMR0–3, each (when given) one of its list (hex, 48 bytes each). `rtmr1` (the kernel) and
   * `rtmr2` (its command line and initrd) are required unless `anyKernel` is true: MRTD covers only
   * the TD firmware, so without them any kernel the host boots under it gets the secrets.
   */
  readonly rtmr0?: readonly string[]
  readonly rtmr1?: readonly string[]
  readonly rtmr2?: readonly string[]
  readonly rtmr3?: readonly string[]
  /**
   * Accept any kernel, command line and initrd (no `rtmr1`, no `rtmr2`), said explicitly: only
   * `true`, written out only when given, and never with `rtmr1` or `rtmr2`.
   */
  readonly anyKernel?: true
  /**
   * MRSERVICETD (TDX 1.5), exactly (hex, 48 bytes). Absent: all zero, no service TD bound (a bound
   * service TD, a migration TD for one, can read and change the TD). A TDX 1.0 quote binds none.
   */
  readonly mrServiceTd?: string
  /** Intel's TCB status must be one of these. Default `["UpToDate"]`. */
  readonly acceptedTcbStatuses: readonly AcceptableTcbStatus[]
  /** Accept a TD under debug or profiling (TDATTRIBUTES bits 7:0, DEBUG among them). Default false. */
  readonly allowDebug: boolean
  /** Accept a migratable TD (TDATTRIBUTES.MIGRATABLE). Default false. */
  readonly allowMigration: boolean
}

/** SGX reference values: `mrenclave`, or `mrsigner` with `isvProdId`. */
export interface SgxReferenceValues {
  /** MRENCLAVE must be one of these (hex, 32 bytes each). */
  readonly mrenclave?: readonly string[]
  /** MRSIGNER must be one of these (hex, 32 bytes each). */
  readonly mrsigner?: readonly string[]
  /** ISVPRODID, exactly. Required with `mrsigner` alone (a signer signs many enclaves). */
  readonly isvProdId?: number
  /** ISVSVN must be at least this. */
  readonly minIsvSvn?: number
  /** Default `["UpToDate"]`. */
  readonly acceptedTcbStatuses: readonly AcceptableTcbStatus[]
  /** Accept a debug enclave (ATTRIBUTES.DEBUG). Default false. */
  readonly allowDebug: boolean
}

function hexList(value: unknown, path: string, length: number, what: string): string[] {
  return nonEmptyList(value, path, {
    hint: `list the accepted ${what} values as ${length * 2}-digit hex strings`,
    item: (v, p) => hexAt(v, p, length, what),
    distinct: true,
  })
}

function tcbStatuses(value: unknown, path: string): AcceptableTcbStatus[] {
  if (value === undefined) return ['UpToDate']
  return nonEmptyList(value, path, {
    hint: `list the accepted statuses, e.g. ["UpToDate"]; possible: ${ACCEPTABLE_TCB_STATUSES.join(', ')}`,
    item: (v, p) =>
      oneOfAt<AcceptableTcbStatus>(v, p, ACCEPTABLE_TCB_STATUSES, 'acceptable TCB status'),
    distinct: true,
  })
}

const U8 = 255

function snpTcb(value: unknown, path: string): SnpTcbMinimum {
  const obj = objectAt(value, path, ['bootloader', 'tee', 'snp', 'microcode', 'fmc'])
  const component = (key: string): number =>
    integerAt(
      required(obj, key, path, 'give bootloader, tee, snp and microcode (and fmc on Turin)'),
      `${path}.${key}`,
      0,
      U8,
    )
  const fmc = memberOf(obj, 'fmc')
  return {
    bootloader: component('bootloader'),
    tee: component('tee'),
    snp: component('snp'),
    microcode: component('microcode'),
    ...(fmc === undefined ? {} : { fmc: integerAt(fmc, `${path}.fmc`, 0, U8) }),
  }
}

function snpFirmware(value: unknown, path: string): SnpFirmwareMinimum {
  const obj = objectAt(value, path, ['major', 'minor', 'build'])
  const component = (key: string): number =>
    integerAt(
      // A minimum without its build (or minor) would bound less than it reads: all three.
      required(
        obj,
        key,
        path,
        'give major, minor and build, e.g. {"major": 1, "minor": 55, "build": 29}',
      ),
      `${path}.${key}`,
      0,
      U8,
    )
  return { major: component('major'), minor: component('minor'), build: component('build') }
}

/** A rule on named bits: an object of at least one known key, each true (set) or false (clear). */
function bitRule<K extends string>(
  value: unknown,
  path: string,
  keys: readonly K[],
): Partial<Record<K, boolean>> {
  const obj = objectAt(value, path, keys)
  const hint = `name at least one of ${keys.join(', ')}: true means the bit must be set, false that it must be clear`
  const rule: Partial<Record<K, boolean>> = {}
  for (const key of keys) {
    const bit = memberOf(obj, key)
    if (bit === undefined) continue
    if (typeof bit !== 'boolean') throw invalid(`${path}.${key}`, 'must be true or false', hint)
    rule[key] = bit
  }
  if (Object.keys(rule).length === 0) throw invalid(path, 'names no bit', hint)
  return rule
}

/** Read `$.snp`. */
export function parseSnpReferenceValues(value: unknown, path: string): SnpReferenceValues {
  const obj = objectAt(value, path, [
    'measurements',
    'minimumTcb',
    'minimumLaunchTcb',
    'refuseProvisionalFirmware',
    'minimumFirmware',
    'guestPolicy',
    'platformInfo',
    'allowDebug',
    'allowMigration',
    'vmpl',
  ])
  const measurements = required(
    obj,
    'measurements',
    path,
    'list the accepted launch MEASUREMENTs (96 hex digits each); there is no "any measurement"',
  )
  const minimumTcb = memberOf(obj, 'minimumTcb')
  const minimumLaunchTcb = memberOf(obj, 'minimumLaunchTcb')
  const minimumFirmware = memberOf(obj, 'minimumFirmware')
  const vmpl = memberOf(obj, 'vmpl')
  const guestPolicy = memberOf(obj, 'guestPolicy')
  const platformInfo = memberOf(obj, 'platformInfo')
  return {
    measurements: hexList(measurements, `${path}.measurements`, 48, 'MEASUREMENT'),
    ...(minimumTcb === undefined ? {} : { minimumTcb: snpTcb(minimumTcb, `${path}.minimumTcb`) }),
    ...(minimumLaunchTcb === undefined
      ? {}
      : { minimumLaunchTcb: snpTcb(minimumLaunchTcb, `${path}.minimumLaunchTcb`) }),
    refuseProvisionalFirmware: booleanAt(
      memberOf(obj, 'refuseProvisionalFirmware'),
      `${path}.refuseProvisionalFirmware`,
      false,
    ),
    ...(minimumFirmware === undefined
      ? {}
      : { minimumFirmware: snpFirmware(minimumFirmware, `${path}.minimumFirmware`) }),
    ...(guestPolicy === undefined
      ? {}
      : {
          guestPolicy: bitRule(guestPolicy, `${path}.guestPolicy`, SNP_GUEST_POLICY_RULE_KEYS),
        }),
    ...(platformInfo === undefined
      ? {}
      : {
          platformInfo: bitRule(platformInfo, `${path}.platformInfo`, SNP_PLATFORM_INFO_RULE_KEYS),
        }),
    allowDebug: booleanAt(memberOf(obj, 'allowDebug'), `${path}.allowDebug`, false),
    allowMigration: booleanAt(memberOf(obj, 'allowMigration'), `${path}.allowMigration`, false),
    vmpl: vmpl === undefined ? 0 : integerAt(vmpl, `${path}.vmpl`, 0, 3),
  }
}

const RTMRS = ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'] as const

const KERNEL_PIN_HINT =
  'list the accepted rtmr1 (kernel) and rtmr2 (command line and initrd) values, 96 hex digits each ' +
  '(`workload put --tdx-rtmr 1=HEX --tdx-rtmr 2=HEX`); or, to accept any kernel, say so with ' +
  '"anyKernel": true (`--tdx-any-kernel`): then whoever runs the host can boot a kernel of its own ' +
  'under your firmware and init-data, and that kernel gets the secrets'

/**
 * Refuse a block that does not pin the kernel: MRTD covers only the TD firmware (TDVF), the kernel
 * is measured into RTMR1 and its command line and initrd into RTMR2, and the host sets MRCONFIGID,
 * so without both RTMRs any kernel the host boots writes REPORT_DATA and binds its own key. Like
 * SGX `mrsigner` without `isvProdId`: accepting every kernel must be said, never implied.
 */
function kernelPin(obj: JsonObject, path: string): { anyKernel?: true } {
  const anyKernel = memberOf(obj, 'anyKernel')
  const pinned = (['rtmr1', 'rtmr2'] as const).filter((key) => memberOf(obj, key) !== undefined)
  if (anyKernel !== undefined) {
    if (anyKernel !== true) {
      throw invalid(
        `${path}.anyKernel`,
        `must be true (it is ${anyKernel === false ? 'false' : jsonKind(anyKernel)}); there is no other value`,
        'leave it out and list rtmr1 and rtmr2 (the kernel is pinned), or write "anyKernel": true',
      )
    }
    if (pinned.length > 0) {
      throw invalid(
        `${path}.anyKernel`,
        `contradicts ${pinned.map((key) => `${path}.${key}`).join(' and ')}: it says any kernel is accepted, and the RTMR list says which`,
        'to pin the kernel, remove anyKernel and list both rtmr1 and rtmr2; to accept any kernel, remove rtmr1 and rtmr2',
      )
    }
    return { anyKernel: true }
  }
  if (pinned.length === 0) {
    throw invalid(
      path,
      'pins no kernel (neither rtmr1 nor rtmr2): MRTD covers only the TD firmware, so it accepts any kernel the host boots under that firmware with your init-data, and that kernel gets the secrets',
      KERNEL_PIN_HINT,
    )
  }
  if (pinned.length === 1) {
    const [given, missing] = pinned[0] === 'rtmr1' ? ['rtmr1', 'rtmr2'] : ['rtmr2', 'rtmr1']
    throw invalid(
      `${path}.${missing}`,
      `is missing: ${given} alone leaves the ${missing === 'rtmr2' ? 'kernel command line and initrd' : 'kernel'} to the host, which can then boot code of its choosing (a kernel, an init) that gets the secrets`,
      KERNEL_PIN_HINT,
    )
  }
  return {}
}

/** Read `$.tdx`. */
export function parseTdxReferenceValues(value: unknown, path: string): TdxReferenceValues {
  const obj = objectAt(value, path, [
    'mrtd',
    ...RTMRS,
    'anyKernel',
    'mrServiceTd',
    'acceptedTcbStatuses',
    'allowDebug',
    'allowMigration',
  ])
  const mrtd = required(
    obj,
    'mrtd',
    path,
    'list the accepted MRTDs (96 hex digits each); there is no "any MRTD"',
  )
  const rtmrs: Partial<Record<(typeof RTMRS)[number], string[]>> = {}
  for (const key of RTMRS) {
    const list = memberOf(obj, key)
    if (list !== undefined) rtmrs[key] = hexList(list, `${path}.${key}`, 48, key.toUpperCase())
  }
  const mrServiceTd = memberOf(obj, 'mrServiceTd')
  const values = {
    mrtd: hexList(mrtd, `${path}.mrtd`, 48, 'MRTD'),
    ...rtmrs,
    ...(mrServiceTd === undefined
      ? {}
      : { mrServiceTd: hexAt(mrServiceTd, `${path}.mrServiceTd`, 48, 'MRSERVICETD') }),
    acceptedTcbStatuses: tcbStatuses(
      memberOf(obj, 'acceptedTcbStatuses'),
      `${path}.acceptedTcbStatuses`,
    ),
    allowDebug: booleanAt(memberOf(obj, 'allowDebug'), `${path}.allowDebug`, false),
    allowMigration: booleanAt(memberOf(obj, 'allowMigration'), `${path}.allowMigration`, false),
  }
  // Last, so a malformed member is named as such before the block as a whole is judged.
  return { ...values, ...kernelPin(obj, path) }
}

/** Read `$.sgx`. */
export function parseSgxReferenceValues(value: unknown, path: string): SgxReferenceValues {
  const obj = objectAt(value, path, [
    'mrenclave',
    'mrsigner',
    'isvProdId',
    'minIsvSvn',
    'acceptedTcbStatuses',
    'allowDebug',
  ])
  const mrenclave = memberOf(obj, 'mrenclave')
  const mrsigner = memberOf(obj, 'mrsigner')
  const isvProdId = memberOf(obj, 'isvProdId')
  const minIsvSvn = memberOf(obj, 'minIsvSvn')
  if (mrenclave === undefined && mrsigner === undefined) {
    throw invalid(
      path,
      'names neither mrenclave nor mrsigner',
      'list the accepted MRENCLAVEs, or the MRSIGNERs with isvProdId; there is no "any enclave"',
    )
  }
  if (mrenclave === undefined && isvProdId === undefined) {
    throw invalid(
      `${path}.isvProdId`,
      'is missing: mrsigner alone accepts every enclave that signer ever signed',
      'add isvProdId (and minIsvSvn), or list the mrenclave values',
    )
  }
  return {
    ...(mrenclave === undefined
      ? {}
      : { mrenclave: hexList(mrenclave, `${path}.mrenclave`, 32, 'MRENCLAVE') }),
    ...(mrsigner === undefined
      ? {}
      : { mrsigner: hexList(mrsigner, `${path}.mrsigner`, 32, 'MRSIGNER') }),
    ...(isvProdId === undefined
      ? {}
      : { isvProdId: integerAt(isvProdId, `${path}.isvProdId`, 0, 0xffff) }),
    ...(minIsvSvn === undefined
      ? {}
      : { minIsvSvn: integerAt(minIsvSvn, `${path}.minIsvSvn`, 0, 0xffff) }),
    acceptedTcbStatuses: tcbStatuses(
      memberOf(obj, 'acceptedTcbStatuses'),
      `${path}.acceptedTcbStatuses`,
    ),
    allowDebug: booleanAt(memberOf(obj, 'allowDebug'), `${path}.allowDebug`, false),
  }
}
