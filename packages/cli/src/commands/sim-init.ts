/**
 * `initguard sim init`: create the TEE simulator's directory, or reuse the valid one there.
 *
 * @module
 */
import { join } from 'node:path'
import { UsageError } from '@initguard/core'
import {
  SIMULATOR_FILES,
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
  initSimulator,
} from '@initguard/tee-simulator'
import {
  JSON_OPTION,
  requiredParsed,
  type Command,
  type ParsedArgs,
  type StringOptionSpec,
} from '../command.ts'
import { PATH_VALUE, choiceValue, freeValue, type OptionValue } from '../option-values.ts'
import { reply } from '../output.ts'

/** `--sim-dir DIR`: the simulator's directory. */
export const SIM_DIR_OPTION: StringOptionSpec = {
  type: 'string',
  value: PATH_VALUE,
  valueName: 'DIR',
  help: 'the simulator directory (keys 0600 in a 0700 directory; made by `initguard sim init`)',
}

/** What `--tee` of `sim launch` and `sim evidence` accepts: the TEEs the simulator makes. */
export const SIM_TEE_VALUE: OptionValue<'snp' | 'tdx'> = choiceValue(['snp', 'tdx'] as const)

/** A simulated guest's name; the simulator checks it (`ERR_SIM_GUEST_NAME`, the rule in its hint). */
export const GUEST_NAME_VALUE: OptionValue<string> = freeValue('a guest name', 'web')

/**
 * `--sim-dir DIR`, `--tee snp|tdx` and `--initdata FILE` (`-` for standard input): the options
 * `sim launch` and `sim evidence` both take; `help` says what the TEE and the document are for in
 * the command.
 */
export function simGuestOptions(help: {
  readonly tee: string
  readonly initdata: string
}): Readonly<Record<'sim-dir' | 'tee' | 'initdata', StringOptionSpec>> {
  return {
    'sim-dir': SIM_DIR_OPTION,
    tee: { type: 'string', value: SIM_TEE_VALUE, valueName: 'TEE', help: help.tee },
    initdata: { type: 'string', value: PATH_VALUE, valueName: 'FILE', help: help.initdata },
  }
}

/** `--sim-dir`, required; and no positional arguments. */
export function simDirOption(args: ParsedArgs, command: string): string {
  if (args.positionals.length > 0) {
    throw new UsageError('ERR_USAGE', `initguard ${command} takes no arguments, only options`, {
      details: { arguments: args.positionals.length },
      hint: `see \`initguard ${command} --help\``,
    })
  }
  return requiredParsed(args, 'sim-dir', PATH_VALUE, command)
}

export const simInitCommand: Command = {
  name: 'init',
  summary: 'Create the TEE simulator (SEV-SNP and TDX keys and roots) in a directory, or reuse it.',
  usage: '--sim-dir DIR',
  description: [
    'The simulator is one SEV-SNP chip (Milan, ARK/ASK/VCEK) and one TDX platform (root, PCK',
    'Platform CA, PCK, TCB Signing, with collateral current for 7 years) under its own synthetic',
    'roots. Its evidence is accepted only where those roots are passed explicitly (--trust-root,',
    '--intel-root and --collateral; the KBS --trust-sim DIR): never under AMD or Intel roots.',
    '',
    'DIR is created 0700 with private keys 0600. A valid simulator already in DIR is reused as it',
    'is; a damaged, half-made or foreign directory is refused (exit 7), never overwritten.',
    '',
    'Example: initguard sim init --sim-dir ./sim',
  ].join('\n'),
  options: { 'sim-dir': SIM_DIR_OPTION, json: JSON_OPTION },
  async run(args, io) {
    const dir = simDirOption(args, 'sim init')
    const { simulator, created } = await initSimulator(dir)
    const { manifest } = simulator
    const tcb = manifest.snp.reported_tcb
    const path = (name: string): string => join(dir, name)
    return reply(io, args, {
      json: {
        ok: true,
        created,
        dir,
        created_at: manifest.created,
        snp: {
          product: manifest.snp.product,
          chip_id: manifest.snp.chip_id,
          reported_tcb: tcb,
          measurement: SIMULATOR_SNP_MEASUREMENT_HEX,
          ark_sha256: manifest.roots.amd_ark_sha256,
          trust_root: path(SIMULATOR_FILES.amdRoots),
        },
        tdx: {
          mrtd: SIMULATOR_TDX_MRTD_HEX,
          rtmr1: SIMULATOR_TDX_RTMR_HEX,
          rtmr2: SIMULATOR_TDX_RTMR_HEX,
          root_sha256: manifest.roots.intel_root_sha256,
          intel_root: path(SIMULATOR_FILES.intelRoot),
          collateral: path(SIMULATOR_FILES.tdxCollateral),
        },
      },
      text: [
        `${created ? 'created the TEE simulator in' : 'reused the TEE simulator in'} ${dir} (made ${manifest.created})`,
        `SEV-SNP  ${manifest.snp.product} chip ${manifest.snp.chip_id.slice(0, 16)}…, TCB BL ${tcb.bootloader} TEE ${tcb.tee} SNP ${tcb.snp} UCODE ${tcb.microcode}`,
        `         MEASUREMENT ${SIMULATOR_SNP_MEASUREMENT_HEX}`,
        `TDX      MRTD ${SIMULATOR_TDX_MRTD_HEX}`,
        `         RTMR1, RTMR2 ${SIMULATOR_TDX_RTMR_HEX}`,
        'Its evidence is trusted only where its roots are given explicitly (test use only):',
        `  SEV-SNP  --trust-root ${path(SIMULATOR_FILES.amdRoots)}   (ARK-${manifest.snp.product} SHA-256 ${manifest.roots.amd_ark_sha256})`,
        `  TDX      --intel-root ${path(SIMULATOR_FILES.intelRoot)} --collateral ${path(SIMULATOR_FILES.tdxCollateral)}   (root SHA-256 ${manifest.roots.intel_root_sha256})`,
      ].join('\n'),
    })
  },
}
