/**
 * SGX TCB Info v2 (Intel PCS API v3, older PCCS): parsed onto the same TcbInfo as v3, evaluated
 * the same way for synthetic SGX quotes under the test PKI, and refused when malformed or when it
 * claims TDX parts, naming the field.
 */
import { describe, expect, it } from 'vitest'
import {
  buildDcapCollateral,
  buildSgxQuote,
  buildTdxQuote,
  createIntelTestPki,
  defaultTcbInfoFields,
  defaultTcbInfoV2Fields,
  encodeTcbInfoJson,
  encodeTcbInfoV2Json,
  signCollateralText,
  type TcbLevelFields,
} from '@initguard/tee-simulator'
import { bytesToHex } from '@initguard/core'
import { caught, codeOf } from './collateral-test-support.ts'
import { parseCollateralJson } from './collateral.ts'
import { verifyDcapQuote, parseDcapQuote } from './index.ts'
import { parseTcbInfo } from './tcb-info.ts'

type Json = Record<string, unknown>

/** An SGX TCB Info v2 as Intel PCS API v3 served it: no `id`, named components, JSON order. */
const V2_TEXT = JSON.stringify({
  version: 2,
  issueDate: '2023-10-11T08:09:33Z',
  nextUpdate: '2023-11-10T08:09:33Z',
  fmspc: '00606A000000',
  pceId: '0000',
  tcbType: 0,
  tcbEvaluationDataNumber: 12,
  tcbLevels: [
    {
      tcb: { ...components([4, 4, 3, 3, 255, 255, 0]), pcesvn: 10 },
      tcbDate: '2020-11-11T00:00:00Z',
      tcbStatus: 'OutOfDate',
      advisoryIDs: ['INTEL-SA-00477', 'INTEL-SA-00615'],
    },
    {
      tcb: { ...components([4, 4, 3, 3, 255, 255, 0]), pcesvn: 11 },
      tcbDate: '2021-11-10T00:00:00Z',
      tcbStatus: 'SWHardeningNeeded',
      advisoryIDs: ['INTEL-SA-00615'],
    },
    {
      tcb: { ...components([5, 5, 3, 3, 255, 255, 1]), pcesvn: 11 },
      tcbDate: '2022-08-10T00:00:00Z',
      tcbStatus: 'UpToDate',
    },
  ],
})

/** `sgxtcbcomp01svn` … `sgxtcbcomp16svn` for the SVNs given, zero for the rest. */
function components(svns: readonly number[]): Json {
  return Object.fromEntries(
    Array.from({ length: 16 }, (_, i) => [
      `sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`,
      svns[i] ?? 0,
    ]),
  )
}

function edited(text: string, edit: (doc: Json) => void): string {
  const doc = JSON.parse(text) as Json
  edit(doc)
  return JSON.stringify(doc)
}
const level = (doc: Json, i: number): Json => (doc['tcbLevels'] as unknown[])[i] as Json
const tcbOf = (doc: Json, i: number): Json => level(doc, i)['tcb'] as Json

