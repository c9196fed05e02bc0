/**
 * Intel TCB Info v3 (and SGX TCB Info v2): the TCB levels Intel defines for one platform model (FMSPC), for SGX
 * (`id: "SGX"`) or TDX (`id: "TDX"`). Parsed from the exact JSON text Intel signed (the value of
 * `tcbInfo` in the PCS response body).
 *
 * ```json
 * { "id": "TDX", "version": 3, "issueDate": "…Z", "nextUpdate": "…Z", "fmspc": "50806f000000",
 *   "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 15,
 *   "tdxModule": { "mrsigner": "<48 B hex>", "attributes": "<8 B>", "attributesMask": "<8 B>" },
 *   "tdxModuleIdentities": [ { "id": "TDX_01", "mrsigner": …, "attributes": …,
 *       "attributesMask": …, "tcbLevels": [ { "tcb": { "isvsvn": 4 }, "tcbDate": "…Z",
 *       "tcbStatus": "UpToDate", "advisoryIDs": [ … ] } ] } ],
 *   "tcbLevels": [ { "tcb": { "sgxtcbcomponents": [ { "svn": 5, "category": …, "type": … } ×16 ],
 *                             "pcesvn": 11, "tdxtcbcomponents": [ { "svn": 3 } ×16 ] },
 *                    "tcbDate": "…Z", "tcbStatus": "UpToDate", "advisoryIDs": [ … ] } ] }
 * ```
 *
 * `tdxModule` and `tdxtcbcomponents` are required for TDX and ignored for SGX; `tdxModuleIdentities`
 * is optional (older TDX TCB infos predate it). TCB levels are returned in the order Intel's QVL
 * evaluates them, not the JSON order (see {@link compareTcbLevels}).
 *
 * TCB Info v2 (what Intel PCS API v3 served, and older PCCS still serve) is accepted too, as Intel's
 * QVL accepts it. It is SGX only, has no `id`, and gives each level's SGX components as 16 named
 * members instead of an array:
 *
 * ```json
 * { "version": 2, "issueDate": "…Z", "nextUpdate": "…Z", "fmspc": "00906ea10000", "pceId": "0000",
 *   "tcbType": 0, "tcbEvaluationDataNumber": 12,
 *   "tcbLevels": [ { "tcb": { "sgxtcbcomp01svn": 5, …, "sgxtcbcomp16svn": 0, "pcesvn": 11 },
 *                    "tcbDate": "…Z", "tcbStatus": "OutOfDate", "advisoryIDs": [ … ] } ] }
 * ```
 *
 * It maps onto the same {@link TcbInfo} (`id: "SGX"`, no TDX parts), so the TCB status is
 * evaluated the same way. A v2 document with TDX parts (`id` other than `SGX`, `tdxModule`,
 * `tdxModuleIdentities`, `tdxtcbcomponents`) is refused rather than read as SGX.
 *
 * @see Intel PCS API, "TCB Info V3" (Get TCB Info, SGX and TDX) and, API v3, "TCB Info V2";
 *   Intel QVL `TcbInfo.cpp`, `TcbLevel.cpp`.
 * @module
 */
import {
  arrayField,
  asObject,
  dateField,
  enumField,
  fieldError,
  hexField,
  integerField,
  member,
  nonEmptyArrayField,
  objectField,
  optionalStringArray,
  parseJson,
  stringField,
  type JsonDocument,
  type JsonObject,
} from '@initguard/core'
import { collateralValidity, isvSvnTcbLevels } from './json-fields.ts'

/** The `tcbStatus` of a TCB info level, as Intel defines them. */
export type TcbLevelStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked'

/** The `tcbStatus` of a TDX module identity level. */
export type TdxModuleTcbStatus = 'UpToDate' | 'OutOfDate' | 'Revoked'

/** Every {@link TcbLevelStatus}, best first. */
export const TCB_LEVEL_STATUSES: readonly TcbLevelStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
]

const MODULE_STATUSES: readonly TdxModuleTcbStatus[] = ['UpToDate', 'OutOfDate', 'Revoked']

