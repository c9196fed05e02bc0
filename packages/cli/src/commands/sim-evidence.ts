/**
 * `initguard sim evidence`: evidence from the simulated guest, as Trustee's primary evidence JSON.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import { bindingFor } from '@initguard/initdata'
import {
  SIMULATOR_REPORT_DATA_MAX,
  checkGuestName,
  loadSimulatedGuest,
  loadSimulator,
  simulateGuestEvidence,
  simulateSnpEvidence,
  simulateTdxEvidence,
} from '@initguard/tee-simulator'
import {
  optionGiven,
  parsedOption,
  type Command,
  type ParsedArgs,
  requiredParsed,
} from '../command.ts'
import { PATH_VALUE, hexUpToValue } from '../option-values.ts'
import { emit } from '../output.ts'
import { readDocumentFile } from './initdata-input.ts'
import { GUEST_NAME_VALUE, SIM_TEE_VALUE, simDirOption, simGuestOptions } from './sim-init.ts'

const REPORT_DATA = hexUpToValue(SIMULATOR_REPORT_DATA_MAX, 'REPORT_DATA')
/** What a launched guest fixed at launch: given with --guest, they are refused, not ignored. */
const FIXED_AT_LAUNCH = ['tee', 'initdata', 'debug'] as const

/** A launched guest's evidence (`--guest`): its launch-time field and flags, never a document. */
async function guestEvidence(
  args: ParsedArgs,
  dir: string,
  guest: string,
  reportData: Uint8Array,
): Promise<unknown> {
  const fixed = FIXED_AT_LAUNCH.find((name) => optionGiven(args, name))
  if (fixed !== undefined) {
    throw new UsageError('ERR_USAGE', `--${fixed} cannot be given with --guest`, {
      details: { option: `--${fixed}` },
      hint: 'a launched guest reports the TEE, init-data field and flags it was launched with; launch it again (`initguard sim launch … --replace`) to change them',
    })
  }
  const record = await loadSimulatedGuest(dir, checkGuestName(guest))
  const { material } = await loadSimulator(dir)
  return simulateGuestEvidence(material, record, reportData).evidence
}

/**
 * `initguard sim evidence --sim-dir DIR (--tee snp|tdx --initdata FILE | --guest GUEST)
 * --report-data HEX`: print fresh simulated evidence in Trustee's JSON shape, binding either the
 * given document or, with `--guest`, the launch value of a guest made by `sim launch`.
 */
export const simEvidenceCommand: Command = {
  name: 'evidence',
  summary: "Print the simulated guest's evidence (SEV-SNP or TDX) as Trustee's evidence JSON.",
  usage: '--sim-dir DIR (--tee snp|tdx --initdata FILE | --guest GUEST) --report-data HEX',
  description: [
    "The JSON is what a CoCo attester sends the KBS as primary evidence: SEV-SNP, the sev crate's",
    'report (v3, signed by the VCEK) with the VCEK, ASK and ARK in cert_chain; TDX, {"quote":',
    'base64 of a v4 quote} (no cc_eventlog: the simulator keeps no event log). HOST_DATA (SEV-SNP)',
    "or MRCONFIGID (TDX) is the document's digest (its own algorithm) fitted to the field;",
    'REPORT_DATA is HEX (1 to 64 bytes) zero-padded to 64. MEASUREMENT and MRTD are fixed',
    'simulated values (`initguard sim init` prints them). --debug reports a debuggable guest.',
    '',
    'With --guest GUEST, the evidence is that of a guest launched with `initguard sim launch`: its',
    'TEE, HOST_DATA / MRCONFIGID and flags are the ones fixed at launch (--tee, --initdata and',
    '--debug are refused with it).',
    '',
    'Example: initguard sim evidence --sim-dir ./sim --tee snp --initdata initdata.toml --report-data 00ff > evidence.json',
  ].join('\n'),
  options: {
    ...simGuestOptions({
      tee: 'snp (an SEV-SNP report) or tdx (a TDX quote)',
      initdata: 'the initdata document (TOML) the evidence binds; - for standard input',
    }),
    'report-data': {
      type: 'string',
      value: REPORT_DATA,
      valueName: 'HEX',
      help: 'REPORT_DATA: 1 to 64 bytes as hex, zero-padded to 64',
    },
    debug: {
      type: 'boolean',
      help: 'report a debuggable guest (SEV-SNP policy DEBUG, TD attribute DEBUG)',
    },
    guest: {
      type: 'string',
      value: GUEST_NAME_VALUE,
      valueName: 'GUEST',
      help: 'the evidence of a guest launched with `initguard sim launch`, instead of --tee/--initdata',
    },
  },
  async run(args, io) {
    const dir = simDirOption(args, 'sim evidence')
    const guest = parsedOption(args, 'guest', GUEST_NAME_VALUE)
    if (guest !== undefined) {
      const reportData = requiredParsed(args, 'report-data', REPORT_DATA, 'sim evidence')
      const evidence = await guestEvidence(args, dir, guest, reportData)
      emit(io, false, { json: {}, text: JSON.stringify(evidence) })
      return 0
    }
    const tee = requiredParsed(args, 'tee', SIM_TEE_VALUE, 'sim evidence')
    const initdataPath = requiredParsed(args, 'initdata', PATH_VALUE, 'sim evidence')
    const reportData = requiredParsed(args, 'report-data', REPORT_DATA, 'sim evidence')
    const initdata = await readDocumentFile(initdataPath, io, { option: 'initdata' })
    const simulator = await loadSimulator(dir)
    const request = { initdata, reportData, debug: args.values['debug'] === true }
    const evidence =
      tee === 'snp'
        ? simulateSnpEvidence(simulator.material.snp, request)
        : simulateTdxEvidence(simulator.material.tdx, request)
    // The digest is cut to fit (a sha384/sha512 document on SEV-SNP): say so, on standard error.
    emit(io, false, {
      json: {},
      text: JSON.stringify(evidence),
      warnings: bindingFor(tee, initdata.algorithm, initdata.digest).warnings,
    })
    return 0
  },
}
