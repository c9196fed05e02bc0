/**
 * The identity checks of Intel's TCB evaluation and the levels they select: the TDX module against
 * the TCB info's `tdxModule` / `tdxModuleIdentities` (QVL `TdxModuleCheck`, quote checks
 * 4.1.2.4.11) and the Quoting Enclave against the QE identity (QVL `EnclaveReportVerifier`).
 * `evaluateTcbStatus` (in `tcb-status.ts`) combines them with the platform level.
 *
 * @see Intel QVL `Src/AttestationLibrary/src/Verifiers/Checks/TdxModuleCheck.cpp`,
 *   `Verifiers/EnclaveReportVerifier.cpp`, `Verifiers/QuoteVerifier.cpp`.
 * @module
 */
import { VerificationError, constantTimeEqual } from '@initguard/core'
import type { QeIdentity, QeTcbLevel } from './qe-identity.ts'
import type { TcbInfo, TdxModuleTcbLevel, TdxModuleTcbStatus } from './tcb-info.ts'

/** The QE's status after matching its ISVSVN. */
export type QeTcbStatus = 'UpToDate' | 'OutOfDate' | 'Revoked' | 'TcbNotSupported'

/** The TDX module's status after matching its ISVSVN. */
export type TdxModuleStatus = TdxModuleTcbStatus | 'TcbNotSupported'

/** The TCB fields of a TD report (TDX quotes only). */
export interface TdReportTcb {
  /** TEE_TCB_SVN, 16 bytes: [0] module ISVSVN, [1] module major version, then the TDX components. */
  readonly teeTcbSvn: Uint8Array
  /** MRSIGNERSEAM, 48 bytes. */
  readonly mrSignerSeam: Uint8Array
  /** SEAMATTRIBUTES: the 8 report bytes, or their value read as a little-endian u64. */
  readonly seamAttributes: Uint8Array | bigint
}

/** The identity fields of the Quoting Enclave's report. */
export interface QeReportTcb {
  /** ISVSVN. */
  readonly isvSvn: number
  /** MRSIGNER, 32 bytes. */
  readonly mrSigner: Uint8Array
  /** ISVPRODID. */
  readonly isvProdId: number
  /** MISCSELECT: the 4 report bytes, or their value read as a little-endian u32. */
  readonly miscSelect: Uint8Array | number
  /** ATTRIBUTES, 16 bytes. */
  readonly attributes: Uint8Array
}

/** The TDX module part of an evaluation. */
export interface TdxModuleEvaluation {
  /** The module identity used (`TDX_01`, …), or `undefined` for major version 0 (`tdxModule`). */
  readonly identityId: string | undefined
  /** The matched module level (none for major version 0). */
  readonly level: TdxModuleTcbLevel | undefined
  /** The module's status; `UpToDate` for major version 0, which has no levels. */
  readonly status: TdxModuleStatus
}

/** The QE part of an evaluation. */
export interface QeEvaluation {
  /** The matched QE identity level. */
  readonly level: QeTcbLevel | undefined
  /** The QE's status. */
  readonly status: QeTcbStatus
}

