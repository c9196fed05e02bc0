import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex, hexToBytes } from '@initguard/core'
import { parseQeIdentity, parseTcbInfo } from '@initguard/tdx'
import {
  defaultQeIdentityFields,
  defaultTcbInfoFields,
  encodeQeIdentityJson,
  encodeTcbInfoJson,
} from './dcap-collateral-json.ts'
import type {
  IsvSvnLevelFields,
  QeIdentityFields,
  TcbComponentFields,
  TcbInfoFields,
  TdxModuleFields,
} from './dcap-collateral-json.ts'
import { defaultQeReportFields } from './dcap-report-encoder.ts'
import { DEFAULT_PCK_TCB } from './intel-cert-profile.ts'
import { ISSUE_DATE, NEXT_UPDATE, thrown } from './intel-test-support.ts'

const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const COLLATERALS = ['tdx/v4-b', 'tdx/spr-v4', 'sgx/v3-a']

interface RealLevel {
  readonly tcb: { readonly isvsvn: number }
  readonly tcbDate: string
  readonly tcbStatus: string
  readonly advisoryIDs?: string[]
}
interface RealModule {
  readonly mrsigner: string
  readonly attributes: string
  readonly attributesMask: string
}
interface RealTcbInfo {
  readonly id: 'TDX' | 'SGX'
  readonly version: number
  readonly issueDate: string
  readonly nextUpdate: string
  readonly fmspc: string
  readonly pceId: string
  readonly tcbType: number
  readonly tcbEvaluationDataNumber: number
  readonly tdxModule?: RealModule
  readonly tdxModuleIdentities?: (RealModule & { id: string; tcbLevels: RealLevel[] })[]
  readonly tcbLevels: {
    readonly tcb: {
      readonly sgxtcbcomponents: TcbComponentFields[]
      readonly pcesvn: number
      readonly tdxtcbcomponents?: TcbComponentFields[]
    }
    readonly tcbDate: string
    readonly tcbStatus: string
    readonly advisoryIDs?: string[]
  }[]
}
interface RealQeIdentity {
  readonly id: 'TD_QE' | 'QE'
  readonly version: number
  readonly issueDate: string
  readonly nextUpdate: string
  readonly tcbEvaluationDataNumber: number
  readonly miscselect: string
  readonly miscselectMask: string
  readonly attributes: string
  readonly attributesMask: string
  readonly mrsigner: string
  readonly isvprodid: number
  readonly tcbLevels: RealLevel[]
}

function collateral(folder: string): { tcb_info: string; qe_identity: string } {
  return JSON.parse(readFileSync(new URL(`${folder}/collateral.json`, VECTORS), 'utf8')) as {
    tcb_info: string
    qe_identity: string
  }
}

const levelOf = (l: RealLevel): IsvSvnLevelFields => ({
  isvSvn: l.tcb.isvsvn,
  tcbDate: new Date(l.tcbDate),
  tcbStatus: l.tcbStatus,
  ...(l.advisoryIDs === undefined ? {} : { advisoryIds: l.advisoryIDs }),
})
const moduleOf = (m: RealModule): TdxModuleFields => ({
  mrSigner: hexToBytes(m.mrsigner),
  attributes: hexToBytes(m.attributes),
  attributesMask: hexToBytes(m.attributesMask),
})

/** The fields of a real TCB info, read with JSON.parse (independently of the encoder). */
function tcbInfoFieldsOf(text: string): TcbInfoFields {
  const o = JSON.parse(text) as RealTcbInfo
  return {
    ...o,
    issueDate: new Date(o.issueDate),
    nextUpdate: new Date(o.nextUpdate),
    // Upper case is the default; Intel's 2023 TDX TCB info wrote the FMSPC in lower case.
    fmspc: o.fmspc === o.fmspc.toUpperCase() ? hexToBytes(o.fmspc) : o.fmspc,
    pceId: hexToBytes(o.pceId),
    tdxModule: o.tdxModule === undefined ? undefined : moduleOf(o.tdxModule),
    tdxModuleIdentities: o.tdxModuleIdentities?.map((m) => ({
      id: m.id,
      ...moduleOf(m),
      tcbLevels: m.tcbLevels.map(levelOf),
    })),
    tcbLevels: o.tcbLevels.map((l) => ({
      sgxTcbComponents: l.tcb.sgxtcbcomponents,
      pceSvn: l.tcb.pcesvn,
      ...(l.tcb.tdxtcbcomponents === undefined ? {} : { tdxTcbComponents: l.tcb.tdxtcbcomponents }),
      tcbDate: new Date(l.tcbDate),
      tcbStatus: l.tcbStatus,
      ...(l.advisoryIDs === undefined ? {} : { advisoryIds: l.advisoryIDs }),
    })),
  }
}

