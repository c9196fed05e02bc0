/**
 * Appraisal: does a verified report meet what the relying party expects? Every rule is optional
 * except the secure defaults: a debuggable guest and a guest with a migration agent are refused
 * unless explicitly allowed. All failing rules are reported together, each naming expected and
 * actual values.
 *
 * @module
 */
import {
  AppraisalFailures,
  PolicyChecker,
  bytesToHex,
  describePolicyValue,
  isPolicyRecord,
  constantTimeIncludes,
  throwIfAppraisalFailed,
  type AppraisalFailure,
} from '@initguard/core'
import {
  DIGEST_LENGTHS,
  INITDATA_ALGORITHMS,
  initdataBindingFailure,
  type InitdataDocument,
} from '@initguard/initdata'
import {
  currentFirmwareVersion,
  firmwareVersionAtLeast,
  firmwareVersionText,
  type SnpFirmwareVersion,
} from './firmware-version.ts'
import {
  SNP_GUEST_POLICY_RULE_BITS,
  SNP_PLATFORM_INFO_RULE_BITS,
  checkPolicyBitRule,
  policyBitMismatches,
  type SnpGuestPolicyRule,
  type SnpPlatformInfoRule,
  type SnpPolicyBit,
} from './policy-bits.ts'
import type { SnpReport } from './report.ts'
import {
  decodeTcbVersion,
  tcbAtLeast,
  tcbComponentsBelow,
  type SnpProduct,
  type TcbComponents,
} from './tcb.ts'

/** What the relying party expects of a report. */
export interface SnpAppraisalPolicy {
  /** HOST_DATA, exactly (32 bytes). */
  readonly hostData?: Uint8Array
  /** The initdata document the guest must have been launched with (its digest fitted to 32 bytes). */
  readonly initdata?: InitdataDocument
  /** REPORT_DATA, exactly (64 bytes). */
  readonly reportData?: Uint8Array
  /** MEASUREMENT must be one of these (48 bytes each). */
  readonly measurements?: readonly Uint8Array[]
  /** REPORTED_TCB must be at least this, component by component. */
  readonly minimumTcb?: TcbComponents
  /**
   * LAUNCH_TCB must be at least this, component by component. LAUNCH_TCB is the CURRENT_TCB of the
   * firmware that launched (or imported) the guest and took its MEASUREMENT; REPORTED_TCB and
   * CURRENT_TCB say only what runs now. A guest launched on vulnerable firmware and kept running
   * across a live firmware update passes `minimumTcb`, yet its measurement was taken by the old
   * firmware: this bounds that firmware. Same components and the same Turin `fmc` rule as
   * `minimumTcb` (go-sev-guest `validate.Options.MinimumLaunchTCB`).
   */
  readonly minimumLaunchTcb?: TcbComponents
  /**
   * Refuse a report whose running firmware is provisional: CURRENT_TCB differs from COMMITTED_TCB,
   * or the current firmware version (CURRENT_MAJOR.MINOR.BUILD) from the committed one. Until the
   * host runs SNP_COMMIT, it can roll the firmware back to the committed (older) TCB. This is
   * go-sev-guest's default (`PermitProvisionalFirmware` false), but it is opt-in here: real reports
   * differ in their microcode SPL alone (current above committed, e.g. the Milan VLEK report of a
   * cloud provider), and the default appraisal accepts them. Default false.
   */
  readonly refuseProvisionalFirmware?: boolean
  /**
   * The firmware running now (CURRENT_MAJOR.CURRENT_MINOR.CURRENT_BUILD) must be at least this
   * version, ordered MAJOR, then MINOR, then BUILD ({@link firmwareVersionAtLeast}): a minimum of
   * 1.55.29 accepts 1.55.29, 1.55.30 and 1.56.0 and refuses 1.55.21 and 1.54.40. It bounds the
   * running firmware, not the committed one (see `refuseProvisionalFirmware`). Every component is
   * required, each an integer 0..255. go-sev-guest's `MinimumVersion` and `MinimumBuild` are
   * two separate minimums instead, and its build bound applies whatever the API version: see
   * {@link firmwareVersionAtLeast} for why this one does not.
   */
  readonly minimumFirmware?: SnpFirmwareVersion
  /** VMPL, exactly. */
  readonly vmpl?: number
  /** Accept a guest whose policy allows debugging. Default false. */
  readonly allowDebug?: boolean
  /** Accept a guest whose policy allows a migration agent. Default false. */
  readonly allowMigrationAgent?: boolean
  /**
   * GUEST_POLICY bits that must be set (true) or clear (false): `{ smt: false }` refuses a guest
   * whose policy allows SMT, `{ singleSocket: true, ciphertextHiding: true }` one whose policy does
   * not require them. Only the named bits are checked. DEBUG and MIGRATE_MA are `allowDebug` and
   * `allowMigrationAgent`. Unset by default (see policy-bits.ts for the bits and why).
   */
  readonly guestPolicy?: SnpGuestPolicyRule
  /**
   * PLATFORM_INFO bits (the host's state when the report was made) that must be set (true) or
   * clear (false): `{ smtEnabled: false, aliasCheckComplete: true }`. Only the named bits are
   * checked; unknown bits (bit 6, set by real Turin firmware) are never refused. Unset by default.
   */
  readonly platformInfo?: SnpPlatformInfoRule
  /** The policy's minimum ABI version must be at least this. */
  readonly minimumAbi?: { readonly major: number; readonly minor: number }
  /** CHIP_ID must be one of these. */
  readonly chipIds?: readonly Uint8Array[]
  /** ID_KEY_DIGEST must be one of these. */
  readonly idKeyDigests?: readonly Uint8Array[]
  /** AUTHOR_KEY_DIGEST must be one of these. */
  readonly authorKeyDigests?: readonly Uint8Array[]
  /** GUEST_SVN must be at least this. */
  readonly minimumGuestSvn?: number
}

