/**
 * Intel's TCB status algorithm: the real quotes against their verified collateral (vectors
 * README), every identity check, and the TDX module rules on synthetic TCB infos. The
 * convergence table is in tcb-converge.test.ts.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseCollateralJson } from './collateral.ts'
import {
  VECTOR_ROOT,
  caught,
  flipBit,
  quoteTcbInput,
  tdQeIdentityJson,
  tdxLevelJson,
  tdxTcbInfoJson,
} from './collateral-test-support.ts'
import { verifyCollateral, type VerifiedCollateral } from './collateral-verify.ts'
import { parseQeIdentity } from './qe-identity.ts'
import { parseTcbInfo } from './tcb-info.ts'
import { evaluateQeIdentity, evaluateTdxModule } from './tcb-identity.ts'
import {
  evaluateTcbStatus,
  matchSgxTcbLevel,
  matchTdxTcbLevel,
  type TcbStatusInput,
} from './tcb-status.ts'

const read = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTOR_ROOT)))
const verified = (folder: string, at: string): VerifiedCollateral =>
  verifyCollateral(parseCollateralJson(read(`${folder}/collateral.json`)), { now: new Date(at) })

const SPR = verified('tdx/spr-v4', '2023-07-01T01:00:00Z')
const V4B = verified('tdx/v4-b', '2025-07-01T00:00:00Z')
const V3A = verified('sgx/v3-a', '2025-07-01T00:00:00Z')
const SPR_QUOTE = quoteTcbInput(read('tdx/spr-v4/quote.dat'))
const V4B_QUOTE = quoteTcbInput(read('tdx/v4-b/quote.dat'))
const V3A_QUOTE = quoteTcbInput(read('sgx/v3-a/quote.dat'))
const V4B_TD = ((): NonNullable<TcbStatusInput['td']> => {
  if (V4B_QUOTE.td === undefined) throw new Error('v4-b is a TDX quote')
  return V4B_QUOTE.td
})()

/** A copy of `input` with a TD field replaced. */
function withTd(
  input: TcbStatusInput,
  td: Partial<NonNullable<TcbStatusInput['td']>>,
): TcbStatusInput {
  if (input.td === undefined) throw new Error('not a TDX input')
  return { ...input, td: { ...input.td, ...td } }
}

