import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { codeOf as thrownCode } from '@initguard/testkit'
import {
  amdName,
  buildSnpReport,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { parseSnpReport } from './report.ts'
import {
  checkAmdCrlCurrent,
  checkAmdRevocation,
  parseAmdCrl,
  verifyAmdRevocationList,
} from './amd-crl.ts'
import { trustedArk } from './amd-chain.ts'
import { verifySnpEvidence, type SnpVerifyOptions } from './verify.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
const other = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
const defaults = defaultSnpReportFields('Milan')
const vcek = pki.issueVcek({
  chipId: defaults.chipId,
  tcb: defaultSnpTcb('Milan'),
  notBefore,
  notAfter,
  serialNumber: 77n,
})
const report = parseSnpReport(buildSnpReport({ product: 'Milan' }, vcek.privateKey))
const anchors = {
  roots: {
    Milan: {
      product: 'Milan' as const,
      ark: pki.ark.pem,
      ask: pki.ask.pem,
      asvk: '',
      fingerprints: { ark: '', ask: '', asvk: '' },
    },
  },
}

function crl(
  revoked: bigint[],
  options: { signer?: typeof pki; thisUpdate?: Date; nextUpdate?: Date | null } = {},
): Uint8Array {
  return buildX509Crl(
    {
      issuer: amdName('ARK-Milan'),
      thisUpdate: options.thisUpdate ?? new Date('2026-11-01T00:00:00Z'),
      nextUpdate:
        options.nextUpdate === undefined ? new Date('2026-12-31T00:00:00Z') : options.nextUpdate,
      revoked: revoked.map((serialNumber) => ({
        serialNumber,
        revocationDate: new Date('2026-10-01T00:00:00Z'),
      })),
      signatureAlgorithm: 'rsassa-pss-sha384',
    },
    (options.signer ?? pki).ark.privateKey,
  )
}

function codeOf(options: Partial<SnpVerifyOptions>): string {
  try {
    verifySnpEvidence(
      { report, certificates: [] },
      { now, anchors, certificates: [vcek.der], ...options },
    )
    return 'accepted'
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
}

describe('AMD CRL', () => {
  it('parses the revoked serials and the update window', () => {
    const parsed = parseAmdCrl(crl([5n, 0x1234n]))
    expect([...parsed.revokedSerials]).toEqual(['5', '1234'])
    expect(parsed.nextUpdate?.toISOString()).toBe('2026-12-31T00:00:00.000Z')
    expect(parseAmdCrl(crl([])).revokedSerials.size).toBe(0)
  })

  it('accepts a current CRL that revokes nothing of the chain', () => {
    expect(codeOf({ crl: crl([5n]) })).toBe('accepted')
  })

  it('refuses a revoked VCEK or ASK', () => {
    expect(codeOf({ crl: crl([77n]) })).toBe('ERR_SNP_CERT_REVOKED')
    const askSerial = BigInt(`0x${pki.ask.x509.serialNumber}`)
    expect(codeOf({ crl: crl([askSerial]) })).toBe('ERR_SNP_CERT_REVOKED')
  })

  it('refuses a CRL not signed by the ARK, a stale CRL and a tampered CRL', () => {
    expect(codeOf({ crl: crl([], { signer: other }) })).toBe('ERR_SNP_CRL_SIGNATURE')
    expect(
      codeOf({
        crl: crl([], {
          thisUpdate: new Date('2025-01-01T00:00:00Z'),
          nextUpdate: new Date('2025-02-01T00:00:00Z'),
        }),
      }),
    ).toBe('ERR_SNP_CRL_STALE')
    const tampered = crl([77n])
    const at = Buffer.from(tampered).indexOf(Buffer.from([0x02, 0x01, 77]))
    tampered[at + 2] = 78
    expect(codeOf({ crl: tampered })).toBe('ERR_SNP_CRL_SIGNATURE')
    expect(codeOf({ crl: new Uint8Array([0x30, 0x03, 0x02, 0x01]) })).toMatch(/^ERR_DER_/)
  })

  it('refuses a genuine CRL without nextUpdate: nothing says it is still current', () => {
    const undated = crl([], { thisUpdate: new Date('2024-02-01T00:00:00Z'), nextUpdate: null })
    expect(parseAmdCrl(undated).nextUpdate).toBeUndefined()
    expect(codeOf({ crl: undated })).toBe('ERR_SNP_CRL_STALE')
  })
})

describe('a verified AMD revocation list, kept and checked per chain', () => {
  const ark = trustedArk(anchors, 'Milan')
  const verification = verifySnpEvidence(
    { report, certificates: [] },
    { now, anchors, certificates: [vcek.der] },
  )
  const subject = verification.chain.revocation

  it('carries what it is for, its window and its serials; checking takes no parse', () => {
    const list = verifyAmdRevocationList(crl([0x1234n]), ark, 'Milan', 'vcek')
    expect(list).toMatchObject({ product: 'Milan', kind: 'vcek', arkFingerprint: ark.fingerprint })
    expect([...list.revokedSerials]).toEqual(['1234'])
    expect(subject).toMatchObject({ product: 'Milan', kind: 'vcek', endorsementSerial: '4d' })
    expect(() => {
      checkAmdRevocation(list, subject, now)
    }).not.toThrow()
  })

  it('matches serials whatever their case or leading zeros', () => {
    const list = verifyAmdRevocationList(crl([77n]), ark, 'Milan', 'vcek')
    for (const endorsementSerial of ['4D', '004d', '4d']) {
      expect(
        thrownCode(() => {
          checkAmdRevocation(list, { ...subject, endorsementSerial }, now)
        }),
        endorsementSerial,
      ).toBe('ERR_SNP_CERT_REVOKED')
    }
  })

  it("refuses a list for another product, hierarchy or ARK, and one not current at the check's time", () => {
    const list = verifyAmdRevocationList(crl([]), ark, 'Milan', 'vcek')
    for (const other of [
      { ...subject, kind: 'vlek' as const },
      { ...subject, product: 'Genoa' as const },
      { ...subject, arkFingerprint: '00'.repeat(32) },
    ]) {
      expect(
        thrownCode(() => {
          checkAmdRevocation(list, other, now)
        }),
      ).toBe('ERR_SNP_CRL_MISMATCH')
    }
    for (const at of [new Date('2026-10-31T00:00:00Z'), new Date('2027-01-01T00:00:00Z')]) {
      expect(
        thrownCode(() => {
          checkAmdRevocation(list, subject, at)
        }),
      ).toBe('ERR_SNP_CRL_STALE')
    }
    expect(
      thrownCode(() => {
        checkAmdCrlCurrent(list, new Date(Number.NaN))
      }),
    ).toBe('ERR_SNP_CRL_STALE')
  })
})
