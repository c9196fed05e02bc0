/**
 * Intel Enclave Identity v2 (QE identity): who the Quoting Enclave must be (MRSIGNER, ISVPRODID,
 * masked MISCSELECT and ATTRIBUTES) and the TCB levels of its ISVSVN. `id` is `QE` for SGX quotes,
 * `TD_QE` for TDX quotes (`QVE` for the verification enclave). Parsed from the exact JSON text
 * Intel signed (the value of `enclaveIdentity` in the PCS response body).
 *
 * ```json
 * { "id": "TD_QE", "version": 2, "issueDate": "…Z", "nextUpdate": "…Z",
 *   "tcbEvaluationDataNumber": 15, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
 *   "attributes": "<16 B hex>", "attributesMask": "<16 B hex>", "mrsigner": "<32 B hex>",
 *   "isvprodid": 2,
 *   "tcbLevels": [ { "tcb": { "isvsvn": 4 }, "tcbDate": "…Z", "tcbStatus": "UpToDate",
 *                    "advisoryIDs": [ … ] } ] }
 * ```
 *
 * `miscselect` and its mask are the four MISCSELECT bytes in the order they appear in the enclave
 * report (Intel's QVL reads the report's little-endian value the same way).
 *
 * @see Intel PCS API, "Enclave Identity V2" (Get Quoting Enclave Identity); Intel QVL
 *   `EnclaveIdentityV2.cpp`.
 * @module
 */
import {
  asObject,
  enumField,
  fieldError,
  hexField,
  integerField,
  parseJson,
  type JsonDocument,
} from '@initguard/core'
import { collateralValidity, isvSvnTcbLevels } from './json-fields.ts'

/**
 * The `tcbStatus` values a QE identity level may carry. Intel's QVL treats every value but
 * `UpToDate` and `Revoked` as out of date.
 */
export type QeIdentityTcbStatus =
  'UpToDate' | 'OutOfDate' | 'Revoked' | 'ConfigurationNeeded' | 'OutOfDateConfigurationNeeded'

const STATUSES: readonly QeIdentityTcbStatus[] = [
  'UpToDate',
  'OutOfDate',
  'Revoked',
  'ConfigurationNeeded',
  'OutOfDateConfigurationNeeded',
]

/** One TCB level of the QE, matched on the QE report's ISVSVN. */
export interface QeTcbLevel {
  /** `tcb.isvsvn`. */
  readonly isvSvn: number
  /** When Intel released this level. */
  readonly tcbDate: Date
  /** Intel's verdict on a QE at this level. */
  readonly tcbStatus: QeIdentityTcbStatus
  /** Advisories that apply at this level. */
  readonly advisoryIds: readonly string[]
}

/** A parsed Enclave Identity v2. */
export interface QeIdentity {
  /** `QE` (SGX), `TD_QE` (TDX) or `QVE`. */
  readonly id: 'QE' | 'QVE' | 'TD_QE'
  /** Always 2. */
  readonly version: 2
  /** When Intel issued this identity. */
  readonly issueDate: Date
  /** After this, the identity is stale and must not be used. */
  readonly nextUpdate: Date
  /** The TCB recovery event this data reflects. */
  readonly tcbEvaluationDataNumber: number
  /** Expected MISCSELECT after masking (4 bytes, report order). */
  readonly miscSelect: Uint8Array
  /** Mask applied to the report's MISCSELECT (4 bytes). */
  readonly miscSelectMask: Uint8Array
  /** Expected ATTRIBUTES after masking (16 bytes). */
  readonly attributes: Uint8Array
  /** Mask applied to the report's ATTRIBUTES (16 bytes). */
  readonly attributesMask: Uint8Array
  /** Expected MRSIGNER (32 bytes). */
  readonly mrSigner: Uint8Array
  /** Expected ISVPRODID. */
  readonly isvProdId: number
  /** Levels, highest ISVSVN first. */
  readonly tcbLevels: readonly QeTcbLevel[]
}

const DOC: JsonDocument = {
  name: 'QE identity',
  code: 'ERR_TDX_QE_IDENTITY_INVALID',
  hint: 'give the enclaveIdentity JSON exactly as Intel PCS serves it',
}

/**
 * Parse Enclave Identity v2 from the exact JSON text that Intel signed (check the signature over
 * the same text first: see `verifyCollateral`).
 *
 * @example
 * ```ts
 * const qe = parseQeIdentity(collateral.qeIdentity)
 * qe.id // 'TD_QE'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_QE_IDENTITY_INVALID` naming the field
 *   (`details.field`, e.g. `enclaveIdentity.tcbLevels[0].tcb.isvsvn`).
 */
export function parseQeIdentity(text: string): QeIdentity {
  const path = 'enclaveIdentity'
  const obj = asObject(DOC, parseJson(DOC, text, path), path)
  const id = enumField(DOC, obj, 'id', path, ['QE', 'QVE', 'TD_QE'] as const)
  const version = integerField(DOC, obj, 'version', path, 0, Number.MAX_SAFE_INTEGER)
  if (version !== 2) {
    throw fieldError(DOC, `${path}.version`, `is ${version}; only Enclave Identity v2 is supported`)
  }
  const levels: QeTcbLevel[] = isvSvnTcbLevels(DOC, obj, path, STATUSES, 0xffff)
  return {
    id,
    version: 2,
    ...collateralValidity(DOC, obj, path),
    miscSelect: hexField(DOC, obj, 'miscselect', path, 4),
    miscSelectMask: hexField(DOC, obj, 'miscselectMask', path, 4),
    attributes: hexField(DOC, obj, 'attributes', path, 16),
    attributesMask: hexField(DOC, obj, 'attributesMask', path, 16),
    mrSigner: hexField(DOC, obj, 'mrsigner', path, 32),
    isvProdId: integerField(DOC, obj, 'isvprodid', path, 0, 0xffff),
    // Highest ISVSVN first, so the first level the QE meets is the best one it meets (Intel lists
    // them this way; sorting makes the JSON order irrelevant).
    tcbLevels: levels,
  }
}
