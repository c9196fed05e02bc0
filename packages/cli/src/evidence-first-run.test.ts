import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import { jsonError, runInProcess as run, type CliRun } from './cli-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const VECTORS = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url))
/** The real TDX and SGX quotes with their collateral, at a time inside its window. */
const TDX_V4B = [
  join(VECTORS, 'tdx/v4-b/quote.dat'),
  '--collateral',
  join(VECTORS, 'tdx/v4-b/collateral.json'),
  '--at',
  '2025-07-01T00:00:00Z',
]
const SGX_V3A = [
  join(VECTORS, 'sgx/v3-a/quote.dat'),
  '--collateral',
  join(VECTORS, 'sgx/v3-a/collateral.json'),
  '--at',
  '2025-07-01T00:00:00Z',
]
const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs]\n\'\'\'\n'

describe('evidence inspect|verify given a file that is not evidence', () => {
  const dir = scratch.make('initguard-wrong-file-')
  const written = (name: string, content: string | Uint8Array): string => {
    writeFileSync(join(dir, name), content)
    return join(dir, name)
  }
  const cases: [string, () => string, string, string][] = [
    ['a VCEK (DER)', () => join(VECTORS, 'snp/milan-v2-a/vcek.der'), 'amd-certificate', '--certs'],
    [
      'a VCEK (PEM)',
      () => join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem'),
      'amd-certificate',
      '--certs',
    ],
    [
      'an ASK/ARK bundle',
      () => join(VECTORS, 'snp/amd-roots/ask_ark_milan.pem'),
      'amd-certificate',
      '--trust-root',
    ],
    ['a CCEL event log', () => join(VECTORS, 'ccel/CCEL_data'), 'ccel-event-log', 'quote'],
    [
      'collateral JSON',
      () => join(VECTORS, 'tdx/spr-v4/collateral.json'),
      'dcap-collateral-json',
      '--collateral',
    ],
    [
      "Intel PCS's TCB info",
      () => join(VECTORS, 'tdx/spr-v4/tcbinfo-response.json'),
      'pcs-tcb-info',
      '--collateral',
    ],
    [
      "Intel PCS's QE identity",
      () => join(VECTORS, 'tdx/spr-v4/qeidentity-response.json'),
      'pcs-qe-identity',
      '--collateral',
    ],
    [
      'an Intel CRL',
      () => join(VECTORS, 'tdx/spr-v4/pck-platform-crl.der'),
      'intel-crl',
      '--collateral',
    ],
    [
      'an initdata document',
      () => written('initdata.toml', DOCUMENT),
      'initdata-document',
      '--expect-initdata',
    ],
    [
      'an initdata image',
      () => written('initdata.img', buildInitdataImage(new TextEncoder().encode(DOCUMENT))),
      'initdata-image',
      'read-image',
    ],
    [
      'an annotation value',
      () => written('annotation.txt', encodeAnnotation(new TextEncoder().encode(DOCUMENT))),
      'initdata-annotation',
      'initdata decode',
    ],
  ]
  it.each(cases)('names %s and the option to use (exit 3)', async (_name, path, kind, option) => {
    for (const command of ['inspect', 'verify']) {
      const result = await run(['evidence', command, path(), '--json'])
      expect(result.code).toBe(3)
      const error = jsonError(result)
      expect(error.code).toBe('ERR_EVIDENCE_WRONG_FILE')
      expect(error.details['file_kind']).toBe(kind)
      expect(error.hint).toContain(option)
    }
    const text = await run(['evidence', 'inspect', path()])
    expect(text.stderr).toContain('not evidence')
    expect(text.stderr).not.toMatch(/report version|UTF-8/)
  })
})

