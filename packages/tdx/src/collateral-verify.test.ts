/**
 * verifyCollateral on the real collateral (vectors README: windows and outcomes), on every kind of
 * tampering with it, and on a synthetic Intel-shaped PKI for what real data cannot show (another
 * root, revoked signers).
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseCollateralJson, type DcapCollateral } from './collateral.ts'
import {
  VECTOR_ROOT,
  caught,
  codeOf,
  createIntelTestPki,
  flipBit,
  flipChar,
  tdQeIdentityJson,
  tdxTcbInfoJson,
} from './collateral-test-support.ts'
import { CollateralCache, verifyCollateral } from './collateral-verify.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'

const collateralOf = (folder: string): DcapCollateral =>
  parseCollateralJson(readFileSync(new URL(`${folder}/collateral.json`, VECTOR_ROOT)))

const SPR = collateralOf('tdx/spr-v4')
const V4B = collateralOf('tdx/v4-b')
const V3A = collateralOf('sgx/v3-a')
const AT_SPR = new Date('2023-07-01T01:00:00Z')
const AT_V4B = new Date('2025-07-01T00:00:00Z')
const AT_V3A = new Date('2025-07-01T00:00:00Z')

describe('verifyCollateral on the real collateral', () => {
  it('spr-v4 verifies at 2023-07-01T01:00Z (TDX TCB info v3, TD_QE identity v2, Platform CA CRL)', () => {
    const v = verifyCollateral(SPR, { now: AT_SPR })
    expect(v.tcbInfo).toMatchObject({ id: 'TDX', version: 3, fmspc: '50806f000000', pceId: '0000' })
    expect(v.qeIdentity).toMatchObject({ id: 'TD_QE', version: 2, isvProdId: 2 })
    expect(v.tcbInfo.tcbLevels.map((l) => l.tcbStatus)).toEqual(['UpToDate', 'OutOfDate'])
    expect(v.pckCaKind).toBe('platform')
    expect(v.pckCa.commonName).toBe('Intel SGX PCK Platform CA')
    expect(v.tcbInfoSigner.commonName).toBe('Intel SGX TCB Signing')
    expect(v.root.commonName).toBe('Intel SGX Root CA')
    expect(v.pckCrl.revokedSerials.size).toBe(44)
    expect(v.rootCaCrl.revokedSerials.size).toBe(0)
    // TCB info issued 2023-06-18T08:42:58Z; the QE identity is the first to go stale.
    expect(v.validFrom.toISOString()).toBe('2023-06-18T08:42:58.000Z')
    expect(v.validUntil.toISOString()).toBe('2023-07-08T07:24:59.000Z')
  })

  it('v4-b verifies in its window 2025-06-19T10:32Z → 2025-07-19T10:00Z', () => {
    const v = verifyCollateral(V4B, { now: AT_V4B })
    expect(v.validFrom.toISOString()).toBe('2025-06-19T10:32:27.000Z')
    expect(v.validUntil.toISOString()).toBe('2025-07-19T10:00:35.000Z')
    expect(v.tcbInfo.tdxModuleIdentities.map((m) => m.id)).toEqual(['TDX_03', 'TDX_01'])
  })

  it('sgx v3-a verifies in its window 2025-06-19T10:56Z → 2025-07-19T10:01Z (Processor CA CRL)', () => {
    const v = verifyCollateral(V3A, { now: AT_V3A })
    expect(v.tcbInfo.id).toBe('SGX')
    expect(v.qeIdentity.id).toBe('QE')
    expect(v.pckCaKind).toBe('processor')
    expect(v.validFrom.toISOString()).toBe('2025-06-19T10:56:11.000Z')
    expect(v.validUntil.toISOString()).toBe('2025-07-19T10:01:18.000Z')
  })

  it('trusts the production root given explicitly, as PEM or as an X509Certificate', () => {
    expect(verifyCollateral(SPR, { now: AT_SPR, root: INTEL_SGX_ROOT_CA_PEM }).digest).toBe(
      verifyCollateral(SPR, { now: AT_SPR, root: new X509Certificate(INTEL_SGX_ROOT_CA_PEM) })
        .digest,
    )
  })

  it('accepts the issuer chains without the root certificate (the anchor supplies it)', () => {
    const strip = (pem: string): string =>
      pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25)
    const c: DcapCollateral = {
      ...SPR,
      tcbInfoIssuerChain: strip(SPR.tcbInfoIssuerChain),
      qeIdentityIssuerChain: strip(SPR.qeIdentityIssuerChain),
      pckCrlIssuerChain: strip(SPR.pckCrlIssuerChain),
    }
    expect(codeOf(() => verifyCollateral(c, { now: AT_SPR }))).toBe('accepted')
  })
})

describe('collateral outside its window is refused', () => {
  it.each([
    [SPR, '2023-07-08T07:25:00Z', 'ERR_TDX_COLLATERAL_EXPIRED', 'QE identity'],
    [SPR, '2023-06-18T08:42:57Z', 'ERR_TDX_COLLATERAL_NOT_YET_VALID', 'TCB info'],
    [SPR, '2024-01-01T00:00:00Z', 'ERR_TDX_COLLATERAL_EXPIRED', 'TCB info'],
    [
      SPR,
      '2026-01-01T00:00:00Z',
      'ERR_TDX_COLLATERAL_CERT_EXPIRED',
      'TCB info signing certificate (Intel SGX TCB Signing)',
    ],
    [V4B, '2025-07-19T10:00:36Z', 'ERR_TDX_COLLATERAL_EXPIRED', 'PCK CRL'],
    [V4B, '2025-06-19T10:32:26Z', 'ERR_TDX_COLLATERAL_NOT_YET_VALID', 'QE identity'],
    [V3A, '2025-07-19T10:01:19Z', 'ERR_TDX_COLLATERAL_EXPIRED', 'QE identity'],
    [V3A, '2025-06-19T10:56:10Z', 'ERR_TDX_COLLATERAL_NOT_YET_VALID', 'TCB info'],
  ] as const)('%#: at %s → %s (%s)', (collateral, at, code, what) => {
    const e = caught(() => verifyCollateral(collateral, { now: new Date(at) }))
    expect(e.code).toBe(code)
    expect(e.category).toBe('verification')
    expect(e.details['what']).toBe(what)
  })

  it('refuses an invalid now, which would otherwise compare false with every bound', () => {
    const e = caught(() => verifyCollateral(SPR, { now: new Date(Number.NaN) }))
    expect(e.code).toBe('ERR_TDX_NOW_INVALID')
    expect(e.category).toBe('usage')
  })

  it('accepts the window edges themselves (issueDate ≤ now ≤ nextUpdate)', () => {
    expect(codeOf(() => verifyCollateral(SPR, { now: new Date('2023-06-18T08:42:58Z') }))).toBe(
      'accepted',
    )
    expect(codeOf(() => verifyCollateral(SPR, { now: new Date('2023-07-08T07:24:59Z') }))).toBe(
      'accepted',
    )
  })
})

describe('tampering with any signed part is refused', () => {
  it('a flipped bit anywhere in the TCB info or QE identity text (checked before parsing)', () => {
    for (const key of ['tcbInfo', 'qeIdentity'] as const) {
      const original = SPR[key]
      const step = Math.max(1, Math.floor(original.length / 60))
      for (let i = 0; i < original.length; i += step) {
        const c = { ...SPR, [key]: flipChar(original, i) }
        expect(
          codeOf(() => verifyCollateral(c, { now: AT_SPR })),
          `${key}[${i}]`,
        ).toBe('ERR_TDX_COLLATERAL_SIGNATURE')
      }
    }
  })

  it('a re-serialised (pretty-printed) TCB info is not what Intel signed', () => {
    const pretty = JSON.stringify(JSON.parse(SPR.tcbInfo), null, 2)
    expect(codeOf(() => verifyCollateral({ ...SPR, tcbInfo: pretty }, { now: AT_SPR }))).toBe(
      'ERR_TDX_COLLATERAL_SIGNATURE',
    )
  })

  it('a flipped bit in either document signature', () => {
    for (const key of ['tcbInfoSignature', 'qeIdentitySignature'] as const) {
      for (const i of [0, 13, 31, 32, 50, 63]) {
        const c = { ...SPR, [key]: flipBit(SPR[key], i, i % 8) }
        expect(
          codeOf(() => verifyCollateral(c, { now: AT_SPR })),
          `${key}[${i}]`,
        ).toBe('ERR_TDX_COLLATERAL_SIGNATURE')
      }
      const short = { ...SPR, [key]: SPR[key].slice(0, 63) }
      expect(codeOf(() => verifyCollateral(short, { now: AT_SPR }))).toBe(
        'ERR_TDX_COLLATERAL_SIGNATURE',
      )
    }
  })

  it('a flipped bit in any byte of the Root CA CRL', () => {
    for (let i = 0; i < SPR.rootCaCrl.length; i += 1) {
      const code = codeOf(() =>
        verifyCollateral({ ...SPR, rootCaCrl: flipBit(SPR.rootCaCrl, i) }, { now: AT_SPR }),
      )
      expect(code, `rootCaCrl[${i}]`).not.toBe('accepted')
    }
  })

  it('a flipped bit throughout the PCK CRL; in its signed part or signature, as a signature error', () => {
    const crl = SPR.pckCrl
    for (let i = 0; i < crl.length; i += 7) {
      const code = codeOf(() =>
        verifyCollateral({ ...SPR, pckCrl: flipBit(crl, i) }, { now: AT_SPR }),
      )
      expect(code, `pckCrl[${i}]`).not.toBe('accepted')
    }
    // The last byte is the low byte of the signature's s; a revoked serial is in the middle.
    const last = codeOf(() =>
      verifyCollateral({ ...SPR, pckCrl: flipBit(crl, crl.length - 1) }, { now: AT_SPR }),
    )
    expect(last).toBe('ERR_TDX_CRL_SIGNATURE')
    const serial = Buffer.from(crl).indexOf(
      Buffer.from('6fc34e5023e728923435d61aa4b83c618166ad35', 'hex'),
    )
    expect(serial).toBeGreaterThan(0)
    const tampered = codeOf(() =>
      verifyCollateral({ ...SPR, pckCrl: flipBit(crl, serial + 5) }, { now: AT_SPR }),
    )
    expect(tampered).toBe('ERR_TDX_CRL_SIGNATURE')
  })

  it('CRLs swapped between issuers', () => {
    const swapped = { ...SPR, rootCaCrl: SPR.pckCrl, pckCrl: SPR.rootCaCrl }
    expect(codeOf(() => verifyCollateral(swapped, { now: AT_SPR }))).toBe('ERR_TDX_CRL_SIGNATURE')
    // The Processor CA's CRL under the Platform CA's chain.
    const foreign = { ...V4B, pckCrl: V3A.pckCrl }
    expect(codeOf(() => verifyCollateral(foreign, { now: AT_V4B }))).toBe('ERR_TDX_CRL_SIGNATURE')
  })

  it('a TDX TCB info with an SGX QE identity (both genuine)', () => {
    const mixed: DcapCollateral = {
      ...V4B,
      qeIdentity: V3A.qeIdentity,
      qeIdentitySignature: V3A.qeIdentitySignature,
      qeIdentityIssuerChain: V3A.qeIdentityIssuerChain,
    }
    expect(codeOf(() => verifyCollateral(mixed, { now: AT_V4B }))).toBe(
      'ERR_TDX_COLLATERAL_MISMATCH',
    )
  })

  it('issuer chains in the wrong order, with the wrong signer, or too long', () => {
    const [signer, root] = SPR.tcbInfoIssuerChain.split(/(?<=-----END CERTIFICATE-----)\n?/)
    const reversed = { ...SPR, tcbInfoIssuerChain: `${root ?? ''}\n${signer ?? ''}` }
    expect(codeOf(() => verifyCollateral(reversed, { now: AT_SPR }))).toBe(
      'ERR_TDX_COLLATERAL_ROOT_UNTRUSTED',
    )
    const pckCaAsSigner = { ...SPR, tcbInfoIssuerChain: SPR.pckCrlIssuerChain }
    expect(codeOf(() => verifyCollateral(pckCaAsSigner, { now: AT_SPR }))).toBe(
      'ERR_TDX_COLLATERAL_CHAIN',
    )
    const rootOnly = { ...SPR, pckCrlIssuerChain: INTEL_SGX_ROOT_CA_PEM }
    expect(codeOf(() => verifyCollateral(rootOnly, { now: AT_SPR }))).toBe(
      'ERR_TDX_COLLATERAL_CHAIN',
    )
    const long = { ...SPR, tcbInfoIssuerChain: SPR.tcbInfoIssuerChain + INTEL_SGX_ROOT_CA_PEM }
    expect(codeOf(() => verifyCollateral(long, { now: AT_SPR }))).toBe('ERR_TDX_COLLATERAL_CHAIN')
  })
})

describe('trust anchors and revocation (synthetic Intel-shaped PKI)', () => {
  const from = new Date('2024-01-01T00:00:00Z')
  const until = new Date('2030-01-01T00:00:00Z')
  const now = new Date('2025-01-15T00:00:00Z')
  const issued = new Date('2025-01-10T00:00:00Z')
  const next = new Date('2025-02-10T00:00:00Z')
  const pki = createIntelTestPki(from, until)
  const documents = {
    tcbInfo: tdxTcbInfoJson(issued, next),
    qeIdentity: tdQeIdentityJson(issued, next),
    thisUpdate: issued,
    nextUpdate: next,
  }
  const good = pki.collateral(documents)

  it('verifies when its root is trusted explicitly', () => {
    const v = verifyCollateral(good, { now, root: pki.root.pem })
    expect(v.root.commonName).toBe('Intel SGX Root CA')
    expect(v.validFrom.toISOString()).toBe(issued.toISOString())
  })

  it('is refused under the production root: a chain to a non-Intel root', () => {
    const e = caught(() => verifyCollateral(good, { now }))
    expect(e.code).toBe('ERR_TDX_COLLATERAL_ROOT_UNTRUSTED')
    expect(e.category).toBe('verification')
  })

  it('is refused when its signer is presented under the real Intel root (forged chain)', () => {
    const forged: DcapCollateral = {
      ...good,
      tcbInfoIssuerChain: pki.tcbSigning.pem + INTEL_SGX_ROOT_CA_PEM,
      qeIdentityIssuerChain: pki.tcbSigning.pem + INTEL_SGX_ROOT_CA_PEM,
    }
    expect(codeOf(() => verifyCollateral(forged, { now }))).toBe('ERR_TDX_COLLATERAL_CHAIN')
    const bare = { ...forged, tcbInfoIssuerChain: pki.tcbSigning.pem }
    expect(codeOf(() => verifyCollateral(bare, { now }))).toBe('ERR_TDX_COLLATERAL_CHAIN')
  })

  it('refuses a revoked TCB Signing certificate', () => {
    const revoked = pki.collateral({ ...documents, revokedByRoot: [pki.tcbSigning.serial] })
    const e = caught(() => verifyCollateral(revoked, { now, root: pki.root.pem }))
    expect(e.code).toBe('ERR_TDX_COLLATERAL_REVOKED')
    expect(e.message).toContain('Intel SGX TCB Signing')
  })

  it('refuses a revoked PCK CA', () => {
    const revoked = pki.collateral({ ...documents, revokedByRoot: [9n, pki.pckCa.serial] })
    expect(codeOf(() => verifyCollateral(revoked, { now, root: pki.root.pem }))).toBe(
      'ERR_TDX_COLLATERAL_REVOKED',
    )
  })

  it('exposes the PCK CRL revocations for the quote check', () => {
    const c = pki.collateral({ ...documents, revokedByPckCa: [0xabcdefn, 0x0102n] })
    const v = verifyCollateral(c, { now, root: pki.root.pem })
    expect([...v.pckCrl.revokedSerials].sort()).toEqual(['102', 'abcdef'])
  })

  it('refuses a trusted root that is not self-signed', () => {
    const e = caught(() => verifyCollateral(good, { now, root: pki.tcbSigning.pem }))
    expect(e.code).toBe('ERR_TDX_ROOT_INVALID')
  })

  it('refuses malformed signed documents after their signature checks out', () => {
    const bad = pki.collateral({ ...documents, tcbInfo: { ...documents.tcbInfo, version: 2 } })
    const e = caught(() => verifyCollateral(bad, { now, root: pki.root.pem }))
    expect(e.code).toBe('ERR_TDX_TCB_INFO_INVALID')
    expect(e.details['field']).toBe('tcbInfo.version')
  })
})

describe('CollateralCache', () => {
  it('answers a warm verification from the cache, without checking signatures again', () => {
    const cache = new CollateralCache()
    const first = verifyCollateral(SPR, { now: AT_SPR, cache })
    const second = verifyCollateral(collateralOf('tdx/spr-v4'), {
      now: new Date('2023-07-02T00:00:00Z'),
      cache,
    })
    expect(second).toBe(first)
    expect(cache.hits).toBe(1)
    expect(cache.misses).toBe(1)
    expect(cache.size).toBe(1)
  })

  it('is keyed by content: tampered collateral misses and is refused', () => {
    const cache = new CollateralCache()
    verifyCollateral(SPR, { now: AT_SPR, cache })
    const tampered = { ...SPR, qeIdentity: flipChar(SPR.qeIdentity, 40) }
    expect(codeOf(() => verifyCollateral(tampered, { now: AT_SPR, cache }))).toBe(
      'ERR_TDX_COLLATERAL_SIGNATURE',
    )
    expect(cache.hits).toBe(0)
  })

  it('is keyed by the trust anchor too', () => {
    const cache = new CollateralCache()
    verifyCollateral(SPR, { now: AT_SPR, cache })
    const pki = createIntelTestPki(
      new Date('2020-01-01T00:00:00Z'),
      new Date('2030-01-01T00:00:00Z'),
    )
    expect(codeOf(() => verifyCollateral(SPR, { now: AT_SPR, cache, root: pki.root.pem }))).toBe(
      'ERR_TDX_COLLATERAL_ROOT_UNTRUSTED',
    )
  })

  it('re-verifies (and refuses) outside the cached window', () => {
    const cache = new CollateralCache()
    verifyCollateral(SPR, { now: AT_SPR, cache })
    const e = caught(() => verifyCollateral(SPR, { now: new Date('2023-07-09T00:00:00Z'), cache }))
    expect(e.code).toBe('ERR_TDX_COLLATERAL_EXPIRED')
    expect(cache.hits).toBe(0)
  })

  it('keeps at most `limit` entries, oldest out first', () => {
    const cache = new CollateralCache(2)
    verifyCollateral(SPR, { now: AT_SPR, cache })
    verifyCollateral(V4B, { now: AT_V4B, cache })
    verifyCollateral(V3A, { now: AT_V3A, cache })
    expect(cache.size).toBe(2)
    verifyCollateral(V3A, { now: AT_V3A, cache })
    expect(cache.hits).toBe(1)
    verifyCollateral(SPR, { now: AT_SPR, cache })
    expect(cache.hits).toBe(1)
  })

  it('only ever throws InitguardErrors on the real collateral at arbitrary times', () => {
    for (let t = Date.UTC(2017, 0, 1); t < Date.UTC(2051, 0, 1); t += 97 * 24 * 3600 * 1000) {
      try {
        verifyCollateral(SPR, { now: new Date(t) })
      } catch (e) {
        expect(isInitguardError(e)).toBe(true)
      }
    }
  })
})
