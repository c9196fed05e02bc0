import fc from 'fast-check'
import { Environment } from '@marcbachmann/cel-js'
import { describe, expect, it, vi } from 'vitest'
import { codeOf, thrown } from '@initguard/testkit'
import { SIMULATOR_SNP_MEASUREMENT_HEX } from '@initguard/tee-simulator'
import { claimsExpressionFailure } from './claims-expression.ts'
import { compileWorkload, WorkloadCompiler } from './compiled-workload.ts'
import { compileResourcePattern } from './resource-pattern.ts'
import { parseWorkloadDefinition } from './workload-definition.ts'
import {
  SIMULATOR_TDX_VALUES,
  initdataText,
  sgxDefinition as sgxOnly,
  webDefinition,
} from './workload-test-support.ts'

/** The message of the refusal of `definition` (asserting its code). */
function refusal(definition: unknown): string {
  const error = thrown(() => parseWorkloadDefinition(definition))
  expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID' })
  return (error as Error).message
}

describe('parseWorkloadDefinition', () => {
  it('accepts a valid definition and writes its defaults out', () => {
    const parsed = parseWorkloadDefinition(webDefinition())
    expect(parsed.snp).toEqual({
      measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
      refuseProvisionalFirmware: false,
      allowDebug: false,
      allowMigration: false,
      vmpl: 0,
    })
    expect(parsed.tdx?.acceptedTcbStatuses).toEqual(['UpToDate'])
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
  })

  it('reads minimumLaunchTcb and refuseProvisionalFirmware, and the parsed form parses to itself', () => {
    const launch = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }
    const parsed = parseWorkloadDefinition(
      webDefinition({
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumLaunchTcb: { ...launch, fmc: 1 },
          refuseProvisionalFirmware: true,
        },
      }),
    )
    expect(parsed.snp).toMatchObject({
      minimumLaunchTcb: { ...launch, fmc: 1 },
      refuseProvisionalFirmware: true,
    })
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
  })

  it('reads minimumFirmware, and the parsed form parses to itself', () => {
    const minimumFirmware = { major: 1, minor: 55, build: 29 }
    const parsed = parseWorkloadDefinition(
      webDefinition({ snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], minimumFirmware } }),
    )
    expect(parsed.snp?.minimumFirmware).toEqual(minimumFirmware)
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
  })

  it('reads refuseSimulated: written out only when true, and the parsed form parses to itself', () => {
    const parsed = parseWorkloadDefinition(webDefinition({ refuseSimulated: true }))
    expect(parsed.refuseSimulated).toBe(true)
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
    expect(parseWorkloadDefinition(webDefinition({ refuseSimulated: false }))).not.toHaveProperty(
      'refuseSimulated',
    )
    expect(refusal(webDefinition({ refuseSimulated: 'yes' }))).toContain('$.refuseSimulated')
  })

  it('reads guestPolicy and platformInfo bit rules, and the parsed form parses to itself', () => {
    const guestPolicy = { smt: false, singleSocket: true, pageSwapDisable: true }
    const platformInfo = { smtEnabled: false, aliasCheckComplete: true }
    const parsed = parseWorkloadDefinition(
      webDefinition({
        snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], guestPolicy, platformInfo },
      }),
    )
    expect(parsed.snp).toMatchObject({ guestPolicy, platformInfo })
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
  })

  it('reads tdx.mrServiceTd (lower-cased, absent when not given), and the parsed form parses to itself', () => {
    const parsed = parseWorkloadDefinition(
      webDefinition({ tdx: { ...SIMULATOR_TDX_VALUES, mrServiceTd: '5D'.repeat(48) } }),
    )
    expect(parsed.tdx?.mrServiceTd).toBe('5d'.repeat(48))
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
    expect(parseWorkloadDefinition(webDefinition()).tdx).not.toHaveProperty('mrServiceTd')
  })

  it('refuses malformed guestPolicy and platformInfo rules', () => {
    const snp = (rule: Record<string, unknown>) =>
      webDefinition({ snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], ...rule } })
    expect(refusal(snp({ guestPolicy: { debug: false } }))).toContain(
      '$.snp.guestPolicy.debug is not a known key',
    )
    expect(refusal(snp({ guestPolicy: { smt: 'false' } }))).toContain(
      '$.snp.guestPolicy.smt must be true or false',
    )
    expect(refusal(snp({ guestPolicy: {} }))).toContain('$.snp.guestPolicy names no bit')
    expect(refusal(snp({ guestPolicy: 0x30000 }))).toContain('$.snp.guestPolicy must be an object')
    expect(refusal(snp({ platformInfo: { smt: false } }))).toContain(
      '$.snp.platformInfo.smt is not a known key',
    )
    expect(refusal(snp({ platformInfo: { tioEnabled: 1 } }))).toContain(
      '$.snp.platformInfo.tioEnabled must be true or false',
    )
  })

  it('lower-cases hex', () => {
    const upper = SIMULATOR_SNP_MEASUREMENT_HEX.toUpperCase()
    const parsed = parseWorkloadDefinition(webDefinition({ snp: { measurements: [upper] } }))
    expect(parsed.snp?.measurements).toEqual([SIMULATOR_SNP_MEASUREMENT_HEX])
  })

  it.each([
    [{ extra: 1 }, '$.extra is not a known key'],
    [{ name: 'Web' }, '$.name "Web" is not a valid name'],
    [{ tees: [] }, '$.tees must not be empty'],
    [{ tees: ['snp', 'sev'] }, '$.tees[1] is "sev", not a known TEE'],
    [{ tees: ['snp', 'snp'] }, '$.tees[1] repeats an earlier entry'],
    [{ tees: ['snp'] }, '$.tdx is given, but "tees" does not list tdx'],
    [{ tees: ['snp', 'tdx', 'sgx'] }, '$.sgx is missing, but "tees" lists sgx'],
    [{ initdata: [] }, '$.initdata must not be empty'],
    [{ initdata: ['version = 1'] }, '$.initdata[0] is not a valid initdata document'],
    [{ initdata: [initdataText(), initdataText()] }, '$.initdata[1] is the same document'],
    [{ resources: ['a/b'] }, '$.resources[0] has 2 segments'],
    [{ resources: ['a/.b/c'] }, '$.resources[0] segment 2 ".b" is not allowed'],
    [{ snp: {} }, '$.snp.measurements is missing'],
    [{ snp: { measurements: ['00'] } }, '$.snp.measurements[0] has 2 hex digits'],
    [{ snp: { measurements: ['zz'.repeat(48)] } }, '$.snp.measurements[0] is not hex'],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], allowDebug: 'yes' } },
      '$.snp.allowDebug must be true or false',
    ],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], vmpl: 4 } },
      '$.snp.vmpl must be an integer from 0 to 3',
    ],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], minimumTcb: { bootloader: 1 } } },
      '$.snp.minimumTcb.tee is missing',
    ],
    [
      {
        snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], minimumLaunchTcb: { bootloader: 1 } },
      },
      '$.snp.minimumLaunchTcb.tee is missing',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumLaunchTcb: { bootloader: 1, tee: 0, snp: 1, microcode: 256 },
        },
      },
      '$.snp.minimumLaunchTcb.microcode must be an integer from 0 to 255',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumLaunchTcb: { bootloader: 1, tee: 0, snp: 1, microcode: 1, ucode: 1 },
        },
      },
      '$.snp.minimumLaunchTcb.ucode is not a known key',
    ],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], refuseProvisionalFirmware: 'yes' } },
      '$.snp.refuseProvisionalFirmware must be true or false',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumFirmware: { major: 1, minor: 55 },
        },
      },
      '$.snp.minimumFirmware.build is missing',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumFirmware: { major: 1, minor: 55, build: 256 },
        },
      },
      '$.snp.minimumFirmware.build must be an integer from 0 to 255',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumFirmware: { major: 1, minor: 55.5, build: 29 },
        },
      },
      '$.snp.minimumFirmware.minor must be an integer from 0 to 255',
    ],
    [
      {
        snp: {
          measurements: [SIMULATOR_SNP_MEASUREMENT_HEX],
          minimumFirmware: { major: 1, minor: 55, build: 29, patch: 0 },
        },
      },
      '$.snp.minimumFirmware.patch is not a known key',
    ],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], minimumFirmware: '1.55.29' } },
      '$.snp.minimumFirmware',
    ],
    [
      { snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX], allowProvisionalFirmware: true } },
      '$.snp.allowProvisionalFirmware is not a known key',
    ],
    [
      { tdx: { mrtd: ['00'.repeat(48)], mrServiceTd: '00'.repeat(47) } },
      '$.tdx.mrServiceTd has 94 hex digits, but MRSERVICETD is 48 bytes (96 digits)',
    ],
    [
      { tdx: { mrtd: ['00'.repeat(48)], mrServiceTd: 'zz'.repeat(48) } },
      '$.tdx.mrServiceTd is not hex',
    ],
    [{ tdx: { mrtd: ['00'.repeat(48)], mrServiceTd: ['00'.repeat(48)] } }, '$.tdx.mrServiceTd'],
    [{ tdx: { mrtd: ['00'.repeat(48)], mrServiceTd: null } }, '$.tdx.mrServiceTd'],
    [
      { tdx: { mrtd: ['00'.repeat(48)], mrServiceTD: '00'.repeat(48) } },
      '$.tdx.mrServiceTD is not a known key',
    ],
    [
      { tdx: { mrtd: ['00'.repeat(48)], acceptedTcbStatuses: ['OutOfDate'] } },
      '$.tdx.acceptedTcbStatuses[0] is "OutOfDate", not a known acceptable TCB status',
    ],
    [{ cel: 'snp.x ==' }, '$.cel is not valid CEL'],
    [{ cel: '1 + "a"' }, '$.cel does not type-check'],
    [{ cel: '"yes"' }, '$.cel yields string, not a bool'],
  ])('refuses %j: %s', (overrides, message) => {
    expect(refusal(webDefinition(overrides))).toContain(message)
  })

  it('refuses SGX by MRSIGNER without ISVPRODID, and SGX without any measurement', () => {
    const base = { tees: ['sgx'], snp: undefined, tdx: undefined }
    const strip = (d: Record<string, unknown>) => JSON.parse(JSON.stringify(d)) as unknown
    expect(
      refusal(strip(webDefinition({ ...base, sgx: { mrsigner: ['11'.repeat(32)] } }))),
    ).toContain('$.sgx.isvProdId is missing')
    expect(refusal(strip(webDefinition({ ...base, sgx: {} })))).toContain(
      '$.sgx names neither mrenclave nor mrsigner',
    )
    const ok = parseWorkloadDefinition(
      strip(webDefinition({ ...base, sgx: { mrsigner: ['11'.repeat(32)], isvProdId: 1 } })),
    )
    expect(ok.sgx).toMatchObject({ isvProdId: 1, acceptedTcbStatuses: ['UpToDate'] })
  })

  it('refuses refuseSimulated: true on a workload whose TEEs the simulator makes no evidence for (SGX only)', () => {
    // The simulator makes SEV-SNP and TDX evidence only, and its collateral is TDX's: an SGX quote
    // chaining to its root is refused at verification, so on an SGX-only workload the rule could
    // never take effect. Refused, not kept as a rule that reads as a guarantee and checks nothing.
    const error = thrown(() => parseWorkloadDefinition(sgxOnly({ refuseSimulated: true })))
    expect(error).toMatchObject({
      code: 'ERR_KBS_WORKLOAD_RULE_INAPPLICABLE',
      details: { path: '$.refuseSimulated' },
    })
    expect((error as Error).message).toContain(
      '$.refuseSimulated is true, but the workload runs only on sgx, for which the TEE simulator makes no evidence',
    )
    // The default, written out or left out, is not a rule and is not refused.
    expect(parseWorkloadDefinition(sgxOnly({ refuseSimulated: false }))).not.toHaveProperty(
      'refuseSimulated',
    )
    expect(parseWorkloadDefinition(sgxOnly({})).tees).toEqual(['sgx'])
    // With a TEE the simulator does make evidence for, the rule takes effect there: accepted.
    const mixed = parseWorkloadDefinition(
      webDefinition({
        tees: ['snp', 'sgx'],
        tdx: undefined,
        sgx: { mrenclave: ['11'.repeat(32)] },
        refuseSimulated: true,
      }),
    )
    expect(mixed.refuseSimulated).toBe(true)
  })

  it.each([
    ['sgx.mr_enclave == "00"', 'names the sgx claims'],
    ['has(sgx.mr_enclave) || init_data != ""', 'names the sgx claims'],
    ['init_data_claims != null && sgx.x == 1', 'names the sgx claims'],
    ['tee == "sgx" || init_data != ""', 'compares tee with "sgx"'],
    ['"sgx" != tee', 'compares tee with "sgx"'],
    ['tee in ["snp", "sgx"]', 'compares tee with "sgx"'],
    ['tee == "sev"', 'compares tee with "sev"'],
  ])('refuses a CEL rule for a TEE the workload does not run on (snp, tdx): %s', (cel, problem) => {
    // Such a clause is never evaluated (tee is never sgx), or can only fail ("Unknown variable:
    // sgx"): a rule that reads as a check on SGX evidence and checks nothing.
    const error = thrown(() => parseWorkloadDefinition(webDefinition({ cel })))
    expect(error).toMatchObject({
      code: 'ERR_KBS_WORKLOAD_RULE_INAPPLICABLE',
      details: { path: '$.cel' },
    })
    expect((error as Error).message).toContain(`$.cel ${problem}`)
    expect((error as Error).message).toContain('runs only on snp, tdx')
  })

  it('accepts CEL over the TEEs the workload runs on, and a local variable over another TEE', () => {
    for (const cel of [
      'tee == "snp" || tdx.tcb_status == "UpToDate"',
      'tee in ["snp", "tdx"] && has(snp.reported_tcb_fmc)',
      '[1, 2].exists(x, x > snp.vmpl)',
      'snp.vmpl in [0, 1] && tee != "tdx"',
      'cel.bind(s, snp, s.vmpl == 0) && cel.bind(m, init_data_claims, m != null)',
    ]) {
      expect(parseWorkloadDefinition(webDefinition({ cel })).cel).toBe(cel)
    }
    const { expression } = compileWorkload({
      name: 'web',
      version: 1,
      definition: webDefinition({ cel: 'cel.bind(t, snp, t.vmpl == 0)' }),
      updatedAt: '',
    })
    const claims = { tee: 'snp', snp: { vmpl: 0 } }
    expect(expression && claimsExpressionFailure(expression, claims)).toBeUndefined()
    // What a bind variable is bound to is still the claims it names.
    expect(
      codeOf(() =>
        parseWorkloadDefinition(webDefinition({ cel: 'cel.bind(x, sgx.body, x != null)' })),
      ),
    ).toBe('ERR_KBS_WORKLOAD_RULE_INAPPLICABLE')
    // A local named like a TEE's claims hides them: refused, whatever the TEE.
    for (const cel of [
      '[1, 2].exists(sgx, sgx > 1)',
      'cel.bind(sgx, 1, sgx > 0)',
      'cel.bind(tdx, snp, tdx.vmpl == 0)',
      'tdx.advisory_ids.all(snp, snp.startsWith("INTEL-SA-"))',
    ]) {
      expect(refusal(webDefinition({ cel })), cel).toContain('binds a variable named')
    }
  })

  it.each([
    [
      'snp.measurment == "00"',
      'names snp.measurment, but the snp claims have no field "measurment"; they have measurement, chip_id,',
    ],
    // The type checker lets a misspelling inside has() through; has() of a field that can never
    // be set is a constant false.
    ['has(snp.reportd_tcb_fmc)', 'the snp claims have no field "reportd_tcb_fmc"'],
    [
      'tdx.quote.bdy.mr_td == "00"',
      'the tdx.quote claims have no field "bdy"; they have header, body',
    ],
    ['tdx.quote["body"].mrtd == "00"', 'the tdx.quote.body claims have no field "mrtd"'],
    ['tdx.td_attributes.sept_ve_disable', 'they have debug, key_locker, perfmon'],
    ['snp.vmpl.level == 0', 'names snp.vmpl.level, but snp.vmpl is int, which has no fields'],
    ['snp.vmpl == "0"', 'does not type-check: no such overload: int == string (snp.vmpl is int)'],
    ['snp.vmpl == 0.0', 'does not type-check: no such overload: int == double (snp.vmpl is int)'],
    ['snp.policy_debug_allowed == "false"', '(snp.policy_debug_allowed is bool)'],
    ['tdx.quote.body.mr_td == 0', '(tdx.quote.body.mr_td is string)'],
  ])(
    'refuses a CEL rule over a claim the verifier never emits, or of another type: %s',
    (cel, problem) => {
      const error = thrown(() => parseWorkloadDefinition(webDefinition({ cel })))
      expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.cel' } })
      expect((error as Error).message).toContain(problem)
    },
  )

  it.each([
    // has() type-checks only the variable it starts from: a misspelling under a comprehension or
    // bind variable that holds a claims object passed, and !has() of it is a constant true.
    [
      '[snp].all(x, !has(x.measurment))',
      'names x.measurment (x is the snp claims), but the snp claims have no field "measurment"',
    ],
    [
      'cel.bind(q, tdx.quote, has(q.bdy.mr_td))',
      'names q.bdy (q is the tdx.quote claims), but the tdx.quote claims have no field "bdy"; they have header, body',
    ],
    [
      'cel.bind(s, snp, has(s.vmpl.level))',
      'names s.vmpl.level (s is the snp claims), but snp.vmpl is int, which has no fields',
    ],
    // has() of a field of a scalar is a constant false (!has() a constant true).
    [
      'tdx.advisory_ids.all(a, !has(a.foo))',
      'calls has(a.foo), but a is string, which has no fields',
    ],
    ['cel.bind(v, snp.vmpl, !has(v.level))', 'calls has(v.level), but v is int'],
    // The same through a map that holds a claims object or a scalar: has() checked only the
    // variable (a map), so !has() of a misspelled claim under it was a constant true.
    [
      'cel.bind(m, {"k": snp}, !has(m.k.measurment))',
      'names m.k.measurment (m.k is the snp claims), but the snp claims have no field "measurment"',
    ],
    [
      'cel.bind(m, {"k": {"j": snp}}, !has(m.k.j.measurment))',
      'names m.k.j.measurment (m.k.j is the snp claims)',
    ],
    [
      '[{"q": tdx.quote}].exists(m, !has(m.q.bdy.mr_td))',
      'names m.q.bdy (m.q is the tdx.quote claims), but the tdx.quote claims have no field "bdy"',
    ],
    ['cel.bind(m, {"k": snp.vmpl}, !has(m.k.level))', 'calls has(m.k.level), but m.k is int'],
    ['has(init_data.x) || init_data != ""', 'calls has(init_data.x), but init_data is string'],
    // dyn() hides the declared fields and types: each of these refused every guest at appraisal
    // ("No such key", or a constant false).
    [
      'dyn(snp).measurment == "00"',
      'passes the snp claims to dyn(), which hides their declared fields and types from the check',
    ],
    ['dyn(snp).vmpl == "0"', 'passes the snp claims to dyn()'],
    ['dyn([tdx.quote])[0].bdy.mr_td == "00"', 'passes the tdx.quote claims to dyn()'],
    ['[snp].exists(x, dyn(x).vmpl == "0")', 'passes the snp claims to dyn()'],
    // A computed key: the check cannot tell which claim it names.
    ['snp["meas" + "urment"] == "00"', 'indexes the snp claims with a computed key'],
    ['snp[init_data] == "00"', 'indexes the snp claims with a computed key'],
    [
      'tdx.quote.body[report_data] == "00"',
      'indexes the tdx.quote.body claims with a computed key',
    ],
    ['[snp].exists(x, x[init_data] == "00")', 'indexes the snp claims with a computed key'],
    // A claims object and a dynamic value in one ?:, list or map: the result is dyn.
    [
      '(init_data == "" ? snp : init_data_claims).measurment == "00"',
      'mixes the snp claims with a value of type dyn',
    ],
    [
      '(init_data != "" ? init_data_claims : tdx).quote.bdy.mr_td == "00"',
      'mixes the tdx claims with a value of type dyn',
    ],
    // A list concatenated after a dynamic one is dyn: !has() of a misspelled claim of its
    // elements held for every guest.
    [
      '(init_data_claims.l + [snp]).exists(x, !has(x.measurment))',
      'mixes the snp claims with a value of type dyn in a +',
    ],
    [
      '(runtime_data_claims.l + [tdx.quote]).exists(q, q.bdy.mr_td == "00")',
      'mixes the tdx.quote claims with a value of type dyn in a +',
    ],
    // The other order: cel-js types it as the left list's (list of snp claims), yet the elements
    // from the init-data are anything, and could satisfy what the rule asks of the snp claims.
    [
      '([snp] + init_data_claims.l).exists(x, x.measurement == "00")',
      'mixes the snp claims with a value of type dyn in a +',
    ],
    // The checker refused it too, as "has() invalid argument", without saying what to write.
    ['has(dyn(snp).measurment)', 'calls has() on something other than a field selection'],
    ['has([snp][0].measurement)', 'calls has() on something other than a field selection'],
    // type() of a claims object is always its declared type: a constant.
    ['type(snp) == map', 'takes type() of the snp claims'],
  ])('refuses a CEL form whose claims the check could not see through: %s', (cel, problem) => {
    const error = thrown(() => parseWorkloadDefinition(webDefinition({ cel })))
    expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.cel' } })
    expect((error as Error).message).toContain(problem)
    expect((error as { hint?: string }).hint).toMatch(/claim|field|itself/)
  })

  it.each([
    // A claims object never equals a value from the guest's maps, nor a list or map the rule
    // builds: each of these was constant (!= held for every guest).
    ['init_data_claims["aa.toml"] != snp', 'compares the snp claims as a whole'],
    ['init_data_claims.x == snp', 'compares the snp claims as a whole'],
    ['snp in [snp]', 'compares the snp claims as a whole'],
    ['{"a": snp} != init_data_claims', 'compares the snp claims as a whole'],
    ['!([tdx.quote] == init_data_claims.l)', 'compares the tdx.quote claims as a whole'],
    // A variable named like one of the expression's own hides it: each of these read as a check
    // of the claims and held for every guest.
    ['cel.bind(snp, {"measurement": "ab"}, snp.measurement == "ab")', 'binds a variable named snp'],
    ['[{"measurement": "x"}].all(snp, snp.measurement == "x")', 'binds a variable named snp'],
    ['cel.bind(tee, "snp", tee == "snp")', 'binds a variable named tee'],
    ['["sgx"].exists(tee, tee == "sgx")', 'binds a variable named tee'],
    [
      'cel.bind(init_data_claims, {"a": 1}, init_data_claims.a == 1)',
      'binds a variable named init_data_claims',
    ],
    ['[1].exists(x, cel.bind(snp, x, snp == 1))', 'binds a variable named snp'],
    // tee compared with anything but a TEE name written out: the check of its value (is it a TEE
    // the workload runs on) cannot see it, and each of these held for every guest.
    ['tee != "sg" + "x"', 'uses tee other than compared with a TEE name'],
    ['cel.bind(x, "sgx", tee != x)', 'uses tee other than compared with a TEE name'],
    ['cel.bind(t, tee, t != "sgx")', 'uses tee other than compared with a TEE name'],
    ['[tee].all(t, t != "sgx")', 'uses tee other than compared with a TEE name'],
    // dyn() of a value of a known type hides that type: compared with a value of another type,
    // each of these held for every guest.
    ['dyn(snp.vmpl) != "0"', 'passes a value of type int to dyn()'],
    ['snp.measurement != dyn(1)', 'passes a value of type int to dyn()'],
    ['!(snp.measurement in dyn([1]))', 'passes a value of type list<int> to dyn()'],
    ['cel.bind(v, dyn(snp.vmpl), v != "0")', 'passes a value of type int to dyn()'],
    // So does a ?: or + that mixes a claim with a dynamic value.
    [
      '(tee == "snp" ? snp.vmpl : init_data_claims.x) != "0"',
      'mixes snp.vmpl (int) with a value of type dyn in a ?: choice',
    ],
    [
      '(init_data_claims.l + [snp.vmpl]).exists(v, v != "0")',
      'mixes [snp.vmpl] (list<int>) with a value of type dyn in a +',
    ],
    // A clause that reads no variable is constant: the rule around it tests less than it reads.
    ['snp.vmpl == 0 || true', 'has a clause that reads no claim, true'],
    ['snp.vmpl == 0 || 1 < 2', 'has a clause that reads no claim, 1 < 2'],
    [
      'snp.vmpl == 0 && (1 == 1 || snp.guest_svn > 100)',
      'has a clause that reads no claim, 1 == 1',
    ],
    ['[1].all(x, x > 0) || snp.vmpl == 0', 'has a clause that reads no claim, x > 0'],
    ['snp.vmpl == 0 || cel.bind(x, snp.vmpl, true)', 'has a clause that reads no claim, cel.bind('],
    ['snp.vmpl == 0 || [snp.vmpl].exists(x, true)', 'has a clause that reads no claim, true'],
    ['snp.vmpl == 0 || snp.guest_svn >= snp.guest_svn', 'compares snp.guest_svn with itself (>=)'],
    // has() of a claim all evidence of its TEE has, and type() of a declared claim, are constant.
    [
      'has(snp.measurement) || snp.vmpl == 1',
      'calls has(snp.measurement), but every snp evidence has snp.measurement: it is always true',
    ],
    ['[tdx.quote].all(q, has(q.body.mr_td))', 'calls has(tdx.quote.body.mr_td), but every tdx'],
    // So is has() of the object that holds an optional claim: the object itself is always there.
    [
      `has(tdx.quote.body) || tdx.quote.body.mr_td == "${'ab'.repeat(48)}"`,
      'calls has(tdx.quote.body), but every tdx evidence has tdx.quote.body: it is always true',
    ],
    ['snp.vmpl == 0 || has(tdx.quote)', 'calls has(tdx.quote), but every tdx evidence has'],
    ['[tdx].all(t, has(t.quote.body))', 'calls has(tdx.quote.body), but every tdx evidence has'],
    ['snp.vmpl == 1 || type(snp.vmpl) == int', 'takes type() of a value of type int'],
    ['!(2 > 1) ? snp.vmpl == 0 : snp.vmpl == 1', 'has a clause that reads no claim, 2 > 1'],
    // A claim in a list that holds it, the size of a list or map the rule writes out, and a ?:
    // whose two choices are the same constant are constant too.
    [
      `snp.vmpl == 0 || snp.measurement in [snp.measurement, "${'ab'.repeat(48)}"]`,
      'tests whether snp.measurement is in a list that holds it',
    ],
    [
      'snp.vmpl == 0 || snp.vmpl in {snp.vmpl: true}',
      'tests whether snp.vmpl is in a map that holds it',
    ],
    ['size([snp.vmpl]) == 1', 'takes the size of [snp.vmpl], a list written out'],
    [
      'snp.vmpl == 0 || [snp.vmpl, snp.guest_svn].size() > 1',
      'takes the size of [snp.vmpl, snp.guest_svn]',
    ],
    ['snp.vmpl == 0 ? true : true', 'chooses true whatever snp.vmpl == 0 is'],
    ['snp.vmpl == 0 ? false : (false)', 'chooses false whatever snp.vmpl == 0 is'],
    [
      'snp.vmpl == 0 ? snp.guest_svn > 1 : snp.guest_svn > 1',
      'chooses snp.guest_svn > 1 whatever snp.vmpl == 0 is',
    ],
    ['true', 'reads no claim'],
    ['[1, 2].exists(x, x == 2)', 'has a clause that reads no claim, x == 2'],
    // The verifiers emit hex in lower case, of each claim's length: a denylist in upper case, with
    // 0x, or with a hash of another length held for every guest.
    [
      `snp.measurement != "${'AB'.repeat(48)}"`,
      `compares snp.measurement with "${'AB'.repeat(48)}", which it can never equal: snp.measurement is 96 lower-case hex digits`,
    ],
    [
      `!(snp.measurement in ["${'ab'.repeat(48)}", "${'ab'.repeat(32)}"])`,
      `compares snp.measurement with "${'ab'.repeat(32)}", which it can never equal`,
    ],
    [
      `tdx.quote.body.mr_td != "0x${'ab'.repeat(48)}"`,
      'compares tdx.quote.body.mr_td with "0xabab',
    ],
    [
      `!["${'AB'.repeat(48)}"].exists(m, m == snp.measurement)`,
      'compares snp.measurement with "ABAB',
    ],
    [
      `cel.bind(b, tdx.quote.body, b["rtmr_0"] != "${'AB'.repeat(48)}")`,
      'compares tdx.quote.body.rtmr_0 with "ABAB',
    ],
    [
      `cel.bind(denied, ["${'AB'.repeat(48)}"], !(snp.measurement in denied))`,
      'compares snp.measurement with "ABAB',
    ],
    [
      `cel.bind(denied, ["${'AB'.repeat(48)}"], !denied.exists(d, d == snp.measurement))`,
      'compares snp.measurement with "ABAB',
    ],
    [`!(snp.measurement in {"${'AB'.repeat(48)}": true})`, 'compares snp.measurement with "ABAB'],
    ['snp.measurement != (tee == "snp" ? "ABAB" : "cd")', 'compares snp.measurement with "ABAB"'],
    // The same literal computed by the rule from constants: each of these held for every guest.
    [
      `snp.measurement != "${'AB'.repeat(24)}" + "${'AB'.repeat(24)}"`,
      'compares snp.measurement with "ABAB',
    ],
    [`snp.measurement != ["${'AB'.repeat(48)}"][0]`, 'compares snp.measurement with "ABAB'],
    [`snp.measurement != {"a": "${'AB'.repeat(48)}"}.a`, 'compares snp.measurement with "ABAB'],
    [`snp.measurement != "${'ab'.repeat(48)}".upperAscii()`, 'compares snp.measurement with "ABAB'],
    [
      `!(snp.measurement in ["${'AB'.repeat(48)}"].map(x, x))`,
      'compares snp.measurement with "ABAB',
    ],
    [`!(snp.measurement in ["${'AB'.repeat(48)}"] + [])`, 'compares snp.measurement with "ABAB'],
    [
      `cel.bind(d, ["${'AB'.repeat(48)}"].map(x, x), !(snp.measurement in d))`,
      'compares snp.measurement with "ABAB',
    ],
    ['!snp.chip_id.startsWith("AB" + "CD")', 'compares snp.chip_id with "ABCD"'],
    // ... or from a cel.bind variable bound to constants, selected or indexed.
    [
      `cel.bind(deny, {"v1": "${'AB'.repeat(48)}"}, snp.measurement != deny.v1)`,
      'compares snp.measurement with "ABAB',
    ],
    [
      `cel.bind(d, ["${'AB'.repeat(48)}"], snp.measurement != d[0])`,
      'compares snp.measurement with "ABAB',
    ],
    [
      `cel.bind(a, "${'AB'.repeat(24)}", cel.bind(b, a + a, snp.measurement != b))`,
      'compares snp.measurement with "ABAB',
    ],
    ['tdx.tcb_date != -1', 'compares tdx.tcb_date with -1, but tdx.tcb_date is a string or null'],
    ['tdx.tcb_date != [2024][0]', 'compares tdx.tcb_date with [2024][0]'],
    // Every hex claim is of its length: its size is constant.
    ['snp.measurement.size() != 48', 'takes the size of snp.measurement, which is always 96'],
    [
      'size(tdx.quote.body.mr_td) == 96',
      'takes the size of tdx.quote.body.mr_td, which is always 96',
    ],
    // So are report_data and init_data.
    [`report_data != "${'AB'.repeat(64)}"`, 'compares report_data with "ABAB'],
    [
      `!(init_data in ["${'ab'.repeat(20)}"])`,
      `compares init_data with "${'ab'.repeat(20)}", which it can never equal: init_data is 64 or 96 or 128 lower-case hex digits`,
    ],
    // tdx.tcb_date is a date string or null: another literal type is constant (or an error).
    [
      'tdx.tcb_date != 2024',
      'compares tdx.tcb_date with 2024, but tdx.tcb_date is a string or null',
    ],
    ['!(tdx.tcb_date in [2024, 2025])', 'compares tdx.tcb_date with 2024'],
    ['tdx["tcb_date"] != 2024', 'compares tdx.tcb_date with 2024'],
    ['cel.bind(d, tdx.tcb_date, d != 2024)', 'compares tdx.tcb_date with 2024'],
    ['[tdx.tcb_date].all(d, d != 2024)', 'compares tdx.tcb_date with 2024'],
    ['cel.bind(t, tdx, t.tcb_date != 2024)', 'compares tdx.tcb_date with 2024'],
    // The same through a variable bound to the claim.
    [
      `cel.bind(m, snp.measurement, m != "${'AB'.repeat(48)}")`,
      'compares snp.measurement with "ABAB',
    ],
    [
      '[snp.measurement, snp.image_id].all(h, h != "ABAB")',
      'compares snp.measurement or snp.image_id with "ABAB", which it can never equal: snp.measurement or snp.image_id is 96 or 32 lower-case hex digits',
    ],
    [
      '!snp.measurement.startsWith("ABAB")',
      'compares snp.measurement with "ABAB", which it can never start with',
    ],
    ['snp.chip_id.contains("g")', 'compares snp.chip_id with "g", which it can never contain'],
    // The same through a wrapper that leaves the claim's value as it is.
    [
      `string(snp.measurement) != "${'AB'.repeat(48)}"`,
      'compares string(snp.measurement), which is snp.measurement unchanged, with "ABAB',
    ],
    [
      `snp.measurement + "" == "${'AB'.repeat(48)}"`,
      'compares snp.measurement + "", which is snp.measurement unchanged, with "ABAB',
    ],
    [
      `"" + snp.measurement != "${'ab'.repeat(32)}"`,
      `compares "" + snp.measurement, which is snp.measurement unchanged, with "${'ab'.repeat(32)}", which it can never equal`,
    ],
    [
      `snp.measurement.lowerAscii() != "${'AB'.repeat(48)}"`,
      'compares snp.measurement.lowerAscii(), which is snp.measurement unchanged, with "ABAB',
    ],
    [
      `!(string(tdx.quote.body.mr_td) in ["${'AB'.repeat(48)}"])`,
      'compares string(tdx.quote.body.mr_td), which is tdx.quote.body.mr_td unchanged, with "ABAB',
    ],
    [
      `string(string(snp.measurement)) + "" + "" != "${'AB'.repeat(48)}"`,
      'compares string(string(snp.measurement)) + "" + "", which is snp.measurement unchanged, with "ABAB',
    ],
    [
      `cel.bind(e, "", snp.measurement + e != "${'AB'.repeat(48)}")`,
      'compares snp.measurement + e, which is snp.measurement unchanged, with "ABAB',
    ],
    [
      `cel.bind(h, "" + snp.measurement, h != "${'AB'.repeat(48)}")`,
      'compares "" + snp.measurement, which is snp.measurement unchanged, with "ABAB',
    ],
    [
      '!string(snp.measurement).startsWith("ABAB")',
      'compares string(snp.measurement), which is snp.measurement unchanged, with "ABAB", which it can never start with',
    ],
    ['string(report_data) != "AB"', 'compares string(report_data), which is report_data unchanged'],
    // A regular expression written out that no lower-case hex string matches: a literal part in
    // upper case or not hex, or longer than the claim (or, anchored at both ends, of another length).
    [
      '!snp.measurement.matches("^ABCD")',
      'compares snp.measurement with "^ABCD", which it can never match',
    ],
    ['snp.chip_id.matches("ABCD$")', 'compares snp.chip_id with "ABCD$", which it can never match'],
    ['snp.measurement.matches("ab-cd")', 'compares snp.measurement with "ab-cd"'],
    [
      `!snp.measurement.matches("^${'ab'.repeat(24)}$")`,
      `compares snp.measurement with "^${'ab'.repeat(24)}$", which it can never match`,
    ],
    [
      `snp.measurement.matches("${'ab'.repeat(49)}")`,
      `compares snp.measurement with "${'ab'.repeat(49)}", which it can never match`,
    ],
    [
      '!("" + snp.measurement).matches("^G")',
      'compares "" + snp.measurement, which is snp.measurement unchanged, with "^G", which it can never match',
    ],
    [
      `cel.bind(p, "^" + "AB", !snp.measurement.matches(p))`,
      'compares snp.measurement with "^AB", which it can never match',
    ],
    // Every string starts with, ends with, contains and matches "": each of these held for every guest.
    ['snp.vmpl == 0 || snp.measurement.startsWith("")', 'calls startsWith("") on snp.measurement'],
    ['snp.vmpl == 0 || snp.chip_id.endsWith("")', 'calls endsWith("") on snp.chip_id'],
    ['snp.vmpl == 0 || snp.product.contains("")', 'calls contains("") on snp.product'],
    ['snp.vmpl == 0 || tdx.tcb_status.matches("")', 'calls matches("") on tdx.tcb_status'],
    [
      'snp.vmpl == 0 || init_data_claims.name.startsWith("")',
      'calls startsWith("") on init_data_claims.name',
    ],
    [
      '["", "ab"].exists(p, snp.measurement.startsWith(p))',
      'calls startsWith("") on snp.measurement',
    ],
  ])('refuses a CEL rule that is constant whatever the claims: %s', (cel, problem) => {
    const error = thrown(() => parseWorkloadDefinition(webDefinition({ cel })))
    expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.cel' } })
    expect((error as Error).message).toContain(`$.cel ${problem}`)
    expect((error as { hint?: string }).hint).toMatch(/claim|field|tee|variable|leave|hex digits/)
  })

  it('says how to test a key under a file name, where has() cannot reach', () => {
    const error = thrown(() =>
      parseWorkloadDefinition(webDefinition({ cel: 'has(init_data_claims["cdh.toml"].kbc)' })),
    )
    expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.cel' } })
    expect((error as { hint?: string }).hint).toContain('"kbc" in init_data_claims["cdh.toml"]')
    // What the hint says to write is accepted.
    expect(() =>
      parseWorkloadDefinition(webDefinition({ cel: '"kbc" in init_data_claims["cdh.toml"]' })),
    ).not.toThrow()
  })

  it.each([
    'optional.none().hasValue() == false',
    'optional.of(snp.vmpl).value() == 0',
    'optional.of(snp).orValue(init_data_claims).measurement == "ab"',
  ])(
    'refuses the optional namespace, which type-checks but is no value at appraisal: %s',
    (cel) => {
      // Accepted at put, each of these refused every guest: "Unknown variable: optional".
      const error = thrown(() => parseWorkloadDefinition(webDefinition({ cel })))
      expect(error).toMatchObject({ code: 'ERR_KBS_WORKLOAD_INVALID', details: { path: '$.cel' } })
      expect((error as Error).message).toContain('optional')
      expect((error as { hint?: string }).hint).toContain('has(')
    },
  )

  it('says to compare a hex claim itself, not through a wrapper, and how to write a pattern', () => {
    const wrapped = thrown(() =>
      parseWorkloadDefinition(webDefinition({ cel: 'string(snp.measurement) != "AB"' })),
    )
    expect((wrapped as { hint?: string }).hint).toMatch(
      /^compare snp\.measurement itself \(string\(\), \+ "" and lowerAscii\(\) leave lower-case hex as it is\), and write the value as 96 lower-case hex digits/,
    )
    const pattern = thrown(() =>
      parseWorkloadDefinition(webDefinition({ cel: 'snp.measurement.matches("^ABCD")' })),
    )
    expect((pattern as { hint?: string }).hint).toBe(
      'write the hex digits the regular expression spells out in lower case, no more of them than 96 (a class such as [0-9a-f] or an escape such as \\S is not judged)',
    )
  })

  it('accepts realistic rules, and they hold over matching claims', () => {
    const claims = {
      tee: 'snp',
      snp: {
        measurement: 'ab'.repeat(48),
        vmpl: 0,
        guest_svn: 3,
        reported_tcb_bootloader: 4,
        reported_tcb_tee: 0,
        reported_tcb_snp: 24,
        reported_tcb_microcode: 219,
        policy_debug_allowed: false,
        product: 'Milan',
      },
      init_data: 'cd'.repeat(32),
      init_data_claims: {
        'aa.toml': { token_configs: { kbs: { url: 'https://kbs.example:8080' } } },
        'cdh.toml': { kbc: { name: 'cc_kbc', url: 'https://kbs.example:8080' } },
      },
      report_data: 'ef'.repeat(64),
      runtime_data_claims: { nonce: 'n-1', 'tee-pubkey': { kty: 'EC' } },
    }
    for (const cel of [
      `snp.measurement in ["${'ab'.repeat(48)}", "${'01'.repeat(48)}"]`,
      'snp.reported_tcb_snp >= 24 && snp.reported_tcb_microcode >= 219 && snp.reported_tcb_bootloader >= 4',
      '!has(snp.reported_tcb_fmc) || snp.reported_tcb_fmc >= 1',
      'tee == "snp" ? snp.vmpl == 0 && !snp.policy_debug_allowed : tdx.tcb_status == "UpToDate"',
      'init_data_claims["cdh.toml"].kbc.url.startsWith("https://") && init_data_claims["cdh.toml"]["kbc"]["name"] == "cc_kbc"',
      'init_data_claims["aa.toml"].token_configs.kbs.url == init_data_claims["cdh.toml"].kbc.url',
      '["aa.toml", "cdh.toml"].all(f, f in init_data_claims)',
      '"kbc" in init_data_claims["cdh.toml"] && !("x" in init_data_claims["cdh.toml"])',
      'has(runtime_data_claims.nonce) && runtime_data_claims["tee-pubkey"].kty == "EC" && size(runtime_data_claims.nonce) > 0',
      'snp.measurement.startsWith("abab") && snp.product.matches("^(Milan|Genoa)$") && init_data.size() == 64',
      'report_data.endsWith("ef") && snp.guest_svn in [3, 4] && string(snp.guest_svn) == "3"',
      '[snp.measurement, init_data].all(h, h.matches("^[0-9a-f]+$"))',
      'cel.bind(s, snp, s.vmpl == 0 && !has(s.reported_tcb_fmc))',
      '[snp].all(x, x.vmpl == 0 && !has(x.reported_tcb_fmc))',
      'cel.bind(m, {"k": snp}, !has(m.k.reported_tcb_fmc)) && cel.bind(m, {"k": init_data_claims}, !has(m.k.x))',
      'cel.bind(optional, snp.vmpl, optional == 0)',
      '([snp] + [snp]).all(x, x.vmpl == 0)',
      'dyn(init_data_claims["cdh.toml"]).kbc.url != "" && snp.vmpl < 1.5 && snp.vmpl >= 0u',
      `["${'01'.repeat(48)}", "${'ab'.repeat(48)}"].exists(m, m == snp.measurement)`,
      '(has(init_data_claims.x) ? init_data_claims.x : "default") != "y"',
      `tee == "snp" || tdx.quote.body.mr_td == "${'00'.repeat(48)}" && tdx.quote.body.rtmr_0.startsWith("00")`,
      `!(snp.measurement in ["${'01'.repeat(48)}"]) && snp.measurement.endsWith("abab")`,
      `snp.measurement != "${'01'.repeat(48)}"`,
      `cel.bind(denied, ["${'01'.repeat(48)}"], !(snp.measurement in denied))`,
      `cel.bind(m, snp.measurement, m != "${'01'.repeat(48)}" && m.startsWith("ab"))`,
      'tee == "snp" || tdx.tcb_date == null || tdx.tcb_date >= "2024-01-01"',
      `init_data == "${'cd'.repeat(32)}" && report_data.startsWith("efef") && init_data.size() == 64`,
      `cel.bind(allowed, {"v1": "${'ab'.repeat(48)}"}, snp.measurement == allowed.v1)`,
      `cel.bind(half, "${'ab'.repeat(24)}", snp.measurement == half + half)`,
      `string(snp.measurement) == "${'ab'.repeat(48)}" && snp.measurement + "" != "${'01'.repeat(48)}"`,
      `"" + snp.measurement != "${'01'.repeat(48)}" && snp.measurement.lowerAscii().startsWith("ab")`,
      'snp.measurement.matches("^abab") && snp.measurement.matches("^(ab)+$") && string(init_data).matches("cd$")',
      // Upper case in a regular expression's syntax, not in a literal part: not refused.
      'snp.measurement.matches("^[a-fA-F0-9]{96}$") && snp.measurement.matches("\\\\S") && !snp.measurement.matches("\\\\W")',
    ]) {
      const definition = parseWorkloadDefinition(webDefinition({ cel }))
      expect(definition.cel).toBe(cel)
      const { expression } = compileWorkload({ name: 'web', version: 1, definition, updatedAt: '' })
      expect(expression && claimsExpressionFailure(expression, claims), cel).toBeUndefined()
    }
  })

  it('accepts CEL over declared claims of their types, and leaves comprehension variables alone', () => {
    for (const cel of [
      'snp.vmpl == 0 && snp.guest_svn >= 1 && snp.measurement.startsWith("ab")',
      '!snp.policy_debug_allowed && snp.product in ["Milan", "Genoa"]',
      'has(snp.reported_tcb_fmc) || tdx.tcb_date != null',
      'tdx.quote.body.mr_td.startsWith("0") && !tdx.td_attributes.debug && "INTEL-SA-00837" in tdx.advisory_ids',
      'tdx.advisory_ids.all(a, a.startsWith("INTEL-SA-"))',
      'tdx.tcb_evaluation_data_number >= 17',
    ]) {
      expect(parseWorkloadDefinition(webDefinition({ cel })).cel).toBe(cel)
    }
    const sgx = sgxOnly({
      cel: 'sgx.body.isv_svn >= 2 && !sgx.attributes.debug && sgx.header.version == "0300"',
    })
    expect(parseWorkloadDefinition(sgx).cel).toContain('isv_svn')
  })

  it('refuses what is not an object', () => {
    expect(refusal(null)).toContain('$ must be an object')
    expect(refusal([])).toContain('$ must be an object')
  })
})