type Failure = AppraisalFailure & { readonly code: `ERR_SNP_${string}` }

const hex = bytesToHex

function tcbText(t: TcbComponents): string {
  return `${t.fmc === undefined ? '' : `FMC ${t.fmc} `}BL ${t.bootloader} TEE ${t.tee} SNP ${t.snp} UCODE ${t.microcode}`
}

const U8 = 0xff
const U32 = 0xffff_ffff

/**
 * Every option of {@link SnpAppraisalPolicy}, as the keys of a table the compiler holds complete:
 * any other key is a misspelt rule, refused.
 */
const POLICY_OPTIONS = Object.keys({
  hostData: true,
  initdata: true,
  reportData: true,
  measurements: true,
  minimumTcb: true,
  minimumLaunchTcb: true,
  refuseProvisionalFirmware: true,
  minimumFirmware: true,
  vmpl: true,
  allowDebug: true,
  allowMigrationAgent: true,
  guestPolicy: true,
  platformInfo: true,
  minimumAbi: true,
  chipIds: true,
  idKeyDigests: true,
  authorKeyDigests: true,
  minimumGuestSvn: true,
} satisfies Record<keyof SnpAppraisalPolicy, true>)
const TCB_COMPONENTS = ['bootloader', 'tee', 'snp', 'microcode'] as const
const FIRMWARE_COMPONENTS = ['major', 'minor', 'build'] as const

/**
 * Refuse a policy that cannot be applied as written: a value that cannot be a bound (NaN, a
 * fraction, a negative or out-of-range number, a byte string of the wrong length), an option that
 * does not exist (a misspelt `measurement` would otherwise be ignored and bound nothing), a
 * `minimumTcb`, `minimumAbi` or `minimumFirmware` without every component (or with another key), an `initdata` that is not a parsed
 * document, and, when `product` is known, an FMC minimum for a product line without an FMC or a
 * Turin report's minimum TCB without one (its FMC SPL would have no bound).
 *
 * @throws {@link UsageError} `ERR_SNP_POLICY_INVALID` naming every fault.
 */
