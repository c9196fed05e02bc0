/**
 * SEV-SNP: raw reports, extended reports and certificate tables, Trustee's evidence JSON (the
 * simulator's), VCEK/VLEK certificates and AMD's PEM bundles, CRLs, and whole verifications: real
 * Milan reports with their VCEK under AMD's pinned roots, simulator evidence under its own roots.
 *
 * @module
 */
import {
  buildCertTable,
  parseAmdCertificate,
  parseAmdCrl,
  parseCertTable,
  parseExtendedReport,
  parsePemBundle,
  parseSnpEvidence,
  parseSnpReport,
  snpClaims,
  verifySnpEvidence,
} from '@initguard/snp'
import { parseInitdata } from '@initguard/initdata'
import { loadSimulator, simulateSnpEvidence } from '@initguard/tee-simulator'
import { madeSeed, text, vector, vectorSeeds } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'

/** Inside every Milan vector VCEK's validity. */
const VECTOR_TIME = new Date('2026-06-01T00:00:00Z')
const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n\'\'\'\n'

export const snpTarget: FuzzTarget = {
  name: 'snp',
  description:
    'SEV-SNP reports, extended reports, Trustee JSON, AMD certificates and CRLs, verification',
  prepare: async ({ simulatorDir }) => {
    const simulator = await loadSimulator(simulatorDir)
    const reports = [
      'milan-v2-a',
      'milan-v2-b',
      'milan-v2-c',
      'milan-v3-hostdata',
      'milan-v3-vlek',
    ].map((d) => `snp/${d}/report.bin`)
    const vcekPem = text(await vector('snp/milan-v3-hostdata/vcek.pem'))
    const vcekDer = await vector('snp/milan-v2-a/vcek.der')
    const seeds: FuzzSeed[] = [
      ...(await vectorSeeds('report', 'binary', reports)),
      ...(await vectorSeeds('verify-vector', 'binary', ['snp/milan-v3-hostdata/report.bin'])),
      ...(await vectorSeeds('certificate', 'binary', [
        'snp/milan-v2-a/vcek.der',
        'snp/milan-v2-c/vcek-hwid-legacy-encoding.der',
        'snp/milan-v3-vlek/vlek.der',
        'snp/turin-vcek-only/vcek.der',
        'snp/milan-v3-hostdata/vcek.pem',
      ])),
      ...(await vectorSeeds('pem-bundle', 'text', [
        'snp/amd-roots/ask_ark_milan.pem',
        'snp/amd-roots/ask_ark_turin_vlek.pem',
      ])),
      ...(await vectorSeeds('crl', 'binary', [
        'tdx/spr-v4/root-ca-crl.der',
        'tdx/spr-v4/pck-platform-crl.der',
      ])),
    ]
    const table = buildCertTable([{ kind: 'vcek', data: vcekDer }])
    seeds.push(madeSeed('cert-table', 'binary', table, 'a table holding milan-v2-a/vcek.der'))
    const report = await vector('snp/milan-v2-a/report.bin')
    const extended = new Uint8Array(report.length + table.length)
    extended.set(report)
    extended.set(table, report.length)
    seeds.push(
      madeSeed(
        'evidence',
        'binary',
        extended,
        'milan-v2-a report + its VCEK as an extended report',
      ),
    )
    const initdata = parseInitdata(new TextEncoder().encode(DOCUMENT))
    for (const debug of [false, true]) {
      const evidence = simulateSnpEvidence(simulator.material.snp, {
        initdata,
        reportData: new Uint8Array(64),
        debug,
      })
      seeds.push(
        madeSeed(
          'evidence',
          'json',
          JSON.stringify(evidence),
          `simulator SNP evidence (debug ${String(debug)})`,
        ),
      )
    }
    const anchors = simulator.trust.snpAnchors
    return {
      seeds,
      entries: {
        report: (input) => snpClaims(parseSnpReport(input), 'Milan', 'vcek'),
        'cert-table': (input) => parseCertTable(input),
        certificate: (input) =>
          parseAmdCertificate(input[0] === 0x30 ? input : text(input), 'fuzzed certificate'),
        'pem-bundle': (input) => parsePemBundle(text(input), 'fuzzed bundle'),
        crl: (input) => parseAmdCrl(input),
        evidence: (input) => {
          const evidence = parseSnpEvidence(input)
          if (evidence.format === 'extended-report') parseExtendedReport(input)
          return verifySnpEvidence(evidence, { now: new Date(), anchors, certificates: [vcekPem] })
        },
        'verify-vector': (input) =>
          verifySnpEvidence(
            { report: parseSnpReport(input), certificates: [] },
            { now: VECTOR_TIME, certificates: [vcekPem] },
          ),
      },
    }
  },
}