describe('parseTcbInfo on SGX TCB Info v2', () => {
  it('maps a v2 document onto TcbInfo: SGX, 16 components, no TDX parts, Intel order', () => {
    const info = parseTcbInfo(V2_TEXT)
    expect(info).toMatchObject({
      id: 'SGX',
      version: 2,
      fmspc: '00606a000000',
      pceId: '0000',
      tcbType: 0,
      tcbEvaluationDataNumber: 12,
      tdxModule: undefined,
      tdxModuleIdentities: [],
    })
    expect(info.issueDate.toISOString()).toBe('2023-10-11T08:09:33.000Z')
    expect(info.nextUpdate.toISOString()).toBe('2023-11-10T08:09:33.000Z')
    expect(info.tcbLevels.map((l) => [l.tcbStatus, l.pceSvn, l.advisoryIds])).toEqual([
      ['UpToDate', 11, []],
      ['SWHardeningNeeded', 11, ['INTEL-SA-00615']],
      ['OutOfDate', 10, ['INTEL-SA-00477', 'INTEL-SA-00615']],
    ])
    expect(info.tcbLevels[0]?.sgxTcbComponents).toEqual([
      5, 5, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ])
    expect(info.tcbLevels.every((l) => l.tdxTcbComponents === undefined)).toBe(true)
    expect(info.tcbLevels[2]?.tcbDate.toISOString()).toBe('2020-11-11T00:00:00.000Z')
  })

  it('gives the same levels as the equivalent v3 document', () => {
    const issueDate = new Date('2026-11-01T00:00:00Z')
    const nextUpdate = new Date('2026-12-31T00:00:00Z')
    const v2 = parseTcbInfo(encodeTcbInfoV2Json(defaultTcbInfoV2Fields(issueDate, nextUpdate)))
    const v3 = parseTcbInfo(encodeTcbInfoJson(defaultTcbInfoFields('sgx', issueDate, nextUpdate)))
    expect(v2.version).toBe(2)
    expect({ ...v2, version: 3 }).toEqual(v3)
  })

  it('accepts an id of SGX and ignores unknown fields', () => {
    const info = parseTcbInfo(
      edited(V2_TEXT, (d) => {
        d['id'] = 'SGX'
        d['futureField'] = { x: 1 }
        level(d, 0)['futureField'] = 1
      }),
    )
    expect(info.id).toBe('SGX')
    expect(info.tcbLevels).toHaveLength(3)
  })
})

describe('parseTcbInfo refuses malformed SGX TCB Info v2, naming the field', () => {
  const cases: [string, (d: Json) => void, string][] = [
    ['version 1', (d) => (d['version'] = 1), 'tcbInfo.version'],
    ['version 4', (d) => (d['version'] = 4), 'tcbInfo.version'],
    ['version "2"', (d) => (d['version'] = '2'), 'tcbInfo.version'],
    ['an id of TDX', (d) => (d['id'] = 'TDX'), 'tcbInfo.version'],
    ['an id of SEV', (d) => (d['id'] = 'SEV'), 'tcbInfo.id'],
    ['an id that is not a string', (d) => (d['id'] = 0), 'tcbInfo.id'],
    ['a tdxModule', (d) => (d['tdxModule'] = { mrsigner: '00'.repeat(48) }), 'tcbInfo.tdxModule'],
    ['tdxModuleIdentities', (d) => (d['tdxModuleIdentities'] = []), 'tcbInfo.tdxModuleIdentities'],
    [
      'TDX components in a level',
      (d) => (tcbOf(d, 1)['tdxtcbcomponents'] = Array.from({ length: 16 }, () => ({ svn: 0 }))),
      'tcbInfo.tcbLevels[1].tcb.tdxtcbcomponents',
    ],
    [
      'a v3-shaped level (a components array)',
      (d) => {
        const tcb = tcbOf(d, 0)
        level(d, 0)['tcb'] = {
          sgxtcbcomponents: Array.from({ length: 16 }, () => ({ svn: 4 })),
          pcesvn: tcb['pcesvn'],
        }
      },
      'tcbInfo.tcbLevels[0].tcb.sgxtcbcomp01svn',
    ],
    [
      'a missing component',
      (d) => delete tcbOf(d, 2)['sgxtcbcomp16svn'],
      'tcbInfo.tcbLevels[2].tcb.sgxtcbcomp16svn',
    ],
    [
      'an SVN of 256',
      (d) => (tcbOf(d, 0)['sgxtcbcomp07svn'] = 256),
      'tcbInfo.tcbLevels[0].tcb.sgxtcbcomp07svn',
    ],
    [
      'a negative SVN',
      (d) => (tcbOf(d, 0)['sgxtcbcomp03svn'] = -1),
      'tcbInfo.tcbLevels[0].tcb.sgxtcbcomp03svn',
    ],
    [
      'a fractional SVN',
      (d) => (tcbOf(d, 1)['sgxtcbcomp01svn'] = 4.5),
      'tcbInfo.tcbLevels[1].tcb.sgxtcbcomp01svn',
    ],
    ['a missing pcesvn', (d) => delete tcbOf(d, 1)['pcesvn'], 'tcbInfo.tcbLevels[1].tcb.pcesvn'],
    ['no tcb', (d) => delete level(d, 0)['tcb'], 'tcbInfo.tcbLevels[0].tcb'],
    ['no tcbDate', (d) => delete level(d, 2)['tcbDate'], 'tcbInfo.tcbLevels[2].tcbDate'],
    [
      'an unknown status',
      (d) => (level(d, 0)['tcbStatus'] = 'Fine'),
      'tcbInfo.tcbLevels[0].tcbStatus',
    ],
    [
      'a numeric advisory',
      (d) => (level(d, 0)['advisoryIDs'] = [615]),
      'tcbInfo.tcbLevels[0].advisoryIDs[0]',
    ],
    ['tcbType 1', (d) => (d['tcbType'] = 1), 'tcbInfo.tcbType'],
    [
      'no tcbEvaluationDataNumber',
      (d) => delete d['tcbEvaluationDataNumber'],
      'tcbInfo.tcbEvaluationDataNumber',
    ],
    ['a short FMSPC', (d) => (d['fmspc'] = '00606A'), 'tcbInfo.fmspc'],
    ['a bad pceId', (d) => (d['pceId'] = 'zz00'), 'tcbInfo.pceId'],
    ['a bad nextUpdate', (d) => (d['nextUpdate'] = '2023-11-31T00:00:00Z'), 'tcbInfo.nextUpdate'],
    ['no levels', (d) => (d['tcbLevels'] = []), 'tcbInfo.tcbLevels'],
  ]
  it.each(cases)('%s', (_, edit, field) => {
    const e = caught(() => parseTcbInfo(edited(V2_TEXT, edit)))
    expect(e.code).toBe('ERR_TDX_TCB_INFO_INVALID')
    expect(e.category).toBe('malformed')
    expect(e.details['field']).toBe(field)
  })
})