export function checkSnpAppraisalPolicy(policy: SnpAppraisalPolicy, product?: SnpProduct): void {
  const check = new PolicyChecker('ERR_SNP_POLICY_INVALID', 'SEV-SNP appraisal policy')
  // `policy` as given: an API caller (or a config file read into it) may pass anything.
  const given: unknown = policy
  if (!check.options(given, POLICY_OPTIONS)) {
    check.done()
    return
  }
  check.byteFields(policy, { hostData: 32, reportData: 64 })
  check.byteListFields(policy, {
    measurements: 48,
    chipIds: 64,
    idKeyDigests: 48,
    authorKeyDigests: 48,
  })
  check.integerFields(policy, { vmpl: [0, 3], minimumGuestSvn: [0, U32] })
  check.booleanFields(policy, ['allowDebug', 'allowMigrationAgent', 'refuseProvisionalFirmware'])
  const abi: unknown = policy.minimumAbi
  if (abi !== undefined && check.object('minimumAbi', abi, ['major', 'minor'])) {
    check.integer('minimumAbi.major', abi['major'], 0, U8)
    check.integer('minimumAbi.minor', abi['minor'], 0, U8)
  }
  const firmware: unknown = policy.minimumFirmware
  if (firmware !== undefined && check.object('minimumFirmware', firmware, FIRMWARE_COMPONENTS)) {
    for (const component of FIRMWARE_COMPONENTS)
      check.integer(`minimumFirmware.${component}`, firmware[component], 0, U8)
  }
  checkPolicyBitRule(check, 'guestPolicy', policy.guestPolicy, SNP_GUEST_POLICY_RULE_BITS)
  checkPolicyBitRule(check, 'platformInfo', policy.platformInfo, SNP_PLATFORM_INFO_RULE_BITS)
  checkTcbOption(check, 'minimumTcb', policy.minimumTcb, '--min-tcb', product)
  checkTcbOption(check, 'minimumLaunchTcb', policy.minimumLaunchTcb, '--min-launch-tcb', product)
  const initdata: unknown = policy.initdata
  if (initdata !== undefined) checkInitdataOption(check, initdata)
  check.done()
}

/**
 * A TCB minimum (`minimumTcb`, `minimumLaunchTcb`) must have every component, each an SPL, and
 * `fmc` exactly when the report's product line has an FMC SPL (Turin): refused on Milan and Genoa,
 * required on Turin, where a minimum without it would leave the FMC SPL unbounded.
 */
function checkTcbOption(
  check: PolicyChecker,
  field: string,
  tcb: unknown,
  flag: string,
  product: SnpProduct | undefined,
): void {
  if (tcb === undefined || !check.object(field, tcb, TCB_COMPONENTS, ['fmc'])) return
  for (const component of [...TCB_COMPONENTS, 'fmc'])
    check.integer(`${field}.${component}`, tcb[component], 0, U8)
  if (tcb['fmc'] !== undefined && product !== undefined && product !== 'Turin')
    check.fault(`${field}.fmc applies to Turin and later; this report is from a ${product}`)
  if (tcb['fmc'] === undefined && product === 'Turin')
    check.fault(
      `${field}.fmc is missing: this report is from a Turin, whose TCB has an FMC SPL, and a minimum without one would leave it unbounded (give fmc, e.g. ${flag} …,fmc=N)`,
    )
}

/**
 * How the firmware running now differs from the committed firmware, one phrase per difference;
 * empty when the report's CURRENT_TCB equals its COMMITTED_TCB (all 64 bits, reserved bytes
 * included) and CURRENT_MAJOR.MINOR.BUILD equals COMMITTED_MAJOR.MINOR.BUILD.
 *
 * A difference means the firmware is provisional: SNP_COMMIT has not been run since the update,
 * so the host can still go back to the committed firmware. The comparison is go-sev-guest's
 * (`validateTcb` and `validateVersion` with `PermitProvisionalFirmware` false: committed and
 * current must be equal).
 *
 * @example
 * ```ts
 * provisionalFirmwareDifferences(report, 'Milan')
 * // ['microcode 206 (COMMITTED_TCB 115)']
 * ```
 */
