/**
 * `evidence verify` of SEV-SNP evidence reads `--kds-url`, `--kds-store` and `--cache-dir` only
 * when it goes to AMD KDS: for a VCEK that is neither in the evidence nor in `--certs` (the store,
 * the cache, then KDS), and for the CRL under `--fetch-crl` (the cache, then KDS; never the store).
 * The ASK and ARK never come from KDS: they are the pinned roots or `--trust-root`. Given where
 * nothing is fetched, each of them is refused (exit 2, `ERR_OPTION_NOT_APPLICABLE`), never
 * ignored; where something may be fetched, it is used.
 */
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import { parseSnpEvidence } from '@initguard/snp'
import { ScratchDirectories } from '@initguard/testkit'
import {
  REAL_SNP_VERIFY,
  REAL_VLEK_VERIFY,
  VECTORS,
  expectRefused,
  runInProcess as run,
  type CliRun,
} from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** A URL where nothing listens: a run that used it fails with ERR_KDS_UNREACHABLE. */
const DEAD_KDS = 'http://127.0.0.1:1'

/** The real Milan v3 report without its VCEK: the VCEK is looked up. */
const REAL_SNP_NO_VCEK: readonly string[] = [
  'evidence',
  'verify',
  join(VECTORS, 'snp/milan-v3-hostdata/report.bin'),
  '--at',
  '2026-06-01T00:00:00Z',
]

function refusedNaming(result: CliRun, option: string, why: string): void {
  expectRefused(result, 2, 'ERR_OPTION_NOT_APPLICABLE')
  expect(result.stderr).toContain(`--${option} has no effect`)
  expect(result.stderr).toContain(why)
  expect(result.stderr).toContain(`hint: drop --${option}`)
}

describe('evidence verify with the VCEK in --certs', () => {
  it('verifies without KDS options (the baseline)', async () => {
    const result = await run(REAL_SNP_VERIFY)
    expect(result.code, result.stderr).toBe(0)
  })

  for (const [option, value, why] of [
    ['kds-url', DEAD_KDS, 'the VCEK is given, so nothing is fetched from AMD KDS'],
    ['kds-store', '/nonexistent/kds-store', 'the VCEK is given, so none is looked up in the store'],
    ['cache-dir', '/nonexistent/cache', 'the VCEK is given, so nothing is fetched from AMD KDS'],
  ] as const) {
    it(`--${option}: exit 2, not a verification that never read it`, async () => {
      refusedNaming(await run([...REAL_SNP_VERIFY, `--${option}`, value]), option, why)
    })
  }

  it('--json: the refusal names the option', async () => {
    const result = await run([...REAL_SNP_VERIFY, '--kds-url', DEAD_KDS, '--json'])
    expect(result.code).toBe(2)
    const error = (JSON.parse(result.stdout) as { error: { code: string; details: unknown } }).error
    expect(error).toMatchObject({
      code: 'ERR_OPTION_NOT_APPLICABLE',
      details: { option: '--kds-url' },
    })
  })

  it('with --fetch-crl, --kds-url and --cache-dir are used for the CRL', async () => {
    const cache = scratch.make('initguard-kds-crl-')
    const online = await run([
      ...REAL_SNP_VERIFY,
      ...['--fetch-crl', '--kds-url', DEAD_KDS, '--cache-dir', cache],
    ])
    expectRefused(online, 6, 'ERR_KDS_UNREACHABLE')
    expect(online.stderr).toContain('CRL')
    const offline = await run([
      ...REAL_SNP_VERIFY,
      '--fetch-crl',
      '--offline',
      '--cache-dir',
      cache,
    ])
    expectRefused(offline, 6, 'ERR_KDS_OFFLINE')
    expect(offline.stderr).toContain('CRL')
  })

  it('with --fetch-crl, --kds-store is still refused: the store holds VCEKs, never a CRL', async () => {
    refusedNaming(
      await run([...REAL_SNP_VERIFY, '--fetch-crl', '--kds-store', '/nonexistent/kds-store']),
      'kds-store',
      'the VCEK is given, so none is looked up in the store',
    )
  })
})

