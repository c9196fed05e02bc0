/**
 * Gramine's `/dev/attestation` against a stand-in directory whose `quote` the stand-in kernel
 * process answers with a real SGX v3 quote over the `user_report_data` the agent wrote.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { base64ToBytes, bytesToHex } from '@initguard/core'
import { parseDcapQuote } from '@initguard/tdx'
import { rejected, rejectedCode } from '@initguard/testkit'
import { openGramineSgx } from './gramine-sgx.ts'
import { startStandIn, STAND_IN_CONFIG_ID, type StandIn } from './tsm-stand-in-test-support.ts'

let standIn: StandIn
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-gramine-'))
  standIn = await startStandIn()
})

afterAll(async () => {
  standIn.stop()
  await rm(root, { recursive: true, force: true })
})

describe('Gramine SGX', () => {
  it('reports CONFIGID from the enclave’s local report, equal to the quote’s, and the quote as {quote: base64}', async () => {
    const dir = join(root, 'dcap')
    await standIn.gramine(dir, { attestationType: 'dcap' })
    const tee = await openGramineSgx(dir)
    expect(tee).toMatchObject({ tee: 'sgx', simulated: false })
    expect(tee.description).toBe(`Gramine SGX DCAP at ${dir}`)
    const reportData = Uint8Array.from([1, 2, 3])
    const report = await tee.report(reportData)
    expect(report.tee).toBe('sgx')
    expect(bytesToHex(report.initDataField)).toBe(bytesToHex(STAND_IN_CONFIG_ID))
    expect(bytesToHex(report.reportData)).toBe('010203' + '00'.repeat(61))
    const evidence = report.evidence as { quote: string }
    expect(Object.keys(evidence)).toEqual(['quote'])
    const quote = parseDcapQuote(base64ToBytes(evidence.quote))
    expect(quote.header.version).toBe(3)
    expect(quote.body.kind).toBe('sgx')
  })

  it('serialises concurrent requests, so each gets the quote over its own report data', async () => {
    const dir = join(root, 'concurrent')
    await standIn.gramine(dir, { attestationType: 'dcap' })
    const tee = await openGramineSgx(dir)
    const asked = [1, 2, 3, 4].map((n) => new Uint8Array(64).fill(n))
    const reports = await Promise.all(asked.map((data) => tee.report(data)))
    expect(reports.map((r) => r.reportData[0])).toEqual([1, 2, 3, 4])
  })

  it('refuses an attestation type other than dcap', async () => {
    const dir = join(root, 'epid')
    await standIn.gramine(dir, { attestationType: 'epid' })
    expect(await rejectedCode(openGramineSgx(dir))).toBe('ERR_TEE_SGX_ATTESTATION_TYPE')
  })

  it('says so when there is no Gramine attestation interface', async () => {
    expect(await rejectedCode(openGramineSgx(join(root, 'none')))).toBe('ERR_TEE_SGX_UNAVAILABLE')
  })

  it('refuses a quote whose CONFIGID is not the enclave’s own (a quote the host made up)', async () => {
    const dir = join(root, 'forged')
    await standIn.gramine(dir, { attestationType: 'dcap', forgedConfigId: true })
    const error = await rejected((await openGramineSgx(dir)).report(new Uint8Array(64)))
    expect([error.category, error.code]).toEqual(['verification', 'ERR_TEE_SGX_CONFIGID_MISMATCH'])
  })

  it('refuses another enclave’s quote with this one’s CONFIGID and report data', async () => {
    const dir = join(root, 'foreign')
    await standIn.gramine(dir, { attestationType: 'dcap', foreignEnclave: true })
    const error = await rejected((await openGramineSgx(dir)).report(new Uint8Array(64)))
    expect([error.category, error.code]).toEqual([
      'verification',
      'ERR_TEE_SGX_QUOTE_NOT_THIS_ENCLAVE',
    ])
    expect(error.details).toMatchObject({ fields: ['attributes', 'mrEnclave'] })
  })

  it('refuses a local report that is not an SGX REPORT', async () => {
    const dir = join(root, 'bad-report')
    await mkdir(dir)
    await writeFile(join(dir, 'attestation_type'), 'dcap\n')
    await writeFile(join(dir, 'my_target_info'), new Uint8Array(512))
    await writeFile(join(dir, 'report'), new Uint8Array(384))
    await writeFile(join(dir, 'quote'), new Uint8Array(16))
    const error = await rejected((await openGramineSgx(dir)).report(new Uint8Array(64)))
    expect([error.category, error.code]).toEqual(['verification', 'ERR_TEE_REPORT_MALFORMED'])
  })

  it('refuses a quote over other report data, and report data over 64 bytes', async () => {
    // Plain files standing in for a local report over our REPORT_DATA and a quote somebody else
    // asked for: they never change.
    const live = join(root, 'live')
    await standIn.gramine(live, { attestationType: 'dcap' })
    const other = await (await openGramineSgx(live)).report(new Uint8Array(64).fill(9))
    const ours = new Uint8Array(64)
    await writeFile(join(live, 'target_info'), await readFile(join(live, 'my_target_info')))
    await writeFile(join(live, 'user_report_data'), ours)
    const localReport = await readFile(join(live, 'report'))
    const dir = join(root, 'stale')
    await mkdir(dir)
    await writeFile(join(dir, 'attestation_type'), 'dcap\n')
    await writeFile(join(dir, 'my_target_info'), new Uint8Array(512))
    await writeFile(join(dir, 'report'), localReport)
    await writeFile(join(dir, 'quote'), base64ToBytes((other.evidence as { quote: string }).quote))
    const tee = await openGramineSgx(dir)
    expect(await rejectedCode(tee.report(ours))).toBe('ERR_TEE_REPORT_DATA_MISMATCH')
    expect(await rejectedCode(tee.report(new Uint8Array(65)))).toBe('ERR_TEE_REPORT_DATA_TOO_LONG')
  })
})
