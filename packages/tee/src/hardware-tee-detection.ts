/**
 * Find and open the hardware TEE the guest runs in.
 *
 * `tee: 'auto'` looks, in this order, at
 * 1. Gramine's `/dev/attestation` (SGX): `attestation_type` must be `dcap`;
 * 2. configfs-tsm (SEV-SNP, TDX): a probe entry is made, its `provider` read, and the entry
 *    removed again; `sev_guest` is SEV-SNP, `tdx_guest` TDX.
 *
 * It never picks a simulator, nor a vTPM (both are only ever chosen explicitly, elsewhere: a vTPM
 * binding is weaker than SEV-SNP's or TDX's, and a vTPM may be the host's). When nothing is
 * found, the error lists every place looked at and what was there. An explicit `tee` must be what
 * the platform offers (asking for tdx where the provider is sev_guest is refused), and an option
 * that does not apply to the TEE opened is refused, never ignored.
 *
 * Internal: {@link detectHardwareTee} takes the platform operations as an argument so that the
 * stand-in tree's tests can pass their own (which skip the configfs and sysfs file-system checks);
 * the package exports only `openHardwareTee` (hardware-tee.ts), which passes `TEE_PLATFORM_OPS`.
 *
 * @module
 */
import { UnavailableError, UsageError } from '@initguard/core'
import { openConfigfsTsmWith } from './configfs-tsm-with-ops.ts'
import {
  DEFAULT_CONFIGFS_TSM_DIR,
  probeTsm,
  teeOfProvider,
  TSM_PROVIDERS,
} from './configfs-tsm-entry.ts'
import {
  DEFAULT_GRAMINE_ATTESTATION_DIR,
  openGramineSgx,
  readGramineAttestationType,
} from './gramine-sgx.ts'
import type { GuestTee } from './guest-tee.ts'
import type { TeePlatformOps } from './tee-platform-ops.ts'

/** Options for `openHardwareTee`; every path has the kernel's (or Gramine's) default. */
export interface OpenHardwareTeeOptions {
  /** Which TEE; `auto` detects (never a simulator). */
  readonly tee: 'auto' | 'snp' | 'tdx' | 'sgx'
  /** configfs-tsm report directory; default `/sys/kernel/config/tsm/report`. */
  readonly configfsTsmDir?: string
  /** TDX measurement registers in sysfs; default `/sys/devices/virtual/misc/tdx_guest/measurements`. */
  readonly tdxMeasurementsDir?: string
  /** The TDX CCEL event log; default `/sys/firmware/acpi/tables/data/CCEL`. */
  readonly ccelPath?: string
  /** Gramine's attestation pseudo-files; default `/dev/attestation`. */
  readonly gramineAttestationDir?: string
  /**
   * SEV-SNP VMPL to report at, 0–3 (the agent's `--snp-vmpl`; check it with `checkSnpPrivlevel`).
   * Default: the kernel's `privlevel_floor` (0 without an SVSM).
   */
  readonly snpPrivlevel?: number
}

const TEE_CHOICES = ['auto', 'snp', 'tdx', 'sgx'] as const

function notApplicable(tee: string, options: readonly string[]): UsageError {
  return new UsageError(
    'ERR_TEE_OPTION_NOT_APPLICABLE',
    `${options.join(', ')} do not apply to ${tee}, which is what is being opened`,
    { details: { tee, options }, hint: 'drop the options of other TEEs' },
  )
}

function given(options: OpenHardwareTeeOptions, names: readonly (keyof OpenHardwareTeeOptions)[]) {
  return names.filter((name) => options[name] !== undefined)
}

async function openSgx(options: OpenHardwareTeeOptions, dir: string): Promise<GuestTee> {
  const foreign = given(options, ['snpPrivlevel', 'tdxMeasurementsDir', 'ccelPath'])
  if (options.tee === 'sgx') foreign.push(...given(options, ['configfsTsmDir']))
  if (foreign.length > 0) throw notApplicable('sgx', foreign)
  return openGramineSgx(dir)
}

