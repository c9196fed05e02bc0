/**
 * `initguard agent check-initdata --tee vtpm`: bind the init-data document to the vTPM's PCR 8
 * (`bindInitdataVtpm`), as CoCo's attesters do on Azure confidential VMs and peer pods, but
 * idempotent within a boot and refusing a PCR 8 that holds anything else.
 *
 * Only chosen explicitly (`auto` never picks it) and refused in an SEV-SNP or TDX guest. The
 * vTPM's options are refused with any other `--tee`, and the other TEEs' options with this one.
 * Its module (`@initguard/tee/vtpm`) is loaded only here: the agent's cold start is measured.
 *
 * @module
 */
import {
  bindInitdataVtpm,
  findInitdataDevice,
  readInitdataSource,
  writeCheckedCopy,
} from '@initguard/agent'
import type { InitdataSourceKind } from '@initguard/agent'
import { UsageError, bytesToHex } from '@initguard/core'
import { TEE_FIELDS } from '@initguard/initdata'
import type { CliIo } from '../cli-io.ts'
import { parsedOption, type ParsedArgs } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { emit } from '../output.ts'

/** Options of the other TEEs, refused with `--tee vtpm`. */
const FOREIGN_OPTIONS = ['sim-dir', 'sim-guest', 'snp-vmpl', 'allow-unbound-initdata'] as const

/**
 * Bind the document the options name to the vTPM: open the TPM (`--tpm`, default /dev/tpmrm0)
 * first, then read the document once, then bind. Exit 0 when PCR 8 holds the document's binding
 * (extended now, or already this boot). With `out` (`--out COPY`, its target already checked by
 * the caller), the bound bytes are written there after the bind, never the source read again.
 *
 * @throws {@link UsageError} `ERR_OPTION_NOT_APPLICABLE` (another TEE's option); every error of
 *   `openVtpm` (`ERR_TEE_VTPM_DOWNGRADE`, `ERR_TPM_…`), of reading the source, and of
 *   `bindInitdataVtpm` (`ERR_INITDATA_VTPM_DIGEST_LENGTH`, `ERR_VTPM_PCR8_TAKEN`, …).
 */
export async function bindAgentVtpm(
  args: ParsedArgs,
  io: CliIo,
  source: { readonly from: InitdataSourceKind; readonly path: string | undefined },
  out: string | undefined,
): Promise<number> {
  const stray = FOREIGN_OPTIONS.filter((name) => args.values[name] !== undefined)
  if (stray.length > 0) {
    const names = stray.map((name) => `--${name}`)
    throw new UsageError(
      'ERR_OPTION_NOT_APPLICABLE',
      `${names.join(' and ')} do${stray.length === 1 ? 'es' : ''} not apply to --tee vtpm`,
      {
        details: { option: names.join(' '), tee: 'vtpm' },
        // A vTPM binding is made, not checked: there is no unbound state to accept.
        hint: `drop ${names.join(' and ')}`,
      },
    )
  }
  const tpmPath = parsedOption(args, 'tpm', PATH_VALUE)
  const { openVtpm } = await import('@initguard/tee/vtpm')
  const vtpm = await openVtpm(tpmPath === undefined ? {} : { tpmPath })
  try {
    const path = source.path ?? (await findInitdataDevice())
    const input = await readInitdataSource(source.from, path, { stdin: io.stdin })
    const bound = await bindInitdataVtpm(vtpm, input)
    // The bytes whose digest PCR 8 now holds, never the source read again.
    if (out !== undefined) await writeCheckedCopy(out, bound.document.bytes)
    const value = bytesToHex(bound.pcr8)
    const field = TEE_FIELDS.vtpm.name
    const what =
      bound.outcome === 'extended'
        ? 'extended into PCR 8 now'
        : 'already bound earlier in this boot (nothing extended)'
    emit(io, args.values['json'] === true, {
      json: {
        ok: true,
        verified: false,
        bound: true,
        tee: 'vtpm',
        outcome: bound.outcome,
        description: vtpm.description,
        field,
        value,
        algorithm: bound.document.algorithm,
        source: { kind: bound.source.kind, path: bound.source.path },
        out: out ?? null,
      },
      text: [
        `init-data bound to the vTPM: ${what}`,
        `  tee:    vtpm: ${vtpm.description}`,
        `  field:  ${field}`,
        `  value:  ${value}`,
        `  source: ${bound.source.kind} ${path} (${bound.document.algorithm})`,
      ].join('\n'),
      warnings: [
        'a vTPM binding is verified only by whoever checks PCR 8 in a quote of this TPM: Initguard makes no TPM quotes, and its KBS does not verify vTPM evidence',
      ],
    })
    return 0
  } finally {
    await vtpm.close()
  }
}
