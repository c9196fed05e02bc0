/**
 * The workload definition `initguard kbs admin workload put` sends, built from its options. The
 * init-data documents go in as their exact text (the KBS computes each TEE's fitted digest
 * itself); the server validates the whole definition (`parseWorkloadDefinition`), and this module
 * refuses early what can only fail there: a TEE without its reference values (a TDX one without
 * its kernel pinned, RTMR1 and RTMR2, or `--tdx-any-kernel`), or reference values for a TEE the
 * workload does not list.
 *
 * ```json
 * {"name": "web", "tees": ["snp", "tdx"],
 *  "initdata": ["<exact document text>"],
 *  "resources": ["default/web/*"],
 *  "snp": {"measurements": ["<96 hex>"], "minimumTcb": {...}, "minimumLaunchTcb": {...},
 *          "refuseProvisionalFirmware": true, "minimumFirmware": {"major": 1, "minor": 55,
 *          "build": 29}, "guestPolicy": {"smt": false}, "platformInfo": {"tsmeEnabled": true},
 *          "allowDebug": false},
 *  "tdx": {"mrtd": ["<96 hex>"], "rtmr1": ["<96 hex>"], "rtmr2": ["<96 hex>"],
 *          "mrServiceTd": "<96 hex>", "allowDebug": false},  // or "anyKernel": true, no rtmr1/rtmr2
 *  "cel": "<expression>", "refuseSimulated": true}
 * ```
 *
 * @module
 */
import { MalformedInputError, UsageError } from '@initguard/core'
import type { SnpGuestPolicyRule, SnpPlatformInfoRule } from '@initguard/snp'

