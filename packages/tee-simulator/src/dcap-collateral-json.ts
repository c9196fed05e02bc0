/**
 * Intel's collateral JSON documents, written like Intel's PCS writes them: TCB Info v3 and
 * Enclave Identity v2 (QE identity) as compact JSON, Intel's key order, upper-case hex, dates as
 * `YYYY-MM-DDTHH:MM:SSZ`, `advisoryIDs` only when a level has advisories, component `category`
 * and `type` labels where Intel writes them. The defaults rate the test kit's default PCK
 * certificate and quotes UpToDate.
 *
 * Also the older SGX TCB Info v2 (what Intel PCS API v3 served, and older PCCS still serve): no
 * `id`, no TDX parts, each level's SGX components as members `sgxtcbcomp01svn` … `sgxtcbcomp16svn`.
 *
 * @see Intel PCS API v4 "TCB Info V3", "Enclave Identity V2"; Intel PCS API v3 "TCB Info V2";
 *   verifiers.md §3.4.
 * @module
 */
import { bytesToHex } from '@initguard/core'
import type { QeIdentity } from '@initguard/tdx'
import { dcapBuildError, defaultQeReportFields } from './dcap-report-encoder.ts'
import { DEFAULT_PCK_TCB } from './intel-cert-profile.ts'

/** One TCB component: an SVN, optionally with Intel's `category` and `type` labels. */
export interface TcbComponentFields {
  readonly svn: number
  readonly category?: string
  readonly type?: string
}

/** One platform TCB level. */
export interface TcbLevelFields {
  /** `sgxtcbcomponents`: 16 SVNs (numbers or labelled components). */
  readonly sgxTcbComponents: readonly (number | TcbComponentFields)[]
  /** `pcesvn`. */
  readonly pceSvn: number
  /** `tdxtcbcomponents` (TDX TCB info only): 16 SVNs. */
  readonly tdxTcbComponents?: readonly (number | TcbComponentFields)[]
  readonly tcbDate: Date
  /** `tcbStatus`: UpToDate, SWHardeningNeeded, ConfigurationNeeded, OutOfDate, Revoked, … */
  readonly tcbStatus: string
  /** `advisoryIDs`; not written when absent or empty. */
  readonly advisoryIds?: readonly string[]
}

/** One level of a TDX module identity or of a QE identity, matched on ISVSVN. */
export interface IsvSvnLevelFields {
  readonly isvSvn: number
  readonly tcbDate: Date
  readonly tcbStatus: string
  readonly advisoryIds?: readonly string[]
}

/** `tdxModule`: the expected module signer and attributes. */
export interface TdxModuleFields {
  /** 48 bytes. */
  readonly mrSigner: Uint8Array
  /** 8 bytes. */
  readonly attributes: Uint8Array
  /** 8 bytes. */
  readonly attributesMask: Uint8Array
}

/** One of `tdxModuleIdentities`. */
export interface TdxModuleIdentityFields extends TdxModuleFields {
  /** `TDX_<major version, 2 hex digits>`. */
  readonly id: string
  readonly tcbLevels: readonly IsvSvnLevelFields[]
}

/** Every field of a TCB Info v3. */
export interface TcbInfoFields {
  readonly id: 'TDX' | 'SGX'
  /** Default 3 (other values for negative tests). */
  readonly version: number
  readonly issueDate: Date
  readonly nextUpdate: Date
  /**
   * 6 bytes, written as upper-case hex (Intel's current TCB infos); or the hex text itself, written
   * as given (Intel's 2023 TDX TCB infos had it in lower case).
   */
  readonly fmspc: Uint8Array | string
  /** 2 bytes (upper-case hex), or the hex text itself. */
  readonly pceId: Uint8Array | string
  readonly tcbType: number
  readonly tcbEvaluationDataNumber: number
  /** TDX only; not written when `undefined`. */
  readonly tdxModule: TdxModuleFields | undefined
  /** TDX only; not written when `undefined`. */
  readonly tdxModuleIdentities: readonly TdxModuleIdentityFields[] | undefined
  readonly tcbLevels: readonly TcbLevelFields[]
}

