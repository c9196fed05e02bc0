/**
 * KBS protocol (RCAR 0.4.0) messages as they travel: `/auth` request and challenge, `/attest` body
 * (with SNP and TDX evidence inside) and token, the resource JWE (parsed and opened with the TEE
 * key it was sealed to), error bodies, TEE public JWKs, and the admin API's workload definition.
 * JSON that does not parse is the transport's to refuse (HTTP 400), so only parsed JSON reaches them.
 *
 * @module
 */
import { createPrivateKey } from 'node:crypto'
import { parseWorkloadDefinition } from '@initguard/kbs'
import {
  checkTeePublicJwk,
  openResource,
  parseKbsAttestation,
  parseKbsAttestationToken,
  parseKbsChallenge,
  parseKbsErrorBody,
  parseKbsRequest,
  parseKbsResourceJwe,
} from '@initguard/kbs-protocol'
import { jsonOf, madeSeed, repoFile, text } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'

const FIXTURES = 'packages/kbs-protocol/src/__fixtures__/'

/** Run `parse` on the JSON in `input`; input that is not JSON is the transport's to refuse. */
const onJson =
  (parse: (value: unknown) => unknown) =>
  (input: Uint8Array): unknown => {
    const value = jsonOf(input)
    return value === undefined ? undefined : parse(value)
  }

export const kbsMessagesTarget: FuzzTarget = {
  name: 'kbs-messages',
  description:
    'RCAR request, challenge, attestation, token, resource JWE, error body, TEE JWK, workload',
  prepare: async () => {
    const fixture = async (name: string): Promise<Uint8Array> => repoFile(`${FIXTURES}${name}`)
    const seeds: FuzzSeed[] = []
    const add = async (entry: string, name: string): Promise<void> => {
      seeds.push(madeSeed(entry, 'json', await fixture(name), `${FIXTURES}${name}`))
    }
    await add('request', 'request.json')
    await add('challenge', 'challenge.json')
    await add('attestation', 'attestation-ec-initdata.json')
    await add('attestation', 'attestation-rsa.json')
    await add('token', 'attestation-token.json')
    await add('resource-jwe', 'resource-jwe.json')
    await add('resource-open', 'resource-jwe.json')
    await add('error-body', 'error-body.json')
    for (const name of ['attestation-ec-initdata.json', 'attestation-rsa.json']) {
      const attestation = jsonOf(await fixture(name)) as {
        'runtime-data': { 'tee-pubkey': unknown }
      }
      seeds.push(
        madeSeed(
          'tee-jwk',
          'json',
          JSON.stringify(attestation['runtime-data']['tee-pubkey']),
          name,
        ),
      )
    }
    const workload = {
      tees: ['snp', 'tdx', 'sgx'],
      initdata: ['version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n'],
      resources: ['default/app/*'],
      snp: {
        measurements: ['00'.repeat(48)],
        minimumTcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
        allowDebug: false,
        vmpl: 0,
      },
      tdx: {
        mrtd: ['00'.repeat(48)],
        rtmr0: ['00'.repeat(48)],
        rtmr1: ['00'.repeat(48)],
        rtmr2: ['00'.repeat(48)],
        acceptedTcbStatuses: ['UpToDate'],
      },
      sgx: { mrenclave: ['00'.repeat(32)], isvProdId: 1, minIsvSvn: 2 },
      cel: 'tee != "snp" || snp.vmpl == 0',
    }
    seeds.push(
      madeSeed(
        'workload',
        'json',
        JSON.stringify({ name: 'app', ...workload }),
        'a workload as the admin API takes it',
      ),
    )
    const teeKey = createPrivateKey(text(await fixture('tee-key-ec.pem')))
    return {
      seeds,
      entries: {
        request: onJson(parseKbsRequest),
        challenge: onJson(parseKbsChallenge),
        attestation: onJson(parseKbsAttestation),
        token: onJson(parseKbsAttestationToken),
        'resource-jwe': onJson(parseKbsResourceJwe),
        'resource-open': onJson((value) => openResource(teeKey, value)),
        'error-body': onJson(parseKbsErrorBody),
        'tee-jwk': onJson((value) => checkTeePublicJwk(value)),
        workload: onJson(parseWorkloadDefinition),
      },
    }
  },
}
