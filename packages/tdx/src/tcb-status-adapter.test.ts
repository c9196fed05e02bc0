/**
 * The TCB status inputs built from this package's quote and PCK parsers (the adapter a verifier
 * writes) equal those the tests read by offsets, and give the vectors README's statuses.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseCollateralJson } from './collateral.ts'
import { VECTOR_ROOT, quoteTcbInput } from './collateral-test-support.ts'
import { verifyCollateral } from './collateral-verify.ts'
import { parsePckCertificate } from './pck-extensions.ts'
import { parseDcapQuote } from './quote.ts'
import { evaluateTcbStatus, type TcbStatusInput } from './tcb-status.ts'

const read = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTOR_ROOT)))

/** The adapter: parsed quote → plain TCB status inputs. */
function inputFromQuote(bytes: Uint8Array): TcbStatusInput {
  const quote = parseDcapQuote(bytes)
  const { qeReport, pckCertification } = quote.signatureData
  if (pckCertification.kind !== 'pck-cert-chain') throw new Error('no embedded PCK chain')
  const [leaf] = pckCertification.certificates
  if (leaf === undefined) throw new Error('empty PCK chain')
  const { sgx } = parsePckCertificate(leaf.der)
  return {
    pck: { ...sgx.tcb, fmspc: sgx.fmspc, pceId: sgx.pceId },
    ...(quote.body.kind === 'sgx'
      ? {}
      : {
          td: {
            teeTcbSvn: quote.body.teeTcbSvn,
            mrSignerSeam: quote.body.mrSignerSeam,
            seamAttributes: quote.body.seamAttributes,
          },
        }),
    qe: {
      isvSvn: qeReport.isvSvn,
      isvProdId: qeReport.isvProdId,
      mrSigner: qeReport.mrSigner,
      miscSelect: qeReport.miscSelect,
      attributes: qeReport.raw.slice(0x30, 0x40),
    },
  }
}

describe('adapting the quote parser to evaluateTcbStatus', () => {
  it.each([
    ['tdx/spr-v4', '2023-07-01T01:00:00Z', 'TcbNotSupported', []],
    ['tdx/v4-b', '2025-07-01T00:00:00Z', 'UpToDate', []],
    [
      'sgx/v3-a',
      '2025-07-01T00:00:00Z',
      'ConfigurationAndSWHardeningNeeded',
      ['INTEL-SA-00289', 'INTEL-SA-00615'],
    ],
  ])('%s at %s: %s', (folder, at, status, advisories) => {
    const quote = read(`${folder}/quote.dat`)
    const adapted = inputFromQuote(quote)
    const byOffsets = quoteTcbInput(quote)
    expect(Array.from(adapted.pck.cpuSvnComponents)).toEqual(byOffsets.pck.cpuSvnComponents)
    expect(adapted.pck.pceSvn).toBe(byOffsets.pck.pceSvn)
    expect(adapted.qe.isvSvn).toBe(byOffsets.qe.isvSvn)
    const collateral = verifyCollateral(parseCollateralJson(read(`${folder}/collateral.json`)), {
      now: new Date(at),
    })
    const a = evaluateTcbStatus(collateral, adapted)
    const b = evaluateTcbStatus(collateral, byOffsets)
    expect(a.status).toBe(status)
    expect(a.advisoryIds).toEqual(advisories)
    expect(a).toEqual(b)
  })
})
