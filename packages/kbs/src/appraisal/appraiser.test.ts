/** The appraiser over real simulator evidence: every accept and refusal the issue names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TeeSimulator } from '@initguard/tee-simulator'
import type { AppraisalOutcome, AttestationToAppraise } from '../ports.ts'
import {
  MemoryWorkloadStore,
  SIMULATOR_TDX_VALUES,
  initdataText,
  webDefinition,
} from '../workloads/workload-test-support.ts'
import { simulatedAttestation, temporarySimulator } from './appraisal-test-support.ts'
import { createAppraiser } from './appraiser.ts'
import { createEvidenceVerifier } from './evidence-verifier.ts'

let simulator: TeeSimulator
let temporary: Awaited<ReturnType<typeof temporarySimulator>>

beforeAll(async () => {
  temporary = await temporarySimulator()
  simulator = temporary.simulator
}, 120_000)
afterAll(async () => {
  await temporary.remove()
})

const ACCEPTED = initdataText()
const OTHER = initdataText('https://other-kbs.example')

async function appraiserWith(
  definitions: readonly Record<string, unknown>[],
  trustSimulator = true,
): Promise<ReturnType<typeof createAppraiser>> {
  const workloads = new MemoryWorkloadStore()
  for (const definition of definitions)
    await workloads.put(String(definition['name']), definition, new Date())
  const verifier = createEvidenceVerifier({
    trust: trustSimulator ? { simulator: simulator.trust } : {},
  })
  return createAppraiser({ verifier, workloads })
}

async function appraise(
  attestation: AttestationToAppraise,
  definitions: readonly Record<string, unknown>[] = [webDefinition()],
  trustSimulator = true,
): Promise<AppraisalOutcome> {
  return (await appraiserWith(definitions, trustSimulator)).appraise(attestation)
}

function refusal(outcome: AppraisalOutcome): { status: number; code: string; detail: string } {
  if (outcome.accepted) throw new Error('accepted, but a refusal was expected')
  return { status: outcome.status, code: outcome.code, detail: outcome.detail }
}

describe.each(['snp', 'tdx'] as const)('appraising simulated %s evidence', (tee) => {
  it('accepts the right workload with the right init-data, marked simulated', async () => {
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const outcome = await appraise(attestation)
    expect(outcome).toMatchObject({
      accepted: true,
      tee,
      workload: { name: 'web', version: 1 },
      simulated: true,
    })
    if (!outcome.accepted) return
    expect(outcome.evidenceDigest).toMatch(/^[0-9a-f]{64}$/)
    const claims = outcome.annotatedEvidence
    expect(Object.keys(claims).sort()).toEqual(
      [tee, 'init_data', 'init_data_claims', 'report_data', 'runtime_data_claims'].sort(),
    )
    expect(claims['init_data_claims']).toMatchObject({
      'aa.toml': { token_configs: { kbs: { url: 'https://kbs.example:8080' } } },
      'cdh.toml': { kbc: { name: 'cc_kbc' } },
    })
    expect(claims['runtime_data_claims']).toEqual({
      nonce: attestation.nonce,
      'tee-pubkey': attestation.teePubkey,
      'additional-evidence': '',
    })
    expect(claims['report_data']).toMatch(/^[0-9a-f]{128}$/)
    expect(claims['init_data']).toHaveLength(tee === 'snp' ? 64 : 96)
  })

  it('accepts a guest that sends no init-data body by its hardware field; init_data_claims is null', async () => {
    const outcome = await appraise(
      simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED, sends: null }),
    )
    expect(outcome.accepted && outcome.annotatedEvidence['init_data_claims']).toBe(null)
  })

  it('refuses another self-consistent init-data with 403, naming the workload', async () => {
    const { status, code, detail } = refusal(
      await appraise(simulatedAttestation(simulator, { tee, launchedWith: OTHER })),
    )
    expect([status, code]).toEqual([403, 'ERR_KBS_NO_WORKLOAD'])
    expect(detail).toMatch(
      /workload 'web': init-data digest [0-9a-f]{16}… .* is not one of its 1 accepted document/,
    )
  })

  it('refuses an init-data body that does not match the report with 401 and the explain hint', async () => {
    const { status, code, detail } = refusal(
      await appraise(
        simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED, sends: OTHER }),
      ),
    )
    expect([status, code]).toEqual([401, 'ERR_KBS_INITDATA_MISMATCH'])
    expect(detail).toContain(`initguard initdata explain DOCUMENT --tee ${tee} --expected `)
  })

  it('refuses a wrong measurement with 403', async () => {
    const definition = webDefinition(
      tee === 'snp'
        ? { snp: { measurements: ['ab'.repeat(48), 'cd'.repeat(48)] } }
        : { tdx: { ...SIMULATOR_TDX_VALUES, mrtd: ['ab'.repeat(48)] } },
    )
    const { status, detail } = refusal(
      await appraise(simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED }), [
        definition,
      ]),
    )
    expect(status).toBe(403)
    expect(detail).toContain(
      tee === 'snp'
        ? "workload 'web': MEASUREMENT 2d0d2d8abdae4bf0… is not one of its 2 MEASUREMENTs"
        : "workload 'web': MRTD bfa263af2eb1ce11… is not one of its 1 MRTD",
    )
  })

  it('refuses simulated evidence with 403 when the workload says refuseSimulated (real hardware only)', async () => {
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const { status, code, detail } = refusal(
      await appraise(attestation, [webDefinition({ refuseSimulated: true })]),
    )
    expect([status, code]).toEqual([403, 'ERR_KBS_NO_WORKLOAD'])
    expect(detail).toContain(
      "workload 'web': the evidence is simulated, and it has refuseSimulated",
    )
    expect(
      (await appraise(attestation, [webDefinition({ refuseSimulated: false })])).accepted,
    ).toBe(true)
  })

  it('refuses a debug guest with 403 unless the workload allows debug', async () => {
    const debug = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED, debug: true })
    const { status, detail } = refusal(await appraise(debug))
    expect(status).toBe(403)
    expect(detail).toContain(`${tee}.allowDebug`)
    const allowing = webDefinition({
      [tee]: { ...(webDefinition()[tee] as object), allowDebug: true },
    })
    expect((await appraise(debug, [allowing])).accepted).toBe(true)
  })

  it('refuses a migratable guest with 403 unless the workload allows migration', async () => {
    const migratable = simulatedAttestation(simulator, {
      tee,
      launchedWith: ACCEPTED,
      migratable: true,
    })
    const { status, detail } = refusal(await appraise(migratable))
    expect(status).toBe(403)
    expect(detail).toContain(`${tee}.allowMigration`)
    const allowing = webDefinition({
      [tee]: { ...(webDefinition()[tee] as object), allowMigration: true },
    })
    expect((await appraise(migratable, [allowing])).accepted).toBe(true)
  })

  it('refuses evidence bound to another challenge with 401', async () => {
    const outcome = await appraise(
      simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED, bindOtherNonce: true }),
    )
    expect(refusal(outcome)).toMatchObject({
      status: 401,
      code: 'ERR_KBS_REPORT_DATA_MISMATCH',
      detail: expect.stringContaining('bound to another key or challenge') as unknown,
    })
  })

  it('refuses the same evidence presented with another TEE key with 401', async () => {
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const other = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const outcome = await appraise({ ...attestation, teePubkey: other.teePubkey })
    expect(refusal(outcome).code).toBe('ERR_KBS_REPORT_DATA_MISMATCH')
  })

  it('refuses simulator evidence without simulator trust with 401', async () => {
    const outcome = await appraise(
      simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED }),
      [webDefinition()],
      false,
    )
    expect(refusal(outcome)).toMatchObject({
      status: 401,
      code: tee === 'snp' ? 'ERR_SNP_CHAIN_ROOT_UNTRUSTED' : 'ERR_TDX_PCK_ROOT_UNTRUSTED',
    })
  })

  it('applies the CEL expression: true accepts, false refuses with 403', async () => {
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const yes = webDefinition({
      cel: `tee == "${tee}" && init_data_claims["cdh.toml"].kbc.url.startsWith("https://") && runtime_data_claims["additional-evidence"] == ""`,
    })
    expect((await appraise(attestation, [yes])).accepted).toBe(true)
    const no = webDefinition({ cel: 'init_data_claims["cdh.toml"].kbc.url.startsWith("http://")' })
    const { status, detail } = refusal(await appraise(attestation, [no]))
    expect(status).toBe(403)
    expect(detail).toContain("workload 'web': its CEL expression is false")
  })

  it('gives the CEL expression the integer claims as CEL ints, as they are declared', async () => {
    // Declared int (so `snp.vmpl == "0"` is refused at put), the verifier's JS numbers must reach
    // the expression as ints: as doubles every rule on them failed to evaluate.
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const cel =
      tee === 'snp'
        ? 'snp.vmpl == 0 && snp.guest_svn >= 0 && snp.reported_tcb_snp > 0 && !snp.policy_debug_allowed'
        : 'tdx.tcb_evaluation_data_number > 0 && !tdx.td_attributes.debug && tdx.quote.body.mr_td.startsWith("bfa2")'
    const outcome = await appraise(attestation, [webDefinition({ cel })])
    expect(outcome.accepted ? true : outcome.detail).toBe(true)
    // The token keeps the verifier's numbers.
    const claims = outcome.accepted
      ? (outcome.annotatedEvidence[tee] as Record<string, unknown>)
      : {}
    expect(typeof (tee === 'snp' ? claims['vmpl'] : claims['tcb_evaluation_data_number'])).toBe(
      'number',
    )
  })

  it('counts only a CEL true: an error, a missing claim, the other TEE or a non-bool refuses', async () => {
    const attestation = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED })
    const other = tee === 'snp' ? 'tdx' : 'snp'
    const cases: readonly [string, RegExp][] = [
      // Only the evidence's own TEE has claims: the other TEE's map is not there at all.
      [
        other === 'snp' ? 'snp.vmpl >= 0' : 'tdx.tcb_evaluation_data_number >= 0',
        /could not be evaluated/,
      ],
      ['init_data_claims["no such key"] == "x"', /could not be evaluated/],
      // A claim of its declared type that differs (its other type is refused at put).
      [
        tee === 'snp' ? 'snp.vmpl == 1' : `tdx.quote.body.mr_td == "${'00'.repeat(48)}"`,
        /is false/,
      ],
      ['init_data_claims["cdh.toml"].kbc.url', /yielded string, not a bool/],
    ]
    for (const [cel, reason] of cases) {
      const { status, code, detail } = refusal(
        await appraise(attestation, [webDefinition({ cel })]),
      )
      expect({ cel, status, code }).toEqual({ cel, status: 403, code: 'ERR_KBS_NO_WORKLOAD' })
      expect(detail, cel).toMatch(reason)
    }
    // Without the init-data body the claims are null, and a rule over them cannot hold.
    const unsent = simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED, sends: null })
    const rule = webDefinition({
      cel: 'init_data_claims["cdh.toml"].kbc.url.startsWith("https://")',
    })
    expect(refusal(await appraise(unsent, [rule])).detail).toMatch(/could not be evaluated/)
  })

  it('refuses evidence two workloads accept as ambiguous', async () => {
    const outcome = await appraise(
      simulatedAttestation(simulator, { tee, launchedWith: ACCEPTED }),
      [webDefinition(), webDefinition({ name: 'web2' })],
    )
    expect(refusal(outcome)).toMatchObject({ status: 403, code: 'ERR_KBS_WORKLOAD_AMBIGUOUS' })
    // The operator's detail names both; the guest's names neither (one may be another tenant's).
    expect(refusal(outcome).detail).toContain("'web', 'web2'")
    expect(outcome.accepted ? undefined : outcome.clientDetail).toMatch(
      /^more than one workload accepts this evidence \(2\)/,
    )
    expect(outcome.accepted ? undefined : outcome.clientDetail).not.toMatch(/web/)
  })
})

describe('tampered evidence', () => {
  it('refuses an SNP report with one changed byte with 401', async () => {
    const attestation = simulatedAttestation(simulator, { tee: 'snp', launchedWith: ACCEPTED })
    const evidence = attestation.primaryEvidence as {
      attestation_report: { measurement: number[] }
    }
    evidence.attestation_report.measurement[0] =
      (evidence.attestation_report.measurement[0] ?? 0) ^ 1
    expect(refusal(await appraise(attestation))).toMatchObject({
      status: 401,
      code: 'ERR_SNP_REPORT_SIGNATURE',
    })
  })

  it('refuses a TDX quote with one changed byte with 401', async () => {
    const attestation = simulatedAttestation(simulator, { tee: 'tdx', launchedWith: ACCEPTED })
    const evidence = attestation.primaryEvidence as { quote: string }
    const quote = Buffer.from(evidence.quote, 'base64')
    quote[48 + 136] = (quote[48 + 136] ?? 0) ^ 1 // a byte of MRTD
    evidence.quote = quote.toString('base64')
    expect(refusal(await appraise(attestation))).toMatchObject({
      status: 401,
      code: 'ERR_TDX_QUOTE_SIGNATURE',
    })
  })

  it('refuses evidence of another TEE than the session with 401', async () => {
    const attestation = simulatedAttestation(simulator, { tee: 'tdx', launchedWith: ACCEPTED })
    expect(refusal(await appraise({ ...attestation, tee: 'sgx' }))).toMatchObject({
      status: 401,
      code: 'ERR_KBS_EVIDENCE_TEE_MISMATCH',
    })
    expect(refusal(await appraise({ ...attestation, tee: 'snp' })).status).toBe(401)
  })
})

describe('mayRelease and the empty store', () => {
  it('releases only matching paths, and only to the version that appraised the guest', async () => {
    const appraiser = await appraiserWith([webDefinition()])
    const web = { name: 'web', version: 1 }
    expect(await appraiser.mayRelease(web, 'default/web/key')).toBe('allowed')
    expect(await appraiser.mayRelease(web, 'default/api/key')).toBe('denied')
    expect(await appraiser.mayRelease({ name: 'web', version: 2 }, 'default/web/key')).toBe(
      'changed',
    )
    expect(await appraiser.mayRelease({ name: 'gone', version: 1 }, 'default/web/key')).toBe(
      'changed',
    )
  })

  it('denies by default when no workload is defined', async () => {
    const outcome = await appraise(
      simulatedAttestation(simulator, { tee: 'snp', launchedWith: ACCEPTED }),
      [],
    )
    expect(refusal(outcome)).toMatchObject({ status: 403, code: 'ERR_KBS_NO_WORKLOAD' })
  })
})
