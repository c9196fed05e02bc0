/**
 * The options every agent command shares (`agent check-initdata`, `agent start`,
 * `agent pull-image`): the init-data source and the TEE:
 *
 * ```text
 * --initdata FILE                the document, annotation value or device (see --from)
 * --from toml|annotation|image   default toml; with image, --initdata may be left out
 * --tee auto|snp|tdx|sgx|sim|vtpm  default auto (detect the hardware; never the simulator,
 *                                 never a vTPM)
 * --sim-dir DIR --sim-guest NAME  required with --tee sim, refused with any other --tee
 * --tpm PATH                      with --tee vtpm only (default /dev/tpmrm0; `agent-vtpm.ts`):
 *                                 vTPM binds, it does not attest, so only check-initdata takes it
 * --snp-vmpl N                    0–3, the VMPL SEV-SNP reports are taken at; only with
 *                                 --tee snp or auto (then it binds the detection to SEV-SNP)
 * ```
 *
 * @module
 */
import type { InitdataSourceKind } from '@initguard/agent'
import { UsageError } from '@initguard/core'
import type { GuestTee } from '@initguard/tee'
import { parsedOption, type ParsedArgs, type StringOptionSpec, requiredParsed } from '../command.ts'
import { PATH_VALUE, choiceValue, freeValue, integerValue } from '../option-values.ts'

/** What `--tee` accepts. */
export const AGENT_TEE_CHOICES = ['auto', 'snp', 'tdx', 'sgx', 'sim', 'vtpm'] as const
const TEE_VALUE = choiceValue(AGENT_TEE_CHOICES)

/** The `--tee` given (default `auto`). */
export function agentTeeChoice(args: ParsedArgs): (typeof AGENT_TEE_CHOICES)[number] {
  return parsedOption(args, 'tee', TEE_VALUE) ?? 'auto'
}
const GUEST_VALUE = freeValue('a simulated guest name', 'web')
const VMPL_VALUE = integerValue(0, 3, 'SEV-SNP VMPL')

/** `--tee`, `--sim-dir`, `--sim-guest`, `--snp-vmpl`, `--tpm`. */
const AGENT_TEE_OPTIONS: Readonly<
  Record<'tee' | 'sim-dir' | 'sim-guest' | 'snp-vmpl' | 'tpm', StringOptionSpec>
> = {
  tee: {
    type: 'string',
    value: TEE_VALUE,
    valueName: 'TEE',
    default: 'auto',
    help: 'the TEE to take reports from: auto (detect SGX via Gramine, then SEV-SNP or TDX via configfs-tsm; default), snp, tdx, sgx, sim (a simulated guest: needs --sim-dir and --sim-guest), or vtpm (agent check-initdata only, never detected: bind the document to vTPM PCR 8, refused in an SEV-SNP or TDX guest)',
  },
  tpm: {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'PATH',
    help: 'with --tee vtpm: the TPM, a character device (default /dev/tpmrm0) or a swtpm Unix socket taking raw TPM commands',
  },
  'sim-dir': {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'DIR',
    help: 'with --tee sim: the simulator directory (`initguard sim init`)',
  },
  'sim-guest': {
    type: 'string',
    value: GUEST_VALUE,
    valueName: 'GUEST',
    help: 'with --tee sim: the simulated guest, as launched (`initguard sim launch --name GUEST`)',
  },
  'snp-vmpl': {
    type: 'string',
    value: VMPL_VALUE,
    valueName: 'N',
    help: "with --tee snp or auto: the VMPL (0-3) SEV-SNP reports are taken at (configfs-tsm privlevel); default the platform's. Refused with any other --tee; with auto, a TEE detected as other than SEV-SNP is refused",
  },
}

/**
 * Open the TEE the options name. The simulator is used only with `--tee sim`, and its options
 * are refused with any other `--tee` rather than ignored.
 *
 * @param command - e.g. `agent check-initdata`, for hints.
 * @throws {@link UsageError} `ERR_USAGE` (`--tee sim` without `--sim-dir` or `--sim-guest`),
 *   `ERR_OPTION_NOT_APPLICABLE` (a sim option with a hardware `--tee`, `--snp-vmpl` with a
 *   `--tee` other than snp or auto, `--tpm` without `--tee vtpm`), `ERR_AGENT_VTPM_NOT_ATTESTABLE`
 *   (`--tee vtpm`: see `agent-vtpm.ts`); every error of
 *   `openSimulatedGuest` and `openHardwareTee`, with their own codes.
 */
