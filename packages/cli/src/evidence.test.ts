import { createServer, type Server } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  amdName,
  buildSnpReport,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { runInProcess as run } from './cli-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const VECTORS = fileURLToPath(new URL('../../../testdata/vectors/snp/', import.meta.url))

describe('initguard evidence (real reports)', () => {
  it('inspects a report as a table and as JSON', async () => {
    const table = await run(['evidence', 'inspect', join(VECTORS, 'milan-v3-hostdata/report.bin')])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/HOST_DATA\s+4f4448c67f3c8dfc/)
    expect(table.stdout).toMatch(/REPORTED_TCB\s+0x[0-9a-f]{16}\s+BL 4 TEE 0 SNP 24 UCODE 219/)
    const json = JSON.parse(
      (await run(['evidence', 'inspect', join(VECTORS, 'milan-v2-a/report.bin'), '--json'])).stdout,
    ) as {
      claims: { policy: { debug_allowed: boolean }; report_version: number }
    }
    expect(json.claims.report_version).toBe(2)
    expect(json.claims.policy.debug_allowed).toBe(true)
  })

  it('verifies with exit 0, refuses debug with 5 unless allowed, a broken signature with 4', async () => {
    const certs = ['--certs', join(VECTORS, 'milan-v2-a/vcek.der'), '--at', '2024-01-01T00:00:00Z']
    expect(
      (await run(['evidence', 'verify', join(VECTORS, 'milan-v2-a/report.bin'), ...certs])).code,
    ).toBe(5)
    expect(
      (
        await run([
          'evidence',
          'verify',
          join(VECTORS, 'milan-v2-a/report.bin'),
          ...certs,
          '--allow-debug',
        ])
      ).code,
    ).toBe(0)
    const dir = scratch.make('initguard-evidence-')
    const { readFileSync } = await import('node:fs')
    const flipped = readFileSync(join(VECTORS, 'milan-v2-b/report.bin'))
    flipped[21] = (flipped[21] ?? 0) ^ 0x80
    writeFileSync(join(dir, 'flipped.bin'), flipped)
    const bad = await run([
      'evidence',
      'verify',
      join(dir, 'flipped.bin'),
      '--certs',
      join(VECTORS, 'milan-v2-b/vcek.der'),
      '--at',
      '2024-01-01T00:00:00Z',
    ])
    expect(bad.code).toBe(4)
    expect(bad.stderr).toContain('ERR_SNP_REPORT_SIGNATURE')
  })

  it('checks HOST_DATA, refuses the expired VLEK now and accepts it --at a time in its window', async () => {
    const report = join(VECTORS, 'milan-v3-hostdata/report.bin')
    const pem = join(VECTORS, 'milan-v3-hostdata/vcek.pem')
    const good = '4f4448c67f3c8dfc8de8a5e37125d807dadcc41f06cf23f615dbd52eec777d10'
    expect(
      (await run(['evidence', 'verify', report, '--certs', pem, '--expect-host-data', good])).code,
    ).toBe(0)
    const mismatch = await run([
      'evidence',
      'verify',
      report,
      '--certs',
      pem,
      '--expect-host-data',
      '00'.repeat(32),
      '--json',
    ])
    expect(mismatch.code).toBe(5)
    expect((JSON.parse(mismatch.stdout) as { error: { code: string } }).error.code).toBe(
      'ERR_SNP_HOST_DATA_MISMATCH',
    )
    const vlek = [
      'evidence',
      'verify',
      join(VECTORS, 'milan-v3-vlek/report.bin'),
      '--certs',
      join(VECTORS, 'milan-v3-vlek/vlek.der'),
    ]
    expect((await run(vlek)).code).toBe(4)
    expect((await run([...vlek, '--at', '2025-06-01T00:00:00Z'])).code).toBe(0)
    expect((await run([...vlek, '--at', '2025-06-01T00:00:00Z', '--expect-vmpl', '0'])).code).toBe(
      5,
    )
  })

  it('says a missing VCEK is unavailable offline (exit 6) and malformed evidence is exit 3', async () => {
    const dir = scratch.make('initguard-evidence-')
    const offline = await run([
      'evidence',
      'verify',
      join(VECTORS, 'milan-v3-hostdata/report.bin'),
      '--offline',
      '--cache-dir',
      dir,
    ])
    expect(offline.code).toBe(6)
    expect(offline.stderr).toContain('ERR_KDS_OFFLINE')
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(100))
    expect((await run(['evidence', 'inspect', join(dir, 'short.bin')])).code).toBe(3)
    writeFileSync(join(dir, 'bad.json'), '{"attestation_report": 1}')
    expect((await run(['evidence', 'verify', join(dir, 'bad.json')])).code).toBe(3)
  })
})