/**
 * Every field of an SGX TCB Info v2: those of a v3 without `id` and the TDX parts. `version`
 * defaults to 2 (other values for negative tests); levels' `tdxTcbComponents` are not written.
 */
export type TcbInfoV2Fields = Omit<TcbInfoFields, 'id' | 'tdxModule' | 'tdxModuleIdentities'>

/**
 * Every field of an Enclave Identity v2 (QE identity): those the verifier reads ({@link QeIdentity}),
 * with any `version` and any level status (for negative tests).
 */
export interface QeIdentityFields extends Omit<QeIdentity, 'version' | 'tcbLevels'> {
  /** Default 2. */
  readonly version: number
  readonly tcbLevels: readonly IsvSvnLevelFields[]
}

const TCB_DATE = new Date('2024-03-13T00:00:00Z')

/** Intel's labels of the SGX TCB components on TDX platforms (real TDX TCB info). */
const SGX_LABELS: readonly (Omit<TcbComponentFields, 'svn'> | undefined)[] = [
  { category: 'BIOS', type: 'Early Microcode Update' },
  { category: 'OS/VMM', type: 'SGX Late Microcode Update' },
  { category: 'OS/VMM', type: 'TXT SINIT' },
  { category: 'BIOS' },
  { category: 'BIOS' },
  { category: 'BIOS' },
  undefined,
  { category: 'OS/VMM', type: 'SEAMLDR ACM' },
]
const TDX_LABELS: readonly (Omit<TcbComponentFields, 'svn'> | undefined)[] = [
  { category: 'OS/VMM', type: 'TDX Module' },
  { category: 'OS/VMM', type: 'TDX Module' },
  { category: 'OS/VMM', type: 'TDX Late Microcode Update' },
]

function labelled(
  svns: readonly number[],
  labels: readonly (Omit<TcbComponentFields, 'svn'> | undefined)[],
): TcbComponentFields[] {
  return svns.map((svn, i) => ({ svn, ...labels[i] }))
}

const hex = (bytes: Uint8Array): string => bytesToHex(bytes).toUpperCase()

/**
 * The default TCB info for a TEE: FMSPC and PCE-ID of {@link DEFAULT_PCK_TCB}, evaluation data
 * number 17, two levels like Intel's (UpToDate at SGX components 2,2,2,2,3,1,0,5 PCESVN 11, and an
 * OutOfDate level at PCESVN 5 with advisories), and for TDX the module signer/attributes of
 * Intel's modules (zero, mask all ones), TDX components 5,0,2 and module identities TDX_03 and
 * TDX_01 (UpToDate from ISVSVN 4, OutOfDate from 2): the default quotes are UpToDate.
 */
export function defaultTcbInfoFields(
  tee: 'tdx' | 'sgx',
  issueDate: Date,
  nextUpdate: Date,
): TcbInfoFields {
  const tdx = tee === 'tdx'
  const sgx = labelled([2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], tdx ? SGX_LABELS : [])
  const tdxComponents = labelled([5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], TDX_LABELS)
  const intelModule: TdxModuleFields = {
    mrSigner: new Uint8Array(48),
    attributes: new Uint8Array(8),
    attributesMask: new Uint8Array(8).fill(0xff),
  }
  const level = (
    pceSvn: number,
    tcbDate: Date,
    tcbStatus: string,
    advisoryIds: string[],
  ): TcbLevelFields => ({
    sgxTcbComponents: sgx,
    pceSvn,
    ...(tdx ? { tdxTcbComponents: tdxComponents } : {}),
    tcbDate,
    tcbStatus,
    advisoryIds,
  })
  return {
    id: tdx ? 'TDX' : 'SGX',
    version: 3,
    issueDate,
    nextUpdate,
    fmspc: DEFAULT_PCK_TCB.fmspc,
    pceId: DEFAULT_PCK_TCB.pceId,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: tdx ? intelModule : undefined,
    tdxModuleIdentities: tdx
      ? [
          {
            id: 'TDX_03',
            ...intelModule,
            tcbLevels: [{ isvSvn: 3, tcbDate: TCB_DATE, tcbStatus: 'UpToDate' }],
          },
          {
            id: 'TDX_01',
            ...intelModule,
            tcbLevels: [
              { isvSvn: 4, tcbDate: TCB_DATE, tcbStatus: 'UpToDate' },
              { isvSvn: 2, tcbDate: new Date('2023-08-09T00:00:00Z'), tcbStatus: 'OutOfDate' },
            ],
          },
        ]
      : undefined,
    tcbLevels: [
      level(11, TCB_DATE, 'UpToDate', []),
      level(5, new Date('2018-01-04T00:00:00Z'), 'OutOfDate', ['INTEL-SA-00106', 'INTEL-SA-00115']),
    ],
  }
}

