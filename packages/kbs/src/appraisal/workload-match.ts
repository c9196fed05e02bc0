/**
 * Whether verified evidence matches one compiled workload, and if not, the first reason why, in a
 * sentence an operator can act on. Rules, in order: the TEE is listed; the evidence is not
 * simulated when the workload has `refuseSimulated`; the hardware init-data field
 * holds the fitted value of one accepted document; every reference value holds; the CEL expression
 * (if any) is true over the claims.
 *
 * @module
 */
import { bytesToHex, constantTimeEqual, hexToBytes } from '@initguard/core'
import {
  SNP_GUEST_POLICY_RULE_BITS,
  SNP_PLATFORM_INFO_RULE_BITS,
  firmwareVersionAtLeast,
  firmwareVersionText,
  policyBitMismatches,
  tcbComponentsBelow,
  type TcbComponents,
} from '@initguard/snp'
import { claimsExpressionFailure } from '../workloads/claims-expression.ts'
import type { CompiledWorkload } from '../workloads/compiled-workload.ts'
import type {
  VerifiedEvidence,
  VerifiedSgxEvidence,
  VerifiedSnpEvidence,
  VerifiedTdxEvidence,
} from './verified-evidence.ts'

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}

/** `undefined` when `actual` is one of `allowed` (hex), else the reason. */
function notOneOf(
  field: string,
  actual: Uint8Array,
  allowed: readonly string[] | undefined,
): string | undefined {
  if (allowed === undefined) return undefined
  const hex = bytesToHex(actual)
  // Compare all (constant time each) so timing does not tell which one matched.
  let found = false
  for (const value of allowed) {
    if (constantTimeEqual(hexToBytes(value), actual)) found = true
  }
  return found
    ? undefined
    : `${field} ${short(hex)} is not one of its ${plural(allowed.length, field)} (${hex})`
}

function tcbText(t: TcbComponents): string {
  return `bootloader ${t.bootloader}, tee ${t.tee}, snp ${t.snp}, microcode ${t.microcode}${t.fmc === undefined ? '' : `, fmc ${t.fmc}`}`
}

/**
 * Why `tcb` (REPORTED_TCB or LAUNCH_TCB) does not meet the workload's `key` minimum, if it does not.
 * A Turin TCB has an FMC SPL: a minimum without one would leave it unbounded, so it is refused.
 */
function tcbReason(
  field: 'REPORTED_TCB' | 'LAUNCH_TCB',
  key: 'minimumTcb' | 'minimumLaunchTcb',
  tcb: TcbComponents,
  minimum: TcbComponents | undefined,
): string | undefined {
  if (minimum === undefined) return undefined
  if (minimum.fmc === undefined && tcb.fmc !== undefined)
    return `the report is from a Turin, whose TCB has an FMC SPL, and its ${key} gives no fmc: add snp.${key}.fmc`
  if (minimum.fmc !== undefined && tcb.fmc === undefined)
    return `its ${key} gives fmc, and the report is from a Milan or Genoa, whose TCB has no FMC SPL: drop snp.${key}.fmc`
  const below = tcbComponentsBelow(tcb, minimum)
  if (below.length === 0) return undefined
  return `${field} (${tcbText(tcb)}) is below its ${key === 'minimumTcb' ? 'minimum' : 'minimum launch TCB'} (${tcbText(minimum)}): ${below.join(', ')} too low`
}

function snpReason(workload: CompiledWorkload, e: VerifiedSnpEvidence): string | undefined {
  const rv = workload.definition.snp
  if (rv === undefined) return 'it has no SEV-SNP reference values'
  const measurement = notOneOf('MEASUREMENT', e.measurement, rv.measurements)
  if (measurement !== undefined) return measurement
  if (e.vmpl !== rv.vmpl)
    return `the report is from VMPL ${e.vmpl}, and it requires VMPL ${rv.vmpl}`
  const tcb =
    tcbReason('REPORTED_TCB', 'minimumTcb', e.reportedTcb, rv.minimumTcb) ??
    tcbReason('LAUNCH_TCB', 'minimumLaunchTcb', e.launchTcb, rv.minimumLaunchTcb)
  if (tcb !== undefined) return tcb
  if (rv.minimumFirmware !== undefined && !firmwareVersionAtLeast(e.firmware, rv.minimumFirmware)) {
    return `the host runs SEV firmware ${firmwareVersionText(e.firmware)}, below its minimum ${firmwareVersionText(rv.minimumFirmware)} (snp.minimumFirmware; ordered major, then minor, then build)`
  }
  const policyBits =
    rv.guestPolicy === undefined
      ? []
      : policyBitMismatches(e.guestPolicy, rv.guestPolicy, SNP_GUEST_POLICY_RULE_BITS)
  if (policyBits.length > 0)
    return `the guest policy (POLICY 0x${e.guestPolicy.raw.toString(16)}) does not meet snp.guestPolicy: ${policyBits.join('; ')}`
  const platformBits =
    rv.platformInfo === undefined
      ? []
      : policyBitMismatches(e.platformInfo, rv.platformInfo, SNP_PLATFORM_INFO_RULE_BITS)
  if (platformBits.length > 0)
    return `the host's platform (PLATFORM_INFO 0x${e.platformInfo.raw.toString(16)}) does not meet snp.platformInfo: ${platformBits.join('; ')}`
  if (rv.refuseProvisionalFirmware && e.provisionalFirmware.length > 0) {
    return `the host runs provisional firmware, not the committed one (${e.provisionalFirmware.join('; ')}), and the workload refuses it (snp.refuseProvisionalFirmware)`
  }
  if (e.debug && !rv.allowDebug) {
    return 'the guest policy allows debugging (POLICY.DEBUG), and the workload does not allow debug guests (snp.allowDebug)'
  }
  if (e.migration && !rv.allowMigration) {
    return 'the guest policy allows a migration agent (POLICY.MIGRATE_MA), and the workload does not allow migration (snp.allowMigration)'
  }
  return undefined
}

