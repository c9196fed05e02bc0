import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { codeOf as thrownCode, outcome } from '@initguard/testkit'
import {
  amdName,
  buildSnpReport,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
} from '@initguard/tee-simulator'
import { parseAmdCertificate, parsePemBundle } from './amd-certificate.ts'
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

interface Extension {
  readonly oid: string
  readonly critical: boolean
  readonly value: Uint8Array
}

function crl(
  revoked: bigint[],
  options: {
    signer?: typeof pki
    thisUpdate?: Date
    nextUpdate?: Date | null
    /** Of the list. */
    extensions?: Extension[]
    /** Of every entry. */
    entryExtensions?: Extension[]
  } = {},
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
        ...(options.entryExtensions === undefined ? {} : { extensions: options.entryExtensions }),
      })),
      signatureAlgorithm: 'rsassa-pss-sha384',
      ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
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

// RFC 5280: a CRL (§5.2, §5.3) or certificate (§4.2) with a critical extension the verifier does
// not recognise must not be used.
describe('critical extensions', () => {
  const ark = trustedArk(anchors, 'Milan')
  const verifyList = (der: Uint8Array): string =>
    outcome(() => verifyAmdRevocationList(der, ark, 'Milan', 'vcek'))
  const CRL_NUMBER = { oid: '2.5.29.20', critical: false, value: new Uint8Array([2, 1, 7]) }
  const REASON = { oid: '2.5.29.21', critical: false, value: new Uint8Array([10, 1, 1]) }
  const INVALID = 'malformed ERR_SNP_CRL_INVALID'

  it('a CRL: the understood ones (CRL Number, reason code) and unknown non-critical ones are accepted', () => {
    const unknown = { oid: '1.2.3.4', critical: false, value: new Uint8Array([5, 0]) }
    const der = crl([5n], { extensions: [CRL_NUMBER, unknown], entryExtensions: [REASON, unknown] })
    expect([...verifyAmdRevocationList(der, ark, 'Milan', 'vcek').revokedSerials]).toEqual(['5'])
    expect(codeOf({ crl: der })).toBe('accepted')
    // A critical reason code is understood.
    expect(verifyList(crl([5n], { entryExtensions: [{ ...REASON, critical: true }] }))).toBe(
      'accepted',
    )
  })

  it('a CRL with an unknown critical extension, or a critical delta CRL indicator or IDP, is refused', () => {
    for (const oid of ['1.2.3.4', '2.5.29.27', '2.5.29.28']) {
      const critical = { oid, critical: true, value: new Uint8Array([0x30, 0]) }
      const der = crl([5n], { extensions: [CRL_NUMBER, critical] })
      expect(verifyList(der), oid).toBe(INVALID)
      expect(codeOf({ crl: der }), oid).toBe('ERR_SNP_CRL_INVALID')
    }
  })

  it('a CRL with a critical entry extension it does not process (Certificate Issuer) is refused', () => {
    const issuer = { oid: '2.5.29.29', critical: true, value: new Uint8Array([0x30, 0]) }
    expect(verifyList(crl([5n], { entryExtensions: [REASON, issuer] }))).toBe(INVALID)
  })

  it("AMD's real ASK and ARK (basicConstraints and keyUsage critical) parse", () => {
    const bundle = readFileSync(
      new URL('../../../testdata/vectors/snp/amd-roots/ask_ark_milan.pem', import.meta.url),
      'utf8',
    )
    expect(parsePemBundle(bundle, 'Milan').map((c) => c.commonName)).toEqual([
      'SEV-Milan',
      'ARK-Milan',
    ])
  })

  it('a VCEK with an unknown critical extension is refused, by itself and in verification', () => {
    const issue = (critical: boolean) =>
      pki.issueVcek({
        chipId: defaults.chipId,
        tcb: defaultSnpTcb('Milan'),
        notBefore,
        notAfter,
        serialNumber: 77n,
        editExtensions: (list) => [
          ...list,
          { oid: '1.3.6.1.4.1.3704.1.99', critical, value: new Uint8Array([5, 0]) },
        ],
      })
    const bad = issue(true)
    expect(outcome(() => parseAmdCertificate(bad.der, 'VCEK'))).toBe(
      'malformed ERR_SNP_CERT_CRITICAL_EXTENSION',
    )
    const verify = (key: ReturnType<typeof issue>): string =>
      outcome(() =>
        verifySnpEvidence(
          {
            report: parseSnpReport(buildSnpReport({ product: 'Milan' }, key.privateKey)),
            certificates: [],
          },
          { now, anchors, certificates: [key.der] },
        ),
      )
    expect(verify(issue(false))).toBe('accepted')
    expect(verify(bad)).toBe('malformed ERR_SNP_CERT_CRITICAL_EXTENSION')
  })
})