describe('synthetic SGX quotes against v2 collateral', () => {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2034-01-01T00:00:00Z')
  const now = new Date('2026-11-29T00:00:00Z')
  const pki = createIntelTestPki({ notBefore, notAfter })
  // The default PCK: SGX components 3,3,2,2,4,1,0,5, PCESVN 11.
  const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter })
  const window = {
    issueDate: new Date('2026-11-01T00:00:00Z'),
    nextUpdate: new Date('2026-12-31T00:00:00Z'),
  }
  const quote = parseDcapQuote(buildSgxQuote({}, pck))
  const defaults = defaultTcbInfoV2Fields(window.issueDate, window.nextUpdate)
  const at = (
    sgxTcbComponents: number[],
    pceSvn: number,
    tcbStatus: string,
    advisoryIds: string[] = [],
  ): TcbLevelFields => ({
    sgxTcbComponents: [...sgxTcbComponents, ...Array<number>(16 - sgxTcbComponents.length).fill(0)],
    pceSvn,
    tcbDate: new Date('2025-05-13T00:00:00Z'),
    tcbStatus,
    advisoryIds,
  })
  /** Collateral whose tcb_info is a v2 text with these levels, signed by the TCB Signing key. */
  const collateral = (
    tcbLevels: readonly TcbLevelFields[],
  ): ReturnType<typeof parseCollateralJson> =>
    parseCollateralJson(
      buildDcapCollateral({
        pki,
        tee: 'sgx',
        ...window,
        tcbInfoText: encodeTcbInfoV2Json({ ...defaults, tcbLevels }),
      }),
    )
  const options = (tcbLevels: readonly TcbLevelFields[]) => ({
    now,
    collateral: collateral(tcbLevels),
    root: pki.root.pem,
  })
  const PCK_LEVEL = [3, 3, 2, 2, 4, 1, 0, 5]
  const ABOVE = [4, 3, 2, 2, 4, 1, 0, 5]

  it('UpToDate at the default v2 levels', () => {
    const result = verifyDcapQuote(quote, options(defaults.tcbLevels))
    expect(result.tee).toBe('sgx')
    expect(result.tcb.status).toBe('UpToDate')
    expect(result.tcb.advisoryIds).toEqual([])
    expect(result.tcb.tcbEvaluationDataNumber).toBe(17)
  })

  it('the first level the platform meets, whatever the JSON order, with its advisories', () => {
    const levels = [
      at(PCK_LEVEL, 10, 'OutOfDate', ['INTEL-SA-00100']),
      at(ABOVE, 11, 'UpToDate'),
      at(PCK_LEVEL, 11, 'SWHardeningNeeded', ['INTEL-SA-00615']),
    ]
    const opts = options(levels)
    expect(codeOf(() => verifyDcapQuote(quote, opts))).toBe('ERR_TDX_TCB_STATUS')
    const result = verifyDcapQuote(quote, { ...opts, policy: { allowSwHardeningNeeded: true } })
    expect(result.tcb.status).toBe('SWHardeningNeeded')
    expect(result.tcb.advisoryIds).toEqual(['INTEL-SA-00615'])
  })

  it('OutOfDate with advisories is refused, the status and advisories reported', () => {
    const e = caught(() =>
      verifyDcapQuote(
        quote,
        options([at(ABOVE, 11, 'UpToDate'), at(PCK_LEVEL, 9, 'OutOfDate', ['INTEL-SA-00477'])]),
      ),
    )
    expect(e.code).toBe('ERR_TDX_TCB_STATUS')
    expect(e.details).toMatchObject({ tcbStatus: 'OutOfDate', advisories: ['INTEL-SA-00477'] })
    expect(e.message).toContain('INTEL-SA-00477')
  })

  it('TcbNotSupported when the platform is below every level; Revoked when its level is', () => {
    expect(codeOf(() => verifyDcapQuote(quote, options([at(ABOVE, 11, 'UpToDate')])))).toBe(
      'ERR_TDX_TCB_NOT_SUPPORTED',
    )
    expect(codeOf(() => verifyDcapQuote(quote, options([at(PCK_LEVEL, 11, 'Revoked')])))).toBe(
      'ERR_TDX_TCB_REVOKED',
    )
  })

  it('is checked against the signature over the exact v2 text, and is SGX only', () => {
    const text = encodeTcbInfoV2Json(defaults)
    const signed = JSON.parse(buildDcapCollateral({ pki, tee: 'sgx', ...window })) as Json
    const withV2 = (tcbInfo: string, signature: Uint8Array): string =>
      JSON.stringify({ ...signed, tcb_info: tcbInfo, tcb_info_signature: bytesToHex(signature) })
    const key = pki.tcbSigning.privateKey
    const good = parseCollateralJson(withV2(text, signCollateralText(text, key)))
    const base = { now, root: pki.root.pem }
    expect(verifyDcapQuote(quote, { ...base, collateral: good }).tcb.status).toBe('UpToDate')
    const altered = text.replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"')
    expect(altered).not.toBe(text)
    const forged = parseCollateralJson(withV2(altered, signCollateralText(text, key)))
    expect(codeOf(() => verifyDcapQuote(quote, { ...base, collateral: forged }))).toBe(
      'ERR_TDX_COLLATERAL_SIGNATURE',
    )
    const tdxQuote = parseDcapQuote(buildTdxQuote({}, pck))
    expect(codeOf(() => verifyDcapQuote(tdxQuote, { ...base, collateral: good }))).toBe(
      'ERR_TDX_COLLATERAL_MISMATCH',
    )
  })
})
