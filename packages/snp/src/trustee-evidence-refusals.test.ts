import { describe, it, expect } from 'vitest'
import { CERT_TABLE_GUIDS } from './cert-table.ts'
import { parseTrusteeSnpEvidence } from './trustee-evidence.ts'
import {
  vector,
  thrown,
  evidenceJson,
  ar,
  invalidPaths,
  turinV5,
} from './trustee-evidence-test-support.ts'

describe('parseTrusteeSnpEvidence refuses', () => {
  const base = (): Record<string, unknown> => evidenceJson(vector('milan-v3-hostdata'))

  it('values that are not an evidence object', () => {
    for (const value of [null, undefined, 'text', 42, [], [base()], new Date(), new Map()]) {
      expect(invalidPaths(value)).toEqual(['$'])
    }
    expect(invalidPaths({})).toEqual(['$.attestation_report'])
    expect(invalidPaths({ attestation_report: [] })).toEqual(['$.attestation_report'])
  })

  it('unknown fields, naming the JSON path', () => {
    const json = base()
    json['extra'] = 1
    ar(json)['_reserved_0'] = 0
    ;(ar(json)['current_tcb'] as Record<string, unknown>)['_reserved'] = [0, 0, 0, 0]
    ;(ar(json)['signature'] as Record<string, unknown>)['weird key'] = 0
    expect(invalidPaths(json)).toEqual([
      '$.extra',
      '$.attestation_report._reserved_0',
      '$.attestation_report.current_tcb._reserved',
      '$.attestation_report.signature["weird key"]',
    ])
  })

  it('missing fields, all of them at once', () => {
    const json = base()
    delete ar(json)['version']
    delete ar(json)['host_data']
    delete (ar(json)['current'] as Record<string, unknown>)['build']
    delete (ar(json)['launch_tcb'] as Record<string, unknown>)['snp']
    delete (ar(json)['signature'] as Record<string, unknown>)['s']
    const e = thrown(() => parseTrusteeSnpEvidence(json))
    expect(e.details['paths']).toEqual([
      '$.attestation_report.version',
      '$.attestation_report.host_data',
      '$.attestation_report.current.build',
      '$.attestation_report.launch_tcb.snp',
      '$.attestation_report.signature.s',
    ])
    expect(e.details['problems']).toBe(5)
    expect(e.message).toContain('$.attestation_report.host_data: missing')
  })

  it('numbers of the wrong type or range', () => {
    const cases: [string, unknown][] = [
      ['version', '3'],
      ['version', 3.5],
      ['guest_svn', -1],
      ['guest_svn', -0],
      ['vmpl', 2 ** 32],
      ['sig_algo', null],
      ['key_info', true],
      ['policy', 2 ** 53],
      ['policy', -1],
      ['policy', -1n],
      ['plat_info', 1n << 64n],
      ['plat_info', Number.POSITIVE_INFINITY],
      ['cpuid_fam_id', 256],
      ['cpuid_step', '1'],
    ]
    for (const [key, value] of cases) {
      const json = base()
      ar(json)[key] = value
      expect(invalidPaths(json), `${key} = ${String(value)}`).toEqual([
        `$.attestation_report.${key}`,
      ])
    }
  })

  it('byte arrays of the wrong length or with non-byte items', () => {
    const cases: [string, unknown, string][] = [
      ['report_data', new Array<number>(63).fill(0), '$.attestation_report.report_data'],
      ['report_data', new Array<number>(65).fill(0), '$.attestation_report.report_data'],
      ['measurement', 'abcd', '$.attestation_report.measurement'],
      ['host_data', [...new Array<number>(31).fill(0), 256], '$.attestation_report.host_data[31]'],
      ['chip_id', [1.5, ...new Array<number>(63).fill(0)], '$.attestation_report.chip_id[0]'],
      ['family_id', [...new Array<number>(15).fill(0), '1'], '$.attestation_report.family_id[15]'],
      ['image_id', [-1, ...new Array<number>(15).fill(0)], '$.attestation_report.image_id[0]'],
    ]
    for (const [key, value, path] of cases) {
      const json = base()
      ar(json)[key] = value
      expect(invalidPaths(json), key).toEqual([path])
    }
    const json = base()
    ;(ar(json)['signature'] as Record<string, unknown>)['r'] = new Array<number>(71).fill(0)
    expect(invalidPaths(json)).toEqual(['$.attestation_report.signature.r'])
  })

  it('non-finite numbers and non-arrays where bytes belong', () => {
    const json = base()
    ar(json)['measurement'] = Number.POSITIVE_INFINITY
    ar(json)['report_id'] = 7
    const e = thrown(() => parseTrusteeSnpEvidence(json))
    expect(e.details['messages']).toEqual([
      '$.attestation_report.measurement: expected an array of bytes, got a non-finite number',
      '$.attestation_report.report_id: expected an array of bytes, got a number',
    ])
  })

  it('keeps the first 50 problems and counts the rest', () => {
    const json = base()
    for (let i = 0; i < 60; i++) ar(json)[`extra${i}`] = i
    const e = thrown(() => parseTrusteeSnpEvidence(json))
    expect(e.details['problems']).toBe(60)
    expect(e.details['paths']).toHaveLength(50)
    expect(e.message).toContain('and 55 more')
  })

  it('reports one problem per bad array, however many bad items it has', () => {
    const json = base()
    ar(json)['report_data'] = new Array<number>(64).fill(300)
    expect(invalidPaths(json)).toEqual(['$.attestation_report.report_data[0]'])
  })

  it('TCB and version objects with bad members', () => {
    const json = base()
    ar(json)['current_tcb'] = { fmc: null, bootloader: 256, tee: 0, snp: 0, microcode: 0 }
    ar(json)['committed'] = { major: 1, minor: -1, build: 0 }
    ar(json)['launch_tcb'] = 'tcb'
    expect(invalidPaths(json)).toEqual([
      '$.attestation_report.committed.minor',
      '$.attestation_report.current_tcb.bootloader',
      '$.attestation_report.launch_tcb',
    ])
  })

  it('CPUID fields on v2 and missing CPUID fields from v3', () => {
    const v2 = evidenceJson(vector('milan-v2-a'))
    ar(v2)['cpuid_fam_id'] = 0x19
    expect(invalidPaths(v2)).toEqual(['$.attestation_report.cpuid_fam_id'])
    const v3 = base()
    ar(v3)['cpuid_mod_id'] = null
    expect(invalidPaths(v3)).toEqual(['$.attestation_report.cpuid_mod_id'])
  })

  it('mitigation vectors before v5 and missing ones from v5', () => {
    const v3 = base()
    ar(v3)['launch_mit_vector'] = 0
    expect(invalidPaths(v3)).toEqual(['$.attestation_report.launch_mit_vector'])
    const v5 = evidenceJson(turinV5)
    ar(v5)['current_mit_vector'] = null
    expect(invalidPaths(v5)).toEqual(['$.attestation_report.current_mit_vector'])
  })

  it('TCBs that are all bad, each reported once', () => {
    const json = base()
    for (const key of ['current_tcb', 'reported_tcb', 'committed_tcb', 'launch_tcb']) {
      ar(json)[key] = 0
    }
    expect(invalidPaths(json)).toEqual([
      '$.attestation_report.current_tcb',
      '$.attestation_report.reported_tcb',
      '$.attestation_report.committed_tcb',
      '$.attestation_report.launch_tcb',
    ])
  })

  it('TCBs in mixed layouts, or in a layout the CPUID contradicts', () => {
    const mixed = base()
    ;(ar(mixed)['committed_tcb'] as Record<string, unknown>)['fmc'] = 1
    expect(invalidPaths(mixed)).toEqual(['$.attestation_report.committed_tcb.fmc'])

    const turinMixed = evidenceJson(turinV5)
    ;(ar(turinMixed)['launch_tcb'] as Record<string, unknown>)['fmc'] = null
    const e = thrown(() => parseTrusteeSnpEvidence(turinMixed))
    expect(e.details['messages']).toEqual([
      '$.attestation_report.launch_tcb.fmc: null here but set in $.attestation_report.current_tcb: all TCBs of a report have the same layout',
    ])

    const milanWithFmc = base()
    for (const key of ['current_tcb', 'reported_tcb', 'committed_tcb', 'launch_tcb']) {
      ;(ar(milanWithFmc)[key] as Record<string, unknown>)['fmc'] = 0
    }
    expect(invalidPaths(milanWithFmc)).toEqual(['$.attestation_report.current_tcb.fmc'])

    const turinWithoutFmc = evidenceJson(turinV5)
    for (const key of ['current_tcb', 'reported_tcb', 'committed_tcb', 'launch_tcb']) {
      ;(ar(turinWithoutFmc)[key] as Record<string, unknown>)['fmc'] = null
    }
    expect(invalidPaths(turinWithoutFmc)).toEqual(['$.attestation_report.current_tcb.fmc'])
  })

  it('bad cert_chain entries', () => {
    const cases: [unknown, string][] = [
      [{}, '$.cert_chain'],
      ['VCEK', '$.cert_chain'],
      [[null], '$.cert_chain[0]'],
      [[{ cert_type: 'vcek', data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: 'Empty', data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: null, data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: ['VCEK'], data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: 'constructor', data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: { OTHER: 'nope' }, data: [1] }], '$.cert_chain[0].cert_type.OTHER'],
      [[{ cert_type: { OTHER: 5 }, data: [1] }], '$.cert_chain[0].cert_type.OTHER'],
      [
        [{ cert_type: { OTHER: '00000000-0000-0000-0000-000000000000' }, data: [1] }],
        '$.cert_chain[0].cert_type.OTHER',
      ],
      [
        [{ cert_type: { OTHER: CERT_TABLE_GUIDS.vcek }, data: [1] }],
        '$.cert_chain[0].cert_type.OTHER',
      ],
      [
        [{ cert_type: { OTHER: 'ecae0c0f-9502-43b1-afa2-0ae2e0d565b6', X: 1 }, data: [1] }],
        '$.cert_chain[0].cert_type.X',
      ],
      [[{ cert_type: {}, data: [1] }], '$.cert_chain[0].cert_type.OTHER'],
      [[{ cert_type: 'VCEK' }], '$.cert_chain[0].data'],
      [[{ data: [1] }], '$.cert_chain[0].cert_type'],
      [[{ cert_type: 'VCEK', data: [] }], '$.cert_chain[0].data'],
      [[{ cert_type: 'VCEK', data: 'MIIB' }], '$.cert_chain[0].data'],
      [[{ cert_type: 'VCEK', data: [1, 999] }], '$.cert_chain[0].data[1]'],
      [[{ cert_type: 'VCEK', data: [1], pem: '' }], '$.cert_chain[0].pem'],
      [
        [
          { cert_type: 'VCEK', data: [1] },
          { cert_type: 'VCEK', data: [2] },
        ],
        '$.cert_chain[1].cert_type',
      ],
    ]
    for (const [chain, path] of cases) {
      const json = base()
      json['cert_chain'] = chain
      expect(invalidPaths(json), JSON.stringify(chain)).toEqual([path])
    }
  })

  it('version 0 and 1 and other signature algorithms, with the report parser codes', () => {
    for (const version of [0, 1]) {
      const json = base()
      ar(json)['version'] = version
      expect(thrown(() => parseTrusteeSnpEvidence(json)).code).toBe('ERR_SNP_REPORT_VERSION')
    }
    const json = base()
    ar(json)['sig_algo'] = 2
    expect(thrown(() => parseTrusteeSnpEvidence(json)).code).toBe('ERR_SNP_SIGNATURE_ALGORITHM')
  })

  it('keeps long unknown field names out of the message', () => {
    const json = base()
    json['x'.repeat(10_000)] = 1
    const e = thrown(() => parseTrusteeSnpEvidence(json))
    expect(e.message.length).toBeLessThan(1000)
  })
})
