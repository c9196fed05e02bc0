/**
 * Reading SNP evidence and options for the `initguard evidence` commands.
 *
 * @module
 */
import { readInput } from '@initguard/adapters'
import {
  productFromCpuid,
  parseSnpEvidence,
  type DetectedSnpEvidence,
  type SnpProduct,
  type SnpReport,
} from '@initguard/snp'
import { onePositional, type ParsedArgs } from '../command.ts'
import type { CliIo } from '../cli-io.ts'

/** Read and parse the evidence file named on the command line. */
export async function loadEvidence(
  args: ParsedArgs,
  io: CliIo,
  command: string,
): Promise<DetectedSnpEvidence> {
  const bytes = await readInput(onePositional(args, 'FILE', command), {
    what: 'evidence',
    stdin: io.stdin,
  })
  return parseSnpEvidence(bytes)
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
