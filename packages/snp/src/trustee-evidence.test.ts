import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { CERT_TABLE_GUIDS, type CertTableEntry } from './cert-table.ts'
import { parseSnpReport, SNP_REPORT_SIZE } from './report.ts'
import { parseTrusteeSnpEvidence, type TrusteeAttestationReportJson } from './trustee-evidence.ts'
import { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'
import {
  REPORTS,
  read,
  vector,
  thrown,
  patched,
  overTheWire,
  evidenceJson,
  ar,
  turinV5,
} from './trustee-evidence-test-support.ts'

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