/** One platform TCB level. */
export interface TcbLevel {
  /** `sgxtcbcomponents[0..15].svn`: compared with the PCK certificate's SGX TCB components. */
  readonly sgxTcbComponents: readonly number[]
  /** `pcesvn`: compared with the PCK certificate's PCESVN. */
  readonly pceSvn: number
  /** `tdxtcbcomponents[0..15].svn` (TDX only): compared with the quote's TEE_TCB_SVN. */
  readonly tdxTcbComponents: readonly number[] | undefined
  /** When Intel released this level. */
  readonly tcbDate: Date
  /** Intel's verdict on a platform at this level. */
  readonly tcbStatus: TcbLevelStatus
  /** Intel security advisories that apply at this level (`advisoryIDs`), possibly empty. */
  readonly advisoryIds: readonly string[]
}

/** The expected TDX module signer and attributes (`tdxModule`, or one identity's). */
export interface TdxModule {
  /** MRSIGNERSEAM expected in the TD report (48 bytes). */
  readonly mrSigner: Uint8Array
  /** SEAMATTRIBUTES expected after masking (8 bytes). */
  readonly attributes: Uint8Array
  /** Mask applied to SEAMATTRIBUTES before comparing (8 bytes). */
  readonly attributesMask: Uint8Array
}

/** One TCB level of a TDX module identity, matched on TEE_TCB_SVN[0] (the module's ISVSVN). */
export interface TdxModuleTcbLevel {
  /** `tcb.isvsvn`. */
  readonly isvSvn: number
  /** When Intel released this level. */
  readonly tcbDate: Date
  /** Intel's verdict on a module at this level. */
  readonly tcbStatus: TdxModuleTcbStatus
  /** Advisories that apply at this level. */
  readonly advisoryIds: readonly string[]
}

/** A TDX module identity (`tdxModuleIdentities[]`), selected by the module's major version. */
export interface TdxModuleIdentity extends TdxModule {
  /** `TDX_<major version as two hex digits>`, e.g. `TDX_01`. */
  readonly id: string
  /** Levels, highest ISVSVN first. */
  readonly tcbLevels: readonly TdxModuleTcbLevel[]
}

/** A parsed TCB Info (v3, or an SGX v2 mapped onto the same shape). */
export interface TcbInfo {
  /** Which TEE the levels are for. */
  readonly id: 'SGX' | 'TDX'
  /** 3, or 2 for an SGX TCB info in the older format (then `id` is `SGX`, no TDX parts). */
  readonly version: 2 | 3
  /** When Intel issued this TCB info. */
  readonly issueDate: Date
  /** After this, the TCB info is stale and must not be used. */
  readonly nextUpdate: Date
  /** The platform model, lower-case hex (6 bytes), e.g. `50806f000000`. */
  readonly fmspc: string
  /** The PCE identifier, lower-case hex (2 bytes). */
  readonly pceId: string
  /** Always 0 (the only TCB type Intel defines). */
  readonly tcbType: number
  /** The TCB recovery event this data reflects. */
  readonly tcbEvaluationDataNumber: number
  /** TDX only: the module signer for module major version 0. */
  readonly tdxModule: TdxModule | undefined
  /** TDX only: module identities by major version; empty when absent. */
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[]
  /** Levels in the order Intel's QVL evaluates them (see {@link compareTcbLevels}). */
  readonly tcbLevels: readonly TcbLevel[]
}

const DOC: JsonDocument = {
  name: 'TCB info',
  code: 'ERR_TDX_TCB_INFO_INVALID',
  hint: 'give the tcbInfo JSON exactly as Intel PCS serves it',
}

const COMPONENTS = 16

function components(obj: JsonObject, key: string, parent: string): number[] {
  const list = arrayField(DOC, obj, key, parent)
  const path = `${parent}.${key}`
  if (list.length !== COMPONENTS) {
    throw fieldError(DOC, path, `must have ${COMPONENTS} entries (has ${list.length})`)
  }
  return list.map((c, i) =>
    integerField(DOC, asObject(DOC, c, `${path}[${i}]`), 'svn', `${path}[${i}]`, 0, 255),
  )
}

