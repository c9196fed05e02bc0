/**
 * Workload rules that cannot take effect are refused by the admin API (400, the path, the fix),
 * never stored as rules that read as guarantees and check nothing.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startTestKbs, type TestKbs } from '../service/kbs-test-support.ts'
import { sgxDefinition as sgxOnly, webDefinition } from '../workloads/workload-test-support.ts'
import { testAdminToken } from './admin-auth-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

async function putWorkload(
  running: TestKbs,
  name: string,
  definition: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await testAdminToken(running.admin, running.now())
  const response = await fetch(`${running.kbs.url}/kbs/v0/admin/workloads/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(definition),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe('PUT /kbs/v0/admin/workloads/NAME with a rule that cannot apply', () => {
  it('refuses refuseSimulated: true on an SGX-only workload with 400, and stores nothing', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const refused = await putWorkload(kbs, 'web', sgxOnly({ refuseSimulated: true }))
    expect(refused.status).toBe(400)
    expect(refused.body['detail']).toContain(
      '$.refuseSimulated is true, but the workload runs only on sgx',
    )
    expect(refused.body['detail']).toContain('remove refuseSimulated')
    const token = await testAdminToken(kbs.admin, kbs.now())
    const got = await fetch(`${kbs.kbs.url}/kbs/v0/admin/workloads/web`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(got.status).toBe(404)
    // The default is no rule: the same workload without it (or with false) is stored.
    expect((await putWorkload(kbs, 'web', sgxOnly({ refuseSimulated: false }))).status).toBe(200)
  })

  it('refuses a CEL rule on the claims of a TEE the workload does not run on with 400', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const refused = await putWorkload(kbs, 'web', webDefinition({ cel: 'tee == "sgx" || true' }))
    expect(refused.status).toBe(400)
    expect(refused.body['detail']).toContain('$.cel compares tee with "sgx"')
  })
})

describe('PUT /kbs/v0/admin/workloads/NAME with a CEL rule over claims that do not exist', () => {
  it('refuses a misspelled claim and a claim compared with the wrong type with 400, and stores nothing', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    // Each was stored (200) and then refused every guest at appraisal ("could not be evaluated"
    // or a constant false), with no word to the operator that the rule itself was wrong.
    const cases: readonly [string, readonly string[]][] = [
      [
        'snp.measurment == "00"',
        [
          '$.cel names snp.measurment',
          'the snp claims have no field "measurment"; they have measurement, chip_id',
        ],
      ],
      ['snp.vmpl == "0"', ['$.cel does not type-check', 'snp.vmpl is int']],
      [
        'has(tdx.quote.body.mrtd)',
        ['$.cel names tdx.quote.body.mrtd', 'no field "mrtd"; they have tcb_svn', 'mr_td'],
      ],
    ]
    for (const [cel, messages] of cases) {
      const refused = await putWorkload(kbs, 'web', webDefinition({ cel }))
      expect({ cel, status: refused.status }).toEqual({ cel, status: 400 })
      for (const message of messages) expect(refused.body['detail'], cel).toContain(message)
    }
    const token = await testAdminToken(kbs.admin, kbs.now())
    const got = await fetch(`${kbs.kbs.url}/kbs/v0/admin/workloads/web`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(got.status).toBe(404)
    // Spelled and typed right, it is stored.
    const right =
      'snp.measurement.startsWith("ab") && snp.vmpl == 0 && !has(tdx.quote.body.mr_servicetd)'
    expect((await putWorkload(kbs, 'web', webDefinition({ cel: right }))).status).toBe(200)
  })
})

describe('PUT /kbs/v0/admin/workloads/NAME with a CEL rule that is the same for every guest', () => {
  it('refuses it with 400, and stores nothing; the rule written over the claims is stored', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    // Each was stored (200) and then held for every guest the other rules accept: it read as a
    // check of the claims, and checked a constant.
    const cases: readonly [string, string][] = [
      ['init_data_claims["aa.toml"] != snp', '$.cel compares the snp claims as a whole (!=)'],
      [
        'cel.bind(snp, {"measurement": "ab"}, snp.measurement == "ab")',
        '$.cel binds a variable named snp',
      ],
      ['tee != "sg" + "x"', '$.cel uses tee other than compared with a TEE name written out'],
      ['dyn(snp.vmpl) != "0"', '$.cel passes a value of type int to dyn()'],
      ['snp.vmpl == 0 || 1 < 2', '$.cel has a clause that reads no claim, 1 < 2'],
    ]
    for (const [cel, message] of cases) {
      const refused = await putWorkload(kbs, 'web', webDefinition({ cel }))
      expect({ cel, status: refused.status }).toEqual({ cel, status: 400 })
      expect(refused.body['detail'], cel).toContain(message)
    }
    const token = await testAdminToken(kbs.admin, kbs.now())
    const got = await fetch(`${kbs.kbs.url}/kbs/v0/admin/workloads/web`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(got.status).toBe(404)
    const right = 'tee != "snp" || snp.vmpl == 0 && init_data_claims["aa.toml"] != null'
    expect((await putWorkload(kbs, 'web', webDefinition({ cel: right }))).status).toBe(200)
  })
})