/**
 * The default SGX TCB Info v2: the fields of the SGX {@link defaultTcbInfoFields} (the same levels,
 * so the default SGX quotes are UpToDate), version 2.
 */
export function defaultTcbInfoV2Fields(issueDate: Date, nextUpdate: Date): TcbInfoV2Fields {
  const {
    id: _id,
    tdxModule: _module,
    tdxModuleIdentities: _identities,
    ...fields
  } = defaultTcbInfoFields('sgx', issueDate, nextUpdate)
  return { ...fields, version: 2 }
}

/**
 * The default QE identity for a TEE: Intel's TD_QE or QE (MRSIGNER, ISVPRODID of
 * `defaultQeReportFields`), MISCSELECT 0 mask FFFFFFFF, ATTRIBUTES `11…` mask `FBFF…FF 00…`, one
 * UpToDate level at the default QE's ISVSVN.
 */
export function defaultQeIdentityFields(
  tee: 'tdx' | 'sgx',
  issueDate: Date,
  nextUpdate: Date,
): QeIdentityFields {
  const qe = defaultQeReportFields(tee)
  const attributes = new Uint8Array(16)
  attributes[0] = 0x11
  const attributesMask = new Uint8Array(16)
  attributesMask.fill(0xff, 0, 8)
  attributesMask[0] = 0xfb
  return {
    id: tee === 'tdx' ? 'TD_QE' : 'QE',
    version: 2,
    issueDate,
    nextUpdate,
    tcbEvaluationDataNumber: 17,
    miscSelect: new Uint8Array(4),
    miscSelectMask: new Uint8Array(4).fill(0xff),
    attributes,
    attributesMask,
    mrSigner: qe.mrSigner,
    isvProdId: qe.isvProdId,
    tcbLevels: [{ isvSvn: qe.isvSvn, tcbDate: TCB_DATE, tcbStatus: 'UpToDate' }],
  }
}

function date(value: Date, field: string): string {
  if (Number.isNaN(value.getTime()) || value.getUTCMilliseconds() !== 0) {
    throw dcapBuildError(
      'ERR_DCAP_BUILD_FIELD_INVALID',
      `${field} must be a valid Date in whole seconds (Intel writes no fraction)`,
      field,
    )
  }
  return value.toISOString().replace('.000Z', 'Z')
}

function component(c: number | TcbComponentFields): TcbComponentFields {
  return typeof c === 'number' ? { svn: c } : c
}

/** What a level of any collateral document writes after its `tcb`: date, status, advisories. */
function levelOutcome(
  level: TcbLevelFields | IsvSvnLevelFields,
  field: string,
): Record<string, unknown> {
  return {
    tcbDate: date(level.tcbDate, `${field}.tcbDate`),
    tcbStatus: level.tcbStatus,
    // Intel writes `advisoryIDs` only when a level has advisories.
    ...(level.advisoryIds !== undefined && level.advisoryIds.length > 0
      ? { advisoryIDs: level.advisoryIds }
      : {}),
  }
}

function isvSvnLevel(level: IsvSvnLevelFields, field: string): Record<string, unknown> {
  return { tcb: { isvsvn: level.isvSvn }, ...levelOutcome(level, field) }
}