describe('initguard evidence (test PKI, local KDS)', () => {
  const notBefore = new Date('2024-01-01T00:00:00Z')
  const notAfter = new Date('2034-01-01T00:00:00Z')
  const pki = createAmdTestPki({ product: 'Genoa', notBefore, notAfter })
  const defaults = defaultSnpReportFields('Genoa')
  const vcek = pki.issueVcek({
    chipId: defaults.chipId,
    tcb: defaultSnpTcb('Genoa'),
    notBefore,
    notAfter,
  })
  const hostData = new Uint8Array(32).fill(0x42)
  const dir = scratch.make('initguard-testpki-')
  const reportPath = join(dir, 'report.bin')
  const rootsPath = join(dir, 'roots.pem')
  writeFileSync(
    reportPath,
    buildSnpReport({ product: 'Genoa', version: 5, hostData }, vcek.privateKey),
  )
  writeFileSync(rootsPath, pki.vcekChainPem)
  let server: Server
  let url = ''
  let requests = 0

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++
      if (req.url?.startsWith('/vcek/v1/Genoa/') === true) res.end(vcek.der)
      else {
        res.writeHead(404)
        res.end()
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    url = `http://127.0.0.1:${address.port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  it('fetches the VCEK from KDS once, then verifies from the cache offline, only under --trust-root', async () => {
    const cache = join(dir, 'cache')
    const base = [
      'evidence',
      'verify',
      reportPath,
      '--cache-dir',
      cache,
      '--expect-host-data',
      '42'.repeat(32),
    ]
    const fetched = await run([...base, '--kds-url', url, '--trust-root', rootsPath])
    expect(fetched.stderr).toBe('')
    expect(fetched.code).toBe(0)
    expect(requests).toBe(1)
    expect((await run([...base, '--offline', '--trust-root', rootsPath])).code).toBe(0)
    expect(requests).toBe(1)
    // Without --trust-root the cached VCEK is no AMD VCEK: the KDS client does not answer with
    // it (offline, it is not in the cache), so nothing verifies.
    const untrusted = await run([...base, '--offline'])
    expect(untrusted.code).toBe(6)
    expect(untrusted.stderr).toContain('ERR_KDS_OFFLINE')
  })

  it('checks the chain against a CRL given with --crl', async () => {
    const crl = (revoked: bigint[]): string => {
      const path = join(dir, `crl-${revoked.length}.der`)
      writeFileSync(
        path,
        buildX509Crl(
          {
            issuer: amdName('ARK-Genoa'),
            thisUpdate: new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000),
            nextUpdate: new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000),
            revoked: revoked.map((serialNumber) => ({
              serialNumber,
              revocationDate: new Date('2025-01-01T00:00:00Z'),
            })),
            signatureAlgorithm: 'rsassa-pss-sha384',
          },
          pki.ark.privateKey,
        ),
      )
      return path
    }
    const base = [
      'evidence',
      'verify',
      reportPath,
      '--certs',
      join(dir, 'vcek.der'),
      '--trust-root',
      rootsPath,
    ]
    writeFileSync(join(dir, 'vcek.der'), vcek.der)
    expect((await run([...base, '--crl', crl([])])).code).toBe(0)
    const revoked = await run([...base, '--crl', crl([BigInt(`0x${pki.ask.x509.serialNumber}`)])])
    expect(revoked.code).toBe(4)
    expect(revoked.stderr).toContain('ERR_SNP_CERT_REVOKED')
  })
})

describe('initguard evidence (TDX and SGX quotes)', () => {
  const DCAP = fileURLToPath(new URL('../../../testdata/vectors/', import.meta.url))
  it('inspects a TDX and an SGX quote', async () => {
    const tdx = await run(['evidence', 'inspect', join(DCAP, 'tdx/v4-b/quote.dat')])
    expect(tdx.code).toBe(0)
    expect(tdx.stdout).toMatch(/MRTD\s+91eb2b44/)
    const sgx = JSON.parse(
      (await run(['evidence', 'inspect', join(DCAP, 'sgx/v3-a/quote.dat'), '--json'])).stdout,
    ) as { tee: string; fmspc: string; pck_ca: string; pce_id: string }
    expect(sgx.tee).toBe('sgx')
    expect(sgx).toMatchObject({ fmspc: '00a067110000', pck_ca: 'processor', pce_id: '0000' })
  })

  it('verifies with collateral: UpToDate exit 0, TCB not supported exit 5, outside the window exit 4', async () => {
    const v4b = [
      'evidence',
      'verify',
      join(DCAP, 'tdx/v4-b/quote.dat'),
      '--collateral',
      join(DCAP, 'tdx/v4-b/collateral.json'),
    ]
    const ok = await run([...v4b, '--at', '2025-07-01T00:00:00Z', '--json'])
    expect(ok.code).toBe(0)
    expect((JSON.parse(ok.stdout) as { tcb_status: string }).tcb_status).toBe('UpToDate')
    expect(
      (await run([...v4b, '--at', '2025-07-01T00:00:00Z', '--expect-mrconfigid', '00'.repeat(48)]))
        .code,
    ).toBe(0)
    expect(
      (await run([...v4b, '--at', '2025-07-01T00:00:00Z', '--expect-mrconfigid', '11'.repeat(48)]))
        .code,
    ).toBe(5)
    expect((await run([...v4b, '--at', '2026-01-01T00:00:00Z'])).code).toBe(4)
    const spr = await run([
      'evidence',
      'verify',
      join(DCAP, 'tdx/spr-v4/quote.dat'),
      '--collateral',
      join(DCAP, 'tdx/spr-v4/collateral.json'),
      '--at',
      '2023-07-01T01:00:00Z',
    ])
    expect(spr.code).toBe(5)
    expect(spr.stderr).toContain('TcbNotSupported')
    const sgx = [
      'evidence',
      'verify',
      join(DCAP, 'sgx/v3-a/quote.dat'),
      '--collateral',
      join(DCAP, 'sgx/v3-a/collateral.json'),
      '--at',
      '2025-07-01T00:00:00Z',
    ]
    expect((await run(sgx)).code).toBe(5)
    expect((await run([...sgx, '--allow-sw-hardening', '--allow-configuration-needed'])).code).toBe(
      0,
    )
  })

  it('reads Trustee TDX and SGX evidence JSON', async () => {
    const { readFileSync } = await import('node:fs')
    const dir = scratch.make('initguard-trustee-')
    const tdx = join(dir, 'tdx.json')
    writeFileSync(
      tdx,
      JSON.stringify({
        cc_eventlog: null,
        quote: readFileSync(join(DCAP, 'tdx/v4-b/quote.dat')).toString('base64'),
      }),
    )
    const verified = await run([
      'evidence',
      'verify',
      tdx,
      '--collateral',
      join(DCAP, 'tdx/v4-b/collateral.json'),
      '--at',
      '2025-07-01T00:00:00Z',
    ])
    expect(verified.code).toBe(0)
    const sgx = join(dir, 'sgx.json')
    writeFileSync(
      sgx,
      JSON.stringify({ quote: readFileSync(join(DCAP, 'sgx/v3-a/quote.dat')).toString('base64') }),
    )
    expect(JSON.parse((await run(['evidence', 'inspect', sgx, '--json'])).stdout)).toMatchObject({
      tee: 'sgx',
      format: 'trustee-json',
    })
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ quote: 'not base64!' }))
    expect((await run(['evidence', 'inspect', join(dir, 'bad.json')])).code).toBe(3)
  })

  it('refuses SNP-only options on a quote and needs collateral offline', async () => {
    const quote = join(DCAP, 'tdx/v4-b/quote.dat')
    expect(
      (await run(['evidence', 'verify', quote, '--expect-host-data', '00'.repeat(32)])).code,
    ).toBe(2)
    const dir = scratch.make('initguard-dcap-')
    const offline = await run(['evidence', 'verify', quote, '--offline', '--cache-dir', dir])
    expect(offline.code).toBe(6)
    expect(offline.stderr).toContain('ERR_PCS_OFFLINE')
  })
})
