/**
 * `initguard agent check-initdata`: the agent's init-data check on its own, for scripts and
 * operators: exit 0 when the document matches the TEE launch, 5 when it does not. A script that
 * reads the source again after the check reads whatever is there by then (check-then-use): it
 * reads `--out FILE`, the bytes that were checked, instead.
 *
 * @module
 */
import {
  ALLOW_UNBOUND_FLAG,
  checkCopyTarget,
  checkInitdata,
  findInitdataDevice,
  readInitdataSource,
  writeCheckedCopy,
} from '@initguard/agent'
import { UsageError, bytesToHex } from '@initguard/core'
import { TEE_FIELDS, bindingFor } from '@initguard/initdata'
import { JSON_OPTION, parsedOption, type Command } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { emit } from '../output.ts'
import {
  AGENT_GUEST_OPTIONS,
  agentInitdataSource,
  agentTeeChoice,
  openAgentTee,
} from './agent-tee-options.ts'
import { bindAgentVtpm } from './agent-vtpm.ts'
import { noArguments } from './kbs-keygen.ts'

const NAME = 'agent check-initdata'

/**
 * `initguard agent check-initdata --initdata FILE [--from annotation|image] --tee T [--out COPY]`
 * (or `--from image` alone: the device found by its magic). Exit 0 on a match (also when running
 * unbound with the flag, which the output says loudly), 5 on a mismatch or an unbound TEE
 * without the flag, 3 malformed input, 7 a file or device that cannot be read (or a `--out` that
 * cannot take the copy), 2 usage (also `--out` with `--allow-unbound-initdata`).
 */
export const agentCheckInitdataCommand: Command = {
  name: 'check-initdata',
  summary: 'Check an initdata document against a fresh report of this TEE (exit 0 match, 5 not).',
  usage:
    '--initdata FILE [--from annotation|image] --tee auto|snp|tdx|sgx|sim|vtpm [--tpm PATH] [--out COPY]  |  --from image --tee …',
  description: [
    "Reads the document once, digests its exact bytes with the document's algorithm, takes a fresh",
    'report over random REPORT_DATA, fits the digest to the init-time field (SEV-SNP HOST_DATA,',
    'TDX MRCONFIGID, SGX CONFIGID) and compares the two in constant time. A mismatch exits 5 with',
    'the value expected and the value found, and the likely causes; a TEE that cannot report keeps',
    'its own error. A TEE launched without init-data (field all zeros) is refused unless',
    `${ALLOW_UNBOUND_FLAG} is given; a mismatch is refused whatever the flags.`,
    '',
    'Exit 0 vouches for the bytes read during the check, not for the source afterwards: a script',
    'that reads the file or device again reads whatever is there by then (the host controls the',
    'initdata device and can change it between the two reads). Give --out COPY and read COPY: the',
    'document exactly as checked, written after a match only (mode 0600, a temporary file renamed',
    'over COPY; on any failure COPY is left as it was). Or run `agent start --runtime-dir DIR`,',
    'which hands out the checked documents, one file per [data] key.',
    '',
    'With --from image and no --initdata, the Kata initdata block device is found by its magic:',
    'of /dev/disk/by-id/virtio-initdata* (when present), then the whole disks /dev/vd*, /dev/sd*,',
    '/dev/xvd*, only the 16-byte header of each is read, and exactly one must start with',
    '"initdata": none is refused listing every path looked at, more than one as ambiguous.',
    '',
    'Exit 0 vouches for the bytes read during the check, not for the source afterwards: a script',
    'that reads the file or device again reads whatever is there by then (the host controls the',
    'initdata device and can change it between the two reads). Give --out COPY and read COPY: the',
    'document exactly as checked (or bound), written after a match only (mode 0600, a temporary',
    'file renamed over COPY; on any failure COPY is left as it was). Or run `agent start',
    '--runtime-dir DIR`, which hands out the checked documents, one file per [data] key.',
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
    out: {
      type: 'string',
      value: PATH_VALUE,
      valueName: 'COPY',
      help: 'after a match, write the document exactly as checked here (mode 0600, atomically): scripts read COPY, never the source again. Not with --allow-unbound-initdata',
    },
    json: JSON_OPTION,
  },
  async run(args, io) {
    noArguments(args.positionals, NAME)
    const { from, path: named } = agentInitdataSource(args, NAME)
    const allowUnbound = args.values['allow-unbound-initdata'] === true
    const out = parsedOption(args, 'out', PATH_VALUE)
    if (out !== undefined && allowUnbound)
      throw new UsageError(
        'ERR_USAGE',
        `--out writes only a document the TEE vouches for, and ${ALLOW_UNBOUND_FLAG} accepts one nothing vouches for`,
        {
          hint: `drop one of them; \`agent start --runtime-dir DIR\` writes an unbound document apart, marked UNBOUND`,
        },
      )
    // Options first, then the copy's path, the TEE and the document: a usage error never reads a
    // device, and a copy that could not be written is refused before the check.
    if (out !== undefined) await checkCopyTarget(out)
    if (agentTeeChoice(args) === 'vtpm') return bindAgentVtpm(args, io, { from, path: named }, out)
    const tee = await openAgentTee(args, NAME)
    const path = named ?? (await findInitdataDevice())
    const input = await readInitdataSource(from, path, { stdin: io.stdin })
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
    // The bytes that were digested and matched, never the source read again.
    if (out !== undefined) await writeCheckedCopy(out, result.document.bytes)
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
        out: out ?? null,
      },
      text: [
        'init-data verified: the document matches the TEE launch',
        `  tee:    ${result.tee}${result.simulated ? ' (simulated)' : ''}: ${tee.description}`,
        `  field:  ${field.name}`,
        `  value:  ${value}`,
        `  source: ${source.kind} ${path} (${result.document.algorithm})`,
        ...(out === undefined ? [] : [`  copy:   ${out} (the document as checked, mode 0600)`]),
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