function tcbLevel(value: unknown, path: string, tdx: boolean): TcbLevel {
  const level = asObject(DOC, value, path)
  const tcb = objectField(DOC, level, 'tcb', path)
  return {
    sgxTcbComponents: components(tcb, 'sgxtcbcomponents', `${path}.tcb`),
    pceSvn: integerField(DOC, tcb, 'pcesvn', `${path}.tcb`, 0, 0xffff),
    tdxTcbComponents: tdx ? components(tcb, 'tdxtcbcomponents', `${path}.tcb`) : undefined,
    tcbDate: dateField(DOC, level, 'tcbDate', path),
    tcbStatus: enumField(DOC, level, 'tcbStatus', path, TCB_LEVEL_STATUSES),
    advisoryIds: optionalStringArray(DOC, level, 'advisoryIDs', path),
  }
}

/** TCB Info v2's names of the 16 SGX TCB components: `sgxtcbcomp01svn` … `sgxtcbcomp16svn`. */
const V2_COMPONENT_KEYS: readonly string[] = Array.from(
  { length: COMPONENTS },
  (_, i) => `sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`,
)

/** A TCB Info v2 level: the SGX components are named members of `tcb`, there is no TDX part. */
function tcbLevelV2(value: unknown, path: string): TcbLevel {
  const level = asObject(DOC, value, path)
  const tcb = objectField(DOC, level, 'tcb', path)
  const tcbPath = `${path}.tcb`
  if (member(tcb, 'tdxtcbcomponents') !== undefined) {
    throw fieldError(DOC, `${tcbPath}.tdxtcbcomponents`, 'is TDX; TCB Info v2 is SGX only')
  }
  return {
    sgxTcbComponents: V2_COMPONENT_KEYS.map((key) => integerField(DOC, tcb, key, tcbPath, 0, 255)),
    pceSvn: integerField(DOC, tcb, 'pcesvn', tcbPath, 0, 0xffff),
    tdxTcbComponents: undefined,
    tcbDate: dateField(DOC, level, 'tcbDate', path),
    tcbStatus: enumField(DOC, level, 'tcbStatus', path, TCB_LEVEL_STATUSES),
    advisoryIds: optionalStringArray(DOC, level, 'advisoryIDs', path),
  }
}

/**
 * The TEE of a TCB Info v2: always SGX. Intel's v2 has no `id`; one naming another TEE, or TDX
 * module fields, mean a document that is not Intel's v2, refused rather than read as SGX.
 */
function idV2(obj: JsonObject, path: string): 'SGX' {
  const id = member(obj, 'id')
  if (id === 'TDX') {
    throw fieldError(DOC, `${path}.version`, 'is 2, but the id is TDX: TDX TCB info is version 3')
  }
  if (id !== undefined && id !== 'SGX') {
    throw fieldError(DOC, `${path}.id`, 'must be absent (or SGX): TCB Info v2 is SGX only')
  }
  for (const key of ['tdxModule', 'tdxModuleIdentities']) {
    if (member(obj, key) !== undefined) {
      throw fieldError(DOC, `${path}.${key}`, 'is TDX; TCB Info v2 is SGX only')
    }
  }
  return 'SGX'
}

function tdxModule(obj: JsonObject, path: string): TdxModule {
  return {
    mrSigner: hexField(DOC, obj, 'mrsigner', path, 48),
    attributes: hexField(DOC, obj, 'attributes', path, 8),
    attributesMask: hexField(DOC, obj, 'attributesMask', path, 8),
  }
}

function moduleIdentity(value: unknown, path: string): TdxModuleIdentity {
  const obj = asObject(DOC, value, path)
  const id = stringField(DOC, obj, 'id', path)
  if (!/^TDX_[0-9A-F]{2}$/i.test(id)) {
    throw fieldError(DOC, `${path}.id`, 'must be TDX_ followed by two hex digits')
  }
  return {
    id: id.toUpperCase(),
    ...tdxModule(obj, path),
    tcbLevels: isvSvnTcbLevels(DOC, obj, path, MODULE_STATUSES, 255),
  }
}

