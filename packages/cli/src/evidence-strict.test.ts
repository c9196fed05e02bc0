/**
 * `evidence verify` never verifies less than it was asked: malformed option values and
 * expectations for fields the evidence does not have are usage errors (exit 2) naming the option;
 * an unusable cache is exit 7 naming the path; a user-supplied root is never called the vendor's.
 */
import { createServer, type Server } from 'node:http'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  buildSnpReport,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import {
  REAL_SNP_VERIFY,
  REAL_TDX_VERIFY,
  VECTORS,
  runInProcess,
  syntheticTdxVerify,
} from './cli-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** A Genoa test PKI, a VCEK and a report it signed. */
function genoaScenario() {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2034-01-01T00:00:00Z')
  const pki = createAmdTestPki({ product: 'Genoa', notBefore, notAfter })
  const vcek = pki.issueVcek({
    chipId: defaultSnpReportFields('Genoa').chipId,
    tcb: defaultSnpTcb('Genoa'),
    notBefore,
    notAfter,
  })
  return { pki, vcek, report: buildSnpReport({ product: 'Genoa' }, vcek.privateKey) }
}

const run = runInProcess

const snp = REAL_SNP_VERIFY
const tdx = REAL_TDX_VERIFY
const sgx = [
  'evidence',
  'verify',
  join(VECTORS, 'sgx/v3-a/quote.dat'),
  '--collateral',
  join(VECTORS, 'sgx/v3-a/collateral.json'),
  '--at',
  '2025-07-01T00:00:00Z',
  '--allow-sw-hardening',
  '--allow-configuration-needed',
]

function refusedNaming(
  result: { code: number; stderr: string },
  option: string,
  code: string,
  ...words: string[]
): void {
  expect(result.code).toBe(2)
  expect(result.stderr).toContain(`code: ${code}`)
  expect(result.stderr).toContain(`--${option}`)
  for (const word of words) expect(result.stderr).toContain(word)
}

describe('malformed option values', () => {
  it('the real evidence verifies as given (the baseline the refusals below differ from)', async () => {
    expect((await run(snp)).code).toBe(0)
    expect((await run(tdx)).code).toBe(0)
    expect((await run(sgx)).code).toBe(0)
  })

  for (const value of ['x', '3x', '', ' 3', '1.5', '-1', '+1', '4294967296']) {
    it(`--min-guest-svn ${JSON.stringify(value)} is refused, not read as no bound`, async () => {
      refusedNaming(
        await run([...snp, `--min-guest-svn=${value}`]),
        'min-guest-svn',
        'ERR_OPTION_VALUE',
      )
    })
  }
  for (const value of ['x', '3x', '', '65536', '0x1']) {
    it(`--min-isv-svn ${JSON.stringify(value)} is refused`, async () => {
      refusedNaming(
        await run([...sgx, `--min-isv-svn=${value}`]),
        'min-isv-svn',
        'ERR_OPTION_VALUE',
      )
    })
  }
  for (const [option, value, base] of [
    ['expect-vmpl', '4', snp],
    ['expect-vmpl', '0x0', snp],
    ['expect-mrtd', '00', tdx],
    ['expect-mrseam', '00', tdx],
    ['expect-mrservicetd', '00'.repeat(47), tdx],
    ['expect-mrconfigid', '00', tdx],
    ['expect-rtmr', '0=00', tdx],
    ['expect-mrenclave', 'ab'.repeat(48), sgx],
    ['expect-mrsigner', '00', sgx],
    ['expect-configid', '00'.repeat(48), sgx],
    ['expect-measurement', '00', snp],
    ['expect-report-data', ` ${'00'.repeat(64)}`, snp],
    ['min-tcb', 'bl=1,tee=0', snp],
    ['at', '2026-02-30T00:00:00Z', snp],
    ['at', '2026-06-01T00:00:00', snp],
    ['pccs', 'example.com', tdx],
  ] as const) {
    it(`--${option} ${JSON.stringify(value.slice(0, 12))} is a usage error naming it`, async () => {
      // The base's own --at goes when --at is the option tried: given twice it is refused as such.
      const kept = option === 'at' ? base.slice(0, base.indexOf('--at')) : base
      refusedNaming(await run([...kept, `--${option}`, value]), option, 'ERR_OPTION_VALUE')
    })
  }
})