function tcbStatusReason(
  status: string,
  accepted: readonly string[],
  key: string,
): string | undefined {
  return accepted.includes(status)
    ? undefined
    : `Intel's TCB status is ${status}, not one it accepts (${key}.acceptedTcbStatuses: ${accepted.join(', ')})`
}

/** MRSERVICETD when no service TD is bound. */
const NO_SERVICE_TD = new Uint8Array(48)

/** `undefined` when MRSERVICETD is the workload's `tdx.mrServiceTd` (all zero when it has none). */
function serviceTdReason(actual: Uint8Array, expected: string | undefined): string | undefined {
  if (constantTimeEqual(actual, expected === undefined ? NO_SERVICE_TD : hexToBytes(expected)))
    return undefined
  const wanted = expected === undefined ? 'all zero, no service TD bound' : short(expected)
  return `MRSERVICETD ${short(bytesToHex(actual))} is not the workload's (tdx.mrServiceTd: ${wanted}): a service TD bound to the TD can read and change it`
}

function tdxReason(workload: CompiledWorkload, e: VerifiedTdxEvidence): string | undefined {
  const rv = workload.definition.tdx
  if (rv === undefined) return 'it has no TDX reference values'
  const rtmrLists = [rv.rtmr0, rv.rtmr1, rv.rtmr2, rv.rtmr3]
  return (
    notOneOf('MRTD', e.mrTd, rv.mrtd) ??
    rtmrLists
      .map((list, i) => notOneOf(`RTMR${i}`, e.rtmrs[i] ?? new Uint8Array(), list))
      .find((r) => r !== undefined) ??
    serviceTdReason(e.mrServiceTd, rv.mrServiceTd) ??
    tcbStatusReason(e.tcbStatus, rv.acceptedTcbStatuses, 'tdx') ??
    (e.debug && !rv.allowDebug
      ? 'the TD is debuggable or under profiling (TDATTRIBUTES bits 7:0, DEBUG and the profiling bits), and the workload does not allow debug TDs (tdx.allowDebug)'
      : undefined) ??
    (e.migration && !rv.allowMigration
      ? 'the TD is migratable (TDATTRIBUTES.MIGRATABLE), and the workload does not allow migratable TDs (tdx.allowMigration)'
      : undefined)
  )
}

function sgxReason(workload: CompiledWorkload, e: VerifiedSgxEvidence): string | undefined {
  const rv = workload.definition.sgx
  if (rv === undefined) return 'it has no SGX reference values'
  if (rv.isvProdId !== undefined && e.isvProdId !== rv.isvProdId) {
    return `ISVPRODID ${e.isvProdId} is not its ${rv.isvProdId}`
  }
  if (rv.minIsvSvn !== undefined && e.isvSvn < rv.minIsvSvn) {
    return `ISVSVN ${e.isvSvn} is below its minimum ${rv.minIsvSvn}`
  }
  return (
    notOneOf('MRENCLAVE', e.mrEnclave, rv.mrenclave) ??
    notOneOf('MRSIGNER', e.mrSigner, rv.mrsigner) ??
    tcbStatusReason(e.tcbStatus, rv.acceptedTcbStatuses, 'sgx') ??
    (e.debug && !rv.allowDebug
      ? 'the enclave is a debug enclave (ATTRIBUTES.DEBUG), and the workload does not allow debug enclaves (sgx.allowDebug)'
      : undefined)
  )
}

/**
 * The first reason `workload` does not accept the evidence, or `undefined` when it does.
 *
 * @param claims - the annotated-evidence claims the CEL expression sees.
 * @param initDataDigest - hex digest of the init-data the guest sent, for the message.
 */
export function workloadMismatch(
  workload: CompiledWorkload,
  evidence: VerifiedEvidence,
  claims: Readonly<Record<string, unknown>>,
  initDataDigest: string | undefined,
): string | undefined {
  const { definition } = workload
  if (!definition.tees.includes(evidence.tee)) {
    return `it runs only on ${definition.tees.join(', ')}, not ${evidence.tee}`
  }
  if (definition.refuseSimulated === true && evidence.simulated)
    return 'the evidence is simulated, and it has refuseSimulated (real hardware only)'
  if (workload.acceptedInitdataFor(evidence.tee, evidence.initDataField) === undefined) {
    const field = `${evidence.initDataFieldName} ${short(bytesToHex(evidence.initDataField))}`
    return initDataDigest === undefined
      ? `${field} is not the fitted digest of any of its ${plural(workload.initdata.length, 'accepted document')}`
      : `init-data digest ${short(initDataDigest)} (${field}) is not one of its ${plural(workload.initdata.length, 'accepted document')}`
  }
  const reason =
    evidence.tee === 'snp'
      ? snpReason(workload, evidence)
      : evidence.tee === 'tdx'
        ? tdxReason(workload, evidence)
        : sgxReason(workload, evidence)
  if (reason !== undefined) return reason
  return workload.expression === undefined
    ? undefined
    : claimsExpressionFailure(workload.expression, claims)
}
