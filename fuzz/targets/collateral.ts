/**
 * DCAP collateral: our combined JSON, Intel PCS's TCB info and QE identity responses and their
 * inner documents, CRLs (DER and PEM), issuer chains (PEM and the URL-encoded header), and
 * collateral verification against Intel's root at a time inside the real collateral's window.
 *
 * @module
 */
import { loadSimulator } from '@initguard/tee-simulator'
import {
  collateralToJson,
  decodeIssuerChainHeader,
  parseCollateralCertificates,
  parseCollateralJson,
  parsePcsQeIdentityResponse,
  parsePcsTcbInfoResponse,
  parseQeIdentity,
  parseTcbInfo,
  parseX509Crl,
  verifyCollateral,
} from '@initguard/tdx'
import { madeSeed, text, vector, vectorSeeds } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'

const AT_V4B = new Date('2025-07-01T00:00:00Z')

export const collateralTarget: FuzzTarget = {
  name: 'collateral',
  description:
    'DCAP collateral JSON, PCS responses, TCB info, QE identity, CRLs, issuer chains, verification',
  prepare: async ({ simulatorDir }) => {
    const simulator = await loadSimulator(simulatorDir)
    const combined = [
      'tdx/spr-v4/collateral.json',
      'tdx/v4-b/collateral.json',
      'sgx/v3-a/collateral.json',
    ]
    const seeds: FuzzSeed[] = [
      ...(await vectorSeeds('collateral-json', 'json', combined)),
      ...(await vectorSeeds('verify-v4b', 'json', ['tdx/v4-b/collateral.json'])),
      ...(await vectorSeeds('tcb-info-response', 'json', ['tdx/spr-v4/tcbinfo-response.json'])),
      ...(await vectorSeeds('qe-identity-response', 'json', [
        'tdx/spr-v4/qeidentity-response.json',
      ])),
      ...(await vectorSeeds('crl', 'binary', [
        'tdx/spr-v4/root-ca-crl.der',
        'tdx/spr-v4/pck-platform-crl.der',
      ])),
      ...(await vectorSeeds('issuer-chain', 'text', [
        'tdx/spr-v4/tcb-signing-chain.pem',
        'tdx/spr-v4/pck-crl-issuer-chain.pem',
      ])),
    ]
    seeds.push(
      madeSeed(
        'collateral-json',
        'json',
        collateralToJson(simulator.trust.collateral),
        'simulator collateral',
      ),
    )
    for (const path of combined) {
      const collateral = parseCollateralJson(text(await vector(path)))
      seeds.push(madeSeed('tcb-info', 'json', collateral.tcbInfo, `tcbInfo of ${path}`))
      seeds.push(madeSeed('qe-identity', 'json', collateral.qeIdentity, `qeIdentity of ${path}`))
      seeds.push(
        madeSeed(
          'issuer-header',
          'text',
          encodeURIComponent(collateral.pckCrlIssuerChain),
          `header of ${path}`,
        ),
      )
    }
    return {
      seeds,
      entries: {
        'collateral-json': (input) => parseCollateralJson(input),
        'verify-v4b': (input) => verifyCollateral(parseCollateralJson(input), { now: AT_V4B }),
        'tcb-info-response': (input) => parseTcbInfo(parsePcsTcbInfoResponse(input).text),
        'qe-identity-response': (input) => parseQeIdentity(parsePcsQeIdentityResponse(input).text),
        'tcb-info': (input) => parseTcbInfo(text(input)),
        'qe-identity': (input) => parseQeIdentity(text(input)),
        crl: (input) => parseX509Crl(input, 'fuzzed CRL'),
        'issuer-chain': (input) => parseCollateralCertificates(text(input), 'fuzzed chain'),
        'issuer-header': (input) =>
          parseCollateralCertificates(decodeIssuerChainHeader(text(input)), 'fuzzed header'),
      },
    }
  },
}
