import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, type InitguardError } from '@initguard/core'
import { CERT_TABLE_GUIDS, type CertTableEntry } from './cert-table.ts'
import { parseSnpReport, SNP_REPORT_SIZE } from './report.ts'
import { parseTrusteeSnpEvidence, type TrusteeAttestationReportJson } from './trustee-evidence.ts'
import { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'

const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const REPORTS = [
  'milan-v2-a',
  'milan-v2-b',
  'milan-v2-c',
  'milan-v3-hostdata',
  'milan-v3-vlek',
] as const
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const vector = (name: (typeof REPORTS)[number]): Uint8Array => read(`${name}/report.bin`)

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

function patched(base: Uint8Array, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = base.slice()
  edit(new DataView(bytes.buffer), bytes)
  return bytes
}

/** The evidence as text and back, as it travels: plain JSON values only. */
function overTheWire(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>
}

function evidenceJson(bytes: Uint8Array, certificates?: CertTableEntry[]): Record<string, unknown> {
  const report = parseSnpReport(bytes)
  return overTheWire(
    snpReportToTrusteeJson(report, certificates === undefined ? {} : { certificates }),
  )
}

/** The attestation_report object of `json`, to edit in place. */
function ar(json: Record<string, unknown>): Record<string, unknown> {
  return json['attestation_report'] as Record<string, unknown>
}

function invalidPaths(json: unknown): readonly string[] {
  const e = thrown(() => parseTrusteeSnpEvidence(json))
  expect(e.code).toBe('ERR_SNP_EVIDENCE_JSON_INVALID')
  expect(e.category).toBe('malformed')
  return e.details['paths'] as readonly string[]
}

/** A Turin v5 report made from a real v3 one: Turin CPUID, Turin TCBs, mitigation vectors. */
const turinV5 = patched(vector('milan-v3-hostdata'), (v, b) => {
  v.setUint32(0, 5, true)
  for (const at of [0x038, 0x180, 0x1e0, 0x1f0]) v.setBigUint64(at, 0x5100000004010101n, true)
  v.setBigUint64(0x040, 0x65n, true)
  b.set([0x1a, 0x02, 0x00], 0x188)
  b.fill(0, 0x1a8, 0x1e0) // Turin CHIP_ID: 8 bytes and zeros
  v.setBigUint64(0x1f8, 0x3n, true)
  v.setBigUint64(0x200, 0x7n, true)
})

describe('snpReportToTrusteeJson and parseTrusteeSnpEvidence round trip', () => {
  it('gives identical bytes for every real report', () => {
    for (const name of REPORTS) {
      const bytes = vector(name)
      const { report, certificates } = parseTrusteeSnpEvidence(evidenceJson(bytes))
      expect(report.raw, name).toEqual(bytes)
      expect(certificates).toEqual([])
    }
  })

  it('writes the sev crate serde form', () => {
    const json = evidenceJson(vector('milan-v3-hostdata'))
    expect(Object.keys(json)).toEqual(['attestation_report', 'cert_chain'])
    expect(json['cert_chain']).toBeNull()
    const report = ar(json) as unknown as TrusteeAttestationReportJson
    expect(Object.keys(report)).toEqual([
      'version',
      'guest_svn',
      'policy',
      'family_id',
      'image_id',
      'vmpl',
      'sig_algo',
      'current_tcb',
      'plat_info',
      'key_info',
      'report_data',
      'measurement',
      'host_data',
      'id_key_digest',
      'author_key_digest',
      'report_id',
      'report_id_ma',
      'reported_tcb',
      'cpuid_fam_id',
      'cpuid_mod_id',
      'cpuid_step',
      'chip_id',
      'committed_tcb',
      'current',
      'committed',
      'launch_tcb',
      'launch_mit_vector',
      'current_mit_vector',
      'signature',
    ])
    expect(report).toMatchObject({
      version: 3,
      guest_svn: 2,
      policy: 0x3001f,
      vmpl: 0,
      sig_algo: 1,
      plat_info: 0x25,
      key_info: 0,
      cpuid_fam_id: 0x19,
      cpuid_mod_id: 0x01,
      cpuid_step: 0x01,
      current: { major: 1, minor: 55, build: 29 },
      launch_mit_vector: null,
      current_mit_vector: null,
    })
    expect(report.reported_tcb).toEqual({
      fmc: null,
      bootloader: 4,
      tee: 0,
      snp: 24,
      microcode: 219,
    })
    expect(report.host_data.slice(0, 4)).toEqual([0x4f, 0x44, 0x48, 0xc6])
    expect(report.signature.r).toHaveLength(72)
    expect(report.signature.s).toHaveLength(72)
  })

  it('writes null CPUID fields for v2 and the VLEK key_info', () => {
    expect(ar(evidenceJson(vector('milan-v2-a')))).toMatchObject({
      cpuid_fam_id: null,
      cpuid_mod_id: null,
      cpuid_step: null,
    })
    expect(ar(evidenceJson(vector('milan-v3-vlek')))['key_info']).toBe(4)
  })

  it('round-trips a Turin v5 report with fmc and mitigation vectors', () => {
    const json = evidenceJson(turinV5)
    expect(ar(json)['current_tcb']).toEqual({
      fmc: 1,
      bootloader: 1,
      tee: 1,
      snp: 4,
      microcode: 81,
    })
    expect(ar(json)['launch_mit_vector']).toBe(3)
    expect(ar(json)['current_mit_vector']).toBe(7)
    const { report } = parseTrusteeSnpEvidence(json)
    expect(report.raw).toEqual(turinV5)
    expect(report.platformInfo.unknownBits).toEqual([6])
  })

  it('refuses a version above 5, as the binary parser does', () => {
    const json = evidenceJson(turinV5)
    ar(json)['version'] = 9
    const e = thrown(() => parseTrusteeSnpEvidence(json))
    expect(e.code).toBe('ERR_SNP_REPORT_VERSION')
    expect(e.details).toMatchObject({ version: 9 })
  })

  it('round-trips the certificate chain, including OTHER entries', () => {
    const vcek = read('milan-v2-a/vcek.der')
    const certificates: CertTableEntry[] = [
      { kind: 'vcek', guid: CERT_TABLE_GUIDS.vcek, data: vcek },
      { kind: 'ask', guid: CERT_TABLE_GUIDS.ask, data: Uint8Array.of(1, 2) },
      { kind: 'vlek', guid: CERT_TABLE_GUIDS.vlek, data: Uint8Array.of(5) },
      { kind: 'ark', guid: CERT_TABLE_GUIDS.ark, data: Uint8Array.of(6) },
      { kind: 'crl', guid: CERT_TABLE_GUIDS.crl, data: Uint8Array.of(3) },
      { kind: 'other', guid: 'ecae0c0f-9502-43b1-afa2-0ae2e0d565b6', data: Uint8Array.of(4) },
    ]
    const json = evidenceJson(vector('milan-v2-a'), certificates)
    const chain = json['cert_chain'] as { cert_type: unknown; data: number[] }[]
    expect(chain.map((c) => c.cert_type)).toEqual([
      'VCEK',
      'ASK',
      'VLEK',
      'ARK',
      'CRL',
      { OTHER: 'ecae0c0f-9502-43b1-afa2-0ae2e0d565b6' },
    ])
    expect(parseTrusteeSnpEvidence(json).certificates).toEqual(certificates)
  })
})

describe('parseTrusteeSnpEvidence accepts what serde accepts', () => {
  const base = (): Record<string, unknown> => evidenceJson(vector('milan-v3-hostdata'))

  it('treats a missing cert_chain, fmc, CPUID or mitigation vector as null', () => {
    const json = base()
    delete json['cert_chain']
    delete ar(json)['launch_mit_vector']
    delete ar(json)['current_mit_vector']
    delete (ar(json)['reported_tcb'] as Record<string, unknown>)['fmc']
    const { report, certificates } = parseTrusteeSnpEvidence(json)
    expect(certificates).toEqual([])
    expect(report.raw).toEqual(vector('milan-v3-hostdata'))

    const v2 = evidenceJson(vector('milan-v2-b'))
    for (const key of ['cpuid_fam_id', 'cpuid_mod_id', 'cpuid_step'])
      Reflect.deleteProperty(ar(v2), key)
    expect(parseTrusteeSnpEvidence(v2).report.raw).toEqual(vector('milan-v2-b'))
  })

  it('accepts an upper-case OTHER GUID and bigint u64 values', () => {
    const json = base()
    json['cert_chain'] = [
      { cert_type: { OTHER: 'ECAE0C0F-9502-43B1-AFA2-0AE2E0D565B6' }, data: [1] },
    ]
    ar(json)['policy'] = 0x3001fn
    expect(parseTrusteeSnpEvidence(json).certificates[0]?.guid).toBe(
      'ecae0c0f-9502-43b1-afa2-0ae2e0d565b6',
    )
    ar(json)['plat_info'] = (1n << 64n) - 1n
    expect(parseTrusteeSnpEvidence(json).report.platformInfo.raw).toBe((1n << 64n) - 1n)
  })

  it('accepts objects without a prototype', () => {
    const json = Object.assign(Object.create(null) as Record<string, unknown>, base())
    expect(parseTrusteeSnpEvidence(json).report.version).toBe(3)
  })
})

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

describe('snpReportToTrusteeJson refuses what the JSON cannot carry', () => {
  const v3 = vector('milan-v3-hostdata')

  it('non-zero reserved bytes', () => {
    const report = parseSnpReport(patched(v3, (_, b) => (b[0x330] = 1)))
    const e = thrown(() => snpReportToTrusteeJson(report))
    expect(e.code).toBe('ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE')
    expect(e.details['fields']).toEqual(['signature.reserved@0x330'])
  })

  it('non-zero reserved TCB bytes', () => {
    const report = parseSnpReport(patched(v3, (_, b) => (b[0x180 + 3] = 1)))
    const e = thrown(() => snpReportToTrusteeJson(report))
    expect(e.code).toBe('ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE')
    expect(e.details['fields']).toEqual(['reported_tcb'])
  })

  it('u64 values a JSON number cannot hold exactly', () => {
    const report = parseSnpReport(
      patched(v3, (v) => {
        v.setBigUint64(0x08, 1n << 60n, true)
      }),
    )
    const e = thrown(() => snpReportToTrusteeJson(report))
    expect(e.code).toBe('ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE')
    expect(e.details['fields']).toEqual(['policy'])
  })

  it('an unknown product line unless told, and a product that contradicts the CPUID', () => {
    const masked = parseSnpReport(patched(vector('milan-v2-a'), (_, b) => b.fill(0, 0x1a0, 0x1e0)))
    expect(thrown(() => snpReportToTrusteeJson(masked)).code).toBe('ERR_SNP_PRODUCT_UNKNOWN')
    const json = overTheWire(snpReportToTrusteeJson(masked, { product: 'Milan' }))
    expect(parseTrusteeSnpEvidence(json).report.raw).toEqual(masked.raw)

    const venice = parseSnpReport(
      patched(turinV5, (_, b) => {
        b.set([0x1a, 0x50], 0x188)
      }),
    )
    expect(thrown(() => snpReportToTrusteeJson(venice)).code).toBe('ERR_SNP_PRODUCT_UNKNOWN')
    const veniceJson = snpReportToTrusteeJson(venice, { product: 'Turin' })
    expect(veniceJson.attestation_report.current_tcb.fmc).toBe(1)
    expect(parseTrusteeSnpEvidence(overTheWire(veniceJson)).report.raw).toEqual(venice.raw)
    // A Milan-layout TCB read in the Turin layout has bytes the JSON cannot carry.
    const milanAsTurin = thrown(() =>
      snpReportToTrusteeJson(
        parseSnpReport(
          patched(v3, (_, b) => {
            b.set([0x1a, 0x50], 0x188)
          }),
        ),
        {
          product: 'Turin',
        },
      ),
    )
    expect(milanAsTurin.code).toBe('ERR_SNP_EVIDENCE_JSON_UNREPRESENTABLE')
    expect(milanAsTurin.details['fields']).toEqual([
      'current_tcb',
      'reported_tcb',
      'committed_tcb',
      'launch_tcb',
    ])

    const e = thrown(() => snpReportToTrusteeJson(parseSnpReport(v3), { product: 'Genoa' }))
    expect(e.code).toBe('ERR_SNP_PRODUCT_MISMATCH')
  })

  it('guesses Turin for a v2 report with an 8-byte CHIP_ID, as the sev crate does', () => {
    const v2 = patched(turinV5, (v, b) => {
      v.setUint32(0, 2, true)
      b.fill(0, 0x188, 0x18b)
      b.fill(0, 0x1f8, 0x208)
    })
    const json = snpReportToTrusteeJson(parseSnpReport(v2))
    expect(json.attestation_report.reported_tcb.fmc).toBe(1)
    expect(json.attestation_report.cpuid_fam_id).toBeNull()
    expect(parseTrusteeSnpEvidence(overTheWire(json)).report.raw).toEqual(v2)
  })
})

describe('parseTrusteeSnpEvidence properties', () => {
  function throwsOnlyOurs(json: unknown): void {
    try {
      const { report } = parseTrusteeSnpEvidence(json)
      expect(report.raw.length).toBe(SNP_REPORT_SIZE)
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }

  it('throws nothing but InitguardError for any JSON value', () => {
    fc.assert(fc.property(fc.jsonValue(), throwsOnlyOurs), { numRuns: 300 })
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        throwsOnlyOurs({ attestation_report: value, cert_chain: value })
      }),
      { numRuns: 300 },
    )
  })

  /** Every path (list of keys) in a JSON tree, the root included. */
  function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    const out = [prefix]
    if (Array.isArray(value)) {
      value.forEach((item, i) => out.push(...paths(item, [...prefix, i])))
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]))
    }
    return out
  }

  type Mutation =
    | { kind: 'replace'; value: unknown }
    | { kind: 'delete' }
    | { kind: 'add'; key: string; value: unknown }

  function mutate(json: unknown, path: (string | number)[], mutation: Mutation): unknown {
    if (path.length === 0) return mutation.kind === 'replace' ? mutation.value : json
    const parent = path
      .slice(0, -1)
      .reduce<unknown>(
        (node, key) => (node as Record<string | number, unknown>)[key],
        json,
      ) as Record<string | number, unknown>
    const key = path.at(-1) ?? 0
    switch (mutation.kind) {
      case 'replace':
        parent[key] = mutation.value
        break
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1)
        else Reflect.deleteProperty(parent, key)
        break
      case 'add': {
        const target = parent[key]
        if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
          ;(target as Record<string, unknown>)[mutation.key] = mutation.value
        } else if (Array.isArray(target)) target.push(mutation.value)
        break
      }
    }
    return json
  }

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({
      kind: fc.constant('replace' as const),
      value: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constant(null), fc.double()),
    }),
    fc.record({ kind: fc.constant('delete' as const) }),
    fc.record({
      kind: fc.constant('add' as const),
      key: fc.string(),
      value: fc.jsonValue({ maxDepth: 1 }),
    }),
  )

  it('throws nothing but InitguardError for mutated valid evidence', () => {
    const bases = [
      ...REPORTS.map((name) => evidenceJson(vector(name))),
      evidenceJson(turinV5, [
        { kind: 'vcek', guid: CERT_TABLE_GUIDS.vcek, data: Uint8Array.of(1, 2, 3) },
      ]),
    ].map((json) => JSON.stringify(json))
    const allPaths = bases.map((text) => paths(JSON.parse(text)))
    fc.assert(
      fc.property(
        fc.nat({ max: bases.length - 1 }),
        fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }),
        (which, mutations) => {
          let json: unknown = JSON.parse(bases[which] ?? 'null')
          const candidates = allPaths[which] ?? [[]]
          for (const [index, m] of mutations) {
            const path = candidates[index % candidates.length] ?? []
            try {
              json = mutate(json, path, m)
            } catch {
              // The path no longer exists after an earlier mutation: skip this one.
            }
          }
          throwsOnlyOurs(json)
        },
      ),
      { numRuns: 500 },
    )
  })
})