/** `value` as `length` report bytes: a number or bigint is written little-endian, as in the report. */
function littleEndian(value: Uint8Array | number | bigint, length: number): Uint8Array {
  if (typeof value !== 'number' && typeof value !== 'bigint') return value
  const out = new Uint8Array(length)
  let v = BigInt(value)
  for (let i = 0; i < length; i += 1) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

function masked(value: Uint8Array, mask: Uint8Array): Uint8Array {
  return value.map((v, i) => v & (mask[i] ?? 0))
}

/**
 * A verification error for an identity that does not match.
 *
 * @internal shared with `tcb-status.ts`.
 */
export function mismatch(
  code: `ERR_TDX_${string}`,
  message: string,
  hint: string,
): VerificationError {
  return new VerificationError(code, message, { hint })
}

/**
 * Check the TDX module against the TCB info and find its level (step 3 of the algorithm described in `tcb-status.ts`).
 *
 * @throws {@link VerificationError} `ERR_TDX_MODULE_MISMATCH`: no identity for the module's major
 *   version, or MRSIGNERSEAM / masked SEAMATTRIBUTES differ from the expected ones.
 */
export function evaluateTdxModule(tcbInfo: TcbInfo, td: TdReportTcb): TdxModuleEvaluation {
  const major = td.teeTcbSvn[1] ?? 0
  const isvSvn = td.teeTcbSvn[0] ?? 0
  const identityId =
    major === 0 ? undefined : `TDX_${major.toString(16).padStart(2, '0').toUpperCase()}`
  const identity =
    identityId === undefined
      ? undefined
      : tcbInfo.tdxModuleIdentities.find((m) => m.id === identityId)
  const expected = identityId === undefined ? tcbInfo.tdxModule : identity
  if (expected === undefined) {
    throw mismatch(
      'ERR_TDX_MODULE_MISMATCH',
      identityId === undefined
        ? 'the TCB info has no tdxModule to check the TDX module against'
        : `the TDX module reports major version ${major}, but the TCB info has no ${identityId} module identity`,
      'fetch current TDX TCB info for this FMSPC from Intel PCS',
    )
  }
  if (!constantTimeEqual(td.mrSignerSeam, expected.mrSigner)) {
    throw mismatch(
      'ERR_TDX_MODULE_MISMATCH',
      `MRSIGNERSEAM is not the signer of the ${identityId ?? 'TDX'} module the TCB info names`,
      'the TD runs on a TDX module Intel did not sign',
    )
  }
  if (
    !constantTimeEqual(
      masked(littleEndian(td.seamAttributes, 8), expected.attributesMask),
      expected.attributes,
    )
  ) {
    throw mismatch(
      'ERR_TDX_MODULE_MISMATCH',
      `SEAMATTRIBUTES (masked) differ from the ${identityId ?? 'TDX'} module attributes in the TCB info`,
      'the TDX module runs with attributes Intel does not expect (e.g. a debug module)',
    )
  }
  if (identity === undefined) return { identityId, level: undefined, status: 'UpToDate' }
  const level = identity.tcbLevels.find((l) => isvSvn >= l.isvSvn)
  return { identityId, level, status: level?.tcbStatus ?? 'TcbNotSupported' }
}

/**
 * Check the QE report against the QE identity and find its level (step 4 of the algorithm described in `tcb-status.ts`).
 *
 * @throws {@link VerificationError} `ERR_TDX_QE_IDENTITY_MISMATCH`: MRSIGNER, ISVPRODID, masked
 *   MISCSELECT or masked ATTRIBUTES differ.
 */
export function evaluateQeIdentity(identity: QeIdentity, qe: QeReportTcb): QeEvaluation {
  const miscSelect = littleEndian(qe.miscSelect, 4)
  const fail = (field: string): VerificationError =>
    mismatch(
      'ERR_TDX_QE_IDENTITY_MISMATCH',
      `the quoting enclave's ${field} does not match the ${identity.id} identity Intel publishes`,
      "the quote was not produced by Intel's quoting enclave, or the QE identity is for another TEE",
    )
  if (!constantTimeEqual(masked(miscSelect, identity.miscSelectMask), identity.miscSelect)) {
    throw fail('MISCSELECT (masked)')
  }
  if (!constantTimeEqual(masked(qe.attributes, identity.attributesMask), identity.attributes)) {
    throw fail('ATTRIBUTES (masked)')
  }
  if (!constantTimeEqual(qe.mrSigner, identity.mrSigner)) throw fail('MRSIGNER')
  if (qe.isvProdId !== identity.isvProdId) throw fail('ISVPRODID')
  const level = identity.tcbLevels.find((l) => qe.isvSvn >= l.isvSvn)
  const status: QeTcbStatus =
    level === undefined
      ? 'TcbNotSupported'
      : level.tcbStatus === 'UpToDate' || level.tcbStatus === 'Revoked'
        ? level.tcbStatus
        : 'OutOfDate'
  return { level, status }
}
