/**
 * The roles of AMD's certificates, from basicConstraints and keyUsage: the ARK and the ASK/ASVK
 * sign certificates, so they must be CAs allowed to (keyCertSign; cRLSign for the ARK that signs
 * the CRL), and the VCEK/VLEK signs reports, so it must not be a CA and, with a keyUsage, must be
 * allowed digitalSignature. Absent keyUsage (and, on the VCEK/VLEK, absent basicConstraints, as on
 * every real one) is accepted.
 */
import { readFileSync } from 'node:fs'
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { outcome } from '@initguard/testkit'
import {
  amdName,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpReportFields,
  defaultSnpTcb,
  encodeBasicConstraints,
  encodeKeyUsage,
  type AmdTestPki,
  type AmdTestPkiOptions,
  type KeyUsageBit,
  type X509Extension,
} from '@initguard/tee-simulator'
import { parseAmdCertificate, parsePemBundle } from './amd-certificate.ts'
import { verifyAmdChain, trustedArk, type SnpTrustAnchors } from './amd-chain.ts'
import { verifyAmdRevocationList } from './amd-crl.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
const now = new Date('2026-11-29T00:00:00Z')
const keys = {
  ark: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ask: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  asvk: generateKeyPairSync('rsa', { modulusLength: 2048 }),
}
const chipId = defaultSnpReportFields('Milan').chipId
const tcb = defaultSnpTcb('Milan')

type Edit = (extensions: readonly X509Extension[]) => readonly X509Extension[]

const BASIC_CONSTRAINTS = '2.5.29.19'
const KEY_USAGE = '2.5.29.15'

/** Replace (or, when absent, add) one extension; `undefined` removes it. */
function setExtension(oid: string, value: Uint8Array | undefined, critical = true): Edit {
  return (list) => {
    const rest = list.filter((e) => e.oid !== oid)
    return value === undefined ? rest : [...rest, { oid, critical, value }]
  }
}
const basicConstraints = (ca: boolean, pathLength?: number): Uint8Array =>
  encodeBasicConstraints(pathLength === undefined ? { ca } : { ca, pathLength })
const keyUsage = (...bits: KeyUsageBit[]): Uint8Array => encodeKeyUsage(bits)

function pkiWith(edit: AmdTestPkiOptions['editCaExtensions'] = {}): AmdTestPki {
  return createAmdTestPki({
    product: 'Milan',
    notBefore,
    notAfter,
    withAsvk: true,
    keys,
    editCaExtensions: edit,
  })
}

function anchorsOf(pki: AmdTestPki): SnpTrustAnchors {
  return {
    roots: {
      Milan: {
        product: 'Milan',
        ark: pki.ark.pem,
        ask: pki.ask.pem,
        asvk: pki.asvk?.pem ?? '',
        fingerprints: { ark: '', ask: '', asvk: '' },
      },
    },
  }
}

const good = pkiWith()

/** Verify a VCEK (or VLEK) chain of `pki`, the leaf's extensions edited by `leaf`. */
function chainOutcome(pki: AmdTestPki, kind: 'vcek' | 'vlek', leaf?: Edit): string {
  const options = {
    tcb,
    notBefore,
    notAfter,
    ...(leaf === undefined ? {} : { editExtensions: leaf }),
  }
  const endorsement =
    kind === 'vcek' ? pki.issueVcek({ ...options, chipId }) : pki.issueVlek(options)
  const intermediate = kind === 'vcek' ? pki.ask : pki.asvk
  return outcome(() =>
    verifyAmdChain(
      'Milan',
      kind,
      {
        endorsement: parseAmdCertificate(endorsement.der, kind.toUpperCase()),
        intermediate: parseAmdCertificate(intermediate?.der ?? new Uint8Array(), 'intermediate'),
      },
      anchorsOf(pki),
      now,
    ),
  )
}

const ROLE = 'verification ERR_SNP_CERT_ROLE'

function roleMessage(run: () => unknown): string {
  try {
    run()
  } catch (e) {
    return (e as Error).message
  }
  return 'accepted'
}

