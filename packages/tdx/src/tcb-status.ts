/**
 * Intel's TCB status algorithm (QVL `TcbLevelCheck`, `TdxModuleCheck`, `EnclaveReportVerifier`) as
 * pure functions over plain inputs: the PCK certificate's TCB, the TD report's TCB fields (TDX) and
 * the QE report's identity fields, against verified TCB info and QE identity.
 *
 * 1. **Platform (SGX) level** — the first TCB level, in Intel's order, whose 16 `sgxtcbcomponents`
 *    are all ≤ the PCK's SGX TCB components and whose `pcesvn` ≤ the PCK's PCESVN.
 * 2. **TDX level** — scanning on from there, the first such level whose `tdxtcbcomponents` are
 *    all ≤ TEE_TCB_SVN, comparing from byte 2 when TEE_TCB_SVN[1] (the module's major version)
 *    is non-zero, since bytes 0–1 then identify the module instead.
 * 3. **TDX module** — major version 0: MRSIGNERSEAM and masked SEAMATTRIBUTES must equal
 *    `tdxModule`'s. Otherwise the identity `TDX_<major, 2 hex digits>` of `tdxModuleIdentities`
 *    must exist and match the same way, and its first level with `isvsvn` ≤ TEE_TCB_SVN[0] gives
 *    the module status.
 * 4. **QE** — MRSIGNER, ISVPRODID, masked MISCSELECT and masked ATTRIBUTES must equal the QE
 *    identity's; the first level with `isvsvn` ≤ the QE's ISVSVN gives the QE status (anything but
 *    UpToDate and Revoked counts as OutOfDate).
 * 5. **Convergence** ({@link convergeTcbStatus}) — an OutOfDate module or QE turns UpToDate and
 *    SWHardeningNeeded into OutOfDate, and ConfigurationNeeded and ConfigurationAndSWHardeningNeeded
 *    into OutOfDateConfigurationNeeded; a Revoked one makes the result Revoked; a missing level
 *    anywhere makes it TcbNotSupported.
 *
 * Identity mismatches (steps 3 and 4, and FMSPC/PCEID/TEE type against the TCB info) are
 * verification errors; statuses are results for the caller's policy to accept or refuse.
 *
 * Not implemented: the TD 1.5 relaunch check (TEE_TCB_SVN_2, `TDRelaunchAdvised`).
 *
 * @see Intel QVL `Src/AttestationLibrary/src/Verifiers/Checks/TcbLevelCheck.cpp`,
 *   `TdxModuleCheck.cpp`, `EnclaveReportVerifier.cpp`; Intel PCS API "TCB Info V3".
 * @module
 */
import { UsageError, bytesToHex, type VerificationError } from '@initguard/core'
import type { QeIdentity } from './qe-identity.ts'
import type { TcbInfo, TcbLevel, TcbLevelStatus } from './tcb-info.ts'
import {
  evaluateQeIdentity,
  evaluateTdxModule,
  mismatch,
  type QeEvaluation,
  type QeReportTcb,
  type QeTcbStatus,
  type TdReportTcb,
  type TdxModuleEvaluation,
  type TdxModuleStatus,
} from './tcb-identity.ts'

/** The outcome of the TCB evaluation: Intel's level statuses, or no level matched. */
export type TcbStatus = TcbLevelStatus | 'TcbNotSupported'

/** The platform TCB from the PCK certificate's SGX extension (OID 1.2.840.113741.1.13.1). */
export interface PckTcb {
  /**
   * The 16 SGX TCB component SVNs (`.2.1`–`.2.16`; in Intel's certificates the same values as the
   * CPUSVN bytes of `.2.18`). Named as `SgxPckTcb` names them, so `{ ...pck.sgx.tcb, fmspc, pceId }`
   * is a `PckTcb`.
   */
  readonly cpuSvnComponents: ArrayLike<number>
  /** PCESVN (`.2.17`). */
  readonly pceSvn: number
  /** FMSPC (`.4`, 6 bytes, or hex): when given, must equal the TCB info's. */
  readonly fmspc?: Uint8Array | string
  /** PCE-ID (`.3`, 2 bytes, or hex): when given, must equal the TCB info's. */
  readonly pceId?: Uint8Array | string
}