describe('evidence verify refusals name the option that fixes them', () => {
  const milan = [
    'evidence',
    'verify',
    join(VECTORS, 'snp/milan-v2-a/report.bin'),
    '--certs',
    join(VECTORS, 'snp/milan-v2-a/vcek.der'),
    '--at',
    '2024-01-01T00:00:00Z',
  ]

  it('lists every failed rule and the claims in JSON, and every hint in text (exit 5)', async () => {
    const args = [...milan, '--expect-host-data', '11'.repeat(32)]
    const json = await run([...args, '--json'])
    expect(json.code).toBe(5)
    const out = JSON.parse(json.stdout) as {
      ok: boolean
      error: { code: string; failures: { code: string; hint: string }[] }
      claims: { host_data: string; policy: { debug_allowed: boolean } }
    }
    expect(out.ok).toBe(false)
    expect(out.error.code).toBe('ERR_SNP_DEBUG_ALLOWED')
    expect(out.error.failures.map((f) => f.code)).toEqual([
      'ERR_SNP_DEBUG_ALLOWED',
      'ERR_SNP_HOST_DATA_MISMATCH',
    ])
    expect(out.error.failures[0]?.hint).toContain('--allow-debug')
    expect(out.claims.policy.debug_allowed).toBe(true)
    expect(out.claims.host_data).toMatch(/^[0-9a-f]{64}$/)
    const text = await run(args)
    expect(text.code).toBe(5)
    expect(text.stderr).toContain('--allow-debug')
    expect(text.stderr).toContain('--expect-host-data')
  })

  it('names --allow-sw-hardening / --allow-configuration-needed for a TCB status', async () => {
    const sgx = await run(['evidence', 'verify', ...SGX_V3A, '--json'])
    expect(sgx.code).toBe(5)
    expect(jsonError(sgx).hint).toMatch(/--allow-sw-hardening|--allow-configuration-needed/)
  })

  it('names --certs for a VCEK and --collateral for collateral that cannot be had offline', async () => {
    const cache = scratch.make('initguard-offline-')
    const vcek = await run([
      'evidence',
      'verify',
      join(VECTORS, 'snp/milan-v3-hostdata/report.bin'),
      '--offline',
      '--cache-dir',
      cache,
      '--json',
    ])
    expect(vcek.code).toBe(6)
    expect(jsonError(vcek).hint).toContain('--certs')
    const collateral = await run([
      'evidence',
      'verify',
      join(VECTORS, 'tdx/v4-b/quote.dat'),
      '--offline',
      '--cache-dir',
      cache,
      '--json',
    ])
    expect(collateral.code).toBe(6)
    expect(jsonError(collateral).hint).toContain('--collateral')
  })
})