function qeIdentityFieldsOf(text: string): QeIdentityFields {
  const o = JSON.parse(text) as RealQeIdentity
  return {
    id: o.id,
    version: o.version,
    issueDate: new Date(o.issueDate),
    nextUpdate: new Date(o.nextUpdate),
    tcbEvaluationDataNumber: o.tcbEvaluationDataNumber,
    miscSelect: hexToBytes(o.miscselect),
    miscSelectMask: hexToBytes(o.miscselectMask),
    attributes: hexToBytes(o.attributes),
    attributesMask: hexToBytes(o.attributesMask),
    mrSigner: hexToBytes(o.mrsigner),
    isvProdId: o.isvprodid,
    tcbLevels: o.tcbLevels.map(levelOf),
  }
}

describe('encodeTcbInfoJson and encodeQeIdentityJson against Intel', () => {
  for (const folder of COLLATERALS) {
    it(`reproduce the signed texts of ${folder} byte for byte`, () => {
      const real = collateral(folder)
      expect(encodeTcbInfoJson(tcbInfoFieldsOf(real.tcb_info))).toBe(real.tcb_info)
      expect(encodeQeIdentityJson(qeIdentityFieldsOf(real.qe_identity))).toBe(real.qe_identity)
    })
  }
})

describe('defaults', () => {
  it('a TDX TCB info that @initguard/tdx parses, for the default PCK', () => {
    const text = encodeTcbInfoJson(defaultTcbInfoFields('tdx', ISSUE_DATE, NEXT_UPDATE))
    const info = parseTcbInfo(text)
    expect(info.id).toBe('TDX')
    expect(info.fmspc).toBe(bytesToHex(DEFAULT_PCK_TCB.fmspc))
    expect(info.issueDate).toEqual(ISSUE_DATE)
    expect(info.nextUpdate).toEqual(NEXT_UPDATE)
    expect(info.tcbLevels.map((l) => l.tcbStatus)).toEqual(['UpToDate', 'OutOfDate'])
    expect(info.tcbLevels[0]?.advisoryIds).toEqual([])
    expect(info.tdxModuleIdentities.map((m) => m.id)).toEqual(['TDX_03', 'TDX_01'])
    expect(text).toContain('"issueDate":"2026-05-01T00:00:00Z"')
    expect(text).toContain('{"svn":2,"category":"BIOS","type":"Early Microcode Update"}')
    expect(text).not.toContain('"advisoryIDs":[]')
  })

  it('an SGX TCB info without TDX parts', () => {
    const text = encodeTcbInfoJson(defaultTcbInfoFields('sgx', ISSUE_DATE, NEXT_UPDATE))
    const info = parseTcbInfo(text)
    expect(info.id).toBe('SGX')
    expect(info.tdxModule).toBeUndefined()
    expect(text).not.toContain('tdx')
    expect(text).not.toContain('category')
  })

  it('QE identities matching the default QE reports', () => {
    for (const tee of ['tdx', 'sgx'] as const) {
      const qe = parseQeIdentity(
        encodeQeIdentityJson(defaultQeIdentityFields(tee, ISSUE_DATE, NEXT_UPDATE)),
      )
      const report = defaultQeReportFields(tee)
      expect(qe.id).toBe(tee === 'tdx' ? 'TD_QE' : 'QE')
      expect(qe.mrSigner).toEqual(report.mrSigner)
      expect(qe.isvProdId).toBe(report.isvProdId)
      expect(qe.tcbLevels[0]?.isvSvn).toBe(report.isvSvn)
      expect(report.attributes.map((b, i) => b & (qe.attributesMask[i] ?? 0))).toEqual(
        qe.attributes,
      )
    }
  })

  it('refuses dates with milliseconds, naming the field', () => {
    const fields = defaultTcbInfoFields('tdx', new Date('2026-05-01T00:00:00.500Z'), NEXT_UPDATE)
    const e = thrown(() => encodeTcbInfoJson(fields))
    expect(e.code).toBe('ERR_DCAP_BUILD_FIELD_INVALID')
    expect(e.details['field']).toBe('tcbInfo.issueDate')
    const qe = defaultQeIdentityFields('sgx', ISSUE_DATE, NEXT_UPDATE)
    const level = { isvSvn: 1, tcbDate: new Date(Number.NaN), tcbStatus: 'OutOfDate' }
    expect(thrown(() => encodeQeIdentityJson({ ...qe, tcbLevels: [level] })).details['field']).toBe(
      'qeIdentity.tcbLevels[0].tcbDate',
    )
  })
})
