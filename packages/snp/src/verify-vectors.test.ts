/**
 * The real AMD reports and certificates in testdata/vectors/snp give exactly the outcome their
 * README states.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseAmdCertificate } from './amd-certificate.ts'
import { verifyAmdChain } from './amd-chain.ts'
import { AMD_PRODUCTION_ROOTS } from './amd-roots.ts'
import { parseSnpReport } from './report.ts'
import {
  AMD_PRODUCTION_ANCHORS,
  SnpVerifierCache,
  verifySnpEvidence,
  type SnpVerifyOptions,
} from './verify.ts'

const vector = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../../testdata/vectors/snp/${path}`, import.meta.url)))
const text = (path: string): string => Buffer.from(vector(path)).toString('utf8')

function evidence(folder: string): { report: ReturnType<typeof parseSnpReport>; certificates: [] } {
  return { report: parseSnpReport(vector(`${folder}/report.bin`)), certificates: [] }
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  return 'accepted'
}

const AT_2023 = new Date('2023-06-01T00:00:00Z')
const AT_2025 = new Date('2025-06-01T00:00:00Z')
const AT_2026 = new Date('2026-06-01T00:00:00Z')
const NOW = new Date('2026-11-29T00:00:00Z')

describe('real SEV-SNP evidence', () => {
  it('milan-v2-a verifies, but default appraisal refuses it because debug is allowed', () => {
    const options: SnpVerifyOptions = {
      now: AT_2023,
      certificates: [vector('milan-v2-a/vcek.der')],
    }
    expect(codeOf(() => verifySnpEvidence(evidence('milan-v2-a'), options))).toBe(
      'ERR_SNP_DEBUG_ALLOWED',
    )
    const result = verifySnpEvidence(evidence('milan-v2-a'), {
      ...options,
      policy: { allowDebug: true },
    })
    expect(result.product).toBe('Milan')
    expect(result.signingKey).toBe('vcek')
    expect(result.claims.report_data.startsWith('0102030405' + '00'.repeat(59))).toBe(true)
    expect(result.claims.host_data).toBe('00'.repeat(32))
    expect(result.claims.measurement.startsWith('b07af962')).toBe(true)
    expect(result.claims.measurement.endsWith('2b01')).toBe(true)
    expect(result.claims.chip_id.startsWith('3ac3fe21')).toBe(true)
    expect(result.claims.reported_tcb).toMatchObject({
      bootloader: 2,
      tee: 0,
      snp: 5,
      microcode: 68,
    })
    expect(result.claims.policy.debug_allowed).toBe(true)
  })

  it('milan-v2-b verifies, and flipping bit 0x80 of byte 21 breaks the signature', () => {
    const options: SnpVerifyOptions = {
      now: AT_2023,
      certificates: [vector('milan-v2-b/vcek.der')],
    }
    const result = verifySnpEvidence(evidence('milan-v2-b'), options)
    expect(result.claims.report_data.startsWith('d447b55d')).toBe(true)
    expect(result.claims.measurement.startsWith('7a1e5c26')).toBe(true)
    expect(result.claims.reported_tcb).toMatchObject({ bootloader: 3, snp: 8, microcode: 115 })
    const flipped = vector('milan-v2-b/report.bin')
    flipped[21] = (flipped[21] ?? 0) ^ 0x80
    expect(
      codeOf(() =>
        verifySnpEvidence({ report: parseSnpReport(flipped), certificates: [] }, options),
      ),
    ).toBe('ERR_SNP_REPORT_SIGNATURE')
  })

  it('milan-v2-c verifies with its VCEK; the re-encoded hwID certificates parse but do not verify', () => {
    const options: SnpVerifyOptions = {
      now: AT_2023,
      certificates: [vector('milan-v2-c/vcek.der')],
    }
    expect(
      verifySnpEvidence(evidence('milan-v2-c'), options).claims.report_data.startsWith('ec6c52d7'),
    ).toBe(true)
    const original = parseAmdCertificate(vector('milan-v2-c/vcek.der'), 'vcek')
    for (const [file, encoding] of [
      ['vcek-hwid-legacy-encoding.der', 'raw'],
      ['vcek-hwid-new-encoding.der', 'octet-string'],
    ] as const) {
      const certificate = parseAmdCertificate(vector(`milan-v2-c/${file}`), file)
      // Both carry the same synthetic hwID (00 01 02 … 3f), once as raw octets, once wrapped.
      expect(certificate.amd.hwId).toEqual(Uint8Array.from({ length: 64 }, (_, i) => i))
      expect(certificate.amd.hwIdEncoding).toBe(encoding)
      const edited = { ...options, certificates: [vector(`milan-v2-c/${file}`)] }
      expect(
        codeOf(() => verifySnpEvidence(evidence('milan-v2-c'), edited)),
        `${file} (${encoding})`,
      ).toBe('ERR_SNP_CHAIN_SIGNATURE')
    }
    expect(original.amd.hwIdEncoding).toBe('raw')
    expect(original.amd.hwId?.length).toBe(64)
  })

  it('milan-v3-hostdata verifies and binds its HOST_DATA', () => {
    const hostData = Buffer.from(
      '4f4448c67f3c8dfc8de8a5e37125d807dadcc41f06cf23f615dbd52eec777d10',
      'hex',
    )
    const options: SnpVerifyOptions = {
      now: AT_2026,
      certificates: [text('milan-v3-hostdata/vcek.pem')],
    }
    const result = verifySnpEvidence(evidence('milan-v3-hostdata'), {
      ...options,
      policy: { hostData, vmpl: 0 },
    })
    expect(result.claims.host_data).toBe(hostData.toString('hex'))
    expect(result.claims.init_data).toBe(hostData.toString('hex'))
    expect(result.claims.measurement.startsWith('5feee30d')).toBe(true)
    expect(result.claims.reported_tcb).toMatchObject({ bootloader: 4, snp: 24, microcode: 219 })
    expect(result.claims.report_version).toBe(3)
    const other = Uint8Array.from(hostData)
    other[0] = (other[0] ?? 0) ^ 1
    expect(
      codeOf(() =>
        verifySnpEvidence(evidence('milan-v3-hostdata'), {
          ...options,
          policy: { hostData: other },
        }),
      ),
    ).toBe('ERR_SNP_HOST_DATA_MISMATCH')
  })

  it('milan-v3-vlek verifies inside its window, is refused now (expired) and under a VMPL 0 policy', () => {
    const options: SnpVerifyOptions = {
      now: AT_2025,
      certificates: [vector('milan-v3-vlek/vlek.der')],
    }
    const result = verifySnpEvidence(evidence('milan-v3-vlek'), options)
    expect(result.signingKey).toBe('vlek')
    expect(result.claims.vmpl).toBe(1)
    expect(result.claims.report_data.startsWith('819770b7')).toBe(true)
    expect(result.warnings).toEqual([])
    expect(
      codeOf(() => verifySnpEvidence(evidence('milan-v3-vlek'), { ...options, now: NOW })),
    ).toBe('ERR_SNP_CERT_EXPIRED')
    expect(
      codeOf(() =>
        verifySnpEvidence(evidence('milan-v3-vlek'), { ...options, policy: { vmpl: 0 } }),
      ),
    ).toBe('ERR_SNP_VMPL_MISMATCH')
  })

  it('the Turin VCEK carries an 8-byte hwID and fmcSPL, and verifies under the Turin roots', () => {
    const vcek = parseAmdCertificate(vector('turin-vcek-only/vcek.der'), 'Turin VCEK')
    expect(vcek.amd.hwId?.length).toBe(8)
    expect(vcek.amd.tcb?.fmc).toBeTypeOf('number')
    expect(vcek.amd.structVersion).toBe(1)
    const chain = verifyAmdChain(
      'Turin',
      'vcek',
      { endorsement: vcek },
      AMD_PRODUCTION_ANCHORS,
      AT_2026,
    )
    expect(chain.root.commonName).toBe('ARK-Turin')
    expect(
      codeOf(() =>
        verifyAmdChain('Milan', 'vcek', { endorsement: vcek }, AMD_PRODUCTION_ANCHORS, AT_2026),
      ),
    ).toBe('ERR_SNP_CHAIN_SIGNATURE')
  })

  it('pins exactly the roots published with the vectors', () => {
    for (const [product, vcek, vlek] of [
      ['Milan', 'milan', 'milan_vlek'],
      ['Genoa', 'genoa', 'genoa_vlek'],
      ['Turin', 'turin_vcek', 'turin_vlek'],
    ] as const) {
      const norm = (s: string): string => s.replace(/\s+/g, '')
      const pinned = AMD_PRODUCTION_ROOTS[product]
      expect(norm(text(`amd-roots/ask_ark_${vcek}.pem`))).toBe(norm(pinned.ask + pinned.ark))
      expect(norm(text(`amd-roots/ask_ark_${vlek}.pem`))).toBe(norm(pinned.asvk + pinned.ark))
      expect(parseAmdCertificate(pinned.ark, 'ark').fingerprint).toBe(pinned.fingerprints.ark)
    }
  })

  it('reports a missing VCEK as unavailable collateral, and a VCEK given for a VLEK report as a mismatch', () => {
    expect(codeOf(() => verifySnpEvidence(evidence('milan-v2-b'), { now: AT_2023 }))).toBe(
      'ERR_SNP_ENDORSEMENT_MISSING',
    )
    const wrong = { now: AT_2025, certificates: [vector('milan-v2-b/vcek.der')] }
    expect(codeOf(() => verifySnpEvidence(evidence('milan-v3-vlek'), wrong))).toBe(
      'ERR_SNP_KEY_INFO_MISMATCH',
    )
    const swapped = { now: AT_2023, certificates: [vector('milan-v2-c/vcek.der')] }
    expect(codeOf(() => verifySnpEvidence(evidence('milan-v2-b'), swapped))).toMatch(
      /ERR_SNP_VCEK_(HWID|TCB)_MISMATCH/,
    )
  })
})

describe('several certificates of a kind', () => {
  const blocks = (path: string): string[] =>
    text(path).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  const allBundles = [
    'genoa',
    'genoa_vlek',
    'milan',
    'milan_vlek',
    'turin_vcek',
    'turin_vlek',
  ].flatMap((name) => blocks(`amd-roots/ask_ark_${name}.pem`))

  // Each was refused before: the first ASK/ASVK, the first ARK and the first VCEK given were taken
  // whatever the report needed (ERR_SNP_CHAIN_INTERMEDIATE, ERR_SNP_CHAIN_ROOT_UNTRUSTED,
  // ERR_SNP_VCEK_TCB_MISMATCH).
  it("takes the report's own ASK or ASVK and ARK out of every product's bundles", () => {
    const vlek = verifySnpEvidence(evidence('milan-v3-vlek'), {
      now: AT_2025,
      certificates: [vector('milan-v3-vlek/vlek.der'), ...allBundles],
    })
    expect(vlek.chain.intermediate).toBe(
      parseAmdCertificate(AMD_PRODUCTION_ROOTS.Milan.asvk, 'asvk').fingerprint,
    )
    const vcek = verifySnpEvidence(evidence('milan-v3-hostdata'), {
      now: AT_2026,
      certificates: [text('milan-v3-hostdata/vcek.pem'), ...allBundles],
    })
    expect(vcek.chain.intermediate).toBe(
      parseAmdCertificate(AMD_PRODUCTION_ROOTS.Milan.ask, 'ask').fingerprint,
    )
    expect(vcek.chain.anchor.origin).toBe('pinned')
  })

  it('takes the VCEK that belongs to the report out of several', () => {
    const vceks = ['milan-v2-a', 'milan-v2-c', 'milan-v2-b'].map((f) => vector(`${f}/vcek.der`))
    const result = verifySnpEvidence(evidence('milan-v2-b'), { now: AT_2023, certificates: vceks })
    expect(result.chain.endorsement).toBe(
      parseAmdCertificate(vector('milan-v2-b/vcek.der'), 'b').fingerprint,
    )
    // None of them belongs to it: the first one's fault is named, as before.
    expect(
      codeOf(() =>
        verifySnpEvidence(evidence('milan-v2-b'), {
          now: AT_2023,
          certificates: vceks.slice(0, 2),
        }),
      ),
    ).toMatch(/ERR_SNP_VCEK_(HWID|TCB)_MISMATCH/)
  })
})

describe('tampering with real evidence', () => {
  const reports = [
    ['milan-v2-a', 'milan-v2-a/vcek.der', AT_2023],
    ['milan-v2-b', 'milan-v2-b/vcek.der', AT_2023],
    ['milan-v2-c', 'milan-v2-c/vcek.der', AT_2023],
    ['milan-v3-hostdata', 'milan-v3-hostdata/vcek.pem', AT_2026],
    ['milan-v3-vlek', 'milan-v3-vlek/vlek.der', AT_2025],
  ] as const
  for (const [folder, certificate, now] of reports) {
    it(`${folder}: every single-bit flip in the signed range and in R and S is refused`, () => {
      const cache = new SnpVerifierCache()
      const certificates = [certificate.endsWith('.pem') ? text(certificate) : vector(certificate)]
      const options: SnpVerifyOptions = { now, certificates, cache, policy: { allowDebug: true } }
      const bytes = vector(`${folder}/report.bin`)
      verifySnpEvidence({ report: parseSnpReport(bytes), certificates: [] }, options)
      let accepted = 0
      for (let bit = 0; bit < 0x330 * 8; bit++) {
        const flipped = Uint8Array.from(bytes)
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
        try {
          verifySnpEvidence({ report: parseSnpReport(flipped), certificates: [] }, options)
          accepted++
        } catch (e) {
          if (!isInitguardError(e)) throw e
        }
      }
      expect(accepted).toBe(0)
    }, 120_000)
  }

  it('every byte flip in the VCEK DER is refused', () => {
    const der = vector('milan-v2-b/vcek.der')
    const report = parseSnpReport(vector('milan-v2-b/report.bin'))
    let accepted = 0
    for (let i = 0; i < der.length; i++) {
      const flipped = Uint8Array.from(der)
      flipped[i] = (flipped[i] ?? 0) ^ 0xff
      try {
        verifySnpEvidence({ report, certificates: [] }, { now: AT_2023, certificates: [flipped] })
        accepted++
      } catch (e) {
        if (!isInitguardError(e)) throw e
      }
    }
    expect(accepted).toBe(0)
  }, 120_000)
})