/** The members TCB Info v2 and v3 share, in Intel's key order (v3 writes `id` before them). */
function tcbInfoHeader(fields: TcbInfoV2Fields): Record<string, unknown> {
  return {
    version: fields.version,
    issueDate: date(fields.issueDate, 'tcbInfo.issueDate'),
    nextUpdate: date(fields.nextUpdate, 'tcbInfo.nextUpdate'),
    fmspc: typeof fields.fmspc === 'string' ? fields.fmspc : hex(fields.fmspc),
    pceId: typeof fields.pceId === 'string' ? fields.pceId : hex(fields.pceId),
    tcbType: fields.tcbType,
    tcbEvaluationDataNumber: fields.tcbEvaluationDataNumber,
  }
}

function moduleJson(m: TdxModuleFields): Record<string, string> {
  return {
    mrsigner: hex(m.mrSigner),
    attributes: hex(m.attributes),
    attributesMask: hex(m.attributesMask),
  }
}

/** The compact JSON text of a TCB Info v3, in Intel's key order. */
export function encodeTcbInfoJson(fields: TcbInfoFields): string {
  return JSON.stringify({
    id: fields.id,
    ...tcbInfoHeader(fields),
    ...(fields.tdxModule === undefined ? {} : { tdxModule: moduleJson(fields.tdxModule) }),
    ...(fields.tdxModuleIdentities === undefined
      ? {}
      : {
          tdxModuleIdentities: fields.tdxModuleIdentities.map((m, i) => ({
            id: m.id,
            ...moduleJson(m),
            tcbLevels: m.tcbLevels.map((l, j) =>
              isvSvnLevel(l, `tcbInfo.tdxModuleIdentities[${i}].tcbLevels[${j}]`),
            ),
          })),
        }),
    tcbLevels: fields.tcbLevels.map((level, i) => ({
      tcb: {
        sgxtcbcomponents: level.sgxTcbComponents.map(component),
        pcesvn: level.pceSvn,
        ...(level.tdxTcbComponents === undefined
          ? {}
          : { tdxtcbcomponents: level.tdxTcbComponents.map(component) }),
      },
      ...levelOutcome(level, `tcbInfo.tcbLevels[${i}]`),
    })),
  })
}

/**
 * The compact JSON text of an SGX TCB Info v2, in Intel's key order: no `id`, the SGX components of
 * each level as `sgxtcbcomp01svn` … (one member per component given, labels dropped), then `pcesvn`.
 */
export function encodeTcbInfoV2Json(fields: TcbInfoV2Fields): string {
  return JSON.stringify({
    ...tcbInfoHeader(fields),
    tcbLevels: fields.tcbLevels.map((level, i) => ({
      tcb: {
        ...Object.fromEntries(
          level.sgxTcbComponents.map((c, j) => [
            `sgxtcbcomp${String(j + 1).padStart(2, '0')}svn`,
            component(c).svn,
          ]),
        ),
        pcesvn: level.pceSvn,
      },
      ...levelOutcome(level, `tcbInfo.tcbLevels[${i}]`),
    })),
  })
}

/** The compact JSON text of an Enclave Identity v2, in Intel's key order. */
export function encodeQeIdentityJson(fields: QeIdentityFields): string {
  return JSON.stringify({
    id: fields.id,
    version: fields.version,
    issueDate: date(fields.issueDate, 'qeIdentity.issueDate'),
    nextUpdate: date(fields.nextUpdate, 'qeIdentity.nextUpdate'),
    tcbEvaluationDataNumber: fields.tcbEvaluationDataNumber,
    miscselect: hex(fields.miscSelect),
    miscselectMask: hex(fields.miscSelectMask),
    attributes: hex(fields.attributes),
    attributesMask: hex(fields.attributesMask),
    mrsigner: hex(fields.mrSigner),
    isvprodid: fields.isvProdId,
    tcbLevels: fields.tcbLevels.map((l, i) => isvSvnLevel(l, `qeIdentity.tcbLevels[${i}]`)),
  })
}