/** Everything the evaluation reads from the quote and its PCK certificate. */
export interface TcbStatusInput {
  /** From the PCK certificate. */
  readonly pck: PckTcb
  /** From the TD report; present exactly for TDX quotes. */
  readonly td?: TdReportTcb
  /** From the QE report. */
  readonly qe: QeReportTcb
}

/** The result of {@link evaluateTcbStatus}. */
export interface TcbEvaluation {
  /** The converged status. */
  readonly status: TcbStatus
  /** Advisories of the matched platform, module and QE levels, without duplicates. */
  readonly advisoryIds: readonly string[]
  /** `tcbDate` of the matched platform level (the TDX level for TDX). */
  readonly tcbDate: Date | undefined
  /** The platform part: the SGX level, the TDX level (TDX only) and the status of the deciding one. */
  readonly platform: {
    readonly sgxLevel: TcbLevel | undefined
    readonly tdxLevel: TcbLevel | undefined
    readonly status: TcbStatus
  }
  /** The TDX module part (TDX only). */
  readonly tdxModule: TdxModuleEvaluation | undefined
  /** The QE part. */
  readonly qe: QeEvaluation
  /** The lower `tcbEvaluationDataNumber` of the TCB info and the QE identity. */
  readonly tcbEvaluationDataNumber: number
}

function usage(field: string, problem: string): UsageError {
  return new UsageError('ERR_TDX_TCB_INPUT_INVALID', `TCB status input: ${field} ${problem}`, {
    details: { field },
    hint: 'pass the values decoded from the quote and its PCK certificate',
  })
}

function checkBytes(value: Uint8Array, length: number, field: string): void {
  if (!((value as unknown) instanceof Uint8Array) || value.length !== length) {
    throw usage(field, `must be ${length} bytes`)
  }
}

function checkInteger(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw usage(field, `must be an integer from 0 to ${max}`)
  }
}

function checkInput(input: TcbStatusInput): void {
  if (input.pck.cpuSvnComponents.length !== 16) {
    throw usage('pck.cpuSvnComponents', 'must have 16 components')
  }
  for (let i = 0; i < 16; i += 1) {
    checkInteger(input.pck.cpuSvnComponents[i] ?? -1, 255, `pck.cpuSvnComponents[${i}]`)
  }
  checkInteger(input.pck.pceSvn, 0xffff, 'pck.pceSvn')
  if (input.td !== undefined) {
    checkBytes(input.td.teeTcbSvn, 16, 'td.teeTcbSvn')
    checkBytes(input.td.mrSignerSeam, 48, 'td.mrSignerSeam')
    if (typeof input.td.seamAttributes === 'bigint') {
      if (input.td.seamAttributes < 0n || input.td.seamAttributes >= 1n << 64n) {
        throw usage('td.seamAttributes', 'must be a u64')
      }
    } else {
      checkBytes(input.td.seamAttributes, 8, 'td.seamAttributes')
    }
  }
  checkInteger(input.qe.isvSvn, 0xffff, 'qe.isvSvn')
  checkInteger(input.qe.isvProdId, 0xffff, 'qe.isvProdId')
  checkBytes(input.qe.mrSigner, 32, 'qe.mrSigner')
  checkBytes(input.qe.attributes, 16, 'qe.attributes')
  if (typeof input.qe.miscSelect === 'number') {
    checkInteger(input.qe.miscSelect, 0xffffffff, 'qe.miscSelect')
  } else {
    checkBytes(input.qe.miscSelect, 4, 'qe.miscSelect')
  }
}

function hexOf(value: Uint8Array | string): string {
  return (typeof value === 'string' ? value : bytesToHex(value)).toLowerCase()
}

function meetsSgx(level: TcbLevel, pck: PckTcb): boolean {
  return (
    level.sgxTcbComponents.every((svn, i) => (pck.cpuSvnComponents[i] ?? -1) >= svn) &&
    pck.pceSvn >= level.pceSvn
  )
}

function meetsTdx(level: TcbLevel, teeTcbSvn: Uint8Array): boolean {
  const components = level.tdxTcbComponents
  if (components === undefined) return false
  // With a module major version in byte 1, bytes 0–1 identify the module (checked against the
  // module identity instead) and only the components from byte 2 on are compared.
  const start = (teeTcbSvn[1] ?? 0) > 0 ? 2 : 0
  return components.every((svn, i) => i < start || (teeTcbSvn[i] ?? -1) >= svn)
}