describe("--collateral takes Intel PCS's own documents", () => {
  const SPR = join(VECTORS, 'tdx/spr-v4/')
  const pieces = [
    'tcbinfo-response.json',
    'qeidentity-response.json',
    'tcb-signing-chain.pem',
    'pck-platform-crl.der',
    'pck-crl-issuer-chain.pem',
    'root-ca-crl.der',
  ]
  const verify = (collateral: string[]): Promise<CliRun> =>
    run([
      'evidence',
      'verify',
      join(SPR, 'quote.dat'),
      ...collateral.flatMap((c) => ['--collateral', c]),
      '--at',
      '2023-07-01T01:00:00Z',
      '--json',
    ])

  it('as separate files or a directory, with the same result as the combined JSON', async () => {
    const combined = await verify([join(SPR, 'collateral.json')])
    expect(combined.code).toBe(5)
    expect(jsonError(combined).code).toBe('ERR_TDX_TCB_NOT_SUPPORTED')
    const separate = await verify(pieces.map((p) => join(SPR, p)))
    expect(separate.code).toBe(combined.code)
    expect(JSON.parse(separate.stdout)).toEqual(JSON.parse(combined.stdout))
    // A directory: names do not matter, and files that are not collateral (a quote) are left alone.
    const dir = scratch.make('initguard-pcs-docs-')
    pieces.forEach((p, i) => {
      copyFileSync(join(SPR, p), join(dir, `document-${i}`))
    })
    copyFileSync(join(SPR, 'quote.dat'), join(dir, 'quote.dat'))
    const fromDirectory = await verify([dir])
    expect(JSON.parse(fromDirectory.stdout)).toEqual(JSON.parse(combined.stdout))
  })

  it('names every missing piece, refuses a file that is not collateral, a duplicate and a mix', async () => {
    const incomplete = await verify([
      join(SPR, 'tcbinfo-response.json'),
      join(SPR, 'root-ca-crl.der'),
    ])
    expect(incomplete.code).toBe(6)
    const error = jsonError(incomplete)
    expect(error.code).toBe('ERR_COLLATERAL_INCOMPLETE')
    expect(error.details['missing']).toEqual([
      'the QE identity JSON (PCS …/qe/identity)',
      'the TCB Signing issuer chain (PEM: Intel SGX TCB Signing, Intel SGX Root CA)',
      'the CRL of the Intel SGX PCK Platform CA',
      'the issuer chain of the Intel SGX PCK Platform CA (PEM: the CA, Intel SGX Root CA)',
    ])
    const vcek = await verify([
      ...pieces.map((p) => join(SPR, p)),
      join(VECTORS, 'snp/milan-v2-a/vcek.der'),
    ])
    expect(vcek.code).toBe(3)
    expect(jsonError(vcek)).toMatchObject({
      code: 'ERR_COLLATERAL_FILE',
      details: { file_kind: 'amd-certificate' },
    })
    const twice = await verify([...pieces.map((p) => join(SPR, p)), join(SPR, 'root-ca-crl.der')])
    expect(twice.code).toBe(2)
    expect(jsonError(twice).code).toBe('ERR_COLLATERAL_DUPLICATE')
    const mixed = await verify([join(SPR, 'collateral.json'), join(SPR, 'root-ca-crl.der')])
    expect(mixed.code).toBe(2)
    expect(jsonError(mixed).code).toBe('ERR_COLLATERAL_MIXED')
  })
})

