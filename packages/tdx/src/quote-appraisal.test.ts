import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseInitdata } from '@initguard/initdata'
import { decodeTdAttributes } from './attributes.ts'
import { quoteAppraisalFailures, type QuoteAppraisalPolicy } from './quote-appraisal.ts'
import { parseDcapQuote } from './quote.ts'
import { VECTORS } from './quote-test-support.ts'
import type { TcbEvaluation, TcbStatus } from './tcb-status.ts'

const body = (path: string): ReturnType<typeof parseDcapQuote>['body'] =>
  parseDcapQuote(new Uint8Array(readFileSync(new URL(path, VECTORS)))).body
const tdx = body('tdx/v4-b/quote.dat')
const sgx = body('sgx/v3-a/quote.dat')
/** Only the status and advisories are read by the appraisal. */
const tcb = (status: TcbStatus): TcbEvaluation =>
  ({ status, advisoryIds: [] }) as unknown as TcbEvaluation
const other = (length: number): Uint8Array => new Uint8Array(length).fill(0xee)
const document = parseInitdata(
  new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha384"\n[data]\n'),
)

describe('quote appraisal failures', () => {
  it.each([
    ['SWHardeningNeeded', ['--allow-sw-hardening']],
    ['ConfigurationNeeded', ['--allow-configuration-needed']],
    ['ConfigurationAndSWHardeningNeeded', ['--allow-sw-hardening', '--allow-configuration-needed']],
    ['OutOfDate', ['TCB recovery']],
    ['TcbNotSupported', ['collateral']],
  ] as const)('a %s TCB names what accepts or fixes it', (status, words) => {
    const [failure] = quoteAppraisalFailures(tdx, tcb(status), {})
    for (const word of words) expect(failure?.hint).toContain(word)
  })

  it('each say how to fix them, naming the option', () => {
    // A policy names only fields the quote's kind has (anything else is refused as invalid).
    const common: QuoteAppraisalPolicy = { initdata: document, reportData: other(64) }
    const forTdx: QuoteAppraisalPolicy = {
      ...common,
      mrConfigId: other(48),
      mrTd: [other(48)],
      mrSeam: [other(48)],
      mrServiceTd: other(48),
      rtmrs: [other(48), undefined, other(48)],
    }
    const forSgx: QuoteAppraisalPolicy = {
      ...common,
      configId: other(64),
      mrEnclave: [other(32)],
      mrSigner: [other(32)],
      minimumIsvSvn: 0xffff,
    }
    const failures = [
      ...quoteAppraisalFailures(tdx, tcb('OutOfDate'), forTdx),
      ...quoteAppraisalFailures(sgx, tcb('UpToDate'), forSgx),
    ]
    const options = Object.fromEntries(failures.map((f) => [f.code, f.hint ?? '']))
    expect(failures.every((f) => f.hint !== undefined)).toBe(true)
    expect(options).toMatchObject({
      ERR_TDX_REPORT_DATA_MISMATCH: expect.stringContaining('--expect-report-data') as unknown,
      ERR_TDX_MRCONFIGID_MISMATCH: expect.stringContaining('--expect-mrconfigid') as unknown,
      ERR_TDX_CONFIGID_MISMATCH: expect.stringContaining('--expect-configid') as unknown,
      ERR_TDX_MRTD_MISMATCH: expect.stringContaining('--expect-mrtd') as unknown,
      ERR_TDX_MRSEAM_MISMATCH: expect.stringContaining('--expect-mrseam') as unknown,
      ERR_TDX_MRSERVICETD_MISMATCH: expect.stringContaining('--expect-mrservicetd') as unknown,
      ERR_TDX_RTMR_MISMATCH: expect.stringContaining('--expect-rtmr') as unknown,
      ERR_TDX_MRENCLAVE_MISMATCH: expect.stringContaining('--expect-mrenclave') as unknown,
      ERR_TDX_MRSIGNER_MISMATCH: expect.stringContaining('--expect-mrsigner') as unknown,
      ERR_TDX_ISVSVN_TOO_LOW: expect.stringContaining('--min-isv-svn') as unknown,
      ERR_TDX_INITDATA_MISMATCH: expect.stringContaining('initdata explain') as unknown,
    })
  })

  it('names --allow-debug for a debug TD', () => {
    const debugTd = {
      ...tdx,
      tdAttributes: decodeTdAttributes((tdx.kind === 'sgx' ? 0n : tdx.tdAttributes.raw) | 1n),
    }
    const [failure] = quoteAppraisalFailures(debugTd, tcb('UpToDate'), {})
    expect(failure?.code).toBe('ERR_TDX_DEBUG')
    expect(failure?.hint).toContain('--allow-debug')
  })
})