describe('expectations for fields the evidence does not have', () => {
  const hex = (bytes: number): string => 'ab'.repeat(bytes)
  for (const [option, value] of [
    ['expect-mrenclave', hex(32)],
    ['expect-mrsigner', hex(32)],
    ['min-isv-svn', '0'],
    ['expect-configid', hex(64)],
    ['kds-url', 'http://127.0.0.1:1'],
    ['allow-migration-agent', undefined],
  ] as const) {
    it(`--${option} on a TDX quote`, async () => {
      const args = value === undefined ? [`--${option}`] : [`--${option}`, value]
      refusedNaming(
        await run([...tdx, ...args]),
        option,
        'ERR_OPTION_NOT_APPLICABLE',
        'a TDX quote',
      )
    })
  }
  for (const [option, value] of [
    ['expect-mrtd', hex(48)],
    ['expect-rtmr', `0=${hex(48)}`],
    ['expect-mrseam', hex(48)],
    ['expect-mrconfigid', hex(48)],
    ['expect-mrservicetd', hex(48)],
    ['trust-root', '/dev/null'],
  ] as const) {
    it(`--${option} on an SGX quote`, async () => {
      refusedNaming(
        await run([...sgx, `--${option}`, value]),
        option,
        'ERR_OPTION_NOT_APPLICABLE',
        'an SGX quote',
      )
    })
  }
  for (const [option, value] of [
    ['expect-mrtd', hex(48)],
    ['min-isv-svn', '0'],
    ['pccs', 'http://127.0.0.1:1'],
    ['allow-sw-hardening', undefined],
  ] as const) {
    it(`--${option} on SEV-SNP evidence`, async () => {
      const args = value === undefined ? [`--${option}`] : [`--${option}`, value]
      refusedNaming(
        await run([...snp, ...args]),
        option,
        'ERR_OPTION_NOT_APPLICABLE',
        'SEV-SNP evidence',
      )
    })
  }
})

describe('the root a chain ends at', () => {
  it("names AMD's and Intel's pinned roots with their fingerprints", async () => {
    const { AMD_PRODUCTION_ROOTS } = await import('@initguard/snp')
    const milan = AMD_PRODUCTION_ROOTS.Milan.fingerprints.ark
    expect((await run(snp)).stdout).toContain(
      `chain to AMD's ARK-Milan, the pinned root (SHA-256 ${milan}); the chain is valid until`,
    )
    const json = JSON.parse((await run([...snp, '--json'])).stdout) as {
      chain: { anchor: { origin: string; sha256: string } }
    }
    expect(json.chain.anchor).toMatchObject({ origin: 'pinned', sha256: milan })
    expect((await run(tdx)).stdout).toContain(
      "PCK chain to Intel's SGX Root CA, the pinned root (SHA-256 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3)",
    )
  })

  it('says a root given with --trust-root or --intel-root is user-supplied, not the vendor’s', async () => {
    const dir = scratch.make('initguard-roots-')
    const { pki: amd, vcek, report } = genoaScenario()
    writeFileSync(join(dir, 'report.bin'), report)
    writeFileSync(join(dir, 'vcek.der'), vcek.der)
    writeFileSync(join(dir, 'roots.pem'), amd.vcekChainPem)
    const arkSha256 = amd.ark.x509.fingerprint256.replaceAll(':', '').toLowerCase()
    const snpArgs = [
      'evidence',
      'verify',
      join(dir, 'report.bin'),
      '--certs',
      join(dir, 'vcek.der'),
    ]
    const text = await run([...snpArgs, '--trust-root', join(dir, 'roots.pem')])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(
      `chain to a user-supplied root (--trust-root), not AMD's ARK-Genoa: OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=ARK-Genoa (SHA-256 ${arkSha256})`,
    )
    expect(text.stdout).not.toContain('the pinned root')
    const json = JSON.parse(
      (await run([...snpArgs, '--trust-root', join(dir, 'roots.pem'), '--json'])).stdout,
    ) as { chain: { anchor: unknown } }
    expect(json.chain.anchor).toMatchObject({ origin: 'user-supplied', sha256: arkSha256 })

    const { args: dcapArgs, pki: intel } = syntheticTdxVerify(dir, {})
    const rootSha256 = intel.root.x509.fingerprint256.replaceAll(':', '').toLowerCase()
    const dcap = await run(dcapArgs)
    expect(dcap.code).toBe(0)
    expect(dcap.stdout).toContain(
      `PCK chain to a user-supplied root (--intel-root), not Intel's SGX Root CA: CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US (SHA-256 ${rootSha256})`,
    )
    const dcapJson = JSON.parse((await run([...dcapArgs, '--json'])).stdout) as { anchor: unknown }
    expect(dcapJson.anchor).toMatchObject({ origin: 'user-supplied', sha256: rootSha256 })
    const untrusted = await run(
      dcapArgs.filter((a, i) => a !== '--intel-root' && dcapArgs[i - 1] !== '--intel-root'),
    )
    expect(untrusted.code).toBe(4)
    expect(untrusted.stderr).toContain(
      `the PCK chain ends at CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US, SHA-256 ${rootSha256}, which is not Intel's SGX Root CA`,
    )
  })
})