describe('AMD certificate roles (basicConstraints, keyUsage)', () => {
  it('accepts the AMD-shaped test chain, VCEK and VLEK', () => {
    expect(chainOutcome(good, 'vcek')).toBe('accepted')
    expect(chainOutcome(good, 'vlek')).toBe('accepted')
  })

  it('refuses an ASK or ASVK that is not a CA, and one whose keyUsage lacks keyCertSign', () => {
    const notCa = pkiWith({
      ask: setExtension(BASIC_CONSTRAINTS, basicConstraints(false)),
      asvk: setExtension(BASIC_CONSTRAINTS, basicConstraints(false)),
    })
    expect(chainOutcome(notCa, 'vcek')).toBe(ROLE)
    expect(chainOutcome(notCa, 'vlek')).toBe(ROLE)
    const noCertSign = pkiWith({
      ask: setExtension(KEY_USAGE, keyUsage('digitalSignature', 'cRLSign')),
      asvk: setExtension(KEY_USAGE, keyUsage('digitalSignature')),
    })
    expect(chainOutcome(noCertSign, 'vcek')).toBe(ROLE)
    expect(chainOutcome(noCertSign, 'vlek')).toBe(ROLE)
  })

  it('names the certificate and what is wrong with it', () => {
    const notCa = pkiWith({ ask: setExtension(BASIC_CONSTRAINTS, basicConstraints(false)) })
    const leaf = notCa.issueVcek({ tcb, notBefore, notAfter, chipId })
    const message = roleMessage(() =>
      verifyAmdChain(
        'Milan',
        'vcek',
        {
          endorsement: parseAmdCertificate(leaf.der, 'VCEK'),
          intermediate: parseAmdCertificate(notCa.ask.der, 'ASK'),
        },
        anchorsOf(notCa),
        now,
      ),
    )
    expect(message).toMatch(/SEV-Milan/)
    expect(message).toMatch(/not a CA/)
  })

  it('refuses an ASK without basicConstraints: an issuer must say it is a CA (RFC 5280 §6.1.4 (k))', () => {
    expect(chainOutcome(pkiWith({ ask: setExtension(BASIC_CONSTRAINTS, undefined) }), 'vcek')).toBe(
      ROLE,
    )
  })

  it('accepts an ASK without keyUsage, or with keyCertSign among other bits', () => {
    expect(chainOutcome(pkiWith({ ask: setExtension(KEY_USAGE, undefined) }), 'vcek')).toBe(
      'accepted',
    )
    expect(
      chainOutcome(
        pkiWith({ ask: setExtension(KEY_USAGE, keyUsage('digitalSignature', 'keyCertSign')) }),
        'vcek',
      ),
    ).toBe('accepted')
  })

  it('refuses a pinned ARK that is not a CA, may not sign certificates, or allows no CA below it', () => {
    expect(
      chainOutcome(
        pkiWith({ ark: setExtension(BASIC_CONSTRAINTS, basicConstraints(false)) }),
        'vcek',
      ),
    ).toBe(ROLE)
    expect(
      chainOutcome(pkiWith({ ark: setExtension(KEY_USAGE, keyUsage('cRLSign')) }), 'vcek'),
    ).toBe(ROLE)
    // pathLenConstraint 0 on the ARK: no intermediate CA may follow it, but the ASK is one.
    expect(
      chainOutcome(
        pkiWith({ ark: setExtension(BASIC_CONSTRAINTS, basicConstraints(true, 0)) }),
        'vcek',
      ),
    ).toBe(ROLE)
    expect(
      chainOutcome(
        pkiWith({ ark: setExtension(BASIC_CONSTRAINTS, basicConstraints(true, 1)) }),
        'vcek',
      ),
    ).toBe('accepted')
  })

  it('refuses a VCEK or VLEK that is a CA, or whose keyUsage lacks digitalSignature', () => {
    expect(
      chainOutcome(good, 'vcek', setExtension(BASIC_CONSTRAINTS, basicConstraints(true))),
    ).toBe(ROLE)
    expect(
      chainOutcome(good, 'vlek', setExtension(BASIC_CONSTRAINTS, basicConstraints(true))),
    ).toBe(ROLE)
    expect(chainOutcome(good, 'vcek', setExtension(KEY_USAGE, keyUsage('keyCertSign')))).toBe(ROLE)
    expect(chainOutcome(good, 'vlek', setExtension(KEY_USAGE, keyUsage('keyAgreement')))).toBe(ROLE)
  })

  it('accepts a VCEK that says it is no CA, or may sign (digitalSignature)', () => {
    expect(
      chainOutcome(good, 'vcek', setExtension(BASIC_CONSTRAINTS, basicConstraints(false))),
    ).toBe('accepted')
    expect(
      chainOutcome(good, 'vcek', setExtension(KEY_USAGE, keyUsage('digitalSignature'), false)),
    ).toBe('accepted')
  })

  it('refuses a malformed basicConstraints or keyUsage when the certificate is parsed', () => {
    const extra = Uint8Array.of(0x30, 0x09, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00)
    const leaf = good.issueVcek({
      tcb,
      notBefore,
      notAfter,
      chipId,
      editExtensions: setExtension(BASIC_CONSTRAINTS, extra),
    })
    expect(outcome(() => parseAmdCertificate(leaf.der, 'VCEK'))).toBe(
      'malformed ERR_SNP_CERT_EXTENSION',
    )
    const notBits = good.issueVcek({
      tcb,
      notBefore,
      notAfter,
      chipId,
      editExtensions: setExtension(KEY_USAGE, Uint8Array.of(0x04, 0x01, 0x80)),
    })
    expect(outcome(() => parseAmdCertificate(notBits.der, 'VCEK'))).toMatch(/^malformed ERR_DER_/)
  })

  it('refuses a CRL signed by an ARK whose keyUsage lacks cRLSign', () => {
    const noCrlSign = pkiWith({ ark: setExtension(KEY_USAGE, keyUsage('keyCertSign')) })
    expect(chainOutcome(noCrlSign, 'vcek')).toBe('accepted')
    const crl = (pki: AmdTestPki): Uint8Array =>
      buildX509Crl(
        {
          issuer: amdName('ARK-Milan'),
          thisUpdate: new Date('2026-11-01T00:00:00Z'),
          nextUpdate: new Date('2026-12-31T00:00:00Z'),
          revoked: [],
          signatureAlgorithm: 'rsassa-pss-sha384',
        },
        pki.ark.privateKey,
      )
    const verify = (pki: AmdTestPki): string =>
      outcome(() =>
        verifyAmdRevocationList(crl(pki), trustedArk(anchorsOf(pki), 'Milan'), 'Milan', 'vcek'),
      )
    expect(verify(good)).toBe('accepted')
    expect(verify(pkiWith({ ark: setExtension(KEY_USAGE, undefined) }))).toBe('accepted')
    expect(verify(noCrlSign)).toBe(ROLE)
  })

  it('accepts every real AMD ARK, ASK and ASVK in testdata in its role', () => {
    const dir = new URL('../../../testdata/vectors/snp/amd-roots/', import.meta.url)
    for (const file of [
      'ask_ark_milan.pem',
      'ask_ark_milan_vlek.pem',
      'ask_ark_genoa.pem',
      'ask_ark_genoa_vlek.pem',
      'ask_ark_turin_vcek.pem',
      'ask_ark_turin_vlek.pem',
    ]) {
      const [intermediate, ark] = parsePemBundle(readFileSync(new URL(file, dir), 'latin1'), file)
      expect(intermediate?.basicConstraints, file).toEqual({ ca: true, pathLength: 0 })
      expect(intermediate?.keyUsage?.keyCertSign, file).toBe(true)
      expect(ark?.basicConstraints, file).toEqual({ ca: true, pathLength: undefined })
      expect(ark?.keyUsage?.keyCertSign && ark.keyUsage.cRLSign, file).toBe(true)
    }
  })
})
