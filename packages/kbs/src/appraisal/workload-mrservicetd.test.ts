/**
 * A workload's `tdx.mrServiceTd`: the KBS verifier leaves MRSERVICETD to the workload, which
 * refuses a TD with a service TD bound unless it names that service TD's hash (all zero without
 * it), on simulated TDX 1.5 (v5) and TDX 1.0 (v4) quotes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToBase64, bytesToHex, hexToBytes } from '@initguard/core'
import { buildTdxQuote } from '@initguard/tee-simulator'
import { compileWorkload } from '../workloads/compiled-workload.ts'
import { webDefinition } from '../workloads/workload-test-support.ts'
import { temporarySimulator } from './appraisal-test-support.ts'
import { createEvidenceVerifier } from './evidence-verifier.ts'
import type { VerifiedEvidence } from './verified-evidence.ts'
import { workloadMismatch } from './workload-match.ts'

const SERVICE_TD = '5d'.repeat(48)
const ZERO = '00'.repeat(48)

describe('tdx.mrServiceTd', () => {
  let made: Awaited<ReturnType<typeof temporarySimulator>>
  beforeAll(async () => {
    made = await temporarySimulator()
  })
  afterAll(async () => {
    await made.remove()
  })

  /** The KBS verifier's facts of a simulated quote of `version` with this MRSERVICETD. */
  async function verified(version: 4 | 5, mrServiceTd = ZERO): Promise<VerifiedEvidence> {
    const { tdx } = made.simulator.material
    const quote = buildTdxQuote(
      { version, ...(version === 5 ? { mrServiceTd: hexToBytes(mrServiceTd) } : {}) },
      {
        privateKey: tdx.pckPrivateKey,
        chainPem: tdx.pckChainPem,
        attestationKey: tdx.attestationKey,
      },
    )
    const verifier = createEvidenceVerifier({ trust: { simulator: made.simulator.trust } })
    return verifier.verify('tdx', { quote: bytesToBase64(quote) }, new Date())
  }

  /** Why a TDX workload with these extra `tdx` members refuses `e`, or undefined. */
  function mismatch(e: VerifiedEvidence, tdx: Record<string, unknown>): string | undefined {
    if (e.tee !== 'tdx') throw new Error('not TDX evidence')
    const pinned = {
      mrtd: [bytesToHex(e.mrTd)],
      rtmr1: [bytesToHex(e.rtmrs[1])],
      rtmr2: [bytesToHex(e.rtmrs[2])],
    }
    const definition = webDefinition({ tees: ['tdx'], tdx: { ...pinned, ...tdx } })
    delete definition['snp']
    const workload = compileWorkload({
      name: 'web',
      version: 1,
      definition,
      updatedAt: '2026-01-01T00:00:00Z',
    })
    // Bind the workload's own document, as the simulated guest would have been launched with it.
    const bound = { ...e, initDataField: hexToBytes(workload.initdata[0]?.fitted.tdx ?? '') }
    return workloadMismatch(workload, bound, {}, undefined)
  }

  it('the verifier reports the bound service TD, for the workload to judge', async () => {
    const e = await verified(5, SERVICE_TD)
    expect(e.tee === 'tdx' && bytesToHex(e.mrServiceTd)).toBe(SERVICE_TD)
    const old = await verified(4)
    expect(old.tee === 'tdx' && bytesToHex(old.mrServiceTd)).toBe(ZERO)
  })

  it('refuses a bound service TD unless the workload names it', async () => {
    const e = await verified(5, SERVICE_TD)
    expect(mismatch(e, {})).toBe(
      `MRSERVICETD ${SERVICE_TD.slice(0, 16)}… is not the workload's (tdx.mrServiceTd: all zero, no service TD bound): a service TD bound to the TD can read and change it`,
    )
    expect(mismatch(e, { mrServiceTd: SERVICE_TD })).toBeUndefined()
    expect(mismatch(e, { mrServiceTd: SERVICE_TD.toUpperCase() })).toBeUndefined()
    expect(mismatch(e, { mrServiceTd: 'ab'.repeat(48) })).toContain(
      `is not the workload's (tdx.mrServiceTd: ${'ab'.repeat(8)}…)`,
    )
  })

  it('accepts a TD with none bound, v5 or v4, and refuses it when the workload requires one', async () => {
    for (const e of [await verified(5), await verified(4)]) {
      expect(mismatch(e, {})).toBeUndefined()
      expect(mismatch(e, { mrServiceTd: ZERO })).toBeUndefined()
      expect(mismatch(e, { mrServiceTd: SERVICE_TD })).toContain('MRSERVICETD 0000000000000000…')
    }
  })
})
