import { createPrivateKey, createPublicKey, verify } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { jsonError, runInProcess } from './cli-test-support.ts'
import { adminToken } from './commands/kbs-admin-request.ts'
import { parseWorkloadDefinition } from '@initguard/kbs'
import { workloadDefinitionJson } from './commands/kbs-workload-json.ts'

const dir = await mkdtemp(join(tmpdir(), 'kbs-cli-'))
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('initguard kbs keygen', () => {
  it('writes an Ed25519 pair, the private key 0600, that signs admin tokens the public key verifies', async () => {
    const [priv, pub] = [join(dir, 'admin.key'), join(dir, 'admin.pub')]
    const run = await runInProcess([
      'kbs',
      'keygen',
      '--out-private',
      priv,
      '--out-public',
      pub,
      '--json',
    ])
    expect(run.code).toBe(0)
    expect((await stat(priv)).mode & 0o777).toBe(0o600)
    const publicKey = createPublicKey(await readFile(pub, 'utf8'))
    expect(publicKey.asymmetricKeyType).toBe('ed25519')
    const now = new Date('2026-06-01T12:00:00Z')
    const token = adminToken(
      { key: createPrivateKey(await readFile(priv, 'utf8')), algorithm: 'EdDSA' },
      now,
    )
    const [header = '', payload = '', signature = ''] = token.split('.')
    expect(
      verify(
        null,
        Buffer.from(`${header}.${payload}`),
        publicKey,
        Buffer.from(signature, 'base64url'),
      ),
    ).toBe(true)
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
      alg: 'EdDSA',
      typ: 'JWT',
    })
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      role: 'admin',
      aud: ['KBS'],
      exp: 1780315500,
    })
  })
})