export function provisionalFirmwareDifferences(report: SnpReport, product: SnpProduct): string[] {
  const current = decodeTcbVersion(report.currentTcb, product)
  const committed = decodeTcbVersion(report.committedTcb, product)
  const out: string[] = []
  for (const component of ['fmc', ...TCB_COMPONENTS] as const) {
    if (current[component] !== committed[component])
      out.push(`${component} ${current[component]} (COMMITTED_TCB ${committed[component]})`)
  }
  if (out.length === 0 && report.currentTcb !== report.committedTcb)
    out.push(
      `reserved bytes: CURRENT_TCB 0x${report.currentTcb.toString(16)}, COMMITTED_TCB 0x${report.committedTcb.toString(16)}`,
    )
  const currentVersion = `${report.currentMajor}.${report.currentMinor}.${report.currentBuild}`
  const committedVersion = `${report.committedMajor}.${report.committedMinor}.${report.committedBuild}`
  if (currentVersion !== committedVersion)
    out.push(`firmware ${currentVersion} (committed ${committedVersion})`)
  return out
}

/** `initdata` must be a parsed document: a known algorithm and a digest of its length. */
function checkInitdataOption(check: PolicyChecker, initdata: unknown): void {
  const algorithm = isPolicyRecord(initdata) ? initdata['algorithm'] : undefined
  const known = INITDATA_ALGORITHMS.find((a) => a === algorithm)
  const digest = isPolicyRecord(initdata) ? initdata['digest'] : undefined
  if (
    known === undefined ||
    !(digest instanceof Uint8Array) ||
    digest.length !== DIGEST_LENGTHS[known]
  ) {
    check.fault(
      `initdata must be a document parsed with parseInitdata (an algorithm of ${INITDATA_ALGORITHMS.join(', ')} and its digest); got ${isPolicyRecord(initdata) ? 'an object without them' : describePolicyValue(initdata)}`,
    )
  }
}

/** The failure of a bit rule (`guestPolicy`, `platformInfo`) naming each bit that differs, if any. */
function bitRuleFailure<K extends string>(
  code: Failure['code'],
  field: string,
  actual: Readonly<Record<K, boolean>> & { readonly raw: bigint },
  rule: Readonly<Partial<Record<K, boolean>>> | undefined,
  table: Readonly<Record<K, SnpPolicyBit>>,
  hint: string,
): Failure | undefined {
  const differ = rule === undefined ? [] : policyBitMismatches(actual, rule, table)
  if (differ.length === 0) return undefined
  return {
    code,
    message: `${field} 0x${actual.raw.toString(16)}) does not meet the rule: ${differ.join('; ')}`,
    hint,
  }
}

/**
 * The rules a report fails, empty when it meets the policy.
 *
 * @throws {@link UsageError} `ERR_SNP_POLICY_INVALID` when the policy itself is invalid.
 */
export function appraisalFailures(
  report: SnpReport,
  product: SnpProduct,
  policy: SnpAppraisalPolicy,
): Failure[] {
  checkSnpAppraisalPolicy(policy, product)
  return failuresOfCheckedPolicy(report, product, policy)
}

/**
 * What {@link checkSnpAppraisalPolicy} with a product adds to the check without one: the TCB
 * minimums' `fmc` against the report's product line. For a verifier that checked the policy
 * without a product before any work (so every other fault has been refused already) and now
 * knows the product: the whole check again would cost a warm verification microseconds for
 * nothing.
 *
 * @internal
 * @throws {@link UsageError} `ERR_SNP_POLICY_INVALID` naming every fault.
 */
export function checkSnpAppraisalPolicyForProduct(
  policy: SnpAppraisalPolicy,
  product: SnpProduct,
): void {
  const check = new PolicyChecker('ERR_SNP_POLICY_INVALID', 'SEV-SNP appraisal policy')
  checkTcbOption(check, 'minimumTcb', policy.minimumTcb, '--min-tcb', product)
  checkTcbOption(check, 'minimumLaunchTcb', policy.minimumLaunchTcb, '--min-launch-tcb', product)
  check.done()
}

/**
 * Appraise a report against a policy that has passed {@link checkSnpAppraisalPolicy} without a
 * product and {@link checkSnpAppraisalPolicyForProduct} with the report's: as
 * {@link appraiseSnpReport}, without checking the policy a second time.
 *
 * @internal
 */
