/**
 * `initguard sim evidence`: evidence from the simulated guest, as Trustee's primary evidence JSON.
 *
 * @module
 */
import { bindingFor } from '@initguard/initdata'
import {
  SIMULATOR_REPORT_DATA_MAX,
  loadSimulator,
  simulateSnpEvidence,
  simulateTdxEvidence,
} from '@initguard/tee-simulator'
import type { Command } from '../command.ts'
import { PATH_VALUE, choiceValue, hexUpToValue } from '../option-values.ts'
import { emit } from '../output.ts'
import { readDocumentFile } from './initdata-input.ts'
import { SIM_DIR_OPTION, requiredParsed, simDirOption } from './sim-init.ts'

const SIM_TEES = ['snp', 'tdx'] as const
const SIM_TEE = choiceValue(SIM_TEES)
const REPORT_DATA = hexUpToValue(SIMULATOR_REPORT_DATA_MAX, 'REPORT_DATA')

export const simEvidenceCommand: Command = {
  name: 'evidence',
  summary: "Print the simulated guest's evidence (SEV-SNP or TDX) as Trustee's evidence JSON.",
  usage: '--sim-dir DIR --tee snp|tdx --initdata FILE --report-data HEX',
  description: [
    "The JSON is what a CoCo attester sends the KBS as primary evidence: SEV-SNP, the sev crate's",
    'report (v3, signed by the VCEK) with the VCEK, ASK and ARK in cert_chain; TDX, {"quote":',
    'base64 of a v4 quote} (no cc_eventlog: the simulator keeps no event log). HOST_DATA (SEV-SNP)',
    "or MRCONFIGID (TDX) is the document's digest (its own algorithm) fitted to the field;",
    'REPORT_DATA is HEX (1 to 64 bytes) zero-padded to 64. MEASUREMENT and MRTD are fixed',
    'simulated values (`initguard sim init` prints them). --debug reports a debuggable guest.',
    '',
    'Example: initguard sim evidence --sim-dir ./sim --tee snp --initdata initdata.toml --report-data 00ff > evidence.json',
  ].join('\n'),
  options: {
    'sim-dir': SIM_DIR_OPTION,
    tee: {
      type: 'string',
      value: SIM_TEE,
      valueName: 'TEE',
      help: 'snp (an SEV-SNP report) or tdx (a TDX quote)',
    },
    initdata: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'FILE',
      help: 'the initdata document (TOML) the evidence binds; - for standard input',
    },
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
  },
  async run(args, io) {
    const dir = simDirOption(args, 'sim evidence')
    const tee = requiredParsed(args, 'tee', SIM_TEE, 'sim evidence')
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