describe('initguard kbs admin', () => {
  const base = [
    'kbs',
    'admin',
    '--url',
    'https://127.0.0.1:1',
    '--admin-key',
    join(dir, 'admin.key'),
    '--json',
  ]

  it('refuses an option that belongs to another action, and unknown actions, before connecting', async () => {
    const misplaced = await runInProcess([...base, 'resource', 'list', '--tee', 'snp'])
    expect(misplaced.code).toBe(2)
    expect(jsonError(misplaced).code).toBe('ERR_OPTION_NOT_APPLICABLE')
    const unknown = await runInProcess([...base, 'workload', 'explode'])
    expect(jsonError(unknown).code).toBe('ERR_USAGE')
    const badTee = await runInProcess([...base, 'workload', 'put', '--tee', 'sev'])
    expect(jsonError(badTee).code).toBe('ERR_OPTION_VALUE')
    const noInitdata = await runInProcess([
      ...base,
      'workload',
      'put',
      '--name',
      'web',
      '--tee',
      'snp',
      '--resource',
      'a/b/*',
    ])
    expect(jsonError(noInitdata).code).toBe('ERR_USAGE')
  })

  it('puts the launch TCB minimum and the provisional-firmware rule in the SEV-SNP block', async () => {
    const text = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n'
    const launch = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }
    const options = {
      name: 'web',
      tees: ['snp'],
      initdata: [{ file: 'id.toml', bytes: new TextEncoder().encode(text) }],
      resources: ['default/web/*'],
      snpMeasurements: [new Uint8Array(48).fill(0xab)],
      snpMinLaunchTcb: launch,
      snpRefuseProvisionalFirmware: true,
      tdxMrtd: [],
      tdxRtmr: [],
      allowDebug: false,
    }
    const definition = workloadDefinitionJson(options)
    expect(definition['snp']).toEqual({
      measurements: ['ab'.repeat(48)],
      minimumLaunchTcb: launch,
      refuseProvisionalFirmware: true,
    })
    // What the admin command sends is what the KBS accepts.
    expect(parseWorkloadDefinition(definition).snp).toMatchObject({
      minimumLaunchTcb: launch,
      refuseProvisionalFirmware: true,
    })
    const tdxOnly = {
      ...options,
      tees: ['tdx'],
      snpMeasurements: [],
      tdxMrtd: [new Uint8Array(48)],
    }
    expect(thrown(() => workloadDefinitionJson(tdxOnly)).code).toBe('ERR_OPTION_NOT_APPLICABLE')
    const { snpMinLaunchTcb: _launch, ...refuseOnly } = tdxOnly
    expect(thrown(() => workloadDefinitionJson(refuseOnly)).code).toBe('ERR_OPTION_NOT_APPLICABLE')
    const bad = await runInProcess([
      ...base,
      'workload',
      'put',
      '--snp-min-launch-tcb',
      'bl=4,tee=0,snp=24',
    ])
    expect(bad.code).toBe(2)
    expect(jsonError(bad).code).toBe('ERR_OPTION_VALUE')
    const misplaced = await runInProcess([
      ...base,
      'resource',
      'list',
      '--snp-refuse-provisional-firmware',
    ])
    expect(jsonError(misplaced).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })

  it('builds the workload definition with the exact bytes of every document', async () => {
    const text = 'version = "0.1.0"\r\nalgorithm = "sha384"\r\n[data]\r\n'
    await writeFile(join(dir, 'id.toml'), text)
    const definition = workloadDefinitionJson({
      name: 'web',
      tees: ['snp', 'tdx'],
      initdata: [{ file: 'id.toml', bytes: new Uint8Array(await readFile(join(dir, 'id.toml'))) }],
      resources: ['default/web/*'],
      snpMeasurements: [new Uint8Array(48).fill(0xab)],
      tdxMrtd: [new Uint8Array(48).fill(0xcd)],
      tdxRtmr: [
        { index: 1, value: new Uint8Array(48).fill(0x11) },
        { index: 2, value: new Uint8Array(48) },
      ],
      allowDebug: false,
    })
    expect(definition).toEqual({
      name: 'web',
      tees: ['snp', 'tdx'],
      initdata: [text],
      resources: ['default/web/*'],
      snp: { measurements: ['ab'.repeat(48)] },
      tdx: { mrtd: ['cd'.repeat(48)], rtmr1: ['11'.repeat(48)], rtmr2: ['00'.repeat(48)] },
    })
    // What the admin command sends is what the KBS accepts.
    expect(parseWorkloadDefinition(definition)).toMatchObject({ name: 'web', tees: ['snp', 'tdx'] })
    // --refuse-simulated: real hardware only, a top-level member the KBS reads back.
    const hardwareOnly = workloadDefinitionJson({
      name: 'web',
      tees: ['snp'],
      initdata: [{ file: 'id.toml', bytes: new TextEncoder().encode(text) }],
      resources: ['default/web/*'],
      snpMeasurements: [new Uint8Array(48).fill(0xab)],
      tdxMrtd: [],
      tdxRtmr: [],
      allowDebug: false,
      refuseSimulated: true,
    })
    expect(hardwareOnly['refuseSimulated']).toBe(true)
    expect(parseWorkloadDefinition(hardwareOnly).refuseSimulated).toBe(true)
    expect(definition).not.toHaveProperty('refuseSimulated')
    const base = {
      name: 'w',
      initdata: [{ file: 'id.toml', bytes: new TextEncoder().encode(text) }],
      resources: ['default/w/*'],
      snpMeasurements: [],
      tdxMrtd: [],
      tdxRtmr: [],
      allowDebug: false,
    }
    // A TEE without its reference values, or values for a TEE not listed: refused before sending.
    expect(thrown(() => workloadDefinitionJson({ ...base, tees: ['snp'] })).code).toBe(
      'ERR_OPTION_NOT_APPLICABLE',
    )
    expect(
      thrown(() =>
        workloadDefinitionJson({ ...base, tees: ['tdx'], snpMeasurements: [new Uint8Array(48)] }),
      ).code,
    ).toBe('ERR_OPTION_NOT_APPLICABLE')
    const notText = () =>
      workloadDefinitionJson({
        ...{
          name: 'w',
          tees: ['snp'],
          resources: [],
          snpMeasurements: [],
          tdxMrtd: [],
          tdxRtmr: [],
          allowDebug: false,
        },
        initdata: [{ file: 'x', bytes: new Uint8Array([0xff, 0xfe, 0x00]) }],
      })
    expect(thrown(notText).code).toBe('ERR_KBS_INITDATA_NOT_UTF8')
  })
})
