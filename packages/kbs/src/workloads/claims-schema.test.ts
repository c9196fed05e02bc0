/**
 * The declared claims cannot drift from what the appraiser passes to the CEL expression: the
 * claims the verifiers build from real vendor evidence (testdata/vectors) and from the simulator
 * have exactly the declared fields (less the optional ones some evidence lacks), of the declared
 * types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToBase64 } from '@initguard/core'
import type { KbsTee } from '@initguard/kbs-protocol'
import { parseTrusteeSnpEvidence, verifySnpEvidence } from '@initguard/snp'
import { parseCollateralJson } from '@initguard/tdx'
import { buildTdxQuote, type TeeSimulator } from '@initguard/tee-simulator'
import {
  realSnpTrusteeJson,
  simulatedAttestation,
  temporarySimulator,
  vector,
} from '../appraisal/appraisal-test-support.ts'
import { createEvidenceVerifier } from '../appraisal/evidence-verifier.ts'
import { trusteeSnpClaims } from '../appraisal/snp-evidence.ts'
import { claimsExpressionFailure, compileClaimsExpression } from './claims-expression.ts'
import { initdataText } from './workload-test-support.ts'
import {
  HEX_CLAIM_BYTES,
  OPTIONAL_CLAIMS,
  TEE_CLAIM_FIELDS,
  claimLeaves,
  type ClaimType,
} from './claims-schema.ts'

const AT_2025 = new Date('2025-07-01T00:00:00Z')
const AT_2026 = new Date('2026-06-01T00:00:00Z')

let simulator: TeeSimulator
let removeSimulator: () => Promise<void>
beforeAll(async () => {
  const temporary = await temporarySimulator()
  simulator = temporary.simulator
  removeSimulator = () => temporary.remove()
})
afterAll(async () => removeSimulator())

/** The dotted paths of every non-object value in `claims`, with the value. */
function actualLeaves(claims: unknown, prefix = ''): Map<string, unknown> {
  const leaves = new Map<string, unknown>()
  for (const [name, value] of Object.entries(claims as Record<string, unknown>)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const entry of actualLeaves(value, `${prefix}${name}.`)) leaves.set(...entry)
    } else leaves.set(`${prefix}${name}`, value)
  }
  return leaves
}

function hasType(value: unknown, type: ClaimType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'int':
      return Number.isSafeInteger(value)
    case 'bool':
      return typeof value === 'boolean'
    case 'list<string>':
      return Array.isArray(value) && value.every((item) => typeof item === 'string')
    case 'dyn':
      // A string that may be null: what the put check holds a literal compared with it to.
      return value === null || typeof value === 'string'
    default:
      // An object's fields are leaves of their own; an object is no leaf.
      return false
  }
}

/** Check `claims` against the declaration of `tee`; the declared paths it has. */
function expectDeclared(tee: KbsTee, claims: unknown): string[] {
  const declared = claimLeaves(TEE_CLAIM_FIELDS[tee])
  const actual = actualLeaves(claims)
  const required = [...declared.keys()].filter((path) => !OPTIONAL_CLAIMS[tee].includes(path))
  expect(
    [...actual.keys()].filter((path) => !declared.has(path)),
    'undeclared claims',
  ).toEqual([])
  expect(
    required.filter((path) => !actual.has(path)),
    'declared claims missing',
  ).toEqual([])
  const mistyped = [...actual].filter(([path, value]) => {
    const type = declared.get(path)
    return type !== undefined && !hasType(value, type)
  })
  expect(mistyped, 'claims not of their declared type').toEqual([])
  // Each hex claim is lower-case hex of its declared length, and each string one not listed is
  // not hex (so a literal compared with it is not held to a length it does not have).
  const hex = HEX_CLAIM_BYTES[tee]
  const misread = [...actual]
    .filter(([path, value]) => typeof value === 'string' && declared.get(path) === 'string')
    .filter(([path, value]) => {
      const bytes = hex[path]
      return bytes === undefined
        ? /^([0-9a-f]{2})+$/.test(String(value)) && String(value).length >= 8
        : !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(String(value))
    })
    .map(([path, value]) => `${path}=${String(value)}`)
  expect(misread, 'hex claims not of their declared length').toEqual([])
  expect(
    Object.keys(hex).filter((path) => declared.get(path) !== 'string'),
    'hex claims not declared as strings',
  ).toEqual([])
  return [...actual.keys()]
}