describe('--json is the machine interface', () => {
  const inspect = async (path: string): Promise<Record<string, unknown>> =>
    JSON.parse((await run(['evidence', 'inspect', path, '--json'])).stdout) as Record<
      string,
      unknown
    >
  const verified = async (args: string[]): Promise<Record<string, unknown>> => {
    const result = await run(['evidence', 'verify', ...args, '--json'])
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout) as Record<string, unknown>
  }

  it('inspect names every field as verify does (TDX, SGX, SNP)', async () => {
    const tdxInspected = await inspect(TDX_V4B[0] ?? '')
    const tdxVerified = await verified(TDX_V4B)
    expect(tdxVerified['claims']).toMatchObject(tdxInspected['claims'] as object)
    expect(tdxInspected).toMatchObject({
      fmspc: (tdxVerified['claims'] as Record<string, unknown>)['fmspc'],
      pck_ca: (tdxVerified['claims'] as Record<string, unknown>)['pck_ca'],
      verified: false,
    })
    const sgxVerified = await verified([
      ...SGX_V3A,
      '--allow-sw-hardening',
      '--allow-configuration-needed',
    ])
    expect(sgxVerified['claims']).toMatchObject(
      (await inspect(SGX_V3A[0] ?? ''))['claims'] as object,
    )
    const snp = join(VECTORS, 'snp/milan-v3-hostdata/report.bin')
    const snpVerified = await verified([
      snp,
      '--certs',
      join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem'),
    ])
    expect(snpVerified['claims']).toEqual((await inspect(snp))['claims'])
  })

  it('inspect carries what the text shows: decoded TCBs, flags, signer, QE and certification', async () => {
    const snp = await inspect(join(VECTORS, 'snp/milan-v3-hostdata/report.bin'))
    expect(snp).toMatchObject({
      product: 'Milan',
      claims: { reported_tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 } },
      signer_info: { signing_key: 'vcek' },
    })
    const v2 = await inspect(join(VECTORS, 'snp/milan-v2-a/report.bin'))
    expect(v2).toMatchObject({ product: null, tcb_layout: 'Milan/Genoa' })
    expect(
      (v2['claims'] as { launch_tcb: { bootloader: number } }).launch_tcb.bootloader,
    ).toBeTypeOf('number')
    const tdx = await inspect(join(VECTORS, 'tdx/v4-b/quote.dat'))
    expect(tdx).toMatchObject({
      quote_version: 4,
      certification: { kind: 'pck-cert-chain' },
      claims: { quote: { body: { mr_td: expect.stringMatching(/^91eb2b44/) as unknown } } },
    })
    expect(tdx['td_attribute_flags']).toBeInstanceOf(Array)
    expect(tdx['xfam']).toMatch(/^[0-9a-f]{16}$/)
    const sgx = await inspect(join(VECTORS, 'sgx/v3-a/quote.dat'))
    expect(sgx['attribute_flags']).toBeInstanceOf(Array)
  })

  it('success text shows MRTD and RTMR0–3 for TDX, MRENCLAVE and MRSIGNER for SGX', async () => {
    const tdx = await run(['evidence', 'verify', ...TDX_V4B])
    expect(tdx.stdout).toMatch(/^MRTD\s+91eb2b44/m)
    for (const i of [0, 1, 2, 3])
      expect(tdx.stdout).toMatch(new RegExp(`^RTMR${i}\\s+[0-9a-f]{96}$`, 'm'))
    const sgx = await run([
      'evidence',
      'verify',
      ...SGX_V3A,
      '--allow-sw-hardening',
      '--allow-configuration-needed',
    ])
    expect(sgx.stdout).toMatch(/^MRENCLAVE\s+[0-9a-f]{64}$/m)
    expect(sgx.stdout).toMatch(/^MRSIGNER\s+[0-9a-f]{64}$/m)
  })
})

describe('help says what the evidence commands do today', () => {
  it('names TDX and SGX beside SEV-SNP, and the forms --collateral takes', async () => {
    const top = await run(['--help'])
    expect(top.stdout).toMatch(/^ {2}evidence .*SEV-SNP.*TDX.*SGX/m)
    const group = await run(['evidence', '--help'])
    expect(group.stdout).toMatch(/TDX and SGX quotes/)
    const verify = await run(['evidence', 'verify', '--help'])
    expect(verify.stdout).toContain('TDX or SGX quote')
    expect(verify.stdout).toMatch(/--collateral FILE\|DIR .*TCB info/)
  })
})

describe('with no network, KDS and PCS failures say so at once', () => {
  it('an unresolvable KDS or PCS host is exit 6 within 2 s, naming --certs / --collateral', async () => {
    const cache = scratch.make('initguard-no-network-')
    const started = Date.now()
    const kds = await run([
      'evidence',
      'verify',
      join(VECTORS, 'snp/milan-v3-hostdata/report.bin'),
      '--kds-url',
      'http://kds.initguard.invalid',
      '--cache-dir',
      cache,
      '--json',
    ])
    expect(kds.code).toBe(6)
    expect(jsonError(kds)).toMatchObject({ code: 'ERR_KDS_UNREACHABLE' })
    expect(jsonError(kds).hint).toContain('--certs')
    const pcs = await run([
      'evidence',
      'verify',
      join(VECTORS, 'tdx/v4-b/quote.dat'),
      '--pccs',
      'http://pccs.initguard.invalid',
      '--cache-dir',
      cache,
      '--json',
    ])
    expect(pcs.code).toBe(6)
    expect(jsonError(pcs)).toMatchObject({ code: 'ERR_PCS_UNREACHABLE' })
    expect(jsonError(pcs).hint).toContain('--collateral')
    // Before, each took 4 attempts and 7 s of backoff; generous slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(4000)
  })
})
