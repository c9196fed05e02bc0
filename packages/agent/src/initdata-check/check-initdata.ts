/**
 * The init-data check: does the document the host handed us equal what the hardware was launched
 * with? Fail closed.
 *
 * 1. Parse the exact bytes read from the source and digest them with the document's algorithm.
 * 2. Take a fresh report over 64 random bytes of REPORT_DATA, and check the report is that one:
 *    same TEE, the same REPORT_DATA read back, an init-time field of the TEE's length.
 * 3. Fit the digest to the TEE's field (`bindingFor`: HOST_DATA 32 B, MRCONFIGID 48 B, CONFIGID
 *    64 B) and compare it with the field in constant time.
 *
 * A mismatch is `ERR_AGENT_INITDATA_MISMATCH` naming both values and the likely causes. A field
 * of all zeros means the TEE was launched without init-data: refused (`ERR_AGENT_INITDATA_NOT_BOUND`)
 * unless the caller explicitly allows running unbound, which then yields {@link UnboundInitdata}.
 * Errors of the TEE itself keep their own codes.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import {
  ExpectationError,
  VerificationError,
  bytesToHex,
  constantTimeEqual,
  utf8ToString,
} from '@initguard/core'
import {
  TEE_FIELDS,
  bindingFor,
  explainBinding,
  parseInitdata,
  type InitdataDocument,
} from '@initguard/initdata'
import type { GuestReport, GuestTee, GuestTeeKind } from '@initguard/tee'
import type { UnboundInitdata, VerifiedInitdata } from '../verified-initdata.ts'
import type { InitdataInput } from './initdata-source.ts'

/** The flag that allows running unbound, named in every message about it. */
export const ALLOW_UNBOUND_FLAG = '--allow-unbound-initdata'

/** Options for {@link checkInitdata}. */
export interface CheckInitdataOptions {
  /**
   * Accept a TEE launched without init-data (its field all zeros) and return
   * {@link UnboundInitdata}. A mismatch is refused whatever this says.
   */
  readonly allowUnbound?: boolean
  readonly signal?: AbortSignal
}

const BINDABLE: ReadonlySet<string> = new Set<GuestTeeKind>(['snp', 'tdx', 'sgx'])

/**
 * Check `input` against a fresh report of `tee`.
 *
 * @throws {@link MalformedInputError} from `parseInitdata` (the document is refused before any
 *   report is taken); {@link ExpectationError} `ERR_AGENT_INITDATA_MISMATCH` (details `tee`,
 *   `field`, `algorithm`, `expected`, `found`, `causes`), `ERR_AGENT_INITDATA_NOT_BOUND`,
 *   `ERR_AGENT_INITDATA_UNBINDABLE`; {@link VerificationError} `ERR_AGENT_REPORT_TEE`,
 *   `ERR_AGENT_REPORT_NOT_FRESH`, `ERR_AGENT_REPORT_FIELD_LENGTH`; whatever `tee.report` throws.
 */
export async function checkInitdata(
  tee: GuestTee,
  input: InitdataInput,
  options?: CheckInitdataOptions & { readonly allowUnbound?: false },
): Promise<VerifiedInitdata>
export async function checkInitdata(
  tee: GuestTee,
  input: InitdataInput,
  options: CheckInitdataOptions,
): Promise<VerifiedInitdata | UnboundInitdata>
export async function checkInitdata(
  tee: GuestTee,
  input: InitdataInput,
  options: CheckInitdataOptions = {},
): Promise<VerifiedInitdata | UnboundInitdata> {
  const document = parseInitdata(input.bytes)
  const text = utf8ToString(document.bytes, { field: 'initdata document' })
  if (!BINDABLE.has(tee.tee)) throw unbindable(tee)
  const reportData = new Uint8Array(randomBytes(64))
  const report = await tee.report(reportData, options.signal)
  checkReport(tee, report, reportData)
  const field = TEE_FIELDS[report.tee]
  const binding = bindingFor(report.tee, document.algorithm, document.digest)
  if (constantTimeEqual(binding.value, report.initDataField)) {
    return {
      document,
      text,
      source: { ...input.source },
      tee: report.tee,
      simulated: tee.simulated,
      report,
    }
  }
  if (report.initDataField.every((b) => b === 0)) {
    if (options.allowUnbound === true) {
      return {
        unbound: true,
        document,
        text,
        source: { ...input.source },
        reason: `${ALLOW_UNBOUND_FLAG}: ${field.name} is all zeros (the TEE was launched without init-data), so nothing vouches for this document`,
      }
    }
    throw new ExpectationError(
      'ERR_AGENT_INITDATA_NOT_BOUND',
      `${field.name} in a fresh ${tee.description} report is all zeros: the TEE was launched without init-data, so nothing vouches for ${describeSource(input)}`,
      {
        details: { tee: report.tee, field: field.name, expected: bytesToHex(binding.value) },
        hint: `launch the TEE with this document's binding (\`initguard initdata digest FILE --tee ${report.tee}\`), or accept running unbound explicitly with ${ALLOW_UNBOUND_FLAG}`,
      },
    )
  }
  throw mismatch(tee, report, document, binding.value, input)
}