const quoteEvidence = (path: string): unknown => ({ quote: bytesToBase64(vector(path)) })

describe('the declared CEL claims', () => {
  it('are the SEV-SNP claims of the real Milan v3 report and of the simulator', async () => {
    // The KBS verifier refuses the real report without AMD's CRL; its claims are mapped by the
    // same function after the SNP verifier verified it to the pinned ARK.
    const evidence = parseTrusteeSnpEvidence(
      realSnpTrusteeJson('milan-v3-hostdata', 'vcek', 'vcek.pem'),
    )
    const milan = verifySnpEvidence(evidence, { now: AT_2026 }).claims
    const seen = new Set(expectDeclared('snp', trusteeSnpClaims(milan)))
    // Turin and later have an FMC TCB component; no Turin report is among the vectors.
    const turin = { ...milan, reported_tcb: { ...milan.reported_tcb, fmc: 1 } }
    for (const path of expectDeclared('snp', trusteeSnpClaims(turin))) seen.add(path)
    expect([...claimLeaves(TEE_CLAIM_FIELDS.snp).keys()].filter((path) => !seen.has(path))).toEqual(
      [],
    )
    const verifier = createEvidenceVerifier({ trust: { simulator: simulator.trust } })
    const attestation = simulatedAttestation(simulator, {
      tee: 'snp',
      launchedWith: initdataText(),
    })
    const verified = await verifier.verify('snp', attestation.primaryEvidence, new Date())
    expectDeclared('snp', verified.claims)
  })

  it('are the TDX claims of the real v4 quotes and of the simulator', async () => {
    const seen = new Set<string>()
    for (const folder of ['v4-b']) {
      const verifier = createEvidenceVerifier({
        trust: {
          dcap: { collateral: [parseCollateralJson(vector(`tdx/${folder}/collateral.json`))] },
        },
      })
      const verified = await verifier.verify(
        'tdx',
        quoteEvidence(`tdx/${folder}/quote.dat`),
        AT_2025,
      )
      for (const path of expectDeclared('tdx', verified.claims)) seen.add(path)
    }
    // The simulator's TDX 1.0 (v4) and TDX 1.5 (v5) quotes.
    const verifier = createEvidenceVerifier({ trust: { simulator: simulator.trust } })
    const attestation = simulatedAttestation(simulator, {
      tee: 'tdx',
      launchedWith: initdataText(),
    })
    const { tdx } = simulator.material
    const td15 = buildTdxQuote(
      { version: 5, mrServiceTd: new Uint8Array(48).fill(0x5d) },
      {
        privateKey: tdx.pckPrivateKey,
        chainPem: tdx.pckChainPem,
        attestationKey: tdx.attestationKey,
      },
    )
    for (const evidence of [attestation.primaryEvidence, { quote: bytesToBase64(td15) }]) {
      const verified = await verifier.verify('tdx', evidence, new Date())
      for (const path of expectDeclared('tdx', verified.claims)) seen.add(path)
    }
    // Every optional claim is some evidence's: none is declared that no verifier emits.
    expect([...claimLeaves(TEE_CLAIM_FIELDS.tdx).keys()].filter((path) => !seen.has(path))).toEqual(
      [],
    )
  })

  it('are the SGX claims of the real v3 quote', async () => {
    const verifier = createEvidenceVerifier({
      trust: { dcap: { collateral: [parseCollateralJson(vector('sgx/v3-a/collateral.json'))] } },
    })
    const verified = await verifier.verify('sgx', quoteEvidence('sgx/v3-a/quote.dat'), AT_2025)
    expectDeclared('sgx', verified.claims)
    // The nested integers reach the expression as ints (the simulator makes no SGX evidence for
    // the appraiser tests to show it).
    const rule = compileClaimsExpression(
      'sgx.body.isv_svn >= 0 && sgx.body.isv_prod_id >= 0 && sgx.tcb_evaluation_data_number > 0',
      '$.cel',
      ['sgx'],
    )
    expect(claimsExpressionFailure(rule, { tee: 'sgx', sgx: verified.claims })).toBeUndefined()
  })
})
