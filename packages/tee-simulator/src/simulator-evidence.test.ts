/**
 * The simulator's evidence: Trustee's shapes, parsed back by our own parsers; the init-data
 * binding for every digest algorithm; report data limits; the debug flag; and trust only when the
 * simulator's roots and collateral are passed explicitly.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { base64ToBytes, bytesToHex, hexToBytes } from '@initguard/core'
import { fitDigest, parseInitdata, type InitdataDocument } from '@initguard/initdata'
import {
  parseTrusteeSnpEvidence,
  snpReportToTrusteeJson,
  verifySnpEvidence,
  type SnpEvidence,
} from '@initguard/snp'
import { parseDcapEvidence, parseDcapQuote, verifyDcapQuote, type DcapQuote } from '@initguard/tdx'
import { outcome, thrown } from '@initguard/testkit'
import { createSimulatorMaterial } from './simulator-material.ts'
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  simulateSnpEvidence,
  simulateTdxEvidence,
} from './simulator-evidence.ts'
import { padReportData } from './report-data.ts'
import { simulatorTrustFrom } from './simulator-trust.ts'

const NOW = new Date('2026-05-01T12:00:00Z')
// RSA-2048 instead of AMD's 4096 only to keep key generation fast here; the shape is the same.
const rsa = (): ReturnType<typeof generateKeyPairSync> =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
const material = createSimulatorMaterial({ now: NOW, amdKeys: { ark: rsa(), ask: rsa() } })
const trust = simulatorTrustFrom({
  product: material.snp.product,
  arkPem: material.snp.arkPem,
  askPem: material.snp.askPem,
  amdCrl: material.snp.crl,
  intelRootPem: material.tdx.rootPem,
  collateralJson: material.tdx.collateralJson,
})

function documentWith(algorithm: 'sha256' | 'sha384' | 'sha512', tag = 'a'): InitdataDocument {
  return parseInitdata(
    new TextEncoder().encode(
      `version = "0.1.0"\nalgorithm = "${algorithm}"\n\n[data]\n"note" = "${tag}"\n`,
    ),
  )
}

const INITDATA = documentWith('sha384')
const REPORT_DATA = Uint8Array.from({ length: 48 }, (_, i) => i + 1)

function snpEvidence(request: Parameters<typeof simulateSnpEvidence>[1]): SnpEvidence {
  // Through JSON text, as it travels: the parser must take exactly what was printed.
  return parseTrusteeSnpEvidence(
    JSON.parse(JSON.stringify(simulateSnpEvidence(material.snp, request))),
  )
}

function tdxQuote(request: Parameters<typeof simulateTdxEvidence>[1]): DcapQuote {
  const text = JSON.stringify(simulateTdxEvidence(material.tdx, request))
  const evidence = parseDcapEvidence(new TextEncoder().encode(text))
  expect(evidence.format).toBe('trustee-json')
  return evidence.quote
}

describe('simulated SEV-SNP evidence', () => {
  it("is Trustee's SnpEvidence: a v3 VCEK-signed report with the VCEK, ASK and ARK in cert_chain", () => {
    const json = simulateSnpEvidence(material.snp, { initdata: INITDATA, reportData: REPORT_DATA })
    expect(Object.keys(json)).toEqual(['attestation_report', 'cert_chain'])
    expect(json.cert_chain?.map((c) => c.cert_type)).toEqual(['VCEK', 'ASK', 'ARK'])
    const { report, certificates } = snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA })
    expect(report.version).toBe(3)
    expect(report.vmpl).toBe(0)
    expect(report.signerInfo.signingKey).toBe('vcek')
    expect(bytesToHex(report.chipId)).toBe(bytesToHex(material.snp.chipId))
    expect(bytesToHex(report.measurement)).toBe(SIMULATOR_SNP_MEASUREMENT_HEX)
    expect(bytesToHex(report.reportData)).toBe(bytesToHex(padReportData(REPORT_DATA)))
    expect(certificates.map((c) => c.kind)).toEqual(['vcek', 'ask', 'ark'])
    // And back: the parsed report and certificates of this JSON give the very same JSON.
    const parsed = parseTrusteeSnpEvidence(JSON.parse(JSON.stringify(json)))
    expect(snpReportToTrusteeJson(parsed.report, { certificates: parsed.certificates })).toEqual(
      json,
    )
  })

  it.each(['sha256', 'sha384', 'sha512'] as const)(
    'puts the %s document digest fitted to 32 bytes in HOST_DATA',
    (algorithm) => {
      const initdata = documentWith(algorithm)
      const { report } = snpEvidence({ initdata, reportData: REPORT_DATA })
      const digest = createHash(algorithm).update(initdata.bytes).digest()
      expect(bytesToHex(report.hostData)).toBe(bytesToHex(fitDigest(digest, 32)))
    },
  )

  it('sets the policy DEBUG bit only when asked', () => {
    expect(snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA }).report.policy.debug).toBe(
      false,
    )
    const debug = snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA, debug: true })
    expect(debug.report.policy.debug).toBe(true)
    // Only that bit: the rest of the policy is the same.
    expect(debug.report.policy.raw).toBe(0x30000n | (1n << 19n))
  })

  it('is refused under the pinned AMD roots, and accepted under the simulator ARK with the binding checked', () => {
    const evidence = snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA })
    expect(outcome(() => verifySnpEvidence(evidence, { now: NOW }))).toBe(
      'verification ERR_SNP_CHAIN_ROOT_UNTRUSTED',
    )
    const ok = verifySnpEvidence(evidence, {
      now: NOW,
      anchors: trust.snpAnchors,
      policy: { initdata: INITDATA, reportData: padReportData(REPORT_DATA) },
    })
    expect(ok.product).toBe('Milan')
    expect(ok.chain.anchor.origin).toBe('user-supplied')
    // Another document does not match the report's HOST_DATA.
    expect(
      outcome(() =>
        verifySnpEvidence(evidence, {
          now: NOW,
          anchors: trust.snpAnchors,
          policy: { initdata: documentWith('sha384', 'other') },
        }),
      ),
    ).toMatch(/^expectation /)
    // A debug guest is refused unless debugging is allowed.
    const debug = snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA, debug: true })
    expect(
      outcome(() => verifySnpEvidence(debug, { now: NOW, anchors: trust.snpAnchors })),
    ).toMatch(/^expectation /)
  })

  it('stays valid for the VCEK lifetime (7 years), its CRL too', () => {
    const evidence = snpEvidence({ initdata: INITDATA, reportData: REPORT_DATA })
    const later = new Date('2033-04-29T00:00:00Z')
    const options = { anchors: trust.snpAnchors, crl: trust.snpCrl }
    expect(verifySnpEvidence(evidence, { now: later, ...options }).product).toBe('Milan')
    expect(verifySnpEvidence(evidence, { now: NOW, ...options }).product).toBe('Milan')
    // The CRL's window is the VCEK's: the report is refused as soon as either is not current.
    expect(
      outcome(() => verifySnpEvidence(evidence, { now: new Date('2033-05-01'), ...options })),
    ).toBe('verification ERR_SNP_CERT_EXPIRED')
  })

  it('made with its VCEK or ASK revoked, has a CRL that names it', () => {
    for (const revoked of [['vcek'], ['ask']] as const) {
      const made = createSimulatorMaterial({
        now: NOW,
        amdKeys: { ark: rsa(), ask: rsa() },
        revoked,
      })
      const evidence = parseTrusteeSnpEvidence(
        simulateSnpEvidence(made.snp, { initdata: INITDATA, reportData: REPORT_DATA }),
      )
      const madeTrust = simulatorTrustFrom({
        product: made.snp.product,
        arkPem: made.snp.arkPem,
        askPem: made.snp.askPem,
        amdCrl: made.snp.crl,
        intelRootPem: made.tdx.rootPem,
        collateralJson: made.tdx.collateralJson,
      })
      const options = { now: NOW, anchors: madeTrust.snpAnchors }
      expect(verifySnpEvidence(evidence, options).product, revoked[0]).toBe('Milan')
      expect(
        outcome(() => verifySnpEvidence(evidence, { ...options, crl: madeTrust.snpCrl })),
        revoked[0],
      ).toBe('verification ERR_SNP_CERT_REVOKED')
    }
  })
})

describe('simulated TDX evidence', () => {
  it('is Trustee\'s TDX evidence: {"quote": base64 of a v4 quote}, no event log', () => {
    const json = simulateTdxEvidence(material.tdx, { initdata: INITDATA, reportData: REPORT_DATA })
    expect(Object.keys(json)).toEqual(['quote'])
    const quote = parseDcapQuote(base64ToBytes(json.quote))
    expect(quote.header.version).toBe(4)
    expect(quote.body.kind).toBe('td10')
    const direct = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA })
    if (direct.body.kind === 'sgx') throw new Error('expected a TD body')
    expect(bytesToHex(direct.body.mrTd)).toBe(SIMULATOR_TDX_MRTD_HEX)
    expect(bytesToHex(direct.body.reportData)).toBe(bytesToHex(padReportData(REPORT_DATA)))
    expect(direct.body.rtmrs.every((r) => r.every((b) => b === 0))).toBe(true)
  })

  it.each(['sha256', 'sha384', 'sha512'] as const)(
    'puts the %s document digest fitted to 48 bytes in MRCONFIGID',
    (algorithm) => {
      const initdata = documentWith(algorithm)
      const { body } = tdxQuote({ initdata, reportData: REPORT_DATA })
      if (body.kind === 'sgx') throw new Error('expected a TD body')
      const digest = createHash(algorithm).update(initdata.bytes).digest()
      expect(bytesToHex(body.mrConfigId)).toBe(bytesToHex(fitDigest(digest, 48)))
    },
  )

  it('sets the TD DEBUG attribute only when asked', () => {
    const plain = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA })
    const debug = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA, debug: true })
    if (plain.body.kind === 'sgx' || debug.body.kind === 'sgx')
      throw new Error('expected TD bodies')
    expect(plain.body.tdAttributes.debug).toBe(false)
    expect(debug.body.tdAttributes.debug).toBe(true)
    // Only that bit: the rest of the attributes are the same.
    expect(debug.body.tdAttributes.raw).toBe(plain.body.tdAttributes.raw | 1n)
  })

  it("is refused under Intel's pinned root, and accepted UpToDate under the simulator root and collateral", () => {
    const quote = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA })
    expect(outcome(() => verifyDcapQuote(quote, { now: NOW, collateral: trust.collateral }))).toBe(
      'verification ERR_TDX_PCK_ROOT_UNTRUSTED',
    )
    const ok = verifyDcapQuote(quote, {
      now: NOW,
      root: trust.intelRoot,
      collateral: trust.collateral,
      policy: { initdata: INITDATA, reportData: padReportData(REPORT_DATA) },
    })
    expect(ok.tcb.status).toBe('UpToDate')
    expect(ok.anchor.origin).toBe('user-supplied')
    const other = { initdata: documentWith('sha384', 'other') }
    expect(
      outcome(() =>
        verifyDcapQuote(quote, {
          now: NOW,
          root: trust.intelRoot,
          collateral: trust.collateral,
          policy: other,
        }),
      ),
    ).toMatch(/^expectation /)
    const debug = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA, debug: true })
    expect(
      outcome(() =>
        verifyDcapQuote(debug, { now: NOW, root: trust.intelRoot, collateral: trust.collateral }),
      ),
    ).toMatch(/^expectation /)
  })

  it('has collateral current for the PCK lifetime (7 years), and not after it', () => {
    const quote = tdxQuote({ initdata: INITDATA, reportData: REPORT_DATA })
    const options = { root: trust.intelRoot, collateral: trust.collateral }
    expect(
      verifyDcapQuote(quote, { ...options, now: new Date('2033-04-29T00:00:00Z') }).tcb.status,
    ).toBe('UpToDate')
    expect(
      outcome(() => verifyDcapQuote(quote, { ...options, now: new Date('2033-05-01T00:00:00Z') })),
    ).toMatch(/EXPIRED/)
  })
})

describe('report data', () => {
  it('takes 0 to 64 bytes, zero-padded to 64, and refuses more', () => {
    for (const length of [0, 1, 32, 64]) {
      const given = Uint8Array.from({ length }, () => 0xab)
      const padded = padReportData(given)
      expect(padded.length).toBe(64)
      expect(bytesToHex(padded)).toBe('ab'.repeat(length) + '00'.repeat(64 - length))
    }
    const tooLong = new Uint8Array(65)
    expect(thrown(() => padReportData(tooLong)).code).toBe('ERR_SIM_REPORT_DATA_TOO_LONG')
    expect(
      thrown(() => simulateSnpEvidence(material.snp, { initdata: INITDATA, reportData: tooLong }))
        .code,
    ).toBe('ERR_SIM_REPORT_DATA_TOO_LONG')
    expect(
      thrown(() => simulateTdxEvidence(material.tdx, { initdata: INITDATA, reportData: tooLong }))
        .code,
    ).toBe('ERR_SIM_REPORT_DATA_TOO_LONG')
  })
})

describe('the simulated launch digests', () => {
  it('are SHA-384 of their documented labels', () => {
    const sha384 = (label: string): string => createHash('sha384').update(label).digest('hex')
    expect(SIMULATOR_SNP_MEASUREMENT_HEX).toBe(
      sha384('initguard tee-simulator SEV-SNP launch measurement v1'),
    )
    expect(SIMULATOR_TDX_MRTD_HEX).toBe(sha384('initguard tee-simulator TDX MRTD v1'))
    expect(hexToBytes(SIMULATOR_SNP_MEASUREMENT_HEX).length).toBe(48)
  })
})

describe('the material', () => {
  it('refuses a chip id that is not 64 bytes, or is all zero (masked)', () => {
    expect(
      thrown(() => createSimulatorMaterial({ now: NOW, chipId: new Uint8Array(8) })).code,
    ).toBe('ERR_SIM_CHIP_ID_INVALID')
    expect(
      thrown(() => createSimulatorMaterial({ now: NOW, chipId: new Uint8Array(64) })).code,
    ).toBe('ERR_SIM_CHIP_ID_INVALID')
  })
})
