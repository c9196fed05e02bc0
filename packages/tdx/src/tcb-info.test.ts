/**
 * parseTcbInfo and parseQeIdentity on the real documents, on edited copies (each error names its
 * field), and on arbitrary input (only InitguardErrors).
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { VECTOR_ROOT, caught } from './collateral-test-support.ts'
import { parseQeIdentity } from './qe-identity.ts'
import { compareTcbLevels, parseTcbInfo } from './tcb-info.ts'

type Json = Record<string, unknown>

const documents = (folder: string): { tcbInfo: string; qeIdentity: string } => {
  const raw = JSON.parse(
    readFileSync(new URL(`${folder}/collateral.json`, VECTOR_ROOT), 'utf8'),
  ) as Record<string, string>
  return { tcbInfo: raw['tcb_info'] ?? '', qeIdentity: raw['qe_identity'] ?? '' }
}
const SPR = documents('tdx/spr-v4')
const V4B = documents('tdx/v4-b')
const V3A = documents('sgx/v3-a')

/** A deep copy of the JSON in `text`, edited, as text. */
function edited(text: string, edit: (doc: Json) => void): string {
  const doc = JSON.parse(text) as Json
  edit(doc)
  return JSON.stringify(doc)
}
const at = (doc: Json, ...path: (string | number)[]): Json =>
  path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], doc) as Json