/**
 * The report must be the one asked for: a replayed or foreign report proves nothing.
 * `reportData` is the 64 bytes asked for (zero-padded).
 *
 * @throws {@link VerificationError} `ERR_AGENT_REPORT_TEE`, `ERR_AGENT_REPORT_NOT_FRESH`,
 *   `ERR_AGENT_REPORT_FIELD_LENGTH`.
 */
export function checkReport(tee: GuestTee, report: GuestReport, reportData: Uint8Array): void {
  if (report.tee !== tee.tee) {
    throw new VerificationError(
      'ERR_AGENT_REPORT_TEE',
      `${tee.description} returned a ${report.tee} report, but it is a ${tee.tee} TEE`,
      { details: { expected: tee.tee, found: report.tee } },
    )
  }
  if (!constantTimeEqual(report.reportData, reportData)) {
    throw new VerificationError(
      'ERR_AGENT_REPORT_NOT_FRESH',
      `the report from ${tee.description} does not carry the fresh REPORT_DATA the agent asked for`,
      {
        details: { tee: tee.tee },
        hint: 'the TEE interface returned a stale or foreign report; check that nothing else writes to it',
      },
    )
  }
  const field = TEE_FIELDS[report.tee]
  if (report.initDataField.length !== field.length) {
    throw new VerificationError(
      'ERR_AGENT_REPORT_FIELD_LENGTH',
      `${field.name} in the report from ${tee.description} has ${report.initDataField.length} bytes; it has ${field.length}`,
      { details: { tee: report.tee, field: field.name, length: report.initDataField.length } },
    )
  }
}

function unbindable(tee: GuestTee): ExpectationError {
  // The type says snp, tdx or sgx; an implementation handing us another kind is still refused.
  const kind: string = tee.tee
  return new ExpectationError(
    'ERR_AGENT_INITDATA_UNBINDABLE',
    `${tee.description} (${kind}) has no init-time field that binds init-data`,
    {
      details: { tee: kind },
      // The flag accepts a TEE that could bind init-data but was launched without it; it does not
      // make a TEE without the field acceptable, so the hint must not offer it as a way out.
      hint: `run the agent in a SEV-SNP, TDX or SGX guest; ${ALLOW_UNBOUND_FLAG} does not help here: it accepts only a TEE that has the field but was launched without init-data`,
    },
  )
}

function mismatch(
  tee: GuestTee,
  report: GuestReport,
  document: InitdataDocument,
  expected: Uint8Array,
  input: InitdataInput,
): ExpectationError {
  const field = TEE_FIELDS[report.tee]
  const explained = explainBinding(document, report.tee, report.initDataField)
  const causes = explained.findings.map((f) => `${f.explanation}: ${f.fix}`)
  return new ExpectationError(
    'ERR_AGENT_INITDATA_MISMATCH',
    `${describeSource(input)} does not match the TEE launch: ${field.name} expected ${bytesToHex(expected)} (the document's ${document.algorithm} digest, fitted), found ${bytesToHex(report.initDataField)} in a fresh report from ${tee.description}`,
    {
      details: {
        tee: report.tee,
        field: field.name,
        algorithm: document.algorithm,
        expected: bytesToHex(expected),
        found: bytesToHex(report.initDataField),
        source: input.source.kind,
        path: input.source.path,
        causes: explained.findings.map((f) => f.cause),
      },
      hint:
        causes.length > 0
          ? causes.join('; ')
          : 'the host launched this TEE with another document, or this one was changed after launch; nothing from it is used',
    },
  )
}

function describeSource(input: InitdataInput): string {
  const what =
    input.source.kind === 'file'
      ? 'the initdata document'
      : input.source.kind === 'annotation'
        ? 'the initdata annotation value'
        : 'the initdata image'
  return `${what} ${JSON.stringify(input.source.path)}`
}
