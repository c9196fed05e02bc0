/**
 * `initguard agent check-initdata`: the agent's init-data check on its own, for scripts and
 * operators: exit 0 when the document matches the TEE launch, 5 when it does not.
 *
 * @module
 */
import {
  ALLOW_UNBOUND_FLAG,
  checkInitdata,
  findInitdataDevice,
  readInitdataSource,
} from '@initguard/agent'
import { bytesToHex } from '@initguard/core'
import { TEE_FIELDS, bindingFor } from '@initguard/initdata'
import { JSON_OPTION, type Command } from '../command.ts'
import { emit } from '../output.ts'
import {
  AGENT_GUEST_OPTIONS,
  agentInitdataSource,
  agentTeeChoice,
  openAgentTee,
} from './agent-tee-options.ts'
import { bindAgentVtpm } from './agent-vtpm.ts'

const NAME = 'agent check-initdata'

/**
 * `initguard agent check-initdata --initdata FILE [--from annotation|image] --tee T` (or
 * `--from image` alone: the device found by its magic). Exit 0 on a match (also when running
 * unbound with the flag, which the output says loudly), 5 on a mismatch or an unbound TEE
 * without the flag, 3 malformed input, 7 a file or device that cannot be read, 2 usage.
 */
export const agentCheckInitdataCommand: Command = {
  name: 'check-initdata',
  summary: 'Check an initdata document against a fresh report of this TEE (exit 0 match, 5 not).',
  usage:
    '--initdata FILE [--from annotation|image] --tee auto|snp|tdx|sgx|sim|vtpm [--tpm PATH]  |  --from image --tee …',
  description: [
    "Reads the document once, digests its exact bytes with the document's algorithm, takes a fresh",
    'report over random REPORT_DATA, fits the digest to the init-time field (SEV-SNP HOST_DATA,',
    'TDX MRCONFIGID, SGX CONFIGID) and compares the two in constant time. A mismatch exits 5 with',
    'the value expected and the value found, and the likely causes; a TEE that cannot report keeps',
    'its own error. A TEE launched without init-data (field all zeros) is refused unless',
    `${ALLOW_UNBOUND_FLAG} is given; a mismatch is refused whatever the flags.`,
    '',
    'With --from image and no --initdata, the Kata initdata block device is found by its magic:',
    'of /dev/disk/by-id/virtio-initdata* (when present), then the whole disks /dev/vd*, /dev/sd*,',
    '/dev/xvd*, only the 16-byte header of each is read, and exactly one must start with',
    '"initdata": none is refused listing every path looked at, more than one as ambiguous.',
    '',
    'With --tee vtpm (never detected; refused in an SEV-SNP or TDX guest) the document is bound',
    'instead, as CoCo binds on Azure confidential VMs and peer pods: its sha256 digest is extended',
    'into PCR 8 of the TPM at --tpm (default /dev/tpmrm0). A PCR 8 already holding this binding',
    'is left alone (a restart in the same boot); one holding anything else is refused (exit 5).',
    'A verifier must then check PCR 8 in a TPM quote: Initguard makes no TPM quotes and its KBS',
    'does not verify vTPM evidence, so agent start and pull-image refuse --tee vtpm.',
    '',
    'Example: initguard agent check-initdata --initdata initdata.toml --tee sim --sim-dir ./sim --sim-guest web',
  ].join('\n'),
  options: {
    ...AGENT_GUEST_OPTIONS,
    'allow-unbound-initdata': {
      type: 'boolean',
      help: 'accept a TEE launched without init-data (field all zeros): nothing then vouches for the document',
    },
    json: JSON_OPTION,
  },
  async run(args, io) {
    const { from, path: named } = agentInitdataSource(args, NAME)
    if (agentTeeChoice(args) === 'vtpm') return bindAgentVtpm(args, io, { from, path: named })
    // Options first, then the TEE, then the document: a usage error never reads a device.
    const tee = await openAgentTee(args, NAME)
    const path = named ?? (await findInitdataDevice())
    const input = await readInitdataSource(from, path, { stdin: io.stdin })
    const allowUnbound = args.values['allow-unbound-initdata'] === true
    const result = await checkInitdata(tee, input, { allowUnbound })
    const json = args.values['json'] === true
    const source = { kind: input.source.kind, path: input.source.path }
    if ('unbound' in result) {
      emit(io, json, {
        json: { ok: true, verified: false, unbound: true, reason: result.reason, source },
        text: `init-data NOT verified (running unbound): ${result.reason}\n  source: ${source.kind} ${path}`,
        warnings: [
          `UNBOUND: nothing vouches for this init-data document (${ALLOW_UNBOUND_FLAG}); do not trust configuration from it`,
        ],
      })
      return 0
    }
    const field = TEE_FIELDS[result.tee]
    const value = bytesToHex(result.report.initDataField)
    const { warnings } = bindingFor(result.tee, result.document.algorithm, result.document.digest)
    emit(io, json, {
      json: {
        ok: true,
        verified: true,
        tee: result.tee,
        simulated: result.simulated,
        description: tee.description,
        field: field.name,
        value,
        algorithm: result.document.algorithm,
        source,
      },
      text: [
        'init-data verified: the document matches the TEE launch',
        `  tee:    ${result.tee}${result.simulated ? ' (simulated)' : ''}: ${tee.description}`,
        `  field:  ${field.name}`,
        `  value:  ${value}`,
        `  source: ${source.kind} ${path} (${result.document.algorithm})`,
      ].join('\n'),
      warnings: [
        ...warnings,
        ...(result.simulated
          ? ['the TEE is the simulator: its evidence is trusted only where its roots are given']
          : []),
      ],
    })
    return 0
  },
}