describe('an unusable download cache', () => {
  const { pki, vcek, report } = genoaScenario()
  const dir = scratch.make('initguard-cache-cli-')
  writeFileSync(join(dir, 'report.bin'), report)
  writeFileSync(join(dir, 'roots.pem'), pki.vcekChainPem)
  writeFileSync(join(dir, 'a-file'), 'not a directory')
  const base = [
    'evidence',
    'verify',
    join(dir, 'report.bin'),
    '--trust-root',
    join(dir, 'roots.pem'),
  ]
  let server: Server
  let url = ''
  beforeAll(async () => {
    server = createServer((_req, res) => res.end(vcek.der))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    url = `http://127.0.0.1:${address.port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  function unusable(result: { code: number; stderr: string }, path: string): void {
    expect(result.code).toBe(7)
    expect(result.stderr).toContain('code: ERR_CACHE_UNUSABLE')
    expect(result.stderr).toContain(path)
    expect(result.stderr).not.toContain('internal error')
  }

  it('--cache-dir that is a file: exit 7 naming it, online and offline', async () => {
    const file = join(dir, 'a-file')
    unusable(await run([...base, '--cache-dir', file, '--kds-url', url]), file)
    unusable(await run([...base, '--cache-dir', file, '--offline']), file)
  })

  it('XDG_CACHE_HOME that is a file: exit 7 naming it', async () => {
    const saved = process.env['XDG_CACHE_HOME']
    process.env['XDG_CACHE_HOME'] = join(dir, 'a-file')
    try {
      unusable(await run([...base, '--kds-url', url]), join(dir, 'a-file'))
    } finally {
      if (saved === undefined) delete process.env['XDG_CACHE_HOME']
      else process.env['XDG_CACHE_HOME'] = saved
    }
  })

  it('a cache entry that is a directory: exit 7 naming the entry', async () => {
    const cache = join(dir, 'cache')
    expect((await run([...base, '--cache-dir', cache, '--kds-url', url])).code).toBe(0)
    const [entry] = readdirSync(join(cache, 'kds'))
    if (entry === undefined) throw new Error('nothing was cached')
    rmSync(join(cache, 'kds', entry))
    mkdirSync(join(cache, 'kds', entry))
    unusable(await run([...base, '--cache-dir', cache, '--offline']), join(cache, 'kds', entry))
  })
})