export async function openAgentTee(args: ParsedArgs, command: string): Promise<GuestTee> {
  const tee = agentTeeChoice(args)
  if (tee === 'vtpm') {
    // Only check-initdata binds on a vTPM (agent-vtpm.ts); every other command attests.
    throw new UsageError(
      'ERR_AGENT_VTPM_NOT_ATTESTABLE',
      `initguard ${command} attests to a KBS, and --tee vtpm gives no evidence a KBS verifies: Initguard makes no TPM quotes, and its KBS does not verify vTPM evidence`,
      {
        details: { tee, command },
        hint: 'bind the document to PCR 8 with `initguard agent check-initdata --tee vtpm --initdata FILE`; attesting from a vTPM is not implemented',
      },
    )
  }
  if (parsedOption(args, 'tpm', PATH_VALUE) !== undefined) {
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `--tpm applies only to --tee vtpm; this is --tee ${tee}`,
      { details: { option: '--tpm', tee }, hint: 'drop --tpm, or give --tee vtpm' },
    )
  }
  const simDir = parsedOption(args, 'sim-dir', PATH_VALUE)
  const simGuest = parsedOption(args, 'sim-guest', GUEST_VALUE)
  const snpVmpl = parsedOption(args, 'snp-vmpl', VMPL_VALUE)
  if (snpVmpl !== undefined && tee !== 'snp' && tee !== 'auto') {
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `--snp-vmpl applies only to --tee snp or auto; this is --tee ${tee}`,
      {
        details: { option: '--snp-vmpl', tee },
        hint: 'drop --snp-vmpl, or give --tee snp',
      },
    )
  }
  if (tee === 'sim') {
    const missing = [
      ...(simDir === undefined ? ['--sim-dir DIR'] : []),
      ...(simGuest === undefined ? ['--sim-guest GUEST'] : []),
    ]
    if (simDir === undefined || simGuest === undefined) {
      throw new UsageError('ERR_USAGE', `--tee sim needs ${missing.join(' and ')}`, {
        details: { missing },
        hint: `launch a guest with \`initguard sim launch --sim-dir DIR --tee snp --initdata FILE --name GUEST\`, then give \`initguard ${command} … --tee sim --sim-dir DIR --sim-guest GUEST\``,
      })
    }
    // Each kind of TEE loads only its own modules: the agent's cold start is measured.
    const { openSimulatedGuest } = await import('@initguard/tee/simulated')
    return openSimulatedGuest({ simDir, guest: simGuest })
  }
  const stray = [
    ...(simDir === undefined ? [] : ['--sim-dir']),
    ...(simGuest === undefined ? [] : ['--sim-guest']),
  ]
  if (stray.length > 0) {
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `${stray.join(' and ')} appl${stray.length === 1 ? 'ies' : 'y'} only to --tee sim; this is --tee ${tee}`,
      {
        details: { option: stray.join(' '), tee },
        hint: `drop ${stray.join(' and ')}, or give --tee sim to use the simulated guest`,
      },
    )
  }
  // openHardwareTee refuses snpPrivlevel when auto finds SGX or TDX: never ignored there either.
  const { openHardwareTee } = await import('@initguard/tee/hardware')
  return openHardwareTee({ tee, ...(snpVmpl === undefined ? {} : { snpPrivlevel: snpVmpl }) })
}

const FROM_CHOICES = ['toml', 'annotation', 'image'] as const
const FROM_VALUE = choiceValue(FROM_CHOICES)
const SOURCE_KINDS: Readonly<Record<(typeof FROM_CHOICES)[number], InitdataSourceKind>> = {
  toml: 'file',
  annotation: 'annotation',
  image: 'image',
}

/** `--initdata FILE` and `--from toml|annotation|image`. */
const AGENT_INITDATA_OPTIONS: Readonly<Record<'initdata' | 'from', StringOptionSpec>> = {
  initdata: {
    type: 'string',
    value: PATH_VALUE,
    valueName: 'FILE',
    help: 'the initdata document, annotation value or block device (see --from); required, except with --from image, where the device is then found by its magic',
  },
  from: {
    type: 'string',
    value: FROM_VALUE,
    valueName: 'FORM',
    default: 'toml',
    help: 'what FILE holds: toml (the document, default), annotation (base64 of gzip, the Kata pod annotation value), image (the Kata initdata block device or its data.img: magic "initdata"; without --initdata, the one disk among /dev/disk/by-id/virtio-initdata*, /dev/vd*, /dev/sd*, /dev/xvd* whose header has the magic)',
  },
}

/**
 * The options every agent command takes, one spec: `--initdata`, `--from` (read with
 * {@link agentInitdataSource}), then `--tee`, `--sim-dir`, `--sim-guest`, `--snp-vmpl`, `--tpm`
 * (read with {@link openAgentTee}, or `openAgentVtpm` for `--tee vtpm`). Spread them into a
 * command's options.
 */
export const AGENT_GUEST_OPTIONS: Readonly<
  Record<
    'initdata' | 'from' | 'tee' | 'sim-dir' | 'sim-guest' | 'snp-vmpl' | 'tpm',
    StringOptionSpec
  >
> = { ...AGENT_INITDATA_OPTIONS, ...AGENT_TEE_OPTIONS }

/**
 * The init-data source the options name. `path` is undefined only with `--from image` and no
 * `--initdata`: the caller then finds the device by its magic (`findInitdataDevice`), after the
 * TEE is open, so a usage error never reads a device.
 *
 * @throws {@link UsageError} `ERR_USAGE` without `--initdata` (unless `--from image`).
 */
export function agentInitdataSource(
  args: ParsedArgs,
  command: string,
): { readonly from: InitdataSourceKind; readonly path: string | undefined } {
  const from = SOURCE_KINDS[requiredParsed(args, 'from', FROM_VALUE, command)]
  const path =
    from === 'image'
      ? parsedOption(args, 'initdata', PATH_VALUE)
      : requiredParsed(args, 'initdata', PATH_VALUE, command)
  return { from, path }
}
