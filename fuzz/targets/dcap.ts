/**
 * Intel DCAP: TDX and SGX quotes (v3, v4, the simulator's), Trustee's TDX evidence JSON, the PCK
 * certificates inside quotes, and whole verifications with real collateral at a time inside it and
 * with the simulator's.
 *
 * @module
 */
import { parseInitdata } from '@initguard/initdata'
import { loadSimulator, simulateTdxEvidence } from '@initguard/tee-simulator'
import {
  parseCollateralJson,
  parseDcapEvidence,
  parseDcapQuote,
  parsePckCertificate,
  quoteBodyClaims,
  verifyDcapQuote,
} from '@initguard/tdx'
import { madeSeed, text, vector, vectorSeeds } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'

const AT_V4B = new Date('2025-07-01T00:00:00Z')
const AT_V3A = new Date('2025-07-01T00:00:00Z')
const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n\'\'\'\n'

export const dcapTarget: FuzzTarget = {
  name: 'dcap',
  description: 'TDX/SGX quotes, Trustee TDX evidence, PCK certificates, DCAP verification',
  prepare: async ({ simulatorDir }) => {
    const simulator = await loadSimulator(simulatorDir)
    const quotes = [
      'tdx/spr-v4/quote.dat',
      'tdx/v4-b/quote.dat',
      'tdx/v4-claims/quote.dat',
      'sgx/v3-a/quote.dat',
      'sgx/v3-b/quote.dat',
    ]
    const seeds: FuzzSeed[] = [
      ...(await vectorSeeds('quote', 'binary', quotes)),
      ...(await vectorSeeds('verify-v4b', 'binary', ['tdx/v4-b/quote.dat'])),
      ...(await vectorSeeds('verify-v3a', 'binary', ['sgx/v3-a/quote.dat'])),
    ]
    for (const path of quotes) {
      const quote = parseDcapQuote(await vector(path))
      const certification = quote.signatureData.pckCertification
      if (certification.kind === 'pck-cert-chain') {
        for (const certificate of certification.certificates.slice(0, 2))
          seeds.push(madeSeed('pck-certificate', 'binary', certificate.der, `PCK chain of ${path}`))
      }
    }
    const initdata = parseInitdata(new TextEncoder().encode(DOCUMENT))
    const evidence = simulateTdxEvidence(simulator.material.tdx, {
      initdata,
      reportData: new Uint8Array(64),
    })
    seeds.push(madeSeed('evidence', 'json', JSON.stringify(evidence), 'simulator TDX evidence'))
    seeds.push(
      madeSeed(
        'verify-sim',
        'binary',
        Buffer.from(evidence.quote, 'base64'),
        'simulator TDX quote',
      ),
    )
    const v4b = parseCollateralJson(text(await vector('tdx/v4-b/collateral.json')))
    const v3a = parseCollateralJson(text(await vector('sgx/v3-a/collateral.json')))
    const { collateral, intelRoot } = simulator.trust
    return {
      seeds,
      entries: {
        quote: (input) => quoteBodyClaims(parseDcapQuote(input)),
        evidence: (input) =>
          verifyDcapQuote(parseDcapEvidence(input).quote, {
            now: new Date(),
            collateral,
            root: intelRoot,
          }),
        'pck-certificate': (input) => parsePckCertificate(input),
        'verify-v4b': (input) =>
          verifyDcapQuote(parseDcapQuote(input), { now: AT_V4B, collateral: v4b }),
        'verify-v3a': (input) =>
          verifyDcapQuote(parseDcapQuote(input), {
            now: AT_V3A,
            collateral: v3a,
            policy: { allowSwHardeningNeeded: true, allowConfigurationNeeded: true },
          }),
        'verify-sim': (input) =>
          verifyDcapQuote(parseDcapQuote(input), { now: new Date(), collateral, root: intelRoot }),
      },
    }
  },
}
