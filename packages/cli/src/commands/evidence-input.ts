/**
 * Reading evidence for the `initguard evidence` commands: SEV-SNP (report, extended report,
 * Trustee JSON) or DCAP (TDX/SGX quote, Trustee JSON), told apart by their content.
 *
 * @module
 */
import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'
import { readInput } from '@initguard/files'
import { MalformedInputError } from '@initguard/core'
import {
  productFromCpuid,
  parseSnpEvidence,
  type DetectedSnpEvidence,
  type SnpProduct,
  type SnpReport,
} from '@initguard/snp'
import { looksLikeDcapQuote, parseDcapEvidence, type DcapEvidence } from '@initguard/tdx'
import { onePositional, stringOption, type ParsedArgs } from '../command.ts'
import type { CliIo } from '../cli-io.ts'
import { identifyFile } from './file-kind.ts'

/** Evidence of either family. */
export type AnyEvidence =
  | { readonly family: 'snp'; readonly evidence: DetectedSnpEvidence }
  | { readonly family: 'dcap'; readonly evidence: DcapEvidence }

function isDcap(bytes: Uint8Array): boolean {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
  if (first !== 0x7b) return looksLikeDcapQuote(bytes)
  // Trustee's SNP evidence has "attestation_report"; its TDX and SGX evidence has "quote".
  const text = Buffer.from(bytes).toString('utf8')
  return !text.includes('"attestation_report"') && text.includes('"quote"')
}

/**
 * Read and parse the evidence file named on the command line. A file that is something else (a
 * certificate, collateral, an event log, an initdata document) is refused as such, with where it
 * goes instead: `ERR_EVIDENCE_WRONG_FILE`, exit 3.
 */
export async function loadEvidence(
  args: ParsedArgs,
  io: CliIo,
  command: string,
): Promise<AnyEvidence> {
  const path = onePositional(args, 'FILE', command)
  const bytes = await readInput(path, { what: 'evidence', stdin: io.stdin })
  const identified = identifyFile(bytes)
  if (identified !== undefined) {
    throw new MalformedInputError(
      'ERR_EVIDENCE_WRONG_FILE',
      `${path === '-' ? 'standard input' : path} is ${identified.what}, not evidence (an SEV-SNP report, a TDX or SGX quote, or Trustee evidence JSON)`,
      { hint: identified.instead, details: { file_kind: identified.kind } },
    )
  }
  return isDcap(bytes)
    ? { family: 'dcap', evidence: parseDcapEvidence(bytes) }
    : { family: 'snp', evidence: parseSnpEvidence(bytes) }
}

/** A u64 as 0x-prefixed hex. */
export function u64(value: bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`
}

/** The product line a v3+ report names by CPUID. */
export function guessProduct(report: SnpReport): SnpProduct | undefined {
  if (report.cpuidFamilyId === undefined || report.cpuidModelId === undefined) return undefined
  const product = productFromCpuid(report.cpuidFamilyId, report.cpuidModelId)
  return product === 'unknown' ? undefined : product
}

/** Where a decoder's field name and the claim name for the same bit differ. */
const CLAIM_NAMES: Readonly<Record<string, string>> = {
  pks: 'protection_keys',
  septVeDisable: 'septve_disable',
  mode64Bit: 'mode64bit',
}

/** The names of the flags that are set, as claims name them (snake_case). */
export function setFlags(named: object): string[] {
  return Object.entries(named)
    .filter(([, on]) => on === true)
    .map(([name]) => CLAIM_NAMES[name] ?? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
}

/**
 * The download cache: `--cache-dir`, else `$XDG_CACHE_HOME/initguard`, else `~/.cache/initguard`.
 * An empty or relative `XDG_CACHE_HOME` is ignored, as the XDG Base Directory spec says: it would
 * put the cache wherever the command happens to run.
 */
export function cacheDirectory(args: ParsedArgs): string {
  const xdg = process.env['XDG_CACHE_HOME']
  return (
    stringOption(args, 'cache-dir') ??
    join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'initguard')
  )
}