function compareVectors(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/**
 * Intel's order of TCB levels, highest first (a comparator for `sort`): by the SGX components
 * compared lexicographically, then by PCESVN, then (TDX, equal PCESVN) by the TDX components
 * lexicographically. Intel's QVL keeps levels in a set ordered this way (`TcbLevel::operator>`) and
 * takes the first level the platform meets, so the JSON order does not matter.
 *
 * @example
 * ```ts
 * levels.toSorted(compareTcbLevels)[0] // the highest level
 * ```
 */
export function compareTcbLevels(a: TcbLevel, b: TcbLevel): number {
  const sgx = compareVectors(b.sgxTcbComponents, a.sgxTcbComponents)
  if (sgx !== 0) return sgx
  if (a.pceSvn !== b.pceSvn) return b.pceSvn - a.pceSvn
  return compareVectors(b.tdxTcbComponents ?? [], a.tdxTcbComponents ?? [])
}

/**
 * Parse TCB Info v3, or SGX TCB Info v2, from the exact JSON text that Intel signed (check the signature over the same
 * text first: see `verifyCollateral`).
 *
 * @example
 * ```ts
 * const info = parseTcbInfo(collateral.tcbInfo)
 * info.id // 'TDX'
 * info.tcbLevels[0].tcbStatus // 'UpToDate'
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_TCB_INFO_INVALID` naming the field
 *   (`details.field`, e.g. `tcbInfo.tcbLevels[1].tcb.pcesvn`): not JSON, a missing or mistyped
 *   field, a version other than 3 or 2, an unknown `tcbStatus`, a `tcbType` other than 0, no
 *   levels, TDX parts in a v2 document.
 */
export function parseTcbInfo(text: string): TcbInfo {
  const path = 'tcbInfo'
  const obj = asObject(DOC, parseJson(DOC, text, path), path)
  const version = integerField(DOC, obj, 'version', path, 0, Number.MAX_SAFE_INTEGER)
  if (version !== 3 && version !== 2) {
    throw fieldError(
      DOC,
      `${path}.version`,
      `is ${version}; only TCB Info v3 (SGX, TDX) and v2 (SGX) are supported`,
    )
  }
  const id =
    version === 2 ? idV2(obj, path) : enumField(DOC, obj, 'id', path, ['SGX', 'TDX'] as const)
  const tcbType = integerField(DOC, obj, 'tcbType', path, 0, Number.MAX_SAFE_INTEGER)
  if (tcbType !== 0) {
    throw fieldError(DOC, `${path}.tcbType`, `is ${tcbType}; only TCB type 0 is defined`)
  }
  const tdx = id === 'TDX'
  const identities =
    tdx && member(obj, 'tdxModuleIdentities') !== undefined
      ? arrayField(DOC, obj, 'tdxModuleIdentities', path).map((v, i) =>
          moduleIdentity(v, `${path}.tdxModuleIdentities[${i}]`),
        )
      : []
  const ids = new Set(identities.map((m) => m.id))
  if (ids.size !== identities.length) {
    throw fieldError(DOC, `${path}.tdxModuleIdentities`, 'lists the same module id twice')
  }
  const levels = nonEmptyArrayField(DOC, obj, 'tcbLevels', path).map((v, i) =>
    version === 2
      ? tcbLevelV2(v, `${path}.tcbLevels[${i}]`)
      : tcbLevel(v, `${path}.tcbLevels[${i}]`, tdx),
  )
  return {
    id,
    version,
    ...collateralValidity(DOC, obj, path),
    fmspc: hexText(obj, 'fmspc', path, 6),
    pceId: hexText(obj, 'pceId', path, 2),
    tcbType,
    tdxModule: tdx
      ? tdxModule(objectField(DOC, obj, 'tdxModule', path), `${path}.tdxModule`)
      : undefined,
    tdxModuleIdentities: identities,
    // A stable sort: levels Intel's set would treat as equal keep their JSON order, and the first
    // of them is the one Intel's set keeps.
    tcbLevels: levels.toSorted(compareTcbLevels),
  }
}

function hexText(obj: JsonObject, key: string, path: string, length: number): string {
  hexField(DOC, obj, key, path, length)
  return stringField(DOC, obj, key, path).toLowerCase()
}