/**
 * The platform's SGX TCB level: the first of `levels` (in Intel's order, as `parseTcbInfo`
 * returns them) that the PCK's SGX components and PCESVN all meet, or `undefined`.
 *
 * @example
 * ```ts
 * matchSgxTcbLevel(tcbInfo.tcbLevels, { cpuSvnComponents, pceSvn })?.tcbStatus // 'UpToDate'
 * ```
 */
export function matchSgxTcbLevel(levels: readonly TcbLevel[], pck: PckTcb): TcbLevel | undefined {
  return levels.find((level) => meetsSgx(level, pck))
}

/**
 * The SGX level and the TDX level of a TDX platform: the TDX level is the first level that meets
 * the SGX condition and whose TDX components TEE_TCB_SVN meets (from byte 2 on when
 * TEE_TCB_SVN[1] > 0). Either may be `undefined`.
 */
export function matchTdxTcbLevel(
  levels: readonly TcbLevel[],
  pck: PckTcb,
  teeTcbSvn: Uint8Array,
): { readonly sgxLevel: TcbLevel | undefined; readonly tdxLevel: TcbLevel | undefined } {
  let sgxLevel: TcbLevel | undefined
  for (const level of levels) {
    if (!meetsSgx(level, pck)) continue
    sgxLevel ??= level
    if (meetsTdx(level, teeTcbSvn)) return { sgxLevel, tdxLevel: level }
  }
  return { sgxLevel, tdxLevel: undefined }
}

/** An OutOfDate or Revoked part lowers a level status as Intel's QVL does. */
function lower(status: TcbLevelStatus, part: 'UpToDate' | 'OutOfDate' | 'Revoked'): TcbLevelStatus {
  if (part === 'Revoked') return 'Revoked'
  if (part === 'OutOfDate') {
    if (status === 'UpToDate' || status === 'SWHardeningNeeded') return 'OutOfDate'
    if (status === 'ConfigurationNeeded' || status === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded'
    }
  }
  return status
}

/**
 * Combine the platform status with the TDX module's and the QE's, exactly as Intel's QVL does
 * (`convergeTcbStatusWithTdxModuleStatus`, then `convergeTcbStatusWithQeTcbStatus`):
 *
 * | part (module or QE) | platform UpToDate / SWHardeningNeeded | ConfigurationNeeded / ConfigurationAndSWHardeningNeeded | OutOfDate* / Revoked |
 * | ------------------- | ------------------------------------- | ------------------------------------------------------- | -------------------- |
 * | UpToDate            | unchanged                             | unchanged                                               | unchanged            |
 * | OutOfDate           | OutOfDate                             | OutOfDateConfigurationNeeded                            | unchanged            |
 * | Revoked             | Revoked                               | Revoked                                                 | Revoked              |
 * | TcbNotSupported     | TcbNotSupported                       | TcbNotSupported                                         | TcbNotSupported      |
 *
 * A TcbNotSupported platform stays TcbNotSupported. On the TDX path (a module status is given) a
 * result that is Revoked after the module step stays Revoked whatever the QE says.
 *
 * @example
 * ```ts
 * convergeTcbStatus({ platform: 'SWHardeningNeeded', qe: 'OutOfDate' }) // 'OutOfDate'
 * ```
 */
export function convergeTcbStatus(parts: {
  readonly platform: TcbStatus
  readonly tdxModule?: TdxModuleStatus | undefined
  readonly qe?: QeTcbStatus | undefined
}): TcbStatus {
  if (parts.platform === 'TcbNotSupported') return 'TcbNotSupported'
  let status: TcbLevelStatus = parts.platform
  if (parts.tdxModule !== undefined) {
    if (parts.tdxModule === 'TcbNotSupported') return 'TcbNotSupported'
    status = lower(status, parts.tdxModule)
    if (status === 'Revoked') return status
  }
  if (parts.qe === undefined) return status
  if (parts.qe === 'TcbNotSupported') return 'TcbNotSupported'
  return lower(status, parts.qe)
}

