/**
 * Which CRL a chain is checked against. AMD signs the VCEK and the VLEK CRL of a product line with
 * the same ARK key under the same issuer name, so the signature alone cannot tell them apart: the
 * issuer name and key identifier must be the ARK's, and an Issuing Distribution Point, when the CRL
 * has one, must name the KDS path of the hierarchy and product the list is used for.
 */
import { describe, expect, it } from 'vitest'
import { parseDer } from '@initguard/core'
import { outcome } from '@initguard/testkit'
import {
  amdName,
  buildSnpReport,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
  derBitString,
  derImplicit,
  derSequence,
  encodeAuthorityKeyIdentifier,
  encodeIssuingDistributionPoint,
  keyIdentifierOf,
  type AmdTestPki,
  type IssuingDistributionPointFlag,
} from '@initguard/tee-simulator'
import { parseSnpReport } from './report.ts'
import { verifyAmdRevocationList } from './amd-crl.ts'
import { trustedArk } from './amd-chain.ts'
import { verifySnpEvidence } from './verify.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const milan = createAmdTestPki({ product: 'Milan', notBefore, notAfter, withAsvk: true })
const genoa = createAmdTestPki({ product: 'Genoa', notBefore, notAfter })
const anchorsOf = (pki: AmdTestPki, product: 'Milan' | 'Genoa') => ({
  product,
  ark: pki.ark.pem,
  ask: pki.ask.pem,
  asvk: pki.asvk?.pem ?? '',
  fingerprints: { ark: '', ask: '', asvk: '' },
})
const anchors = { roots: { Milan: anchorsOf(milan, 'Milan'), Genoa: anchorsOf(genoa, 'Genoa') } }
const ark = trustedArk(anchors, 'Milan')

const vlek = milan.issueVlek({ tcb: defaultSnpTcb('Milan'), notBefore, notAfter })
const vlekReport = parseSnpReport(
  buildSnpReport(
    { product: 'Milan', keySelect: 'vlek', chipId: defaultSnpReportFields('Milan').chipId },
    vlek.privateKey,
  ),
)
const asvkSerial = BigInt(`0x${milan.asvk?.x509.serialNumber ?? '0'}`)

interface Extension {
  readonly oid: string
  readonly critical?: boolean
  readonly value: Uint8Array
}

function crl(
  options: {
    revoked?: bigint[]
    signer?: AmdTestPki
    issuer?: string
    extensions?: Extension[]
  } = {},
): Uint8Array {
  return buildX509Crl(
    {
      issuer: amdName(options.issuer ?? 'ARK-Milan'),
      thisUpdate: new Date('2026-11-01T00:00:00Z'),
      nextUpdate: new Date('2026-12-31T00:00:00Z'),
      revoked: (options.revoked ?? []).map((serialNumber) => ({
        serialNumber,
        revocationDate: new Date('2026-10-01T00:00:00Z'),
      })),
      signatureAlgorithm: 'rsassa-pss-sha384',
      ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
    },
    (options.signer ?? milan).ark.privateKey,
  )
}

/** An Issuing Distribution Point naming `uris` (fullName), with the narrowing flags given. */
function idp(
  uris: string[],
  flags: IssuingDistributionPointFlag[] = [],
  critical = true,
): Extension {
  return { oid: '2.5.29.28', critical, value: encodeIssuingDistributionPoint(uris, flags) }
}

/** The elements of a DER SEQUENCE, each encoded. */
const parseDerChildren = (der: Uint8Array): Uint8Array[] =>
  parseDer(der).children.map((child) => child.encoded)

const KDS = 'https://kdsintf.amd.com'
const verifyVlekList = (der: Uint8Array): string =>
  outcome(() => verifyAmdRevocationList(der, ark, 'Milan', 'vlek'))
const verifyVlekReport = (der: Uint8Array): string =>
  outcome(() =>
    verifySnpEvidence(
      { report: vlekReport, certificates: [] },
      { now, anchors, certificates: [vlek.der], crl: der },
    ),
  )