/** What the options say. */
export interface WorkloadOptions {
  readonly name: string
  readonly tees: readonly string[]
  /** Each document's bytes, as read. */
  readonly initdata: readonly { readonly file: string; readonly bytes: Uint8Array }[]
  readonly resources: readonly string[]
  readonly snpMeasurements: readonly Uint8Array[]
  readonly snpMinTcb?: Readonly<Record<string, number>>
  readonly snpMinLaunchTcb?: Readonly<Record<string, number>>
  readonly snpRefuseProvisionalFirmware?: boolean
  /** `snp.minimumFirmware`: the lowest running SEV firmware version accepted. */
  readonly snpMinFirmware?: Readonly<{ major: number; minor: number; build: number }>
  /** `snp.guestPolicy`: GUEST_POLICY bits that must be set (true) or clear (false). */
  readonly snpGuestPolicy?: SnpGuestPolicyRule
  /** `snp.platformInfo`: PLATFORM_INFO bits that must be set (true) or clear (false). */
  readonly snpPlatformInfo?: SnpPlatformInfoRule
  readonly tdxMrtd: readonly Uint8Array[]
  readonly tdxRtmr: readonly { readonly index: number; readonly value: Uint8Array }[]
  /** `tdx.anyKernel` (`--tdx-any-kernel`): accept any kernel, said explicitly, instead of RTMR1 and RTMR2. */
  readonly tdxAnyKernel?: boolean
  /** `tdx.mrServiceTd`: the MRSERVICETD the TD must have (all zero when not given). */
  readonly tdxMrServiceTd?: Uint8Array
  readonly allowDebug: boolean
  readonly cel?: string
  /** Real hardware only (`--refuse-simulated`): the workload does not match simulated evidence. */
  readonly refuseSimulated?: boolean
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/**
 * A TDX workload pins the kernel (RTMR1) and its command line and initrd (RTMR2), or says
 * `--tdx-any-kernel`: MRTD covers only the TD firmware. The KBS refuses the same
 * (`ERR_KBS_WORKLOAD_INVALID`); this says it in the options' terms.
 */
function tdxKernelPin(
  options: WorkloadOptions,
  refuse: (message: string, hint: string) => never,
): void {
  const pinned = new Set(
    options.tdxRtmr.map(({ index }) => index).filter((i) => i === 1 || i === 2),
  )
  if (options.tdxAnyKernel === true) {
    if (pinned.size > 0)
      refuse(
        `--tdx-any-kernel contradicts --tdx-rtmr ${[...pinned].sort().join(' and ')}: it accepts any kernel, the RTMR says which`,
        'to pin the kernel, drop --tdx-any-kernel and give --tdx-rtmr 1=HEX and --tdx-rtmr 2=HEX; to accept any kernel, drop --tdx-rtmr 1 and 2',
      )
    return
  }
  if (pinned.size < 2)
    refuse(
      `--tee tdx needs --tdx-rtmr 1=HEX and --tdx-rtmr 2=HEX (${pinned.size === 0 ? 'neither is given' : `only RTMR${[...pinned].join('')} is given`}), or --tdx-any-kernel: MRTD covers only the TD firmware, so without them any kernel the host boots under it gets the secrets`,
      "`initguard sim init` prints the simulator's; for real guests, RTMR1 and RTMR2 of your kernel, command line and initrd. --tdx-any-kernel accepts any kernel, explicitly: then whoever runs the host can boot its own kernel and take the secrets",
    )
}

/**
 * The definition JSON.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_INITDATA_NOT_UTF8` for a document that is not
 *   UTF-8 text (a TOML document always is; JSON cannot carry other bytes exactly).
 */
export function workloadDefinitionJson(options: WorkloadOptions): Record<string, unknown> {
  const initdata = options.initdata.map(({ file, bytes }) => {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
    } catch (cause) {
      throw new MalformedInputError(
        'ERR_KBS_INITDATA_NOT_UTF8',
        `--initdata ${file} is not UTF-8 text`,
        {
          cause,
          hint: 'give the initdata TOML document itself (`initguard initdata decode` turns an annotation back into it)',
        },
      )
    }
  })
  const has = (tee: string): boolean => options.tees.includes(tee)
  const refuse = (message: string, hint: string): never => {
    throw new UsageError('ERR_OPTION_NOT_APPLICABLE', message, { hint })
  }
  if (
    !has('snp') &&
    (options.snpMeasurements.length > 0 ||
      options.snpMinTcb !== undefined ||
      options.snpMinLaunchTcb !== undefined ||
      options.snpRefuseProvisionalFirmware === true ||
      options.snpMinFirmware !== undefined ||
      options.snpGuestPolicy !== undefined ||
      options.snpPlatformInfo !== undefined)
  )
    refuse(
      '--snp-measurement/--snp-min-tcb/--snp-min-launch-tcb/--snp-refuse-provisional-firmware/--snp-min-firmware/--snp-guest-policy/--snp-platform-info apply to a workload with --tee snp',
      'add --tee snp, or drop them',
    )
  if (
    !has('tdx') &&
    (options.tdxMrtd.length > 0 ||
      options.tdxRtmr.length > 0 ||
      options.tdxAnyKernel === true ||
      options.tdxMrServiceTd !== undefined)
  )
    refuse(
      '--tdx-mrtd/--tdx-rtmr/--tdx-any-kernel/--tdx-mrservicetd apply to a workload with --tee tdx',
      'add --tee tdx, or drop them',
    )
  if (has('snp') && options.snpMeasurements.length === 0)
    refuse(
      '--tee snp needs at least one --snp-measurement HEX: a workload accepts only measurements it names',
      "`initguard sim init` prints the simulator's; for real guests, the launch measurement of your firmware and kernel",
    )
  if (has('tdx') && options.tdxMrtd.length === 0)
    refuse(
      '--tee tdx needs at least one --tdx-mrtd HEX: a workload accepts only MRTDs it names',
      "`initguard sim init` prints the simulator's; for real guests, the MRTD of your TD firmware",
    )
  if (has('tdx')) tdxKernelPin(options, refuse)
  if (has('sgx'))
    refuse(
      'SGX workloads need MRENCLAVE/MRSIGNER reference values, which `workload put` does not take yet',
      'PUT the workload definition JSON to /kbs/v0/admin/workloads/NAME',
    )
  const debug = options.allowDebug ? { allowDebug: true } : {}
  const snp = {
    measurements: options.snpMeasurements.map(hex),
    ...(options.snpMinTcb === undefined ? {} : { minimumTcb: options.snpMinTcb }),
    ...(options.snpMinLaunchTcb === undefined ? {} : { minimumLaunchTcb: options.snpMinLaunchTcb }),
    ...(options.snpRefuseProvisionalFirmware === true ? { refuseProvisionalFirmware: true } : {}),
    ...(options.snpMinFirmware === undefined ? {} : { minimumFirmware: options.snpMinFirmware }),
    ...(options.snpGuestPolicy === undefined ? {} : { guestPolicy: options.snpGuestPolicy }),
    ...(options.snpPlatformInfo === undefined ? {} : { platformInfo: options.snpPlatformInfo }),
    ...debug,
  }
  const rtmrs: Record<string, string[]> = {}
  for (const { index, value } of options.tdxRtmr) (rtmrs[`rtmr${index}`] ??= []).push(hex(value))
  const tdx = {
    mrtd: options.tdxMrtd.map(hex),
    ...rtmrs,
    ...(options.tdxAnyKernel === true ? { anyKernel: true } : {}),
    ...(options.tdxMrServiceTd === undefined ? {} : { mrServiceTd: hex(options.tdxMrServiceTd) }),
    ...debug,
  }
  return {
    name: options.name,
    tees: options.tees,
    initdata,
    resources: options.resources,
    ...(has('snp') ? { snp } : {}),
    ...(has('tdx') ? { tdx } : {}),
    ...(options.cel === undefined ? {} : { cel: options.cel }),
    ...(options.refuseSimulated === true ? { refuseSimulated: true } : {}),
  }
}