/**
 * Intel's TCB status of a quote: check the quote's identities against verified collateral, match
 * the platform (and TDX module and QE) levels, and converge them into one status with the union of
 * their advisories.
 *
 * @example
 * ```ts
 * const verified = verifyCollateral(collateral, { now })
 * const { status, advisoryIds } = evaluateTcbStatus(verified, {
 *   pck: { cpuSvnComponents, pceSvn, fmspc, pceId },
 *   td: { teeTcbSvn, mrSignerSeam, seamAttributes },
 *   qe: { isvSvn, mrSigner, isvProdId, miscSelect, attributes },
 * })
 * ```
 *
 * @throws {@link VerificationError} `ERR_TDX_TCB_INFO_MISMATCH` (FMSPC, PCE-ID, or a TDX TCB info
 *   for an SGX quote and vice versa), `ERR_TDX_MODULE_MISMATCH`, `ERR_TDX_QE_IDENTITY_MISMATCH`;
 *   {@link UsageError} `ERR_TDX_TCB_INPUT_INVALID` for inputs of the wrong size or range.
 */
export function evaluateTcbStatus(
  collateral: { readonly tcbInfo: TcbInfo; readonly qeIdentity: QeIdentity },
  input: TcbStatusInput,
): TcbEvaluation {
  checkInput(input)
  const { tcbInfo, qeIdentity } = collateral
  const tdx = tcbInfo.id === 'TDX'
  if (tdx !== (input.td !== undefined)) {
    throw mismatch(
      'ERR_TDX_TCB_INFO_MISMATCH',
      `the TCB info is for ${tcbInfo.id}, but the quote is ${input.td === undefined ? 'an SGX' : 'a TDX'} quote`,
      "fetch the TCB info from the PCS API of the quote's TEE (sgx or tdx)",
    )
  }
  const wrongPlatform = (field: string): VerificationError =>
    mismatch(
      'ERR_TDX_TCB_INFO_MISMATCH',
      `the PCK certificate's ${field} differs from the TCB info's`,
      'fetch the TCB info for the FMSPC in the PCK certificate',
    )
  if (input.pck.fmspc !== undefined && hexOf(input.pck.fmspc) !== tcbInfo.fmspc) {
    throw wrongPlatform('FMSPC')
  }
  if (input.pck.pceId !== undefined && hexOf(input.pck.pceId) !== tcbInfo.pceId) {
    throw wrongPlatform('PCE-ID')
  }
  const expectedQe = tdx ? 'TD_QE' : 'QE'
  if (qeIdentity.id !== expectedQe) {
    throw mismatch(
      'ERR_TDX_QE_IDENTITY_MISMATCH',
      `the QE identity is ${qeIdentity.id}, but a ${tcbInfo.id} quote needs ${expectedQe}`,
      "fetch the QE identity from the PCS API of the quote's TEE (sgx or tdx)",
    )
  }
  const tdxModule = input.td === undefined ? undefined : evaluateTdxModule(tcbInfo, input.td)
  const qe = evaluateQeIdentity(qeIdentity, input.qe)
  const levels =
    input.td === undefined
      ? { sgxLevel: matchSgxTcbLevel(tcbInfo.tcbLevels, input.pck), tdxLevel: undefined }
      : matchTdxTcbLevel(tcbInfo.tcbLevels, input.pck, input.td.teeTcbSvn)
  const deciding = tdx ? levels.tdxLevel : levels.sgxLevel
  const platformStatus: TcbStatus =
    levels.sgxLevel === undefined || deciding === undefined ? 'TcbNotSupported' : deciding.tcbStatus
  const advisoryIds = [
    ...new Set([
      ...(deciding?.advisoryIds ?? []),
      ...(tdxModule?.level?.advisoryIds ?? []),
      ...(qe.level?.advisoryIds ?? []),
    ]),
  ]
  return {
    status: convergeTcbStatus({
      platform: platformStatus,
      tdxModule: tdxModule?.status,
      qe: qe.status,
    }),
    advisoryIds,
    tcbDate: deciding?.tcbDate,
    platform: { ...levels, status: platformStatus },
    tdxModule,
    qe,
    tcbEvaluationDataNumber: Math.min(
      tcbInfo.tcbEvaluationDataNumber,
      qeIdentity.tcbEvaluationDataNumber,
    ),
  }
}