export function appraiseSnpReportWithCheckedPolicy(
  report: SnpReport,
  product: SnpProduct,
  policy: SnpAppraisalPolicy,
): void {
  throwIfAppraisalFailed(failuresOfCheckedPolicy(report, product, policy), 'report')
}

/** The rules a report fails, for a policy already checked for this product. */
function failuresOfCheckedPolicy(
  report: SnpReport,
  product: SnpProduct,
  policy: SnpAppraisalPolicy,
): Failure[] {
  const failures = new AppraisalFailures<Failure['code']>()
  if (policy.allowDebug !== true && report.policy.debug) {
    failures.add({
      code: 'ERR_SNP_DEBUG_ALLOWED',
      message:
        'the guest policy allows debugging (POLICY bit 19), so the host can read guest memory',
      hint: 'to accept a debuggable guest (never in production), add --allow-debug',
    })
  }
  if (policy.allowMigrationAgent !== true && report.policy.migrateMa) {
    failures.add({
      code: 'ERR_SNP_MIGRATION_AGENT_ALLOWED',
      message: 'the guest policy allows a migration agent (POLICY bit 18)',
      hint: 'to accept a guest that may be migrated by a migration agent, add --allow-migration-agent',
    })
  }
  failures.add(
    bitRuleFailure(
      'ERR_SNP_GUEST_POLICY_MISMATCH',
      'the guest policy (POLICY',
      report.policy,
      policy.guestPolicy,
      SNP_GUEST_POLICY_RULE_BITS,
      'launch the guest with a policy that meets the rule (the VMM sets POLICY at launch), or change --guest-policy',
    ),
  )
  failures.add(
    bitRuleFailure(
      'ERR_SNP_PLATFORM_INFO_MISMATCH',
      "the host's platform (PLATFORM_INFO",
      report.platformInfo,
      policy.platformInfo,
      SNP_PLATFORM_INFO_RULE_BITS,
      'run the guest on a host configured as the rule requires (BIOS and firmware settings), or change --platform-info',
    ),
  )
  failures.exact(
    'ERR_SNP_HOST_DATA_MISMATCH',
    'HOST_DATA',
    report.hostData,
    policy.hostData,
    'check the value of --expect-host-data; for an initdata document give --expect-initdata FILE instead',
  )
  if (policy.initdata !== undefined) {
    failures.add(
      initdataBindingFailure(
        'ERR_SNP_INITDATA_MISMATCH',
        'snp',
        'HOST_DATA',
        report.hostData,
        policy.initdata,
      ),
    )
  }
  failures.exact(
    'ERR_SNP_REPORT_DATA_MISMATCH',
    'REPORT_DATA',
    report.reportData,
    policy.reportData,
    "REPORT_DATA is what the guest asked to be signed (a nonce, a key's hash): check --expect-report-data against the request",
  )
  failures.oneOf(
    'ERR_SNP_MEASUREMENT_MISMATCH',
    'MEASUREMENT',
    report.measurement,
    policy.measurements,
    'the guest was launched from other firmware, kernel or vCPU settings; if this launch is trusted, add its MEASUREMENT with another --expect-measurement',
  )
  if (policy.minimumTcb !== undefined) {
    const reported = decodeTcbVersion(report.reportedTcb, product)
    if (!tcbAtLeast(reported, policy.minimumTcb)) {
      failures.add({
        code: 'ERR_SNP_TCB_TOO_LOW',
        message: `REPORTED_TCB ${tcbText(reported)} is below the minimum ${tcbText(policy.minimumTcb)}`,
        hint: "update the host's SEV firmware and microcode, or lower --min-tcb",
      })
    }
  }
  if (policy.minimumLaunchTcb !== undefined) {
    const launch = decodeTcbVersion(report.launchTcb, product)
    const below = tcbComponentsBelow(launch, policy.minimumLaunchTcb)
    if (below.length > 0) {
      failures.add({
        code: 'ERR_SNP_LAUNCH_TCB_TOO_LOW',
        message: `LAUNCH_TCB ${tcbText(launch)} is below the minimum launch TCB ${tcbText(policy.minimumLaunchTcb)}: ${below.join(', ')} too low (the firmware that launched the guest and took its measurement)`,
        hint: 'relaunch the guest on a host whose firmware meets the minimum (a live firmware update raises CURRENT_TCB, not LAUNCH_TCB), or lower --min-launch-tcb',
      })
    }
  }
  if (policy.refuseProvisionalFirmware === true) {
    const differences = provisionalFirmwareDifferences(report, product)
    if (differences.length > 0) {
      failures.add({
        code: 'ERR_SNP_PROVISIONAL_FIRMWARE',
        message: `the firmware is provisional: the running firmware differs from the committed one (${differences.join('; ')}), so the host can still roll it back`,
        hint: 'have the host commit its firmware (SNP_COMMIT), or drop --refuse-provisional-firmware',
      })
    }
  }
  if (policy.minimumFirmware !== undefined) {
    const current = currentFirmwareVersion(report)
    if (!firmwareVersionAtLeast(current, policy.minimumFirmware)) {
      failures.add({
        code: 'ERR_SNP_FIRMWARE_TOO_LOW',
        message: `the firmware (CURRENT_MAJOR.MINOR.BUILD) is ${firmwareVersionText(current)}, below the minimum ${firmwareVersionText(policy.minimumFirmware)} (ordered major, then minor, then build)`,
        hint: "update the host's SEV firmware, or lower --min-firmware",
      })
    }
  }
  if (policy.vmpl !== undefined && report.vmpl !== policy.vmpl) {
    failures.add({
      code: 'ERR_SNP_VMPL_MISMATCH',
      message: `VMPL is ${report.vmpl}, expected ${policy.vmpl}`,
      hint: 'the report was requested at another privilege level (an SVSM runs at VMPL 0, the guest OS above it); check --expect-vmpl',
    })
  }
  if (policy.minimumAbi !== undefined) {
    const { major, minor } = policy.minimumAbi
    const ok =
      report.policy.abiMajor > major ||
      (report.policy.abiMajor === major && report.policy.abiMinor >= minor)
    if (!ok) {
      failures.add({
        code: 'ERR_SNP_ABI_TOO_LOW',
        message: `the policy's minimum ABI is ${report.policy.abiMajor}.${report.policy.abiMinor}, expected at least ${major}.${minor}`,
        hint: 'launch the guest with a policy that requires a newer firmware ABI',
      })
    }
  }
  if (policy.chipIds !== undefined && !constantTimeIncludes(policy.chipIds, report.chipId)) {
    failures.add({
      code: 'ERR_SNP_CHIP_NOT_ALLOWED',
      message: `CHIP_ID ${hex(report.chipId).slice(0, 16)}… is not on the allow-list`,
      hint: 'the guest runs on another machine; add its CHIP_ID to the allow-list if it is trusted',
    })
  }
  failures.oneOf(
    'ERR_SNP_ID_KEY_MISMATCH',
    'ID_KEY_DIGEST',
    report.idKeyDigest,
    policy.idKeyDigests,
    'the guest was launched with another ID block signing key (or none)',
  )
  failures.oneOf(
    'ERR_SNP_AUTHOR_KEY_MISMATCH',
    'AUTHOR_KEY_DIGEST',
    report.authorKeyDigest,
    policy.authorKeyDigests,
    'the ID key was endorsed by another author key (or none)',
  )
  failures.atLeast(
    'ERR_SNP_GUEST_SVN_TOO_LOW',
    'GUEST_SVN',
    report.guestSvn,
    policy.minimumGuestSvn,
    'the guest image is older than --min-guest-svn allows: launch an updated image',
  )
  return failures.list
}

/**
 * Appraise a report against a policy.
 *
 * @throws {@link UsageError} `ERR_SNP_POLICY_INVALID` when the policy itself is invalid (see
 *   {@link checkSnpAppraisalPolicy}); {@link ExpectationError} with the code of the first failing rule; `details.failed` lists
 *   every failing rule's code and the message names each, with expected and actual values.
 */
export function appraiseSnpReport(
  report: SnpReport,
  product: SnpProduct,
  policy: SnpAppraisalPolicy,
): void {
  throwIfAppraisalFailed(appraisalFailures(report, product, policy), 'report')
}
