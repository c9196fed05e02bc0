/**
 * The init-data step on a vTPM (`--tee vtpm`, chosen explicitly): where SEV-SNP and TDX are
 * *checked* against a field the launch fixed (`check-initdata.ts`), a vTPM has no such field, and
 * the document is *bound* instead, as CoCo's attesters do: its sha256 digest is extended into
 * PCR 8, where a verifier of the TPM's quote replays `SHA-256(32 zero bytes ‖ digest)`.
 *
 * 1. Parse the exact bytes read from the source and digest them (a malformed document touches
 *    no TPM).
 * 2. Bind (`Vtpm.bindInitdata`): PCR 8 already holding this document's binding is a restart in
 *    the same boot (nothing extended); a reset PCR 8 is extended once and read back; any other
 *    value is refused (`ERR_VTPM_PCR8_TAKEN`, with `explain`'s causes when one fits, such as the
 *    digest extended twice), and a digest that is not 32 bytes too
 *    (`ERR_INITDATA_VTPM_DIGEST_LENGTH`: use sha256).
 *
 * Nothing in the guest then vouches for the document: the binding holds only for a verifier that
 * checks PCR 8 in a TPM quote, and Initguard neither makes TPM quotes nor verifies them in its KBS
 * yet. So the result is a {@link VtpmBoundInitdata}, not a `VerifiedInitdata`, and the agent's
 * attested paths (KBS, evidence) do not take it.
 *
 * @module
 */
import { ExpectationError, hexToBytes, isInitguardError, utf8ToString } from '@initguard/core'
import { explainBinding, parseInitdata, type InitdataDocument } from '@initguard/initdata'
import type { Vtpm, VtpmBindOutcome } from '@initguard/tee'
import type { InitdataSourceKind } from '../verified-initdata.ts'
import type { InitdataInput } from './initdata-source.ts'

/** A document bound to a vTPM's PCR 8 (see the module comment: bound, not verified). */
export interface VtpmBoundInitdata {
  /** The parsed document; `document.bytes` are the exact bytes that were digested and bound. */
  readonly document: InitdataDocument
  /** The exact document text (UTF-8 of `document.bytes`). */
  readonly text: string
  /** Where the bytes were read from, once. */
  readonly source: { readonly kind: InitdataSourceKind; readonly path: string }
  readonly tee: 'vtpm'
  /** `extended` now, or `already-bound` earlier in this boot. */
  readonly outcome: VtpmBindOutcome
  /** PCR 8 (SHA-256 bank) as read back from the TPM: `SHA-256(32 zero bytes ‖ digest)`. */
  readonly pcr8: Uint8Array
}

/**
 * Bind `input` to the PCR 8 of `vtpm`.
 *
 * @throws {@link MalformedInputError} from `parseInitdata` (nothing sent to the TPM);
 *   {@link ExpectationError} `ERR_INITDATA_VTPM_DIGEST_LENGTH`, `ERR_VTPM_PCR8_TAKEN` (details
 *   `causes` from `explain`), `ERR_VTPM_PCR8_CHANGED`; every error of the TPM (`ERR_TPM_…`).
 */
export async function bindInitdataVtpm(
  vtpm: Vtpm,
  input: InitdataInput,
  options: { readonly signal?: AbortSignal } = {},
): Promise<VtpmBoundInitdata> {
  const document = parseInitdata(input.bytes)
  const text = utf8ToString(document.bytes, { field: 'initdata document' })
  try {
    const { outcome, pcr8 } = await vtpm.bindInitdata(document.digest, options.signal)
    return { document, text, source: { ...input.source }, tee: 'vtpm', outcome, pcr8 }
  } catch (error) {
    if (!isInitguardError(error) || error.code !== 'ERR_VTPM_PCR8_TAKEN') throw error
    const found = error.details['found']
    const findings =
      typeof found === 'string' ? explainBinding(document, 'vtpm', hexToBytes(found)).findings : []
    if (findings.length === 0) throw error
    throw new ExpectationError('ERR_VTPM_PCR8_TAKEN', error.message, {
      cause: error,
      details: {
        ...error.details,
        source: input.source.kind,
        path: input.source.path,
        causes: findings.map((f) => f.cause),
      },
      hint: findings.map((f) => `${f.explanation}: ${f.fix}`).join('; '),
    })
  }
}