describe('the real quotes against their collateral (vectors README)', () => {
  it('the inputs read from the quotes are what the vectors README and the PCK certificates say', () => {
    expect(SPR_QUOTE.pck).toMatchObject({
      cpuSvnComponents: [3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
      pceSvn: 11,
    })
    expect(Buffer.from(SPR_QUOTE.pck.fmspc as Uint8Array).toString('hex')).toBe('50806f000000')
    expect(Buffer.from(V4B_QUOTE.pck.fmspc as Uint8Array).toString('hex')).toBe('b0c06f000000')
    expect(Buffer.from(V3A_QUOTE.pck.fmspc as Uint8Array).toString('hex')).toBe('00a067110000')
    expect(V3A_QUOTE.td).toBeUndefined()
    expect(V4B_QUOTE.td?.teeTcbSvn.slice(0, 3)).toEqual(Uint8Array.of(6, 1, 3))
  })

  it('spr-v4 at 2023-07-01T01:00Z: QE identity UpToDate, no TCB level matches → TcbNotSupported', () => {
    const r = evaluateTcbStatus(SPR, SPR_QUOTE)
    expect(r.qe.status).toBe('UpToDate')
    expect(r.qe.level?.isvSvn).toBe(4)
    // The PCK's first SGX component is 3; both levels need 5.
    expect(r.platform).toMatchObject({
      sgxLevel: undefined,
      tdxLevel: undefined,
      status: 'TcbNotSupported',
    })
    expect(r.status).toBe('TcbNotSupported')
    expect(r.tcbDate).toBeUndefined()
    expect(r.advisoryIds).toEqual([])
    // TEE_TCB_SVN[1] = 0: the module is checked against tdxModule, with no levels of its own.
    expect(r.tdxModule).toEqual({ identityId: undefined, level: undefined, status: 'UpToDate' })
  })

  it('v4-b in its window: UpToDate, no advisories (module TDX_01 at ISVSVN 6 ≥ 4)', () => {
    const r = evaluateTcbStatus(V4B, V4B_QUOTE)
    expect(r.status).toBe('UpToDate')
    expect(r.advisoryIds).toEqual([])
    expect(r.platform.tdxLevel?.tcbStatus).toBe('UpToDate')
    expect(r.platform.sgxLevel).toBe(r.platform.tdxLevel)
    expect(r.tdxModule?.identityId).toBe('TDX_01')
    expect(r.tdxModule?.level?.isvSvn).toBe(4)
    expect(r.qe.status).toBe('UpToDate')
    expect(r.tcbDate?.toISOString()).toBe('2024-03-13T00:00:00.000Z')
    expect(r.tcbEvaluationDataNumber).toBe(17)
  })

  it('sgx v3-a in its window: ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615', () => {
    const r = evaluateTcbStatus(V3A, V3A_QUOTE)
    expect(r.status).toBe('ConfigurationAndSWHardeningNeeded')
    expect(r.advisoryIds).toEqual(['INTEL-SA-00289', 'INTEL-SA-00615'])
    expect(r.qe).toMatchObject({ status: 'UpToDate', level: { isvSvn: 8 } })
    expect(r.tdxModule).toBeUndefined()
    expect(r.tcbDate?.toISOString()).toBe('2024-03-13T00:00:00.000Z')
  })

  it('sgx v3-a: the QE at ISVSVN 6 is OutOfDate, which lowers the result and adds its advisories', () => {
    const r = evaluateTcbStatus(V3A, { ...V3A_QUOTE, qe: { ...V3A_QUOTE.qe, isvSvn: 6 } })
    expect(r.qe.status).toBe('OutOfDate')
    expect(r.status).toBe('OutOfDateConfigurationNeeded')
    expect(r.advisoryIds).toEqual(['INTEL-SA-00289', 'INTEL-SA-00615'])
    const older = evaluateTcbStatus(V3A, { ...V3A_QUOTE, qe: { ...V3A_QUOTE.qe, isvSvn: 4 } })
    expect(older.advisoryIds).toEqual([
      'INTEL-SA-00289',
      'INTEL-SA-00615',
      'INTEL-SA-00334',
      'INTEL-SA-00477',
    ])
    const none = evaluateTcbStatus(V3A, { ...V3A_QUOTE, qe: { ...V3A_QUOTE.qe, isvSvn: 0 } })
    expect(none.status).toBe('TcbNotSupported')
  })

  it('sgx v3-a: a higher component 7 reaches the SWHardeningNeeded level; a lower PCESVN an older one', () => {
    const cpuSvnComponents = [...(V3A_QUOTE.pck.cpuSvnComponents as number[])]
    cpuSvnComponents[6] = 12
    expect(
      evaluateTcbStatus(V3A, { ...V3A_QUOTE, pck: { ...V3A_QUOTE.pck, cpuSvnComponents } }).status,
    ).toBe('SWHardeningNeeded')
    const old = {
      ...V3A_QUOTE.pck,
      cpuSvnComponents: [5, 5, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      pceSvn: 10,
    }
    const r = evaluateTcbStatus(V3A, { ...V3A_QUOTE, pck: old })
    expect(r.status).toBe('OutOfDateConfigurationNeeded')
    expect(r.tcbDate?.toISOString()).toBe('2020-11-11T00:00:00.000Z')
  })
})

describe('identity checks are verification errors', () => {
  it.each([
    [
      'a wrong FMSPC',
      () =>
        evaluateTcbStatus(V4B, { ...V4B_QUOTE, pck: { ...V4B_QUOTE.pck, fmspc: '50806f000000' } }),
      'ERR_TDX_TCB_INFO_MISMATCH',
    ],
    [
      'a wrong PCE-ID',
      () => evaluateTcbStatus(V4B, { ...V4B_QUOTE, pck: { ...V4B_QUOTE.pck, pceId: '0001' } }),
      'ERR_TDX_TCB_INFO_MISMATCH',
    ],
    [
      'a TDX quote with SGX TCB info',
      () => evaluateTcbStatus({ tcbInfo: V3A.tcbInfo, qeIdentity: V4B.qeIdentity }, V4B_QUOTE),
      'ERR_TDX_TCB_INFO_MISMATCH',
    ],
    [
      'an SGX quote with TDX TCB info',
      () => evaluateTcbStatus(V4B, V3A_QUOTE),
      'ERR_TDX_TCB_INFO_MISMATCH',
    ],
    [
      'a TDX quote with the SGX QE identity',
      () => evaluateTcbStatus({ tcbInfo: V4B.tcbInfo, qeIdentity: V3A.qeIdentity }, V4B_QUOTE),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
    ],
    [
      'another QE MRSIGNER',
      () =>
        evaluateTcbStatus(V4B, {
          ...V4B_QUOTE,
          qe: { ...V4B_QUOTE.qe, mrSigner: flipBit(V4B_QUOTE.qe.mrSigner, 31) },
        }),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
    ],
    [
      'another ISVPRODID',
      () => evaluateTcbStatus(V4B, { ...V4B_QUOTE, qe: { ...V4B_QUOTE.qe, isvProdId: 1 } }),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
    ],
    [
      'a QE ATTRIBUTES bit inside the mask (DEBUG)',
      () =>
        evaluateTcbStatus(V4B, {
          ...V4B_QUOTE,
          qe: { ...V4B_QUOTE.qe, attributes: flipBit(V4B_QUOTE.qe.attributes, 0, 1) },
        }),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
    ],
    [
      'a MISCSELECT bit inside the mask',
      () => evaluateTcbStatus(V4B, { ...V4B_QUOTE, qe: { ...V4B_QUOTE.qe, miscSelect: 0x100 } }),
      'ERR_TDX_QE_IDENTITY_MISMATCH',
    ],
    [
      'another MRSIGNERSEAM',
      () =>
        evaluateTcbStatus(
          V4B,
          withTd(V4B_QUOTE, { mrSignerSeam: flipBit(new Uint8Array(48), 47) }),
        ),
      'ERR_TDX_MODULE_MISMATCH',
    ],
    [
      'SEAMATTRIBUTES set',
      () =>
        evaluateTcbStatus(
          V4B,
          withTd(V4B_QUOTE, { seamAttributes: flipBit(new Uint8Array(8), 7, 7) }),
        ),
      'ERR_TDX_MODULE_MISMATCH',
    ],
    [
      'a module major version without an identity (TDX_02)',
      () =>
        evaluateTcbStatus(
          V4B,
          withTd(V4B_QUOTE, { teeTcbSvn: Uint8Array.of(6, 2, 3, ...new Uint8Array(13)) }),
        ),
      'ERR_TDX_MODULE_MISMATCH',
    ],
    [
      'MRSIGNERSEAM against tdxModule (major version 0)',
      () => evaluateTcbStatus(SPR, withTd(SPR_QUOTE, { mrSignerSeam: new Uint8Array(48).fill(1) })),
      'ERR_TDX_MODULE_MISMATCH',
    ],
  ])('%s', (_, fn, code) => {
    const e = caught(fn)
    expect(e.code).toBe(code)
    expect(e.category).toBe('verification')
  })

  it('takes SEAMATTRIBUTES as bytes or as its LE u64 value', () => {
    expect(evaluateTcbStatus(V4B, withTd(V4B_QUOTE, { seamAttributes: 0n })).status).toBe(
      'UpToDate',
    )
    const set = caught(() =>
      evaluateTcbStatus(V4B, withTd(V4B_QUOTE, { seamAttributes: 1n << 63n })),
    )
    expect(set.code).toBe('ERR_TDX_MODULE_MISMATCH')
    const range = caught(() =>
      evaluateTcbStatus(V4B, withTd(V4B_QUOTE, { seamAttributes: 1n << 64n })),
    )
    expect(range.code).toBe('ERR_TDX_TCB_INPUT_INVALID')
  })

  it('ignores bits outside the masks, and takes MISCSELECT as bytes or as its LE value', () => {
    // ATTRIBUTES byte 8 is outside the mask (XFRM), byte 0 bit 2 (MODE64BIT) is masked out.
    const qe = {
      ...V4B_QUOTE.qe,
      attributes: flipBit(flipBit(V4B_QUOTE.qe.attributes, 8, 3), 0, 2),
    }
    expect(evaluateTcbStatus(V4B, { ...V4B_QUOTE, qe }).status).toBe('UpToDate')
    expect(evaluateQeIdentity(V4B.qeIdentity, { ...V4B_QUOTE.qe, miscSelect: 0 }).status).toBe(
      'UpToDate',
    )
  })

  it.each([
    [
      '16 components',
      { pck: { ...V4B_QUOTE.pck, cpuSvnComponents: [1, 2, 3] } },
      'pck.cpuSvnComponents',
    ],
    [
      'an SVN byte',
      { pck: { ...V4B_QUOTE.pck, cpuSvnComponents: new Array<number>(16).fill(256) } },
      'pck.cpuSvnComponents[0]',
    ],
    ['a PCESVN', { pck: { ...V4B_QUOTE.pck, pceSvn: -1 } }, 'pck.pceSvn'],
    ['TEE_TCB_SVN', { td: { ...V4B_TD, teeTcbSvn: new Uint8Array(15) } }, 'td.teeTcbSvn'],
    ['the QE MRSIGNER', { qe: { ...V4B_QUOTE.qe, mrSigner: new Uint8Array(48) } }, 'qe.mrSigner'],
    ['MISCSELECT', { qe: { ...V4B_QUOTE.qe, miscSelect: 2 ** 32 } }, 'qe.miscSelect'],
  ] as const)('refuses input of the wrong shape: %s', (_, patch, field) => {
    const e = caught(() => evaluateTcbStatus(V4B, { ...V4B_QUOTE, ...patch }))
    expect(e.code).toBe('ERR_TDX_TCB_INPUT_INVALID')
    expect(e.category).toBe('usage')
    expect(e.details['field']).toBe(field)
  })
})

describe('the TDX rules on synthetic TCB infos', () => {
  const t = new Date('2025-01-01T00:00:00Z')
  const qeIdentity = parseQeIdentity(JSON.stringify(tdQeIdentityJson(t, t)))
  const info = (levels: unknown[]) => parseTcbInfo(JSON.stringify(tdxTcbInfoJson(t, t, levels)))
  const pck = { cpuSvnComponents: [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 11 }
  const tee = (...svn: number[]): Uint8Array =>
    Uint8Array.from({ length: 16 }, (_, i) => svn[i] ?? 0)
  const input = (teeTcbSvn: Uint8Array): TcbStatusInput => ({
    ...V4B_QUOTE,
    pck,
    td: { ...V4B_TD, teeTcbSvn },
  })

  it('compares TDX components from byte 2 when the module major version (byte 1) is non-zero', () => {
    const levels = [
      tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [5, 0, 3], 'UpToDate'),
      tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [5, 0, 2], 'SWHardeningNeeded', ['INTEL-SA-1']),
      tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [0, 0, 0], 'OutOfDate', ['INTEL-SA-2']),
    ]
    // Byte 0 (4) is below every level's 5 but is not compared: byte 2 (2) selects level 2.
    const r = evaluateTcbStatus({ tcbInfo: info(levels), qeIdentity }, input(tee(4, 1, 2)))
    expect(r.platform.tdxLevel?.tcbStatus).toBe('SWHardeningNeeded')
    expect(r.status).toBe('SWHardeningNeeded')
    expect(r.advisoryIds).toEqual(['INTEL-SA-1'])
    // Major version 0: byte 0 is compared, and only the last level is met.
    const v0 = matchTdxTcbLevel(info(levels).tcbLevels, pck, tee(4, 0, 3))
    expect(v0.tdxLevel?.tcbStatus).toBe('OutOfDate')
    expect(v0.sgxLevel?.tcbStatus).toBe('UpToDate')
  })

  it('TcbNotSupported when the SGX level matches but no TDX level does', () => {
    const levels = [tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [0, 0, 9], 'UpToDate')]
    const r = evaluateTcbStatus({ tcbInfo: info(levels), qeIdentity }, input(tee(6, 1, 3)))
    expect(r.platform.sgxLevel).toBeDefined()
    expect(r.platform.tdxLevel).toBeUndefined()
    expect(r.status).toBe('TcbNotSupported')
  })

  it('an OutOfDate module level lowers the platform status and adds its advisories', () => {
    const levels = [tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [0, 0, 2], 'ConfigurationNeeded')]
    const r = evaluateTcbStatus({ tcbInfo: info(levels), qeIdentity }, input(tee(3, 1, 3)))
    expect(r.tdxModule).toMatchObject({
      identityId: 'TDX_01',
      status: 'OutOfDate',
      level: { isvSvn: 2 },
    })
    expect(r.status).toBe('OutOfDateConfigurationNeeded')
    expect(r.advisoryIds).toEqual(['INTEL-SA-99999'])
    // Below every module level: not supported.
    const low = evaluateTdxModule(info(levels), { ...V4B_TD, teeTcbSvn: tee(1, 1, 3) })
    expect(low.status).toBe('TcbNotSupported')
    expect(
      evaluateTcbStatus({ tcbInfo: info(levels), qeIdentity }, input(tee(1, 1, 3))).status,
    ).toBe('TcbNotSupported')
  })

  it('picks the highest level met whatever the JSON order (Intel order)', () => {
    const levels = [
      tdxLevelJson([1, 1, 2, 2, 3, 1, 0, 5], 11, [0, 0, 2], 'OutOfDate'),
      tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 10, [0, 0, 2], 'ConfigurationNeeded'),
      tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [0, 0, 2], 'UpToDate'),
    ]
    expect(matchSgxTcbLevel(info(levels).tcbLevels, pck)?.tcbStatus).toBe('UpToDate')
    expect(matchSgxTcbLevel(info(levels).tcbLevels, { ...pck, pceSvn: 10 })?.tcbStatus).toBe(
      'ConfigurationNeeded',
    )
    expect(
      matchSgxTcbLevel(info(levels.toReversed()).tcbLevels, { ...pck, pceSvn: 10 })?.tcbStatus,
    ).toBe('ConfigurationNeeded')
  })
})
