/**
 * A file given to the wrong option of `evidence verify` (the TEE simulator's CRL and roots swapped,
 * the roots as `--certs`, an AMD CRL as `--intel-root`, evidence as a root) is refused naming the
 * option, the path, what the file is and the option that takes it (exit 3,
 * `ERR_OPTION_WRONG_FILE`), not deep in a parser with a message that names neither. The roots
 * options read PEM only, so their refusal never suggests DER.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, jsonError, runInProcess } from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const dir = scratch.make('initguard-option-files-')
const at = (name: string): string => join(dir, name)
const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n'

beforeAll(async () => {
  writeFileSync(at('initdata.toml'), DOCUMENT)
  const init = await runInProcess(['sim', 'init', '--sim-dir', at('sim')])
  expect(init.code, init.stderr).toBe(0)
  for (const tee of ['snp', 'tdx']) {
    const evidence = await runInProcess([
      ...['sim', 'evidence', '--sim-dir', at('sim'), '--tee', tee],
      ...['--initdata', at('initdata.toml'), '--report-data', '00ff'],
    ])
    expect(evidence.code, evidence.stderr).toBe(0)
    writeFileSync(at(`${tee}.json`), evidence.stdoutBytes)
  }
  const ark = new X509Certificate(readFileSync(at('sim/amd-roots.pem'), 'utf8'))
  writeFileSync(at('ark.der'), ark.raw)
}, 60_000)

const snp = (...options: string[]): string[] => ['evidence', 'verify', at('snp.json'), ...options]
const tdx = (...options: string[]): string[] => [
  ...['evidence', 'verify', at('tdx.json'), '--collateral', at('sim/tdx-collateral.json')],
  ...options,
]

describe('evidence verify given a file meant for another option', () => {
  it('verifies with the files where they belong', async () => {
    const ok = await runInProcess(
      snp('--trust-root', at('sim/amd-roots.pem'), '--crl', at('sim/amd-crl.der')),
    )
    expect(ok.code, ok.stderr).toBe(0)
    const tdxOk = await runInProcess(tdx('--intel-root', at('sim/intel-root.pem')))
    expect(tdxOk.code, tdxOk.stderr).toBe(0)
  })

  const cases: [string, () => string[], string, string, string][] = [
    [
      'the CRL as --trust-root (swapped with --crl)',
      () => snp('--trust-root', at('sim/amd-crl.der'), '--crl', at('sim/amd-roots.pem')),
      '--trust-root',
      'amd-crl',
      '--crl',
    ],
    [
      'the roots as --crl',
      () => snp('--trust-root', at('sim/amd-roots.pem'), '--crl', at('sim/amd-roots.pem')),
      '--crl',
      'amd-certificate',
      '--trust-root',
    ],
    [
      'the CRL as --certs',
      () => snp('--trust-root', at('sim/amd-roots.pem'), '--certs', at('sim/amd-crl.der')),
      '--certs',
      'amd-crl',
      '--crl',
    ],
    [
      'the Intel root as --trust-root',
      () => snp('--trust-root', at('sim/intel-root.pem')),
      '--trust-root',
      'intel-certificate',
      '--intel-root',
    ],
    [
      'the AMD CRL as --intel-root',
      () => tdx('--intel-root', at('sim/amd-crl.der')),
      '--intel-root',
      'amd-crl',
      '--crl',
    ],
    [
      'the AMD roots as --intel-root',
      () => tdx('--intel-root', at('sim/amd-roots.pem')),
      '--intel-root',
      'amd-certificate',
      '--trust-root',
    ],
    [
      'the TDX collateral as --crl',
      () => snp('--trust-root', at('sim/amd-roots.pem'), '--crl', at('sim/tdx-collateral.json')),
      '--crl',
      'dcap-collateral-json',
      '--collateral',
    ],
  ]
  it.each(cases)(
    'refuses %s (exit 3), naming the option, the file and where it goes',
    async (_name, args, option, kind, goes) => {
      const run = await runInProcess(args())
      expectRefused(run, 3, 'ERR_OPTION_WRONG_FILE')
      const first = run.stderr.split('\n')[0] ?? ''
      expect(first).toContain(`${option} `)
      expect(first).toContain(dir)
      expect(run.stderr).toMatch(new RegExp(`hint: .*${goes.replace(/-/g, '\\-')}`))
      const json = jsonError(await runInProcess([...args(), '--json']))
      expect(json.code).toBe('ERR_OPTION_WRONG_FILE')
      expect(json.details['option']).toBe(option)
      expect(json.details['file_kind']).toBe(kind)
    },
  )

  it.each([
    ['evidence as --trust-root', () => snp('--trust-root', at('snp.json')), '--trust-root'],
    ['a DER root as --trust-root', () => snp('--trust-root', at('ark.der')), '--trust-root'],
    ['a DER root as --intel-root', () => tdx('--intel-root', at('ark.der')), '--intel-root'],
  ])('refuses %s naming the option, and asks for PEM only (exit 3)', async (_n, args, option) => {
    const run = await runInProcess(args())
    expectRefused(run, 3, 'ERR_OPTION_WRONG_FILE')
    expect(run.stderr.split('\n')[0]).toContain(`${option} `)
    expect(run.stderr).toContain('PEM')
    expect(run.stderr).not.toMatch(/or DER/)
  })
})

describe('evidence verify of simulator evidence without its roots', () => {
  it('refuses SEV-SNP (exit 4), the hint naming --trust-root as TDX names --intel-root', async () => {
    const run = await runInProcess(snp())
    expectRefused(run, 4, 'ERR_SNP_CHAIN_ROOT_UNTRUSTED')
    expect(run.stderr).toMatch(/hint: .*--trust-root/)
    const quote = await runInProcess(tdx())
    expectRefused(quote, 4, 'ERR_TDX_PCK_ROOT_UNTRUSTED')
    expect(quote.stderr).toMatch(/hint: .*--intel-root/)
  })
})