describe('compileWorkload', () => {
  const stored = { name: 'web', version: 1, definition: webDefinition(), updatedAt: '' }

  it('computes each TEE fitted value (sha384 truncated to 32 bytes on SNP)', () => {
    const compiled = compileWorkload(stored)
    const [document] = compiled.initdata
    expect(document?.digest).toHaveLength(96)
    expect(document?.fitted.snp).toBe(document?.digest.slice(0, 64))
    expect(document?.fitted.tdx).toBe(document?.digest)
    expect(document?.warnings.join(' ')).toContain('truncated')
    expect(compileWorkload(stored)).toBe(compiled)
  })

  it('recompiles when the definition changes under the same name and version', () => {
    const compiler = new WorkloadCompiler(4)
    const first = compiler.compile(stored)
    const other = compiler.compile({
      ...stored,
      definition: webDefinition({ resources: ['x/y/z'] }),
    })
    expect(other).not.toBe(first)
    expect(other.mayRelease('x/y/z')).toBe(true)
    expect(first.mayRelease('x/y/z')).toBe(false)
  })

  it('compiles the CEL expression once: the definition check and matching share it', () => {
    // Counted at the CEL parser itself, so any second compilation, through whatever path, counts.
    const parse = vi.spyOn(Environment.prototype, 'parse')
    try {
      const compiled = new WorkloadCompiler(4).compile({
        ...stored,
        definition: webDefinition({ cel: 'snp.vmpl == 0 || tdx.tcb_status == "UpToDate"' }),
      })
      expect(parse).toHaveBeenCalledTimes(1)
      expect(
        compiled.expression &&
          claimsExpressionFailure(compiled.expression, { tee: 'snp', snp: { vmpl: 0 } }),
      ).toBeUndefined()
    } finally {
      parse.mockRestore()
    }
  })

  it('refuses a definition stored under another name', () => {
    expect(codeOf(() => compileWorkload({ ...stored, name: 'api' }))).toBe(
      'ERR_KBS_WORKLOAD_INVALID',
    )
  })
})