describe('evidence verify of evidence that carries its VCEK', () => {
  let args: string[] = []
  beforeAll(async () => {
    const dir = scratch.make('initguard-kds-sim-')
    const sim = join(dir, 'sim')
    const initdata = join(dir, 'initdata.toml')
    writeFileSync(initdata, 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n')
    const created = await run(['sim', 'init', '--sim-dir', sim])
    expect(created.code, created.stderr).toBe(0)
    const evidence = await run([
      ...['sim', 'evidence', '--sim-dir', sim, '--tee', 'snp', '--initdata', initdata],
      ...['--report-data', '00'],
    ])
    expect(evidence.code, evidence.stderr).toBe(0)
    writeFileSync(join(dir, 'evidence.json'), evidence.stdout)
    args = [
      ...['evidence', 'verify', join(dir, 'evidence.json')],
      ...['--trust-root', join(sim, 'amd-roots.pem')],
    ]
  })

  it('verifies with nothing else (the baseline)', async () => {
    const result = await run(args)
    expect(result.code, result.stderr).toBe(0)
  })

  it('--kds-url, --kds-store, --cache-dir: exit 2 each', async () => {
    refusedNaming(await run([...args, '--kds-url', DEAD_KDS]), 'kds-url', 'with the evidence')
    refusedNaming(await run([...args, '--kds-store', '/none']), 'kds-store', 'with the evidence')
    refusedNaming(await run([...args, '--cache-dir', '/none']), 'cache-dir', 'with the evidence')
  })
})

describe('evidence verify of a VLEK-signed report', () => {
  it('verifies with its VLEK (the baseline)', async () => {
    const result = await run([...REAL_VLEK_VERIFY, '--allow-debug'])
    expect(result.code, result.stderr).toBe(0)
  })

  for (const [option, value] of [
    ['kds-url', DEAD_KDS],
    ['kds-store', '/nonexistent/kds-store'],
    ['cache-dir', '/nonexistent/cache'],
  ] as const) {
    it(`--${option}: exit 2, since a VLEK is never fetched`, async () => {
      refusedNaming(
        await run([...REAL_VLEK_VERIFY, `--${option}`, value]),
        option,
        'the VLEK is given',
      )
    })
  }
})

describe('evidence verify that looks the VCEK up', () => {
  let store = ''
  beforeAll(() => {
    // The real report's VCEK in an offline store: {store}/{product}/{hwid}/vcek.der.
    const report = parseSnpEvidence(
      readFileSync(join(VECTORS, 'snp/milan-v3-hostdata/report.bin')),
    ).report
    store = scratch.make('initguard-kds-store-')
    const folder = join(store, 'Milan', bytesToHex(report.chipId))
    mkdirSync(folder, { recursive: true })
    const pem = readFileSync(join(VECTORS, 'snp/milan-v3-hostdata/vcek.pem'), 'utf8')
    writeFileSync(join(folder, 'vcek.der'), new X509Certificate(pem).raw)
  })

  it('--kds-store is read: the VCEK comes from it offline', async () => {
    const cache = scratch.make('initguard-kds-cache-')
    const result = await run([
      ...REAL_SNP_NO_VCEK,
      ...['--offline', '--kds-store', store, '--cache-dir', cache],
    ])
    expect(result.code, result.stderr).toBe(0)
  })

  it('--kds-url and --cache-dir are read: the VCEK is asked of that KDS', async () => {
    const cache = scratch.make('initguard-kds-cache-')
    const result = await run([...REAL_SNP_NO_VCEK, '--kds-url', DEAD_KDS, '--cache-dir', cache])
    expectRefused(result, 6, 'ERR_KDS_UNREACHABLE')
    expect(result.stderr).toContain('VCEK')
  })

  it('--kds-url with --offline: exit 2, KDS is never contacted offline', async () => {
    refusedNaming(
      await run([...REAL_SNP_NO_VCEK, '--offline', '--kds-url', DEAD_KDS, '--kds-store', store]),
      'kds-url',
      '--offline never contacts AMD KDS',
    )
  })
})

describe('evidence verify of a TDX quote offline', () => {
  const quote = join(VECTORS, 'tdx/v4-b/quote.dat')

  it('--pccs with --offline: exit 2, a PCCS is never asked offline', async () => {
    const cache = scratch.make('initguard-pcs-cache-')
    refusedNaming(
      await run([
        'evidence',
        'verify',
        quote,
        '--offline',
        '--cache-dir',
        cache,
        '--pccs',
        DEAD_KDS,
      ]),
      'pccs',
      '--offline never contacts a PCCS or Intel PCS',
    )
  })

  it('--pccs alone is used: the collateral is asked of it', async () => {
    const cache = scratch.make('initguard-pcs-cache-')
    const result = await run([
      'evidence',
      'verify',
      quote,
      '--cache-dir',
      cache,
      '--pccs',
      DEAD_KDS,
    ])
    expectRefused(result, 6, 'ERR_PCS_UNREACHABLE')
  })
})