describe('parseTcbInfo on the real TCB infos', () => {
  it('spr-v4: TDX v3, FMSPC 50806f000000, tdxModule, no module identities, 2 levels', () => {
    const info = parseTcbInfo(SPR.tcbInfo)
    expect(info).toMatchObject({
      id: 'TDX',
      version: 3,
      fmspc: '50806f000000',
      pceId: '0000',
      tcbType: 0,
      tcbEvaluationDataNumber: 15,
      tdxModuleIdentities: [],
    })
    expect(info.issueDate.toISOString()).toBe('2023-06-18T08:42:58.000Z')
    expect(info.nextUpdate.toISOString()).toBe('2023-07-18T08:42:58.000Z')
    expect(bytesToHex(info.tdxModule?.mrSigner ?? new Uint8Array())).toBe('00'.repeat(48))
    expect(bytesToHex(info.tdxModule?.attributesMask ?? new Uint8Array())).toBe('ff'.repeat(8))
    const [first, second] = info.tcbLevels
    expect(first?.sgxTcbComponents).toEqual([5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0])
    expect(first?.tdxTcbComponents).toEqual([3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    expect(first).toMatchObject({ pceSvn: 11, tcbStatus: 'UpToDate', advisoryIds: [] })
    expect(second?.pceSvn).toBe(5)
    expect(second?.advisoryIds).toHaveLength(13)
    expect(second?.tcbDate.toISOString()).toBe('2018-01-04T00:00:00.000Z')
  })

  it('v4-b: module identities TDX_03 and TDX_01, levels highest ISVSVN first', () => {
    const info = parseTcbInfo(V4B.tcbInfo)
    expect(info.fmspc).toBe('b0c06f000000')
    const tdx01 = info.tdxModuleIdentities.find((m) => m.id === 'TDX_01')
    expect(tdx01?.tcbLevels.map((l) => [l.isvSvn, l.tcbStatus])).toEqual([
      [4, 'UpToDate'],
      [2, 'OutOfDate'],
    ])
  })

  it('sgx v3-a: SGX v3 without TDX fields, 11 levels in Intel order', () => {
    const info = parseTcbInfo(V3A.tcbInfo)
    expect(info.id).toBe('SGX')
    expect(info.tdxModule).toBeUndefined()
    expect(info.tcbLevels).toHaveLength(11)
    expect(info.tcbLevels.every((l) => l.tdxTcbComponents === undefined)).toBe(true)
    expect(info.tcbLevels.slice(0, 2).map((l) => l.tcbStatus)).toEqual([
      'SWHardeningNeeded',
      'ConfigurationAndSWHardeningNeeded',
    ])
  })

  it('orders levels as Intel does, whatever the JSON order', () => {
    for (const text of [SPR.tcbInfo, V4B.tcbInfo, V3A.tcbInfo]) {
      const info = parseTcbInfo(text)
      const reversed = parseTcbInfo(edited(text, (d) => (d['tcbLevels'] as unknown[]).reverse()))
      expect(reversed.tcbLevels).toEqual(info.tcbLevels)
      // Intel's JSON is already in that order.
      const jsonOrder = (JSON.parse(text) as { tcbLevels: { tcbStatus: string }[] }).tcbLevels
      expect(info.tcbLevels.map((l) => l.tcbStatus)).toEqual(jsonOrder.map((l) => l.tcbStatus))
    }
  })

  it('compareTcbLevels: SGX components first, then PCESVN, then TDX components', () => {
    const level = (sgx: number[], pce: number, tdx?: number[]) => ({
      sgxTcbComponents: sgx,
      pceSvn: pce,
      tdxTcbComponents: tdx,
      tcbDate: new Date(0),
      tcbStatus: 'UpToDate' as const,
      advisoryIds: [],
    })
    expect(compareTcbLevels(level([2, 0], 1), level([1, 9], 9))).toBeLessThan(0)
    expect(compareTcbLevels(level([1, 9], 9), level([2, 0], 1))).toBeGreaterThan(0)
    expect(compareTcbLevels(level([1], 5), level([1], 4))).toBeLessThan(0)
    expect(compareTcbLevels(level([1], 5, [3]), level([1], 5, [4]))).toBeGreaterThan(0)
    expect(compareTcbLevels(level([1], 5, [3]), level([1], 5, [3]))).toBe(0)
  })
})

describe('parseTcbInfo refuses malformed TCB infos, naming the field', () => {
  const cases: [string, string, (d: Json) => void, string][] = [
    ['not JSON', SPR.tcbInfo.slice(0, -1), () => undefined, 'tcbInfo'],
    ['version 4', SPR.tcbInfo, (d) => (d['version'] = 4), 'tcbInfo.version'],
    ['version 2 (SGX only) for TDX', SPR.tcbInfo, (d) => (d['version'] = 2), 'tcbInfo.version'],
    ['an unknown id', SPR.tcbInfo, (d) => (d['id'] = 'SEV'), 'tcbInfo.id'],
    ['tcbType 1', SPR.tcbInfo, (d) => (d['tcbType'] = 1), 'tcbInfo.tcbType'],
    ['no tdxModule for TDX', SPR.tcbInfo, (d) => delete d['tdxModule'], 'tcbInfo.tdxModule'],
    ['a short FMSPC', SPR.tcbInfo, (d) => (d['fmspc'] = '50806f'), 'tcbInfo.fmspc'],
    [
      'a bad date',
      SPR.tcbInfo,
      (d) => (d['issueDate'] = '2023-02-30T00:00:00Z'),
      'tcbInfo.issueDate',
    ],
    [
      'a local time',
      SPR.tcbInfo,
      (d) => (d['nextUpdate'] = '2023-07-18T08:42:58+02:00'),
      'tcbInfo.nextUpdate',
    ],
    ['no levels', SPR.tcbInfo, (d) => (d['tcbLevels'] = []), 'tcbInfo.tcbLevels'],
    [
      'a missing pcesvn',
      SPR.tcbInfo,
      (d) => delete at(d, 'tcbLevels', 1, 'tcb')['pcesvn'],
      'tcbInfo.tcbLevels[1].tcb.pcesvn',
    ],
    [
      '15 SGX components',
      SPR.tcbInfo,
      (d) => (at(d, 'tcbLevels', 0, 'tcb')['sgxtcbcomponents'] as unknown[]).pop(),
      'tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents',
    ],
    [
      'an SVN of 256',
      SPR.tcbInfo,
      (d) => (at(d, 'tcbLevels', 0, 'tcb', 'tdxtcbcomponents', 3)['svn'] = 256),
      'tcbInfo.tcbLevels[0].tcb.tdxtcbcomponents[3].svn',
    ],
    [
      'no TDX components',
      SPR.tcbInfo,
      (d) => delete at(d, 'tcbLevels', 0, 'tcb')['tdxtcbcomponents'],
      'tcbInfo.tcbLevels[0].tcb.tdxtcbcomponents',
    ],
    [
      'an unknown status',
      SPR.tcbInfo,
      (d) => (at(d, 'tcbLevels', 0)['tcbStatus'] = 'Fine'),
      'tcbInfo.tcbLevels[0].tcbStatus',
    ],
    [
      'a numeric advisory',
      SPR.tcbInfo,
      (d) => (at(d, 'tcbLevels', 1)['advisoryIDs'] = [106]),
      'tcbInfo.tcbLevels[1].advisoryIDs[0]',
    ],
    [
      'a bad module id',
      V4B.tcbInfo,
      (d) => (at(d, 'tdxModuleIdentities', 1)['id'] = 'TDX-1'),
      'tcbInfo.tdxModuleIdentities[1].id',
    ],
    [
      'a duplicate module id',
      V4B.tcbInfo,
      (d) => (at(d, 'tdxModuleIdentities', 1)['id'] = 'tdx_03'),
      'tcbInfo.tdxModuleIdentities',
    ],
    [
      'a module status of SWHardeningNeeded',
      V4B.tcbInfo,
      (d) => (at(d, 'tdxModuleIdentities', 1, 'tcbLevels', 0)['tcbStatus'] = 'SWHardeningNeeded'),
      'tcbInfo.tdxModuleIdentities[1].tcbLevels[0].tcbStatus',
    ],
    [
      'a short module signer',
      V4B.tcbInfo,
      (d) => (at(d, 'tdxModuleIdentities', 0)['mrsigner'] = '00'),
      'tcbInfo.tdxModuleIdentities[0].mrsigner',
    ],
  ]
  it.each(cases)('%s', (_, text, edit, field) => {
    const input = field === 'tcbInfo' ? text : edited(text, edit)
    const e = caught(() => parseTcbInfo(input))
    expect(e.code).toBe('ERR_TDX_TCB_INFO_INVALID')
    expect(e.category).toBe('malformed')
    expect(e.details['field']).toBe(field)
  })

  it('ignores unknown fields and TDX fields in an SGX TCB info', () => {
    const info = parseTcbInfo(
      edited(V3A.tcbInfo, (d) => {
        d['futureField'] = { x: 1 }
        d['tdxModule'] = 'ignored'
      }),
    )
    expect(info.tdxModule).toBeUndefined()
  })
})

describe('parseQeIdentity', () => {
  it('spr-v4: TD_QE v2, MRSIGNER dc9e2a7c…, ISVPRODID 2, one level (isvsvn 4, UpToDate)', () => {
    const qe = parseQeIdentity(SPR.qeIdentity)
    expect(qe).toMatchObject({ id: 'TD_QE', version: 2, isvProdId: 2, tcbEvaluationDataNumber: 15 })
    expect(bytesToHex(qe.mrSigner)).toBe(
      'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5',
    )
    expect(bytesToHex(qe.attributesMask)).toBe('fbffffffffffffff0000000000000000')
    expect(bytesToHex(qe.miscSelectMask)).toBe('ffffffff')
    expect(qe.tcbLevels.map((l) => [l.isvSvn, l.tcbStatus])).toEqual([[4, 'UpToDate']])
  })

  it('sgx v3-a: QE v2 with 6 levels, highest ISVSVN first, advisories kept', () => {
    const qe = parseQeIdentity(V3A.qeIdentity)
    expect(qe.id).toBe('QE')
    expect(qe.tcbLevels.map((l) => l.isvSvn)).toEqual([8, 6, 5, 4, 2, 1])
    expect(qe.tcbLevels[1]?.advisoryIds).toEqual(['INTEL-SA-00615'])
    const shuffled = parseQeIdentity(
      edited(V3A.qeIdentity, (d) => (d['tcbLevels'] as unknown[]).reverse()),
    )
    expect(shuffled.tcbLevels).toEqual(qe.tcbLevels)
  })

  const cases: [string, (d: Json) => void, string][] = [
    ['version 1', (d) => (d['version'] = 1), 'enclaveIdentity.version'],
    ['an unknown id', (d) => (d['id'] = 'XE'), 'enclaveIdentity.id'],
    ['a short MRSIGNER', (d) => (d['mrsigner'] = 'DC9E'), 'enclaveIdentity.mrsigner'],
    ['a 5-byte miscselect', (d) => (d['miscselect'] = '0000000000'), 'enclaveIdentity.miscselect'],
    ['a string ISVPRODID', (d) => (d['isvprodid'] = '2'), 'enclaveIdentity.isvprodid'],
    [
      'a level without tcb',
      (d) => delete at(d, 'tcbLevels', 0)['tcb'],
      'enclaveIdentity.tcbLevels[0].tcb',
    ],
    [
      'a fractional isvsvn',
      (d) => (at(d, 'tcbLevels', 0, 'tcb')['isvsvn'] = 4.5),
      'enclaveIdentity.tcbLevels[0].tcb.isvsvn',
    ],
    [
      'an unknown status',
      (d) => (at(d, 'tcbLevels', 0)['tcbStatus'] = 'SWHardeningNeeded'),
      'enclaveIdentity.tcbLevels[0].tcbStatus',
    ],
  ]
  it.each(cases)('refuses %s, naming the field', (_, edit, field) => {
    const e = caught(() => parseQeIdentity(edited(SPR.qeIdentity, edit)))
    expect(e.code).toBe('ERR_TDX_QE_IDENTITY_INVALID')
    expect(e.details['field']).toBe(field)
  })
})

describe('properties: the document parsers throw nothing but InitguardErrors', () => {
  const only = (fn: () => unknown): void => {
    try {
      fn()
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }

  it('on arbitrary text and arbitrary JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (s) => {
          only(() => parseTcbInfo(s))
          only(() => parseQeIdentity(s))
        },
      ),
      { numRuns: 500 },
    )
  })

  /** Every path to a value inside `value`. */
  function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    if (typeof value !== 'object' || value === null) return [prefix]
    const entries = Array.isArray(value)
      ? value.map((v, i) => [i, v] as const)
      : Object.entries(value)
    return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))]
  }

  it('on the real documents with any one value replaced by arbitrary JSON', () => {
    for (const [text, parse] of [
      [V4B.tcbInfo, parseTcbInfo],
      [V3A.qeIdentity, parseQeIdentity],
    ] as const) {
      const all = paths(JSON.parse(text)).filter((p) => p.length > 0)
      fc.assert(
        fc.property(fc.constantFrom(...all), fc.jsonValue(), (path, value) => {
          const doc = JSON.parse(text) as Json
          const parent = at(doc, ...path.slice(0, -1)) as Record<string | number, unknown>
          parent[path.at(-1) ?? 0] = value
          only(() => parse(JSON.stringify(doc)))
        }),
        { numRuns: 500 },
      )
    }
  })
})