describe('the CRL of the VLEK hierarchy', () => {
  it('a VLEK chain whose ASVK the VLEK CRL revokes is refused', () => {
    expect(verifyVlekReport(crl())).toBe('accepted')
    expect(verifyVlekReport(crl({ revoked: [asvkSerial] }))).toBe(
      'verification ERR_SNP_CERT_REVOKED',
    )
  })

  it('a CRL whose Issuing Distribution Point is the VCEK (or another product) path is not the VLEK CRL', () => {
    // The VCEK CRL is signed by the same ARK key under the same name: only its IDP tells.
    for (const path of ['/vcek/v1/Milan/crl', '/vlek/v1/Genoa/crl', '/vlek/v1/Milan/cert_chain']) {
      for (const critical of [false, true]) {
        const der = crl({ extensions: [idp([KDS + path], [], critical)] })
        expect(verifyVlekList(der), path).toBe('verification ERR_SNP_CRL_MISMATCH')
        expect(verifyVlekReport(der), path).toBe('verification ERR_SNP_CRL_MISMATCH')
      }
    }
  })

  it('a CRL whose Issuing Distribution Point is the VLEK path is accepted, critical as RFC 5280 wants', () => {
    for (const uris of [
      [`${KDS}/vlek/v1/Milan/crl`],
      ['ldap://x', 'https://mirror.example/vlek/v1/Milan/crl'],
    ]) {
      expect(verifyVlekReport(crl({ extensions: [idp(uris)] }))).toBe('accepted')
    }
    expect(
      verifyVlekReport(
        crl({ revoked: [asvkSerial], extensions: [idp([`${KDS}/vlek/v1/Milan/crl`])] }),
      ),
    ).toBe('verification ERR_SNP_CERT_REVOKED')
  })

  it('a CRL whose Issuing Distribution Point narrows the list, or names no URI, is refused', () => {
    const uri = `${KDS}/vlek/v1/Milan/crl`
    // onlyContainsUserCerts (the ASVK is a CA), onlyContainsCACerts, onlySomeReasons, indirectCRL,
    // onlyContainsAttributeCerts: the list does not cover the whole chain, or covers others'.
    for (const flag of [
      'onlyContainsUserCerts',
      'onlyContainsCACerts',
      'indirectCRL',
      'onlyContainsAttributeCerts',
    ] as const) {
      expect(verifyVlekList(crl({ extensions: [idp([uri], [flag])] })), flag).toBe(
        'verification ERR_SNP_CRL_MISMATCH',
      )
    }
    // onlySomeReasons [3] ReasonFlags: keyCompromise only.
    const idpValue = encodeIssuingDistributionPoint([uri])
    const someReasons = {
      oid: '2.5.29.28',
      critical: true,
      value: derSequence([
        ...parseDerChildren(idpValue),
        derImplicit(3, derBitString(Uint8Array.of(0x40), 6)),
      ]),
    }
    expect(verifyVlekList(crl({ extensions: [someReasons] }))).toBe(
      'verification ERR_SNP_CRL_MISMATCH',
    )
    expect(verifyVlekList(crl({ extensions: [idp([], ['onlyContainsCACerts'])] }))).toBe(
      'verification ERR_SNP_CRL_MISMATCH',
    )
  })
})

describe('the issuer of an AMD CRL', () => {
  it('a CRL signed with the ARK key under another issuer name is refused', () => {
    for (const issuer of ['ARK-Genoa', 'SEV-VLEK-Milan', 'SEV-Milan']) {
      expect(verifyVlekList(crl({ issuer })), issuer).toBe('verification ERR_SNP_CRL_ISSUER')
    }
  })

  it("a CRL whose Authority Key Identifier is not the ARK's is refused; the ARK's is accepted", () => {
    const aki = (key: Uint8Array): Extension => ({
      oid: '2.5.29.35',
      value: encodeAuthorityKeyIdentifier(key),
    })
    const arkId = keyIdentifierOf(milan.ark.publicKey)
    const asvkId = keyIdentifierOf(milan.asvk?.publicKey ?? milan.ask.publicKey)
    expect(verifyVlekList(crl({ extensions: [aki(arkId)] }))).toBe('accepted')
    expect(verifyVlekList(crl({ extensions: [aki(asvkId)] }))).toBe(
      'verification ERR_SNP_CRL_ISSUER',
    )
  })

  it("another product's CRL is not signed by this product's ARK", () => {
    const genoaList = crl({ signer: genoa, issuer: 'ARK-Genoa' })
    expect(verifyVlekList(genoaList)).toBe('verification ERR_SNP_CRL_SIGNATURE')
    expect(verifyVlekReport(genoaList)).toBe('verification ERR_SNP_CRL_SIGNATURE')
  })
})