function openTsm(
  options: OpenHardwareTeeOptions,
  tee: 'snp' | 'tdx',
  dir: string,
  ops: TeePlatformOps,
): GuestTee {
  if (options.tee === tee && options.gramineAttestationDir !== undefined) {
    throw notApplicable(tee, ['gramineAttestationDir'])
  }
  return openConfigfsTsmWith(
    {
      tee,
      dir,
      ...(options.snpPrivlevel === undefined ? {} : { snpPrivlevel: options.snpPrivlevel }),
      ...(options.ccelPath === undefined ? {} : { ccelPath: options.ccelPath }),
      ...(options.tdxMeasurementsDir === undefined
        ? {}
        : { tdxMeasurementsDir: options.tdxMeasurementsDir }),
    },
    ops,
  )
}

/**
 * `openHardwareTee` with the platform operations passed in (module comment).
 *
 * @internal for tests: production code calls `openHardwareTee`.
 */
export async function detectHardwareTee(
  options: OpenHardwareTeeOptions,
  ops: TeePlatformOps,
): Promise<GuestTee> {
  const choice: unknown = options.tee
  if (!TEE_CHOICES.includes(choice as OpenHardwareTeeOptions['tee'])) {
    throw new UsageError('ERR_TEE_KIND_INVALID', `unknown TEE ${JSON.stringify(choice)}`, {
      details: { allowed: TEE_CHOICES },
      hint: 'use --tee auto, snp, tdx or sgx',
    })
  }
  const gramineDir = options.gramineAttestationDir ?? DEFAULT_GRAMINE_ATTESTATION_DIR
  const tsmDir = options.configfsTsmDir ?? DEFAULT_CONFIGFS_TSM_DIR
  if (options.tee === 'sgx') return openSgx(options, gramineDir)
  if (options.tee === 'snp' || options.tee === 'tdx') {
    const wanted = options.tee
    const probe = await probeTsm(tsmDir, ops)
    if ('absent' in probe) {
      throw new UnavailableError('ERR_TEE_NOT_FOUND', `--tee ${wanted}: ${probe.absent}`, {
        details: { tee: wanted, looked: [`${tsmDir}: ${probe.absent}`] },
        hint: `run inside an ${wanted === 'snp' ? 'SEV-SNP' : 'TDX'} guest with configfs-tsm, or pass the --tee this guest runs in`,
      })
    }
    if (probe.provider !== TSM_PROVIDERS[wanted]) {
      throw new UsageError(
        'ERR_TEE_MISMATCH',
        `--tee ${wanted} was asked for, but configfs-tsm at ${tsmDir} has provider ${JSON.stringify(probe.provider)} (${wanted} needs ${TSM_PROVIDERS[wanted]})`,
        {
          details: {
            tee: wanted,
            expected: TSM_PROVIDERS[wanted],
            found: probe.provider,
            path: tsmDir,
          },
          hint: `pass --tee ${teeOfProvider(probe.provider) ?? 'auto'} (or --tee auto)`,
        },
      )
    }
    return openTsm(options, wanted, tsmDir, ops)
  }

  const looked: string[] = []
  const type = await readGramineAttestationType(gramineDir)
  if (type === 'dcap') return openSgx(options, gramineDir)
  looked.push(
    type === undefined
      ? `${gramineDir}: no attestation_type (not a Gramine enclave)`
      : `${gramineDir}: attestation_type is ${JSON.stringify(type)}, not dcap`,
  )
  const probe = await probeTsm(tsmDir, ops)
  if ('provider' in probe) {
    const tee = teeOfProvider(probe.provider)
    if (tee !== undefined) return openTsm(options, tee, tsmDir, ops)
    looked.push(
      `${tsmDir}: provider ${JSON.stringify(probe.provider)} is not one Initguard supports`,
    )
  } else {
    looked.push(`${tsmDir}: ${probe.absent}`)
  }
  throw new UnavailableError(
    'ERR_TEE_NOT_FOUND',
    `no hardware TEE found; looked at:\n  ${looked.join('\n  ')}`,
    {
      details: { looked },
      // vTPM is never detected: a guest whose SEV-SNP or TDX interface is missing for a while
      // must not fall back to the weaker PCR 8 binding on its own.
      hint: 'run inside an SEV-SNP or TDX guest (configfs-tsm) or a Gramine SGX enclave, or pass --tee explicitly (--tee sim for the simulator; --tee vtpm, never detected, binds to the vTPM PCR 8 of a platform without configfs-tsm, such as an Azure confidential VM)',
    },
  )
}