describe('resource patterns', () => {
  it.each([
    ['default/web/*', 'default/web/key', true],
    ['default/web/*', 'default/web/a.b-c_d', true],
    ['default/web/*', 'default/api/key', false],
    ['default/*/key', 'default/web/key', true],
    ['default/tls-*/cert', 'default/tls-prod/cert', true],
    ['default/tls-*/cert', 'default/tls/cert', false],
    ['default/*/*', 'default/web', false],
    ['default/*/*', 'default/web/a/b', false],
    ['a.b/c/d', 'aXb/c/d', false],
    ['*/*/*', 'x/.hidden/y', false],
    ['default/a*b*c/key', 'default/aXbYc/key', true],
    ['default/a*b*c/key', 'default/aXbYcd/key', false],
    ['default/**/key', 'default/x/key', true],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(compileResourcePattern(pattern).matches(path)).toBe(expected)
  })

  it('matches as the anchored wildcard expression does, for any pattern and path', () => {
    const alphabet = fc.constantFrom('a', 'b', '*')
    const segment = fc.array(alphabet, { minLength: 1, maxLength: 8 }).map((c) => c.join(''))
    const text = fc
      .array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 12 })
      .map((c) => c.join(''))
    fc.assert(
      fc.property(segment, text, (pattern, tag) => {
        const reference = new RegExp(`^${pattern.replaceAll('*', '[A-Za-z0-9_.-]*')}$`)
        expect(compileResourcePattern(`r/t/${pattern}`).matches(`r/t/${tag}`)).toBe(
          reference.test(tag),
        )
      }),
    )
  })

  it('answers at once for many stars against a long path (no back-tracking blow-up)', () => {
    // A regular expression takes minutes on this; the wildcard walk is linear in practice.
    const pattern = `r/t/${'*a'.repeat(12)}*b`
    expect(compileResourcePattern(pattern).matches(`r/t/${'a'.repeat(60)}`)).toBe(false)
  })
})
